"""SPEC PLAN-3 under the PREM-4 lock: an instant batch whose code's centralised selection has A0 as its
only basic item cannot hold people without 社保 (they would get no basic item). plans hooks the rule
into the roster rules (rosters.rules.EXTRA_RULES, registered by plans/apps.py): 清册校验 reports it and
清册提交 (rosters.submission.batch_submit) refuses."""
import datetime as dt

import pytest
import time_machine
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollment.states import BatchKind, BatchState
from plans.services import plan_rule_people_without_basic, premium_confirm
from rosters.models import WorkStatus
from rosters.errors import RosterError
from rosters.rules import EXTRA_RULES, ExtraFinding, validate_roster
from rosters.submission import batch_submit
from tests.factories import SHANGHAI, make_entry
from tests.plans.helpers import approved_batch
from tests.rosters.helpers import SS_CODE, ready_batch
from tests.rosters.importfiles import previous

S = BatchState
IN_CENTRALISED_WINDOW = dt.datetime(2023, 6, 20, 10, 0, tzinfo=SHANGHAI)
IN_INSTANT_WINDOW = dt.datetime(2023, 9, 10, 15, 30, tzinfo=SHANGHAI)

pytestmark = pytest.mark.django_db


def centralised_confirmed(year, codes):
    """The code's centralised batch with its premium confirmed (it has only people with 社保, so a
    free A0-only selection passes PLAN-3 there)."""
    batch = approved_batch(year=year, social_security=3)
    premium_confirm(batch=batch, codes=codes, acting_user=batch.account, at=IN_CENTRALISED_WINDOW)
    return batch


def add_without_social_security(batch, count):
    """`count` in-service people without 社保, otherwise passing every roster rule (suggested, matched to
    the SS unit code, enrolled last year so VAL-3 stays within its band)."""
    for index in range(count):
        entry = make_entry(
            batch, name=f"非社保{index}", work_status=WorkStatus.ACTIVE, has_social_security=False,
            is_suggested=True, ss_unit_code=SS_CODE,
        )
        previous(batch.coverage_year.year - 1, batch.code.code, entry.id_number, entry.name)


def instant_batch(year, account, *, without_social_security=0):
    """An instant batch of the same code in 清册校验不通过 (【清册提交】 offered), every rule passing
    except, perhaps, PLAN-3."""
    batch = ready_batch(year, people=2, kind=BatchKind.INSTANT, state=S.INVALID, account=account)
    add_without_social_security(batch, without_social_security)
    return batch


# --- the hook ---------------------------------------------------------------------------------------------


def test_the_rule_is_registered_exactly_once():
    assert EXTRA_RULES.count(plan_rule_people_without_basic) == 1
    django_apps.get_app_config("plans").ready()  # a second ready() (e.g. a test runner) adds nothing
    assert EXTRA_RULES.count(plan_rule_people_without_basic) == 1


# --- 清册校验 (rosters.rules.validate_roster) ---------------------------------------------------------------


def test_validation_reports_people_without_a_basic_item_as_blocking(handbook_year):
    centralised = centralised_confirmed(handbook_year, ["A0", "A3"])
    batch = instant_batch(handbook_year, centralised.account, without_social_security=3)

    outcome = validate_roster(batch=batch, on=dt.date(2023, 9, 11))

    [finding] = [finding for finding in outcome.extra if finding.rule == "PLAN-3"]
    assert finding.count == 3 and finding.title == "无基本保障项目人员"
    assert "3位非社保人员" in finding.blocking_reason and "A0" in finding.blocking_reason
    assert outcome.blocking and outcome.blocking_reasons == [finding.blocking_reason]
    # The stored result (ValidationRun.findings) keeps it.
    assert type(outcome).from_json(outcome.as_json()).extra == [finding]


@pytest.mark.parametrize(
    "codes, without_social_security",
    [
        (["A0", "A3"], 0),  # nobody without 社保
        (["A0", "B0", "A3"], 3),  # B0 is a basic item they get
        (["A0", "C0"], 3),
        (["B0"], 3),
    ],
)
def test_validation_finds_nothing_otherwise(handbook_year, codes, without_social_security):
    centralised = centralised_confirmed(handbook_year, codes)
    batch = instant_batch(handbook_year, centralised.account, without_social_security=without_social_security)
    outcome = validate_roster(batch=batch, on=dt.date(2023, 9, 11))
    assert outcome.extra == [] and not outcome.blocking


def test_no_finding_without_the_lock(handbook_year):
    # The centralised batch has not confirmed: the instant batch chooses freely (PLAN-3 is then
    # checked at 生成保费信息), and a centralised batch is never locked.
    centralised = approved_batch(year=handbook_year, social_security=3)
    batch = instant_batch(handbook_year, centralised.account, without_social_security=2)
    assert plan_rule_people_without_basic(batch, dt.date(2023, 9, 11)) is None
    assert plan_rule_people_without_basic(centralised, dt.date(2023, 7, 1)) is None


# --- 清册提交 (rosters.submission.batch_submit) -------------------------------------------------------------


def test_submission_is_refused_with_the_reason(handbook_year):
    centralised = centralised_confirmed(handbook_year, ["A0", "A3"])
    batch = instant_batch(handbook_year, centralised.account, without_social_security=2)

    with time_machine.travel(IN_INSTANT_WINDOW, tick=False):
        with pytest.raises(RosterError) as refused:
            batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    assert "清册校验未通过，暂不能提交" in refused.value.message
    assert "2位非社保人员不能参加A0" in refused.value.message
    batch.refresh_from_db()
    assert batch.state == S.INVALID and batch.coverage_start is None


@pytest.mark.parametrize("codes, without_social_security", [(["A0", "A3"], 0), (["A0", "B0", "A3"], 2)])
def test_submission_goes_through_otherwise(handbook_year, codes, without_social_security):
    centralised = centralised_confirmed(handbook_year, codes)
    batch = instant_batch(handbook_year, centralised.account, without_social_security=without_social_security)

    with time_machine.travel(IN_INSTANT_WINDOW, tick=False):
        submitted = batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    assert submitted.state == S.ROSTER_APPROVED
    assert submitted.coverage_start == dt.date(2023, 9, 11)


# --- cost ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("codes", [["A0", "A3"], ["A0", "B0"]])
def test_the_rule_costs_a_constant_number_of_queries(handbook_year, codes):
    centralised = centralised_confirmed(handbook_year, codes)
    small = approved_batch(year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT, state=S.DRAFT, without_social_security=1)
    large = approved_batch(year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT, state=S.DRAFT, social_security=40, without_social_security=60)

    counts = []
    for batch in (small, large):
        with CaptureQueriesContext(connection) as queries:
            finding = plan_rule_people_without_basic(batch, dt.date(2023, 9, 11))
        counts.append(len(queries))
        assert (finding is not None) is (codes == ["A0", "A3"])
        if finding is not None:
            # the small batch holds 1 person without 社保, the large 60: each finding counts its own
            assert isinstance(finding, ExtraFinding) and finding.count == (1 if batch is small else 60)
    assert counts[0] == counts[1] <= 2


def test_the_rule_costs_nothing_for_a_centralised_batch(handbook_year):
    batch = approved_batch(year=handbook_year, social_security=5, without_social_security=5)
    with CaptureQueriesContext(connection) as queries:
        assert plan_rule_people_without_basic(batch, dt.date(2023, 7, 1)) is None
    assert len(queries) == 0
