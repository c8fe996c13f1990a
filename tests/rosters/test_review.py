"""清册审核 in the back office (SPEC VAL-7, BO-1, BAT-4, YEAR-3, X-1): the queue of batches 职保会待审核
with its deadline, the page with the validation result beside the attachments, 【审核通过】 and
【审核不通过】 with their e-mails, the 待办 line, and who may do what (STYLE.md §10).
"""
import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from backoffice.views import backoffice_queues
from enrollment.models import Batch, BatchLog
from enrollment.states import BatchKind, BatchState
from rosters.selectors import batch_review_deadline
from rosters.errors import RosterError
from rosters.rules import KIND_SITUATION
from rosters.submission import batch_review_approve, batch_review_reject, batch_submit
from tests.factories import SHANGHAI, UserFactory
from tests.rosters.helpers import IN_CENTRALISED_WINDOW, attach, ready_batch, submitted_for_review
from tests.second_factor import PortalClient

S = BatchState
pytestmark = pytest.mark.django_db

LIST = reverse("admin:rosters_batchreview_changelist")


def page_url(batch) -> str:
    return reverse("admin:rosters_batchreview_change", args=[batch.pk])


def approve_url(batch) -> str:
    return reverse("admin:rosters_batchreview_approve", args=[batch.pk])


def reject_url(batch) -> str:
    return reverse("admin:rosters_batchreview_reject", args=[batch.pk])


def attachment_url(batch, attachment) -> str:
    return reverse("admin:rosters_batchreview_attachment", args=[batch.pk, attachment.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def in_review(handbook_year):
    return submitted_for_review(handbook_year)


@pytest.fixture
def reviewer_client(reviewer):
    client = PortalClient()
    client.force_login(reviewer)
    return client


# --- the services (SPEC VAL-7) -------------------------------------------------------------------------


def test_approval_moves_to_approved_logs_and_emails_the_handler(in_review, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        batch_review_approve(batch=in_review, acting_user=reviewer)

    in_review.refresh_from_db()
    assert in_review.state == S.REVIEW_APPROVED
    log = BatchLog.objects.filter(batch=in_review).order_by("pk").last()
    assert (log.action, log.from_state, log.to_state, log.actor) == ("职保会审核通过", S.IN_REVIEW, S.REVIEW_APPROVED, reviewer)
    [email] = mail.outbox
    assert email.to == ["handler@example.com"]
    assert email.subject == f"【上海市职工保障互助会】参保批次{in_review.number}职保会审核通过"
    assert "保障项目选择" in email.body and "起保日期：2023-07-01" in email.body


def test_rejection_needs_a_reason_keeps_it_in_the_log_and_emails_it(in_review, reviewer, django_capture_on_commit_callbacks):
    with pytest.raises(RosterError, match="请填写审核不通过的原因"):
        batch_review_reject(batch=in_review, acting_user=reviewer, reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        batch_review_reject(batch=in_review, acting_user=reviewer, reason="情况说明未加盖公章，请重新上传")

    in_review.refresh_from_db()
    assert in_review.state == S.REVIEW_REJECTED
    log = BatchLog.objects.filter(batch=in_review).order_by("pk").last()
    assert (log.action, log.to_state, log.reason) == ("职保会审核不通过", S.REVIEW_REJECTED, "情况说明未加盖公章，请重新上传")
    [email] = mail.outbox
    assert email.to == ["handler@example.com"]
    assert "原因：情况说明未加盖公章，请重新上传" in email.body
    # BAT-3: the unit may now edit the roster and attachments and submit again.
    assert in_review.roster_editable and in_review.allows("submit")


def test_a_second_decision_changes_nothing(in_review, reviewer, django_capture_on_commit_callbacks):
    second_reviewer = UserFactory(role="reviewer")
    with django_capture_on_commit_callbacks(execute=True):
        batch_review_approve(batch=in_review, acting_user=reviewer)
        with pytest.raises(RosterError) as again:
            batch_review_approve(batch=in_review, acting_user=reviewer)
        with pytest.raises(RosterError) as other:
            batch_review_reject(batch=in_review, acting_user=second_reviewer, reason="不清晰")
    message = f"批次 {in_review.number} 当前状态为“职保会审核通过”，无需重复审核。"
    assert again.value.message == other.value.message == message
    in_review.refresh_from_db()
    assert in_review.state == S.REVIEW_APPROVED
    assert BatchLog.objects.filter(batch=in_review, from_state=S.IN_REVIEW).count() == 1
    assert len(mail.outbox) == 1


def test_a_rejected_batch_is_resubmitted_to_review(in_review, reviewer):
    batch_review_reject(batch=in_review, acting_user=reviewer, reason="情况说明未加盖公章")
    attach(in_review, kind=KIND_SITUATION.value, name="情况说明（盖章）.png")
    later = IN_CENTRALISED_WINDOW + dt.timedelta(days=3)

    batch_submit(batch=in_review, acting_user=in_review.account, agreed=True, at=later)

    in_review.refresh_from_db()
    assert in_review.state == S.IN_REVIEW and in_review.submitted_at == later
    batch_review_approve(batch=in_review, acting_user=reviewer)
    in_review.refresh_from_db()
    assert in_review.state == S.REVIEW_APPROVED


# --- the deadline (SPEC BO-1, YEAR-3) -------------------------------------------------------------------


def test_the_deadline_is_24_00_of_the_second_working_day(in_review):
    # Submitted Thursday 15 June 2023: Friday 16 June is the first working day after it, Monday 19 June
    # (after the weekend) the second → 19 June 24:00, stored as 20 June 00:00 (SPEC YEAR-2).
    assert batch_review_deadline(in_review) == dt.datetime(2023, 6, 20, 0, 0, tzinfo=SHANGHAI)


def test_a_batch_submitted_before_the_dragon_boat_holiday_waits_for_the_make_up_day(handbook_year):
    # 2023: 22–24 June 端午节 holidays, Sunday 25 June a working day. Submitted Wednesday 21 June:
    # the working days after it are 25 and 26 June → deadline 26 June 24:00.
    batch = submitted_for_review(handbook_year, at=dt.datetime(2023, 6, 21, 16, 0, tzinfo=SHANGHAI))
    assert batch_review_deadline(batch) == dt.datetime(2023, 6, 27, 0, 0, tzinfo=SHANGHAI)


# --- the queue (SPEC BO-1) ------------------------------------------------------------------------------


def test_the_queue_lists_waiting_batches_oldest_first_with_deadlines(reviewer_client, handbook_year, reviewer):
    late = submitted_for_review(handbook_year, at=dt.datetime(2023, 6, 2, 9, 0, tzinfo=SHANGHAI), unit_name="上海早交有限公司")
    recent = submitted_for_review(handbook_year, at=dt.datetime(2023, 6, 15, 9, 0, tzinfo=SHANGHAI), unit_name="上海晚交有限公司")
    done = submitted_for_review(handbook_year, at=dt.datetime(2023, 6, 1, 9, 0, tzinfo=SHANGHAI), unit_name="上海已审有限公司")
    batch_review_approve(batch=done, acting_user=reviewer)
    never = ready_batch(handbook_year, account=UserFactory(), unit_name="上海未提交有限公司")  # 清册校验不通过: not here

    with time_machine.travel(dt.datetime(2023, 6, 16, 10, 0, tzinfo=SHANGHAI), tick=False):
        response = reviewer_client.get(LIST)

    assert response.status_code == 200
    for header in ["参保批次", "参保编码", "单位名称", "参保类型", "提交时间", "审核期限", "状态"]:
        assertContains(response, header)
    rows = list(response.context["cl"].result_list)
    assert [batch.pk for batch in rows] == [late.pk, recent.pk, done.pk]
    assertNotContains(response, never.number)
    content = response.content.decode()
    # 2 June (Friday) → 5 and 6 June → 6 June 24:00, past on 16 June: 已超期 in red.
    assert "2023-06-06 24:00</span> <span class=\"state-badge state-overdue\">已超期</span>" in content
    assert "2023-06-19 24:00" in content  # 15 June (Thursday) → 16 and 19 June, not yet due
    assert content.count("已超期</span>") == 1
    assertContains(response, '<span class="state-badge state-progress">职保会待审核</span>', count=2, html=True)
    assertContains(response, '<span class="state-badge state-action">职保会审核通过</span>', count=1, html=True)


def test_the_queue_filters_by_state_and_overdue(reviewer_client, handbook_year):
    late = submitted_for_review(handbook_year, at=dt.datetime(2023, 6, 2, 9, 0, tzinfo=SHANGHAI), unit_name="上海早交有限公司")
    submitted_for_review(handbook_year, at=dt.datetime(2023, 6, 15, 9, 0, tzinfo=SHANGHAI), unit_name="上海晚交有限公司")
    with time_machine.travel(dt.datetime(2023, 6, 16, 10, 0, tzinfo=SHANGHAI), tick=False):
        overdue = reviewer_client.get(LIST, {"overdue": "yes", "state": "in_review"})
        waiting = reviewer_client.get(LIST, {"state": "in_review"})
    assert [batch.pk for batch in overdue.context["cl"].result_list] == [late.pk]
    assert len(waiting.context["cl"].result_list) == 2


def test_the_todo_panel_counts_waiting_and_overdue_batches(handbook_year, reviewer):
    submitted_for_review(handbook_year, at=dt.datetime(2023, 6, 2, 9, 0, tzinfo=SHANGHAI), unit_name="上海早交有限公司")
    submitted_for_review(handbook_year, at=dt.datetime(2023, 6, 15, 9, 0, tzinfo=SHANGHAI), unit_name="上海晚交有限公司")
    with time_machine.travel(dt.datetime(2023, 6, 16, 10, 0, tzinfo=SHANGHAI), tick=False):
        [line] = [line for line in backoffice_queues(reviewer) if line.label == "清册审核"]
    assert (line.count, line.overdue) == (2, 1)
    assert line.url == f"{LIST}?state=in_review"
    assert line.overdue_url == f"{LIST}?overdue=yes&state=in_review"
    assert not [line for line in backoffice_queues(UserFactory(role="union_staff")) if line.label == "清册审核"]


def test_the_index_shows_the_line(reviewer_client, in_review):
    response = reviewer_client.get(reverse("admin:index"))
    assertContains(response, f'<a href="{LIST}?state=in_review">清册审核</a>', html=True)


# --- the page -------------------------------------------------------------------------------------------


def test_the_page_shows_the_result_beside_the_attachments(reviewer_client, in_review):
    response = reviewer_client.get(page_url(in_review))

    assert response.status_code == 200
    assertContains(response, f"审核参保批次 {in_review.number}")
    # SPEC VAL-3: last year 20, this year 3 → 85.00 %, outside ±10 %.
    assertContains(response, "清册增减幅度校验(10%)")
    assertContains(response, '<tr><th scope="row">上年度参保人数</th><td>20</td></tr>', html=True)
    assertContains(response, '<tr><th scope="row">增减幅度</th><td>85.00%</td></tr>', html=True)
    # SPEC VAL-4: the three totals and a row per SS unit code.
    assertContains(response, "社保编码的缴费人数之和")
    assertContains(response, '<strong class="fails">30.00%</strong>', html=True)
    assertContains(
        response,
        "<tr><td>00108537</td><td>上海长风示范科技有限公司</td><td>3</td><td>10</td><td>30.00%</td></tr>",
        html=True,
    )
    # SPEC VAL-6: the uploaded 情况说明, viewable.
    [attachment] = response.context["attachments"]
    assert attachment["kind"] == "情况说明（加盖公章）"
    assertContains(response, f'src="{attachment["url"]}"')
    image = reviewer_client.get(attachment["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    # The handler's mobile is masked (SPEC X-1); the 操作日志 and both buttons are there.
    assertContains(response, "139****5678")
    assertNotContains(response, "13912345678")
    assertContains(response, "操作日志")
    assertContains(response, 'popovertarget="approve-dialog"')
    assertContains(response, 'popovertarget="reject-dialog"')


def test_an_attachment_of_another_batch_is_not_found(reviewer_client, in_review, handbook_year):
    other = submitted_for_review(handbook_year, unit_name="上海别的有限公司")
    foreign = attach(other, kind=KIND_SITUATION.value)
    assert reviewer_client.get(attachment_url(in_review, foreign)).status_code == 404


def test_a_decided_batch_shows_its_state_instead_of_the_buttons(reviewer_client, in_review, reviewer):
    batch_review_reject(batch=in_review, acting_user=reviewer, reason="情况说明未加盖公章")
    response = reviewer_client.get(page_url(in_review))
    assertNotContains(response, 'popovertarget="approve-dialog"')
    assertContains(response, '<span class="state-badge state-rejected">职保会审核不通过</span>', html=True)
    assertContains(response, "情况说明未加盖公章")  # the reason in the 操作日志


# --- the buttons ------------------------------------------------------------------------------------------


def test_approve_button(reviewer_client, in_review, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(approve_url(in_review))
    assert response.status_code == 302 and response["Location"] == LIST
    assert messages_of(response) == [
        f"参保批次 {in_review.number}（{in_review.unit_name}）职保会审核通过，已发邮件通知经办人。"
    ]
    in_review.refresh_from_db()
    assert in_review.state == S.REVIEW_APPROVED
    assert len(mail.outbox) == 1


def test_a_double_click_on_approve_approves_once(reviewer_client, in_review, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        reviewer_client.post(approve_url(in_review))
        second = reviewer_client.post(approve_url(in_review))
    assert second.status_code == 302 and second["Location"] == page_url(in_review)
    assert messages_of(second)[-1] == f"批次 {in_review.number} 当前状态为“职保会审核通过”，无需重复审核。"
    assert BatchLog.objects.filter(batch=in_review, to_state=S.REVIEW_APPROVED).count() == 1
    assert len(mail.outbox) == 1


def test_reject_button_needs_a_reason(reviewer_client, in_review):
    response = reviewer_client.post(reject_url(in_review), {"reason": ""})
    assert response["Location"] == page_url(in_review)
    assert messages_of(response) == ["请填写审核不通过的原因。"]
    in_review.refresh_from_db()
    assert in_review.state == S.IN_REVIEW

    response = reviewer_client.post(reject_url(in_review), {"reason": "申报表缺少社保缴费总人数"})
    assert response["Location"] == LIST
    in_review.refresh_from_db()
    assert in_review.state == S.REVIEW_REJECTED


def test_a_get_of_a_button_goes_back_to_the_page(reviewer_client, in_review):
    response = reviewer_client.get(approve_url(in_review))
    assert response.status_code == 302 and response["Location"] == page_url(in_review)
    in_review.refresh_from_db()
    assert in_review.state == S.IN_REVIEW


# --- who may (STYLE.md §10) --------------------------------------------------------------------------------


@pytest.fixture
def every_url(in_review):
    attachment = in_review_attachment(in_review)
    return [LIST, page_url(in_review), attachment_url(in_review, attachment)]


def in_review_attachment(batch):
    from mutualaid.attachments import attachments_of

    return attachments_of(batch).first()


def test_union_staff_are_forbidden(client, in_review, every_url):
    client.force_login(UserFactory(role="union_staff"))
    for url in every_url:
        assert client.get(url).status_code == 403, url
    for url in (approve_url(in_review), reject_url(in_review)):
        assert client.post(url, {"reason": "x"}).status_code == 403, url
    in_review.refresh_from_db()
    assert in_review.state == S.IN_REVIEW


@pytest.mark.parametrize("who", ["anonymous", "unit_admin"])
def test_units_and_strangers_are_sent_to_the_login(client, in_review, every_url, who):
    if who == "unit_admin":
        client.force_login(in_review.account)
    for url in [*every_url, approve_url(in_review), reject_url(in_review)]:
        response = client.post(url, {"reason": "x"}) if url in (approve_url(in_review), reject_url(in_review)) else client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    in_review.refresh_from_db()
    assert in_review.state == S.IN_REVIEW


def test_the_reviewer_role_holds_the_queue_permissions(reviewer):
    assert reviewer.has_perm("rosters.view_batchreview") and reviewer.has_perm("rosters.change_batchreview")
    assert not UserFactory(role="union_staff").has_perm("rosters.view_batchreview")


def test_a_post_without_its_csrf_token_is_refused(in_review, reviewer):
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.post(approve_url(in_review)).status_code == 403
    in_review.refresh_from_db()
    assert in_review.state == S.IN_REVIEW


def test_an_instant_batch_in_review_shows_its_own_start(handbook_year, reviewer_client):
    batch = ready_batch(handbook_year, kind=BatchKind.INSTANT, continuing=False, account=UserFactory(), unit_name="上海即时有限公司")
    attach(batch)
    batch_submit(batch=batch, acting_user=batch.account, agreed=True, at=dt.datetime(2023, 9, 10, 10, tzinfo=SHANGHAI))
    response = reviewer_client.get(page_url(batch))
    assertContains(response, "2023-09-11 至 2024-06-30")
    assertContains(response, "上年度参保人数</th><td>无（新参保单位）")
    assert Batch.objects.get(pk=batch.pk).state == S.IN_REVIEW
