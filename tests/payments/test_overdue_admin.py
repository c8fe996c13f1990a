"""逾期未缴费批次 in the back office (SPEC BAT-11, PAY-5, BO-1, X-1): the list of batches still 缴费凭证待上传
after their payment deadline, the page with 【作废】 (reason required, a confirmation dialog) through
payments.services.batch_cancel, the 待办 line, and who may do what (STYLE.md §10).
"""
import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from backoffice.views import backoffice_queues
from enrollment.models import BatchLog
from enrollment.states import BatchState
from payments.services import voucher_submit
from rosters.models import EnrolmentRegistry
from rosters.submission import _registry_insert
from tests.factories import SHANGHAI, UserFactory
from tests.payments.helpers import awaiting_payment_batch, proof_draft
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

LIST = reverse("admin:payments_overduebatch_changelist")
# Confirmed 10 June 2023 (tests.payments.helpers), 15 days to pay (PAY-1): due 25 June.
DUE = dt.date(2023, 6, 25)
LATER = dt.datetime(2023, 6, 28, 10, 0, tzinfo=SHANGHAI)  # 3 days overdue


def page_url(batch) -> str:
    return reverse("admin:payments_overduebatch_change", args=[batch.pk])


def cancel_url(batch) -> str:
    return reverse("admin:payments_overduebatch_cancel", args=[batch.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def overdue(handbook_year):
    batch = awaiting_payment_batch(year=handbook_year)
    assert batch.premium.payment_due == DUE
    return batch


@pytest.fixture
def reviewer_client(reviewer):
    client = PortalClient()
    client.force_login(reviewer)
    return client


@pytest.fixture
def later():
    with time_machine.travel(LATER, tick=False):
        yield


# --- the list (SPEC BAT-11) ------------------------------------------------------------------------------


def test_the_list_shows_overdue_batches_oldest_deadline_first(reviewer_client, handbook_year, overdue):
    earlier = awaiting_payment_batch(year=handbook_year, at=dt.datetime(2023, 6, 5, 10, 0, tzinfo=SHANGHAI))  # due 20 June
    not_yet = awaiting_payment_batch(year=handbook_year, at=dt.datetime(2023, 6, 20, 10, 0, tzinfo=SHANGHAI))  # due 5 July
    paid = awaiting_payment_batch(year=handbook_year, at=dt.datetime(2023, 6, 1, 10, 0, tzinfo=SHANGHAI))
    voucher_submit(
        account=paid.account, batch_numbers=[paid.number], payer="某公司", method="online", amount="720",
        draft_token=proof_draft(paid.account),
    )

    with time_machine.travel(LATER, tick=False):
        response = reviewer_client.get(LIST)

    assert response.status_code == 200
    for header in ["参保批次", "单位名称", "参保编码", "保费（元）", "缴费截止日期", "逾期天数", "经办人"]:
        assertContains(response, header)
    assert [batch.pk for batch in response.context["cl"].result_list] == [earlier.pk, overdue.pk]
    assertNotContains(response, not_yet.number)
    assertNotContains(response, paid.number)
    assertContains(response, "2023-06-20")
    assertContains(response, '<span class="overdue-text">8 天</span>', html=True)
    assertContains(response, '<span class="overdue-text">3 天</span>', html=True)
    assertContains(response, "720.00")
    # SPEC X-1: the handler's mobile masked.
    assertContains(response, "王经办 139****5678")
    assertNotContains(response, "13912345678")


def test_the_deadline_day_itself_is_not_overdue(reviewer_client, overdue):
    with time_machine.travel(dt.datetime(2023, 6, 25, 23, 0, tzinfo=SHANGHAI), tick=False):
        response = reviewer_client.get(LIST)
    assert list(response.context["cl"].result_list) == []


def test_the_todo_panel_counts_overdue_batches(handbook_year, overdue, reviewer):
    awaiting_payment_batch(year=handbook_year, at=dt.datetime(2023, 6, 20, 10, 0, tzinfo=SHANGHAI))  # not yet
    with time_machine.travel(LATER, tick=False):
        [line] = [line for line in backoffice_queues(reviewer) if line.label == "逾期未缴费批次"]
    assert (line.count, line.overdue, line.url) == (1, None, LIST)
    assert not [line for line in backoffice_queues(UserFactory(role="union_staff")) if line.label == "逾期未缴费批次"]


# --- the page and 【作废】 (SPEC BAT-11) ------------------------------------------------------------------


def test_the_page_shows_the_batch_and_the_cancel_dialog(reviewer_client, overdue, later):
    response = reviewer_client.get(page_url(overdue))

    assert response.status_code == 200
    assertContains(response, f"逾期未缴费批次 {overdue.number}")
    assertContains(response, "缴费截止日期：2023-06-25")
    assertContains(response, '逾期：<span class="overdue-text">3 天</span>', html=True)
    assertContains(response, "保费：720.00 元")
    assertContains(response, "操作日志")
    assertContains(response, 'popovertarget="cancel-dialog"')
    assertContains(response, f'action="{cancel_url(overdue)}"')
    assertContains(response, "批次人员在2023年度的参保登记随之释放")
    assertContains(response, "确认作废")
    assertNotContains(response, "13912345678")


def test_cancel_needs_a_reason(reviewer_client, overdue, later):
    response = reviewer_client.post(cancel_url(overdue), {"reason": " "})

    assert response["Location"] == page_url(overdue)
    assert messages_of(response) == ["请填写作废原因。"]
    overdue.refresh_from_db()
    assert overdue.state == BatchState.AWAITING_PAYMENT


def test_cancel_releases_the_registry_logs_and_tells_the_handler(reviewer_client, overdue, reviewer, later, django_capture_on_commit_callbacks):
    _registry_insert(batch=overdue, at=LATER)  # as 清册提交 wrote them (ROS-11)
    assert EnrolmentRegistry.objects.filter(batch=overdue).count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(cancel_url(overdue), {"reason": "逾期未缴费，单位确认不再参保"})

    assert response.status_code == 302 and response["Location"] == LIST
    assert messages_of(response) == [
        f"参保批次 {overdue.number}（{overdue.unit_name}）已作废，人员参保登记已释放，已发邮件通知经办人：逾期未缴费，单位确认不再参保"
    ]
    overdue.refresh_from_db()
    assert overdue.state == BatchState.CANCELLED
    assert not EnrolmentRegistry.objects.filter(batch=overdue).exists()
    log = BatchLog.objects.filter(batch=overdue).order_by("pk").last()
    assert (log.to_state, log.actor, log.reason) == (BatchState.CANCELLED, reviewer, "逾期未缴费，单位确认不再参保")
    [email] = mail.outbox
    assert email.to == ["handler@example.com"] and "已作废" in email.subject
    # No longer in the list; its page says why instead of a bare 404.
    assert list(reviewer_client.get(LIST).context["cl"].result_list) == []
    gone = reviewer_client.get(page_url(overdue))
    assert gone.status_code == 404


def test_a_double_click_on_cancel_cancels_once(reviewer_client, overdue, later, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reviewer_client.post(cancel_url(overdue), {"reason": "逾期未缴费"})
        second = reviewer_client.post(cancel_url(overdue), {"reason": "逾期未缴费"})

    assert second["Location"] == LIST
    assert messages_of(second)[-1] == f"参保批次 {overdue.number} 已作废，无需重复操作。"
    assert BatchLog.objects.filter(batch=overdue, to_state=BatchState.CANCELLED).count() == 1
    assert len(mail.outbox) == 1


def test_a_batch_paid_meanwhile_is_not_cancelled(reviewer_client, overdue, later):
    # The reviewer opened the page; the unit uploads its voucher before the click (PAY-2 still allows it).
    voucher_submit(
        account=overdue.account, batch_numbers=[overdue.number], payer="某公司", method="online", amount="720",
        draft_token=proof_draft(overdue.account),
    )
    response = reviewer_client.post(cancel_url(overdue), {"reason": "逾期未缴费"})

    assert response["Location"] == LIST
    assert "不能作废" in messages_of(response)[-1]
    overdue.refresh_from_db()
    assert overdue.state == BatchState.PAYMENT_REVIEW


def test_a_batch_not_yet_due_cannot_be_cancelled(reviewer_client, overdue):
    with time_machine.travel(dt.datetime(2023, 6, 20, 10, 0, tzinfo=SHANGHAI), tick=False):
        assert reviewer_client.get(page_url(overdue)).status_code == 404
        response = reviewer_client.post(cancel_url(overdue), {"reason": "逾期未缴费"})
    assert "不能作废" in messages_of(response)[-1]
    overdue.refresh_from_db()
    assert overdue.state == BatchState.AWAITING_PAYMENT


def test_a_get_of_cancel_goes_back_to_the_page(reviewer_client, overdue, later):
    response = reviewer_client.get(cancel_url(overdue))
    assert response.status_code == 302 and response["Location"] == page_url(overdue)
    overdue.refresh_from_db()
    assert overdue.state == BatchState.AWAITING_PAYMENT


# --- who may (STYLE.md §10) ----------------------------------------------------------------------------------


def test_union_staff_are_forbidden(client, overdue, later):
    client.force_login(UserFactory(role="union_staff"))
    for url in (LIST, page_url(overdue)):
        assert client.get(url).status_code == 403, url
    assert client.post(cancel_url(overdue), {"reason": "x"}).status_code == 403
    overdue.refresh_from_db()
    assert overdue.state == BatchState.AWAITING_PAYMENT


@pytest.mark.parametrize("who", ["anonymous", "unit_admin"])
def test_units_and_strangers_are_sent_to_the_login(client, overdue, later, who):
    if who == "unit_admin":
        client.force_login(overdue.account)
    for response in (client.get(LIST), client.get(page_url(overdue)), client.post(cancel_url(overdue), {"reason": "x"})):
        assert response.status_code == 302 and "login" in response["Location"]
    overdue.refresh_from_db()
    assert overdue.state == BatchState.AWAITING_PAYMENT


def test_a_viewer_without_the_change_permission_sees_no_cancel(client, overdue, later):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(role="union_staff", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_overduebatch", content_type__app_label="payments"))
    client.force_login(viewer)

    page = client.get(page_url(overdue))
    assert page.status_code == 200
    assertNotContains(page, 'popovertarget="cancel-dialog"')
    assert client.post(cancel_url(overdue), {"reason": "逾期"}).status_code == 403


def test_the_reviewer_role_holds_the_permissions(reviewer):
    assert reviewer.has_perm("payments.view_overduebatch") and reviewer.has_perm("payments.change_overduebatch")
    assert not UserFactory(role="union_staff").has_perm("payments.view_overduebatch")


def test_a_post_without_its_csrf_token_is_refused(overdue, reviewer, later):
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.post(cancel_url(overdue), {"reason": "逾期"}).status_code == 403
    overdue.refresh_from_db()
    assert overdue.state == BatchState.AWAITING_PAYMENT
