"""【批次撤回】 through its page (SPEC BAT-6, BAT-10, BAT-7, X-4): the dialog with 重新整理清册 / 重新选择保障项目
(the latter only once the premium is confirmed), the reason required, 【确认操作】 then 【确定】 (the plain
form post's second step is `confirmed`), the centralised window, and a double click."""
import datetime as dt
import re

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from enrollment.states import BatchKind, BatchState
from plans.models import BatchPremium, PlanSelection
from plans.services import premium_confirm
from tests.factories import SHANGHAI, UserFactory, make_batch
from tests.plans.helpers import approved_batch

pytestmark = pytest.mark.django_db

IN_WINDOW = dt.datetime(2023, 6, 20, 10, 0, tzinfo=SHANGHAI)  # the 2023 centralised window: 06-01 – 06-30
AFTER_WINDOW = dt.datetime(2023, 7, 5, 10, 0, tzinfo=SHANGHAI)
CODES = ["A0", "B0", "C0", "A3"]


@pytest.fixture(autouse=True)
def inside_the_window():
    with time_machine.travel(IN_WINDOW, tick=False):
        yield


@pytest.fixture
def batch(handbook_year):
    return approved_batch(year=handbook_year, social_security=3)


@pytest.fixture
def owner(client, batch):
    client.force_login(batch.account)
    return client


@pytest.fixture
def confirmed(batch):
    premium_confirm(batch=batch, codes=CODES, acting_user=batch.account)
    batch.refresh_from_db()
    assert batch.state == BatchState.AWAITING_PAYMENT
    return batch


def url(batch) -> str:
    return reverse("plans:withdraw", kwargs={"number": batch.number})


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def post(client, batch, *, target="roster", reason="漏报两名职工", confirmed=True, state=None):
    data = {"target": target, "reason": reason, "state": state or batch.state}
    if confirmed:
        data["confirmed"] = "1"
    return client.post(url(batch), data)


def last_message(response) -> str:
    return [str(message) for message in get_messages(response.wsgi_request)][-1]


# --- access -------------------------------------------------------------------------------------------


def test_anonymous_goes_to_login(client, batch):
    response = client.get(url(batch))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_another_units_batch_is_404(client, batch, handbook_year):
    client.force_login(make_batch(year=handbook_year).account)
    assert client.get(url(batch)).status_code == 404
    assert post(client, batch).status_code == 404
    batch.refresh_from_db()
    assert batch.state == BatchState.ROSTER_APPROVED


def test_reviewer_is_forbidden(client, batch):
    client.force_login(UserFactory(role="reviewer"))
    assert client.get(url(batch)).status_code == 403
    assert post(client, batch).status_code == 403


def test_state_without_the_action_goes_back_to_the_batch_list(client, handbook_year):
    batch = approved_batch(year=handbook_year, state=BatchState.IN_REVIEW)
    client.force_login(batch.account)
    response = client.get(url(batch))
    assert response.status_code == 302 and response["Location"] == reverse("enrollment:batches")
    assert "不能进行【批次撤回】操作" in last_message(response)


# --- the dialog ----------------------------------------------------------------------------------------


def test_dialog_before_confirmation_offers_only_the_roster(owner, batch):
    """SPEC BAT-6: 重新选择保障项目 only in 缴费凭证待上传; disabled with the reason otherwise."""
    page = text(owner.get(url(batch)))
    assert "重新整理清册" in page and "重新选择保障项目" in page and "简单写明原因" in page
    assert re.search(r'name="target" value="roster" id="target-roster" checked', page)
    assert re.search(r'name="target" value="plans" id="target-plans" disabled', page)
    assert "尚未提交确认保费，可直接点击【保障项目选择】重新选择，无需撤回" in page
    assert "确认操作" in page and 'id="withdraw-confirm-dialog"' in page and ">确定</button>" in page


def test_dialog_after_confirmation_offers_both(owner, confirmed):
    page = text(owner.get(url(confirmed)))
    assert re.search(r'name="target" value="plans" id="target-plans">', page)
    assert "状态将变回“清册校验通过”，可重新选择保障项目" in page


def test_reason_is_required(owner, batch):
    response = post(owner, batch, reason="  ")
    assert response.status_code == 200
    assert "请简单写明撤回原因。" in text(response)
    batch.refresh_from_db()
    assert batch.state == BatchState.ROSTER_APPROVED


def test_choice_is_required(owner, batch):
    response = owner.post(url(batch), {"reason": "漏报", "confirmed": "1", "state": batch.state})
    assert "请选择撤回方式：重新整理清册或重新选择保障项目。" in text(response)


def test_plain_post_asks_for_the_second_confirmation(owner, batch):
    """Without the modal: 【确认操作】 posts without `confirmed` → the page asks 【确定】; nothing changes yet."""
    response = post(owner, batch, confirmed=False)
    assert response.status_code == 200
    page = text(response)
    assert f"确定撤回批次 <strong>{batch.number}</strong> 吗？" in page
    assert "状态将变回“清册待校验”，可进行清册修改" in page
    assert 'name="confirmed" value="1"' in page and 'name="reason" value="漏报两名职工"' in page
    batch.refresh_from_db()
    assert batch.state == BatchState.ROSTER_APPROVED


def test_withdraw_to_the_roster(owner, confirmed):
    """重新整理清册 → 清册待校验, the premium dropped, the registry released, logged with the reason."""
    response = post(owner, confirmed, target="roster")
    assert response.status_code == 302 and response["Location"] == reverse("enrollment:batches")
    assert "状态已变回“清册待校验”，可进行清册修改" in last_message(response)
    confirmed.refresh_from_db()
    assert confirmed.state == BatchState.DRAFT
    assert not BatchPremium.objects.filter(batch=confirmed).exists()
    log = confirmed.log.order_by("-at", "-pk").first()
    assert log.to_state == BatchState.DRAFT and log.reason == "漏报两名职工" and "重新整理清册" in log.action


def test_withdraw_to_choose_plans_again(owner, confirmed):
    """重新选择保障项目 → back to 清册校验通过; the selection is kept as the starting point."""
    response = post(owner, confirmed, target="plans", reason="漏选C3")
    assert response.status_code == 302
    assert "可点击【保障项目选择】重新选择保障项目" in last_message(response)
    confirmed.refresh_from_db()
    assert confirmed.state == BatchState.ROSTER_APPROVED
    assert not BatchPremium.objects.filter(batch=confirmed).exists()
    assert PlanSelection.objects.get(batch=confirmed).codes == "A0 B0 C0 A3"
    page = text(owner.get(reverse("plans:selection", kwargs={"number": confirmed.number})))
    assert len(re.findall(r'name="codes" value="\w\d" id="code-\w\d" checked>', page)) == 4


def test_choose_plans_again_before_confirmation_is_refused(owner, batch):
    response = post(owner, batch, target="plans")
    assert response.status_code == 200
    assert "尚未提交确认保费" in text(response) and "withdraw-target-error" in text(response)
    batch.refresh_from_db()
    assert batch.state == BatchState.ROSTER_APPROVED


def test_double_click_withdraws_once(owner, confirmed):
    first = post(owner, confirmed, target="plans", state=BatchState.AWAITING_PAYMENT)
    second = post(owner, confirmed, target="plans", state=BatchState.AWAITING_PAYMENT)
    assert first.status_code == second.status_code == 302
    assert "本次撤回未执行" in last_message(second)
    confirmed.refresh_from_db()
    assert confirmed.state == BatchState.ROSTER_APPROVED
    assert confirmed.log.filter(action__startswith="批次撤回").count() == 1


def test_centralised_batch_outside_the_window_is_refused(owner, confirmed):
    """SPEC BAT-10: after 集中参保通道关闭 the page says why and a post changes nothing."""
    with time_machine.travel(AFTER_WINDOW, tick=False):
        owner.force_login(confirmed.account)
        page = text(owner.get(url(confirmed)))
        assert "集中参保通道已关闭，集中参保批次不能撤回" in page
        assert 'id="withdraw-form"' not in page
        response = post(owner, confirmed, target="roster")
        assert response.status_code == 200 and "集中参保通道已关闭" in text(response)
    confirmed.refresh_from_db()
    assert confirmed.state == BatchState.AWAITING_PAYMENT


def test_instant_batch_can_be_withdrawn_after_the_window(client, handbook_year):
    with time_machine.travel(AFTER_WINDOW, tick=False):
        batch = approved_batch(year=handbook_year, kind=BatchKind.INSTANT, social_security=2, start=dt.date(2023, 7, 6))
        client.force_login(batch.account)
        response = post(client, batch, target="roster")
        assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.state == BatchState.DRAFT
