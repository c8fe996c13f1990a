"""The API can never do what the page would refuse (SPEC API-2, BAT-3), driven by enrollment/states.py:
for every BatchState, each mutating operation is refused with 409 exactly when `batch.allows(action)`
is false, and the page's own POST refuses (changes nothing) in exactly the same states.

- import (参保清册 editable, BatchAction.EDIT_ROSTER): POST …/roster/imports/ vs 【上传本地参保名单文件】;
- 清册校验 (BatchAction.VALIDATE): POST …/validation/ vs 【清册校验】;
- the roster (BatchAction.ROSTER): GET …/roster/ vs 参保批次人员管理;
- opening a batch is a matter of the year's windows, not of a state (SPEC BAT-2, BAT-10): POST /batches/
  vs the 办理 dialog at moments before, inside and after the windows, for both kinds.
"""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from api.services import api_token_create
from enrollment.models import Batch
from enrollment.states import STATE_ACTIONS, BatchAction, BatchKind, BatchState
from rosters.models import RosterImport, ValidationRun
from tests.api.conftest import ApiClient, problem_of
from tests.enrollment.helpers import make_code, make_handler_info
from tests.factories import UserFactory, make_batch
from tests.rosters.importfiles import row, template_xlsx, upload

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
STATES = list(STATE_ACTIONS)  # every state of the table (SPEC BAT-3)


def test_the_table_covers_every_state():
    assert set(STATES) == set(BatchState.values)


@pytest.fixture
def page_client(client, account, code):
    client.force_login(account)
    return client


@pytest.fixture
def state_batch(request, code, handbook_year):
    return make_batch(year=handbook_year, code=code, state=request.param)


@pytest.mark.parametrize("state_batch", STATES, indirect=True)
def test_import_is_refused_exactly_where_the_page_refuses_it(state_batch, api_client, page_client):
    batch = state_batch
    allowed = batch.allows(BatchAction.EDIT_ROSTER)

    response = api_client.post(f"/api/v1/batches/{batch.number}/roster/imports/", {"file": upload(template_xlsx([row()]))})
    api_accepted = response.status_code == 202
    if not allowed:
        assert response.status_code == 409, response.content
        assert f"批次当前状态为“{batch.get_state_display()}”" in problem_of(response)["detail"]
    api_imports = RosterImport.objects.filter(batch=batch).count()

    page_client.post(
        reverse("rosters:roster_import_upload", kwargs={"number": batch.number}),
        {"file": upload(template_xlsx([row(name="李四")]))},
    )
    page_accepted = RosterImport.objects.filter(batch=batch).count() > api_imports

    assert api_accepted == page_accepted == allowed
    assert api_imports == (1 if allowed else 0)


@pytest.mark.parametrize("state_batch", STATES, indirect=True)
def test_validation_is_refused_exactly_where_the_page_refuses_it(state_batch, api_client, page_client):
    batch = state_batch
    allowed = batch.allows(BatchAction.VALIDATE)

    response = api_client.post(f"/api/v1/batches/{batch.number}/validation/")
    assert response.status_code == (202 if allowed else 409), response.content
    if not allowed:
        assert "清册校验" in problem_of(response)["detail"]
    assert ValidationRun.objects.filter(batch=batch).count() == (1 if allowed else 0)

    if allowed:  # the API's run put the batch 清册校验中: the page is tried on a fresh batch of the state
        Batch.objects.filter(pk=batch.pk).update(state=batch.state)
    runs_before = ValidationRun.objects.filter(batch=batch).count()
    page_client.post(reverse("rosters:validate", kwargs={"number": batch.number}))
    page_accepted = ValidationRun.objects.filter(batch=batch).count() > runs_before
    assert page_accepted == allowed


@pytest.mark.parametrize("state_batch", STATES, indirect=True)
def test_the_roster_is_shown_exactly_where_the_page_shows_it(state_batch, api_client, page_client):
    batch = state_batch
    allowed = batch.allows(BatchAction.ROSTER)
    response = api_client.get(f"/api/v1/batches/{batch.number}/roster/")
    assert response.status_code == (200 if allowed else 409)
    page = page_client.get(reverse("rosters:roster", kwargs={"number": batch.number}))
    assert (page.status_code == 200) == allowed


@pytest.mark.parametrize("state_batch", STATES, indirect=True)
def test_the_listed_actions_are_the_tables(state_batch, api_client):
    body = api_client.get(f"/api/v1/batches/{state_batch.number}/").json()
    assert [action["action"] for action in body["actions"]] == [action.value for action in state_batch.actions]
    assert body["state"] == state_batch.state


MOMENTS = {
    "before the centralised window": dt.datetime(2023, 5, 20, 10, 0, tzinfo=SHANGHAI),
    "inside the centralised window": dt.datetime(2023, 6, 15, 10, 0, tzinfo=SHANGHAI),
    "in the instant window": dt.datetime(2023, 8, 1, 10, 0, tzinfo=SHANGHAI),
}


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("kind", BatchKind.values)
def test_opening_is_refused_exactly_where_the_dialog_refuses_it(client, handbook_year, moment, kind):
    with time_machine.travel(MOMENTS[moment], tick=True):
        api_account, page_account = UserFactory(), UserFactory()
        api_code, page_code = make_code(api_account, code="0061A1"), make_code(page_account, code="0062A2")
        make_handler_info(api_code)
        make_handler_info(page_code)
        _, secret = api_token_create(
            account=api_account, code_id=api_code.pk, name="x", expires_on=timezone.localdate() + dt.timedelta(days=5)
        )
        response = ApiClient(secret).post("/api/v1/batches/", {"kind": kind}, content_type="application/json")
        api_opened = response.status_code == 201
        if not api_opened:
            assert response.status_code == 409
            problem_of(response)

        client.force_login(page_account)
        client.post(
            reverse("enrollment:batches_open"),
            {"kind": kind, "code": page_code.code, "unit_name": page_code.unit_name, "submission_token": "t" * 32},
        )
        page_opened = Batch.objects.filter(account=page_account).exists()
    assert api_opened == page_opened
    # Not vacuous: each kind opens inside its own window (SPEC BAT-2) and only there.
    expected = (kind, moment) in {
        (BatchKind.CENTRALISED, "inside the centralised window"),
        (BatchKind.INSTANT, "in the instant window"),
    }
    assert api_opened == expected
    assert Batch.objects.filter(account=api_account).count() == (1 if api_opened else 0)
