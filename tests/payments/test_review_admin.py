"""缴费凭证审核 in the back office (SPEC PAY-2, PAY-3, PAY-4, BO-1, YEAR-3, X-1): the queue with its
10-working-day deadline, the page with the proofs, amounts, refund data and batches, 【审核通过】 and
【审核不通过】 through the admin views (double click, two reviewers), the audited full view of the refund
account, the 待办 line, and who may do what (STYLE.md §10).
"""
import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.roles import ROLE_PERMISSIONS
from backoffice.views import backoffice_queues
from enrollment.models import BatchLog
from enrollment.states import BatchState
from mutualaid.attachments import attachments_of
from mutualaid.models import CalendarDay
from payments.selectors import voucher_review_deadline
from payments.models import Voucher
from payments.services import RefundDetails, voucher_approve, voucher_reject
from tests.factories import SHANGHAI, UserFactory
from tests.payments.helpers import awaiting_payment_batch, paid
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

LIST = reverse("admin:payments_voucher_changelist")
ACCOUNT_NUMBER = "6222021001123456789"
REFUND = RefundDetails(account_number=ACCOUNT_NUMBER, account_name="上海长风示范科技有限公司", bank="中国工商银行")


def shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def page_url(voucher) -> str:
    return reverse("admin:payments_voucher_change", args=[voucher.pk])


def approve_url(voucher) -> str:
    return reverse("admin:payments_voucher_approve", args=[voucher.pk])


def reject_url(voucher) -> str:
    return reverse("admin:payments_voucher_reject", args=[voucher.pk])


def attachment_url(voucher, attachment) -> str:
    return reverse("admin:payments_voucher_attachment", args=[voucher.pk, attachment.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def voucher(handbook_year):
    return paid(handbook_year)


@pytest.fixture
def refund_voucher(handbook_year):
    return paid(handbook_year, amount="2,000.00", refund=REFUND)  # 退款 1,280.00


@pytest.fixture
def reviewer_client(reviewer):
    client = PortalClient()
    client.force_login(reviewer)
    return client


# --- the deadline (SPEC PAY-2: 审核时间为提交申请后10个工作日内; YEAR-1, YEAR-3) ------------------------


def test_the_deadline_is_24_00_of_the_tenth_working_day(handbook_year):
    # Submitted Monday 5 June 2023: 6–9, 12–16 June are nine working days, Monday 19 June the tenth.
    voucher = paid(handbook_year, at=shanghai(2023, 6, 5, 15, 0))
    assert voucher_review_deadline(voucher) == shanghai(2023, 6, 20, 0, 0)


def test_the_deadline_crosses_the_dragon_boat_holiday_and_its_make_up_day(handbook_year):
    # Submitted Friday 16 June 2023: 19, 20, 21 June; 22–24 June are the 端午节 holiday, Sunday 25 June
    # is a working day (调休); then 26–30 June and Monday 3 July, the tenth → 3 July 24:00.
    voucher = paid(handbook_year, at=shanghai(2023, 6, 16, 11, 0))
    assert voucher_review_deadline(voucher) == shanghai(2023, 7, 4, 0, 0)


def test_a_day_off_entered_by_reviewers_moves_the_deadline(handbook_year):
    voucher = paid(handbook_year, at=shanghai(2023, 6, 16, 11, 0))
    CalendarDay.objects.create(date=dt.date(2023, 6, 29), is_working_day=False, note="测试：临时放假")
    assert voucher_review_deadline(voucher) == shanghai(2023, 7, 5, 0, 0)


def test_the_deadline_follows_the_batches_coverage_year(handbook_year):
    handbook_year.voucher_review_working_days = 5
    handbook_year.save(update_fields=["voucher_review_working_days"])
    voucher = paid(handbook_year, at=shanghai(2023, 6, 16, 11, 0))
    # 19, 20, 21, 25 (调休) and 26 June → 26 June 24:00.
    assert voucher_review_deadline(voucher) == shanghai(2023, 6, 27, 0, 0)


# --- the queue (SPEC PAY-4, BO-1) -------------------------------------------------------------------------


def test_the_queue_lists_pending_vouchers_oldest_first_then_the_reviewed(reviewer_client, handbook_year, reviewer):
    late = paid(handbook_year, at=shanghai(2023, 6, 5, 9, 0), payer="上海早交有限公司")
    recent = paid(handbook_year, at=shanghai(2023, 6, 16, 9, 0), payer="上海晚交有限公司")
    done = paid(handbook_year, at=shanghai(2023, 6, 1, 9, 0), payer="上海已审有限公司")
    voucher_approve(voucher=done, acting_user=reviewer)

    with time_machine.travel(shanghai(2023, 6, 21, 10, 0), tick=False):
        response = reviewer_client.get(LIST)

    assert response.status_code == 200
    for header in ["付款单位", "参保批次", "缴费金额（元）", "应缴保费（元）", "退款金额（元）", "提交时间", "审核期限", "审核状态"]:
        assertContains(response, header)
    assert [voucher.pk for voucher in response.context["cl"].result_list] == [late.pk, recent.pk, done.pk]
    content = response.content.decode()
    # 5 June → 19 June 24:00, past on 21 June: 已超期 in red; 16 June → 3 July 24:00, not yet.
    assert '2023-06-19 24:00</span> <span class="state-badge state-overdue">已超期</span>' in content
    assert "2023-07-03 24:00" in content
    assert content.count("已超期</span>") == 1
    assertContains(response, '<span class="state-badge state-progress">待审核</span>', count=2, html=True)
    assertContains(response, '<span class="state-badge state-done">审核通过</span>', count=1, html=True)
    assertContains(response, late.lines.get().batch.number)
    assertContains(response, "720.00")


def test_the_queue_filters_by_status_and_overdue_and_searches(reviewer_client, handbook_year, reviewer):
    late = paid(handbook_year, at=shanghai(2023, 6, 5, 9, 0), payer="上海早交有限公司")
    recent = paid(handbook_year, at=shanghai(2023, 6, 16, 9, 0), payer="上海晚交有限公司")
    done = paid(handbook_year, at=shanghai(2023, 6, 1, 9, 0), payer="上海已审有限公司")
    voucher_reject(voucher=done, acting_user=reviewer, reason="凭证模糊")

    with time_machine.travel(shanghai(2023, 6, 21, 10, 0), tick=False):
        overdue = reviewer_client.get(LIST, {"overdue": "yes", "status__exact": "submitted"})
        waiting = reviewer_client.get(LIST, {"status__exact": "submitted"})
        rejected = reviewer_client.get(LIST, {"status__exact": "rejected"})
        by_batch = reviewer_client.get(LIST, {"q": recent.lines.get().batch.number})
        by_payer = reviewer_client.get(LIST, {"q": "早交"})

    assert [row.pk for row in overdue.context["cl"].result_list] == [late.pk]
    assert [row.pk for row in waiting.context["cl"].result_list] == [late.pk, recent.pk]
    assert [row.pk for row in rejected.context["cl"].result_list] == [done.pk]
    assert [row.pk for row in by_batch.context["cl"].result_list] == [recent.pk]
    assert [row.pk for row in by_payer.context["cl"].result_list] == [late.pk]


def test_the_todo_panel_counts_pending_and_overdue_vouchers(handbook_year, reviewer):
    paid(handbook_year, at=shanghai(2023, 6, 5, 9, 0))
    paid(handbook_year, at=shanghai(2023, 6, 16, 9, 0))
    voucher_approve(voucher=paid(handbook_year, at=shanghai(2023, 6, 1, 9, 0)), acting_user=reviewer)

    with time_machine.travel(shanghai(2023, 6, 21, 10, 0), tick=False):
        [line] = [line for line in backoffice_queues(reviewer) if line.label == "缴费凭证审核"]
    assert (line.count, line.overdue) == (2, 1)
    assert line.url == f"{LIST}?status__exact=submitted"
    assert line.overdue_url == f"{LIST}?overdue=yes&status__exact=submitted"
    assert not [line for line in backoffice_queues(UserFactory(role="union_staff")) if line.label == "缴费凭证审核"]


def test_the_index_shows_the_line(reviewer_client, voucher):
    response = reviewer_client.get(reverse("admin:index"))
    assertContains(response, f'<a href="{LIST}?status__exact=submitted">缴费凭证审核</a>', html=True)


# --- the page (SPEC PAY-2, PAY-3, X-1) ----------------------------------------------------------------------


def test_the_page_shows_the_proofs_amounts_and_batches(reviewer_client, voucher):
    batch = voucher.lines.get().batch
    response = reviewer_client.get(page_url(voucher))

    assert response.status_code == 200
    assertContains(response, "审核缴费凭证（上海长风示范科技有限公司）")
    assertContains(response, "<dt>缴费金额(凭证总金额)</dt><dd>720.00 元</dd>", html=True)
    assertContains(response, "<dt>应缴保费合计</dt><dd>720.00 元</dd>", html=True)
    assertContains(response, "<dt>退款金额</dt><dd>0.00 元</dd>", html=True)
    assertContains(response, "缴费金额与应缴保费合计一致，无需退款。")
    assertNotContains(response, 'id="voucher-refund"')
    # The batch, linked to its 保费信息, with its state.
    premium_url = reverse("admin:plans_batchpremium_change", args=[batch.premium.pk])
    assertContains(response, f'<a href="{premium_url}" title="查看保费信息">{batch.number}</a>', html=True)
    assertContains(response, '<span class="state-badge state-progress">缴费凭证待审核</span>', html=True)
    # The proof inline, served to the reviewer.
    [attachment] = response.context["attachments"]
    assertContains(response, f'src="{attachment["url"]}"')
    image = reviewer_client.get(attachment["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    download = reviewer_client.get(attachment["download_url"])
    assert download["Content-Disposition"].startswith("attachment;")
    # Both buttons with their dialogs; the reason is required.
    assertContains(response, 'popovertarget="approve-dialog"')
    assertContains(response, f'action="{approve_url(voucher)}"')
    assertContains(response, f'action="{reject_url(voucher)}"')
    assertContains(response, 'name="reason"')
    assertContains(response, "确认审核通过")


def test_a_proof_of_another_voucher_is_not_found(reviewer_client, voucher, handbook_year):
    other = paid(handbook_year)
    foreign = attachments_of(other).get()
    assert reviewer_client.get(attachment_url(voucher, foreign)).status_code == 404


def test_the_refund_account_is_masked_and_its_full_view_is_audited(reviewer_client, refund_voucher, reviewer):
    response = reviewer_client.get(page_url(refund_voucher))

    assertContains(response, "<dt>退款金额</dt><dd>1,280.00 元</dd>", html=True)
    assertContains(response, "6222***********6789")
    assertNotContains(response, ACCOUNT_NUMBER)
    for label, value in [("退款帐户名称", "上海长风示范科技有限公司"), ("退款银行", "中国工商银行"), ("退款方式", "划帐"), ("退款帐户类别", "在职")]:
        assertContains(response, f'<tr><th scope="row">{label}</th><td>{value}</td></tr>', html=True)
    full_url = f"{page_url(refund_voucher)}?refund_account=full"
    assertContains(response, f'href="{full_url}"')
    accessed = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Voucher), object_pk=str(refund_voucher.pk), action=LogEntry.Action.ACCESS
    )
    assert not accessed.exists()  # the masked page is not a full view

    full = reviewer_client.get(full_url)

    assertContains(full, f'<span class="account-number" id="refund-account-full">{ACCOUNT_NUMBER}</span>', html=True)
    assertContains(full, "完整帐号，本次查看已记录")
    [entry] = accessed.all()
    assert entry.actor == reviewer


def test_a_reviewer_without_the_right_to_review_sees_the_account_masked_only(client, refund_voucher):
    viewer = UserFactory(role="union_staff", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_voucher", content_type__app_label="payments"))
    client.force_login(viewer)

    page = client.get(page_url(refund_voucher))
    assert page.status_code == 200
    assertContains(page, "6222***********6789")
    assertNotContains(page, "显示完整帐号")
    assertNotContains(page, 'popovertarget="approve-dialog"')
    assert client.get(f"{page_url(refund_voucher)}?refund_account=full").status_code == 403
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(refund_voucher.pk)).exists()


def test_a_decided_voucher_shows_its_decision_instead_of_the_buttons(reviewer_client, voucher, reviewer):
    voucher_reject(voucher=voucher, acting_user=reviewer, reason="凭证金额与缴费金额不一致")
    response = reviewer_client.get(page_url(voucher))
    assertNotContains(response, 'popovertarget="approve-dialog"')
    assertContains(response, '<span class="state-badge state-rejected">审核不通过</span>', html=True)
    assertContains(response, "原因：凭证金额与缴费金额不一致")
    assertContains(response, f"审核人 {reviewer.username}")


def test_the_change_form_itself_never_saves(reviewer_client, voucher):
    response = reviewer_client.post(page_url(voucher), {"status": "approved", "amount": "1"})
    assert response.status_code == 403
    voucher.refresh_from_db()
    assert (voucher.status, voucher.amount) == (Voucher.Status.SUBMITTED, Decimal("720.00"))


# --- the buttons (SPEC PAY-4) -----------------------------------------------------------------------------------


def test_approve_button_completes_the_batches(reviewer_client, refund_voucher, reviewer, django_capture_on_commit_callbacks):
    batch = refund_voucher.lines.get().batch
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(approve_url(refund_voucher))

    assert response.status_code == 302 and response["Location"] == LIST
    assert messages_of(response) == [
        f"缴费凭证（上海长风示范科技有限公司，2,000.00元）审核通过：参保批次 {batch.number} 已变为“参保已完成”，已发邮件通知经办人。"
        "请按退款信息向“上海长风示范科技有限公司”（中国工商银行）退款 1,280.00 元。"
    ]
    refund_voucher.refresh_from_db()
    batch.refresh_from_db()
    assert (refund_voucher.status, refund_voucher.reviewed_by, batch.state) == (
        Voucher.Status.APPROVED, reviewer, BatchState.COMPLETED,
    )
    assert len(mail.outbox) == 1 and "缴费凭证审核通过" in mail.outbox[0].subject


def test_a_double_click_on_approve_approves_once_and_says_so(reviewer_client, voucher, reviewer, django_capture_on_commit_callbacks):
    batch = voucher.lines.get().batch
    with django_capture_on_commit_callbacks(execute=True):
        reviewer_client.post(approve_url(voucher))
        second = reviewer_client.post(approve_url(voucher))

    assert second.status_code == 302 and second["Location"] == page_url(voucher)
    voucher.refresh_from_db()
    local = dt.datetime.strftime(voucher.reviewed_at.astimezone(SHANGHAI), "%Y-%m-%d %H:%M")
    assert messages_of(second)[-1] == f"该缴费凭证已由 {reviewer.username} 于 {local} 审核通过，无需重复审核。"
    assert BatchLog.objects.filter(batch=batch, to_state=BatchState.COMPLETED).count() == 1
    assert len(mail.outbox) == 1


def test_a_second_reviewer_cannot_reject_an_approved_voucher(client, voucher, reviewer):
    voucher_approve(voucher=voucher, acting_user=reviewer)
    client.force_login(UserFactory(role="reviewer"))

    response = client.post(reject_url(voucher), {"reason": "看错了"})

    assert response["Location"] == page_url(voucher)
    assert messages_of(response) == ["该缴费凭证已审核通过，不能再更改。"]
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.APPROVED


def test_reject_button_needs_a_reason(reviewer_client, voucher, django_capture_on_commit_callbacks):
    batch = voucher.lines.get().batch
    response = reviewer_client.post(reject_url(voucher), {"reason": "  "})
    assert response["Location"] == page_url(voucher)
    assert messages_of(response) == ["请填写审核不通过的原因。"]
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.SUBMITTED

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(reject_url(voucher), {"reason": "凭证模糊不清，请重新上传"})

    assert response["Location"] == LIST
    assert messages_of(response)[-1] == (
        f"缴费凭证（上海长风示范科技有限公司，720.00元）审核不通过：参保批次 {batch.number} 已变为“缴费凭证审核不通过”，"
        "已发邮件将原因通知经办人：凭证模糊不清，请重新上传"
    )
    voucher.refresh_from_db()
    batch.refresh_from_db()
    assert (voucher.status, voucher.reject_reason, batch.state) == (
        Voucher.Status.REJECTED, "凭证模糊不清，请重新上传", BatchState.PAYMENT_REJECTED,
    )
    assert "凭证模糊不清" in mail.outbox[0].body
    # A double click on 【审核不通过】 rejects once.
    again = reviewer_client.post(reject_url(voucher), {"reason": "凭证模糊不清，请重新上传"})
    assert "无需重复审核" in messages_of(again)[-1]
    assert BatchLog.objects.filter(batch=batch, to_state=BatchState.PAYMENT_REJECTED).count() == 1


def test_a_voucher_over_two_batches_completes_both(reviewer_client, handbook_year):
    first = awaiting_payment_batch(year=handbook_year)
    second = awaiting_payment_batch(year=handbook_year, account=first.account, people=2, kind="instant")
    voucher = paid(handbook_year, amount="1080.00", batches=[first, second])

    page = reviewer_client.get(page_url(voucher))
    assertContains(page, first.number)
    assertContains(page, second.number)
    assertContains(page, "360.00")
    reviewer_client.post(approve_url(voucher))

    for batch in (first, second):
        batch.refresh_from_db()
        assert batch.state == BatchState.COMPLETED


def test_a_get_of_a_button_goes_back_to_the_page(reviewer_client, voucher):
    response = reviewer_client.get(approve_url(voucher))
    assert response.status_code == 302 and response["Location"] == page_url(voucher)
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.SUBMITTED


# --- who may (STYLE.md §10) ----------------------------------------------------------------------------------


@pytest.fixture
def every_url(voucher):
    attachment = attachments_of(voucher).get()
    return [LIST, page_url(voucher), f"{page_url(voucher)}?refund_account=full", attachment_url(voucher, attachment)]


def test_union_staff_are_forbidden(client, voucher, every_url):
    client.force_login(UserFactory(role="union_staff"))
    for url in every_url:
        assert client.get(url).status_code == 403, url
    for url in (approve_url(voucher), reject_url(voucher)):
        assert client.post(url, {"reason": "x"}).status_code == 403, url
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.SUBMITTED


@pytest.mark.parametrize("who", ["anonymous", "unit_admin"])
def test_units_and_strangers_are_sent_to_the_login(client, voucher, every_url, who):
    if who == "unit_admin":
        client.force_login(voucher.account)
    for url in every_url:
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    for url in (approve_url(voucher), reject_url(voucher)):
        response = client.post(url, {"reason": "x"})
        assert response.status_code == 302 and "login" in response["Location"], url
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.SUBMITTED


def test_the_reviewer_role_holds_the_queue_permissions(reviewer):
    assert reviewer.has_perm("payments.view_voucher") and reviewer.has_perm("payments.change_voucher")
    union_staff = UserFactory(role="union_staff")
    assert not union_staff.has_perm("payments.view_voucher")
    assert not {"payments.view_voucher", "payments.change_voucher"} & ROLE_PERMISSIONS["union_staff"]


def test_a_post_without_its_csrf_token_is_refused(voucher, reviewer):
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.post(approve_url(voucher)).status_code == 403
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.SUBMITTED
