"""The association's review queues in the back office (SPEC BO-1, CODE-4, CODE-5, CODE-8, HND-2, HND-3,
YEAR-3, X-1, X-2, X-4): 参保编码申请 and 参保信息变更申请 with their deadlines and the two buttons,
【单位名称变更】 on a code, the read-only lists, and the 待办 panel on the index.

Every page is tried by a reviewer, by union staff (403), by a unit administrator (sent to the login)
and anonymously (STYLE.md §10); every POST once more without its CSRF token.
"""
import datetime as dt
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Role, UnionOrganisation, User
from accounts.roles import ROLE_PERMISSIONS
from backoffice import views as backoffice_views
from backoffice.views import backoffice_queues
from enrollment import admin as enrollment_admin
from enrollment.selectors import code_review_deadline
from enrollment.review_admin import QueueLine, overdue_cutoff
from enrollment.models import (
    ChangeRequest,
    CodeApplication,
    EnrollmentCode,
    HandlerInfo,
    Unit,
    UnitNameChange,
)
from enrollment.services import CODE_ALPHABET
from mutualaid.attachments import attachment_store, attachments_of
from mutualaid.models import Attachment, CalendarDay
from mutualaid.workdays import working_deadline
from tests.enrollment.queue_helpers import change_page, make_application, make_change_request, make_code, shanghai
from tests.factories import CoverageYearFactory, UserFactory
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- files ------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Files go to a temporary folder, never to the project's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def png_upload(name="营业执照.png", colour="red") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def pdf_upload(name="变更通知书.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", content_type="application/pdf")


def stored_files(media_root: Path) -> list[Path]:
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


# --- objects ----------------------------------------------------------------------------------------


@pytest.fixture
def committee(db):
    return UnionOrganisation.objects.create(name="测试区总工会", short_name="测试区", level=1)


@pytest.fixture
def other_committee(db):
    return UnionOrganisation.objects.create(name="机电工会", short_name="机电", level=1)


def attach(owner, upload, user):
    return attachment_store(upload=upload, uploaded_by=user, owner=owner, kind="营业执照")


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


# --- URLs ---------------------------------------------------------------------------------------------


def changelist(model: str) -> str:
    return reverse(f"admin:enrollment_{model}_changelist")


def action(obj, name: str) -> str:
    return reverse(f"admin:enrollment_{obj._meta.model_name}_{name}", args=[obj.pk])


def attachment_url(owner, attachment) -> str:
    return reverse(f"admin:enrollment_{owner._meta.model_name}_attachment", args=[owner.pk, attachment.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- the queue: order, columns, filters (SPEC BO-1, CODE-4, X-1) ------------------------------------


def test_pending_applications_come_first_oldest_first(reviewer_client, committee):
    # SPEC BO-1: a queue; the reviewed ones follow, the latest review first.
    newer = make_application(committee, unit_name="较新单位", submitted_at=shanghai(2026, 9, 29, 9))
    older = make_application(committee, unit_name="较早单位", submitted_at=shanghai(2026, 9, 28, 9))
    approved = make_application(
        committee, unit_name="已通过单位", submitted_at=shanghai(2026, 9, 1, 9), status="approved",
        reviewed_at=shanghai(2026, 9, 2, 9),
    )
    rejected = make_application(
        committee, unit_name="未通过单位", submitted_at=shanghai(2026, 9, 3, 9), status="rejected",
        reviewed_at=shanghai(2026, 9, 4, 9),
    )

    response = reviewer_client.get(changelist("codeapplication"))

    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [older.pk, newer.pk, rejected.pk, approved.pk]


def test_queue_columns_mask_the_mobile_and_show_badges(reviewer_client, committee):
    # SPEC CODE-4, X-1: 联系人手机 masked on the list; 状态 as a coloured badge.
    make_application(committee, contact_mobile="13912345678")

    response = reviewer_client.get(changelist("codeapplication"))

    header = response.content.decode()
    for column in ("单位名称", "工委名称", "联系人", "联系人手机", "提交时间", "审核期限", "状态"):
        assert f">{column}<" in header or f">{column}</a>" in header, column
    assertContains(response, "139****5678")
    assertNotContains(response, "13912345678")
    assertContains(response, '<span class="state-badge state-progress">申请中</span>', html=True)
    assertContains(response, "测试区总工会")
    assertContains(response, "显示第 1 到第 1 条记录，总共 1 条记录 每页显示 15 条记录")


def test_queue_filters_by_status_and_committee_and_searches(reviewer_client, committee, other_committee):
    # SPEC CODE-4: filters 状态 and 工委; search 单位名称 / 联系人 / 统一信用代码.
    make_application(committee, unit_name="甲公司", contact_name="张三", uscc="91310000MA1FL8XQ3A")
    make_application(other_committee, unit_name="乙公司", contact_name="李四", uscc="")
    make_application(committee, unit_name="丙公司", status="approved")

    def listed(query):
        response = reviewer_client.get(changelist("codeapplication"), query)
        return {row.unit_name for row in response.context["cl"].result_list}

    assert listed({"status__exact": "pending"}) == {"甲公司", "乙公司"}
    assert listed({"committee__id__exact": other_committee.pk}) == {"乙公司"}
    assert listed({"q": "李四"}) == {"乙公司"}
    assert listed({"q": "91310000MA1FL8XQ3A"}) == {"甲公司"}
    assert listed({"q": "甲公司"}) == {"甲公司"}


# --- the deadline (SPEC CODE-4, YEAR-1, YEAR-3) ----------------------------------------------------


def test_deadline_of_a_friday_submission_is_the_next_working_day():
    # SPEC YEAR-3: 1 working day after Friday 25 September 2026 (itself the Mid-Autumn holiday, but the
    # day of submission never counts): Monday 28 September, so 24:00 that day.
    assert code_review_deadline(shanghai(2026, 9, 25, 16, 30), 1) == shanghai(2026, 9, 29, 0, 0)


def test_deadline_skips_the_national_day_holiday():
    # SPEC YEAR-3: 1–7 October 2026 are holidays; 8 October is the 1st working day → 2026-10-09 00:00.
    assert code_review_deadline(shanghai(2026, 9, 30, 10, 0), 1) == shanghai(2026, 10, 9, 0, 0)


def test_deadline_without_a_coverage_year_is_one_working_day(committee):
    # SPEC CODE-4: the handbook's 1 working day when no year says otherwise (the 2023 year says 1 too).
    assert enrollment_admin.code_review_working_days() == 1


def test_deadline_follows_the_current_coverage_year(reviewer_client, committee):
    # SPEC YEAR-1: the review time is a number of the coverage year, not hard-coded.
    CoverageYearFactory(year=2026, code_review_working_days=2)
    make_application(committee, submitted_at=shanghai(2026, 9, 30, 10, 0))

    with time_machine.travel(shanghai(2026, 10, 9, 12, 0), tick=False):
        assert enrollment_admin.code_review_working_days() == 2
        response = reviewer_client.get(changelist("codeapplication"))

    assertContains(response, "2026-10-09 24:00")  # 8 and 9 October
    assertNotContains(response, "已超期</span>")


def test_overdue_is_highlighted_only_after_the_deadline(reviewer_client, committee):
    # SPEC CODE-4, YEAR-2, YEAR-3: due at 24:00 on 8 October (00:00 on the 9th); overdue after it.
    make_application(committee, submitted_at=shanghai(2026, 9, 30, 10, 0))
    make_application(
        committee, unit_name="已审核单位", submitted_at=shanghai(2026, 9, 30, 9, 0), status="approved",
        reviewed_at=shanghai(2026, 10, 12, 9, 0),
    )
    overdue_badge = '<span class="state-badge state-overdue">已超期</span>'

    with time_machine.travel(shanghai(2026, 10, 8, 23, 59), tick=False):
        before = reviewer_client.get(changelist("codeapplication"))
    with time_machine.travel(shanghai(2026, 10, 9, 0, 0, 1), tick=False):
        after = reviewer_client.get(changelist("codeapplication"))

    assertContains(before, "2026-10-08 24:00", count=2)
    assertNotContains(before, overdue_badge, html=True)
    # Only the pending one: a reviewed application is never overdue.
    assertContains(after, overdue_badge, count=1, html=True)


@pytest.mark.parametrize("working_days", [1, 2, 3])
def test_overdue_cutoff_agrees_with_the_working_deadline(working_days):
    # SPEC YEAR-3: the index counts with a cutoff; the list compares each deadline. Same answer for
    # every day of submission around the 2026 Mid-Autumn and National Day holidays, a reviewer's
    # override included.
    CalendarDay.objects.create(date=dt.date(2026, 10, 12), is_working_day=False, note="测试：临时放假")
    moments = [shanghai(2026, 10, 9, 0, 0), shanghai(2026, 10, 9, 0, 0, 1), shanghai(2026, 10, 13, 15, 0)]
    for now in moments:
        cutoff = overdue_cutoff(working_days=working_days, now=now)
        for offset in range(0, 30):
            submitted = shanghai(2026, 9, 20, 18, 0) + dt.timedelta(days=offset)
            expected = now > working_deadline(submitted, working_days)
            assert (submitted < cutoff) is expected, (now, submitted)


def test_overdue_filter_lists_only_the_late_ones(reviewer_client, committee):
    # SPEC CODE-4: the index's "已超期" link opens exactly these.
    make_application(committee, unit_name="迟了", submitted_at=shanghai(2026, 9, 30, 10, 0))
    make_application(committee, unit_name="还来得及", submitted_at=shanghai(2026, 10, 9, 10, 0))

    with time_machine.travel(shanghai(2026, 10, 9, 12, 0), tick=False):
        response = reviewer_client.get(changelist("codeapplication"), {"overdue": "yes", "status__exact": "pending"})

    assert [row.unit_name for row in response.context["cl"].result_list] == ["迟了"]


# --- the application's page (SPEC CODE-2, CODE-4, X-1) ------------------------------------------


def test_application_page_is_read_only_with_every_field_attachments_and_both_buttons(reviewer_client, committee, reviewer):
    application = make_application(
        committee, leader_name="赵总", leader_mobile="13700001111", unit_phone="021-60001234", headcount=321
    )
    image = attach(application, png_upload(), application.account)
    pdf = attach(application, pdf_upload("社会保险费缴费申报表.pdf"), application.account)

    response = reviewer_client.get(change_page(application))

    assert response.status_code == 200
    for value in (
        "上海示范机电有限公司", "测试区总工会", "91310000132206289R", "企业", "丁一", "上海市普陀区长寿路1号",
        "13912345678", "200060", "dingyi@example.com", "321", "赵总", "13700001111", "021-60001234",
        application.account.username,
    ):
        assertContains(response, value)
    # Read only: no input of the model's fields, no 保存.
    assertNotContains(response, 'name="unit_name"')
    assertNotContains(response, 'name="_save"')
    # The image as a thumbnail that opens the full image; the PDF as a link.
    assertContains(response, f'<img src="{attachment_url(application, image)}"')
    assertContains(response, f'href="{attachment_url(application, pdf)}"')
    assertContains(response, "社会保险费缴费申报表.pdf")
    # 【审核通过】 with its confirmation, 【审核不通过】 with its required reason.
    assertContains(response, 'popovertarget="approve-dialog"')
    assertContains(response, f'action="{action(application, "approve")}')
    assertContains(response, 'name="reason"')
    assertContains(response, "required")
    assertContains(response, "确认审核通过")


def test_the_full_view_of_an_application_is_audited(reviewer_client, committee, reviewer):
    # SPEC X-1: the page shows the contact's full mobile, so the view is recorded.
    application = make_application(committee)

    reviewer_client.get(change_page(application))

    entry = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(CodeApplication),
        object_pk=str(application.pk),
        action=LogEntry.Action.ACCESS,
    )
    assert entry.actor == reviewer


def test_the_change_form_itself_never_saves(reviewer_client, committee):
    application = make_application(committee)

    response = reviewer_client.post(change_page(application), {"unit_name": "改名", "status": "approved"})

    assert response.status_code == 403
    application.refresh_from_db()
    assert (application.unit_name, application.status) == ("上海示范机电有限公司", "pending")


# --- 【审核通过】 (SPEC CODE-4, CODE-5, CODE-6, CODE-8) --------------------------------------------


def test_approve_creates_a_code_bound_to_the_account_with_its_lead_unit_and_mails_the_unit(
    reviewer_client, committee, reviewer, django_capture_on_commit_callbacks
):
    applicant = UserFactory(username="unit-shifan", unit_name="上海示范机电有限公司")
    application = make_application(committee, account=applicant, contact_email="dingyi@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(action(application, "approve"), follow=True)

    application.refresh_from_db()
    code = application.code
    assert application.status == CodeApplication.Status.APPROVED
    assert application.reviewed_by == reviewer
    # SPEC CODE-8: six characters, digits and capitals without I and O.
    assert len(code.code) == 6 and set(code.code) <= set(CODE_ALPHABET)
    assert not set(code.code) & {"I", "O"}
    # SPEC CODE-5: bound to the account that applied; CODE-6: with its lead unit.
    assert code.account == applicant and code.bound_at is not None
    assert code.source == EnrollmentCode.Source.APPROVED
    lead = code.units.get()
    assert (lead.name, lead.is_lead, lead.committee, lead.headcount) == ("上海示范机电有限公司", True, committee, 200)
    # The message names the new code; the reviewer is back in the queue.
    assert response.redirect_chain[-1][0] == changelist("codeapplication")
    assert any(code.code in message and "审核通过" in message for message in messages_of(response))
    # The unit is told by e-mail.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dingyi@example.com"]
    assert "审核通过" in mail.outbox[0].subject
    assert code.code in mail.outbox[0].body


def test_a_second_click_approves_once(reviewer_client, committee, django_capture_on_commit_callbacks):
    # UI.md: the POST is idempotent; the service says why nothing happened.
    application = make_application(committee)

    with django_capture_on_commit_callbacks(execute=True):
        reviewer_client.post(action(application, "approve"))
        second = reviewer_client.post(action(application, "approve"), follow=True)

    assert EnrollmentCode.objects.count() == 1
    assert len(mail.outbox) == 1
    assert "该申请已审核通过，无需重复审核。" in messages_of(second)


def test_a_second_reviewer_cannot_reject_an_approved_application(client, committee, django_capture_on_commit_callbacks):
    application = make_application(committee)
    first, second = UserFactory(role=Role.REVIEWER), UserFactory(role=Role.REVIEWER)
    client.force_login(first)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(action(application, "approve"))
    client.force_login(second)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(action(application, "reject"), {"reason": "材料不清晰"}, follow=True)

    application.refresh_from_db()
    assert application.status == CodeApplication.Status.APPROVED
    assert application.reject_reason == ""
    assert "该申请已审核通过，无需重复审核。" in messages_of(response)
    assert len(mail.outbox) == 1  # the approval's only


def test_the_approved_page_offers_no_buttons(reviewer_client, committee, django_capture_on_commit_callbacks):
    application = make_application(committee)
    with django_capture_on_commit_callbacks(execute=True):
        reviewer_client.post(action(application, "approve"))

    response = reviewer_client.get(change_page(application))

    application.refresh_from_db()
    assertNotContains(response, 'popovertarget="approve-dialog"')
    assertContains(response, application.code.code)
    assertContains(response, '<span class="state-badge state-done">审核通过</span>', html=True)


def test_opening_the_approve_url_changes_nothing(reviewer_client, committee):
    application = make_application(committee)

    response = reviewer_client.get(action(application, "approve"))

    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == CodeApplication.Status.PENDING
    assert not EnrollmentCode.objects.exists()


# --- 【审核不通过】 (SPEC CODE-4) -----------------------------------------------------------------


def test_reject_needs_a_reason(reviewer_client, committee, django_capture_on_commit_callbacks):
    application = make_application(committee)

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(action(application, "reject"), {"reason": "   "}, follow=True)

    application.refresh_from_db()
    assert application.status == CodeApplication.Status.PENDING
    assert "请填写审核不通过的原因。" in messages_of(response)
    assert response.redirect_chain[-1][0] == change_page(application)
    assert mail.outbox == []


def test_reject_records_the_reason_and_mails_it(reviewer_client, committee, reviewer, django_capture_on_commit_callbacks):
    application = make_application(committee, contact_email="dingyi@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(action(application, "reject"), {"reason": "营业执照复印件未加盖公章"}, follow=True)

    application.refresh_from_db()
    assert application.status == CodeApplication.Status.REJECTED
    assert application.reject_reason == "营业执照复印件未加盖公章"
    assert application.reviewed_by == reviewer
    assert not EnrollmentCode.objects.exists()
    assert any("审核不通过" in message for message in messages_of(response))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dingyi@example.com"]
    assert "营业执照复印件未加盖公章" in mail.outbox[0].body


# --- attachments (SPEC CODE-2, HND-2, X-4) -------------------------------------------------------


def test_reviewer_opens_an_attachment_of_the_application(reviewer_client, committee):
    application = make_application(committee)
    image = attach(application, png_upload(), application.account)
    pdf = attach(application, pdf_upload(), application.account)

    shown = reviewer_client.get(attachment_url(application, image))
    downloaded = reviewer_client.get(attachment_url(application, pdf) + "?download=1")

    assert shown.status_code == 200
    assert shown["Content-Type"] == "image/png"
    assert shown["Content-Disposition"].startswith("inline")
    assert b"".join(shown.streaming_content).startswith(b"\x89PNG")
    assert downloaded["Content-Type"] == "application/pdf"
    assert downloaded["Content-Disposition"].startswith("attachment")


def test_an_attachment_of_another_application_answers_404(reviewer_client, committee):
    application = make_application(committee, unit_name="甲公司")
    other = make_application(committee, unit_name="乙公司")
    foreign = attach(other, png_upload(), other.account)

    assert reviewer_client.get(attachment_url(application, foreign)).status_code == 404
    assert reviewer_client.get(attachment_url(other, foreign)).status_code == 200


def test_an_attachment_of_another_kind_of_owner_answers_404(reviewer_client, committee):
    code = make_code()
    change = make_change_request(code, ["address"], {"address": "新地址"})
    scan = attach(change, png_upload("申请单.png"), code.account)
    application = make_application(committee, id=change.pk)  # the same id on purpose: the type must match too

    response = reviewer_client.get(reverse("admin:enrollment_codeapplication_attachment", args=[application.pk, scan.pk]))

    assert response.status_code == 404


def test_a_missing_application_answers_404(reviewer_client):
    assert reviewer_client.get(reverse("admin:enrollment_codeapplication_change", args=[999999])).status_code == 404


# --- 参保信息变更申请 (SPEC HND-2) ------------------------------------------------------------------


def test_change_request_queue_lists_its_columns(reviewer_client):
    code = make_code()
    make_change_request(code, ["address", "handler_mobile"], {"address": "新地址", "handler_mobile": "13900009999"})

    response = reviewer_client.get(changelist("changerequest"))

    for column in ("参保编码", "单位名称", "变更事项", "联系人", "联系人手机", "申请日期", "状态"):
        assertContains(response, column)
    assertContains(response, "09000X")
    assertContains(response, "上海长寿机电有限公司")
    assertContains(response, "变更单位地址、变更经办人手机")
    assertContains(response, "138****2222")
    assertNotContains(response, "13811112222")


def test_change_request_page_shows_original_and_new_information_and_the_scan(reviewer_client):
    code = make_code()
    change = make_change_request(
        code, ["handler_name", "handler_mobile"], {"handler_name": "李新", "handler_mobile": "13900009999"}
    )
    scan = attach(change, png_upload("申请单.png"), code.account)

    response = reviewer_client.get(change_page(change))

    assertContains(response, "<th scope=\"col\">变更事项</th><th scope=\"col\">原信息</th><th scope=\"col\">新修改信息</th>", html=True)
    assertContains(response, '<tr><td>变更经办人姓名</td><td>王经办</td><td class="new-value">李新</td></tr>', html=True)
    assertContains(
        response, '<tr><td>变更经办人手机</td><td>13811112222</td><td class="new-value">13900009999</td></tr>', html=True
    )
    assertContains(response, f'<img src="{attachment_url(change, scan)}"')
    assertContains(response, 'popovertarget="reject-dialog"')


def test_approving_a_change_request_applies_address_handler_name_mobile_and_email(
    reviewer_client, django_capture_on_commit_callbacks
):
    code = make_code()
    change = make_change_request(
        code,
        ["address", "handler_name", "handler_mobile", "unit_email"],
        {
            "address": "上海市普陀区长寿路200号",
            "handler_name": "李新",
            "handler_mobile": "13900009999",
            "unit_email": "new-hr@changshou.example.com",
        },
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(action(change, "approve"), follow=True)

    change.refresh_from_db()
    handler = HandlerInfo.objects.get(code=code)
    account = User.objects.get(pk=code.account_id)
    assert change.status == ChangeRequest.Status.APPROVED
    assert (handler.address, handler.handler_name, handler.handler_mobile, handler.handler_email) == (
        "上海市普陀区长寿路200号", "李新", "13900009999", "new-hr@changshou.example.com",
    )
    assert code.units.get(is_lead=True).address == "上海市普陀区长寿路200号"
    assert account.email == "new-hr@changshou.example.com" and account.email_confirmed_at is not None
    assert any("审核通过" in message and "09000X" in message for message in messages_of(response))
    assert [message.to for message in mail.outbox] == [["new-hr@changshou.example.com"]]


def test_approving_a_change_of_address_is_audited_on_the_lead_unit(reviewer_client, django_capture_on_commit_callbacks):
    # SPEC X-2: every change is audited (the service saved the unit with .update() before).
    code = make_code()
    change = make_change_request(code, ["address"], {"address": "上海市普陀区长寿路300号"})
    lead = code.units.get(is_lead=True)

    with django_capture_on_commit_callbacks(execute=True):
        reviewer_client.post(action(change, "approve"))

    assert LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Unit), object_pk=str(lead.pk), action=LogEntry.Action.UPDATE
    ).exists()


def test_approving_resend_email_sends_the_notice_again(reviewer_client, django_capture_on_commit_callbacks):
    # SPEC HND-2: 重发邮件 re-sends the association's notice to the unit e-mail.
    code = make_code()
    change = make_change_request(code, ["resend_email"], {})

    with django_capture_on_commit_callbacks(execute=True):
        reviewer_client.post(action(change, "approve"))

    subjects = [message.subject for message in mail.outbox]
    assert "【上海市职工保障互助会】参保编码通知（重发）" in subjects
    notice = next(message for message in mail.outbox if "重发" in message.subject)
    assert notice.to == ["wang@changshou.example.com"]
    assert "09000X" in notice.body and "上海长寿机电有限公司" in notice.body


def test_a_new_unit_email_without_handler_information_gets_the_notice(reviewer_client, django_capture_on_commit_callbacks):
    # The approval notice went to the old address here (bug fixed in change_request_approve).
    code = make_code(with_handler=False)
    change = make_change_request(code, ["unit_email"], {"unit_email": "new@changshou.example.com"})

    with django_capture_on_commit_callbacks(execute=True):
        reviewer_client.post(action(change, "approve"))

    assert User.objects.get(pk=code.account_id).email == "new@changshou.example.com"
    assert [message.to for message in mail.outbox] == [["new@changshou.example.com"]]


def test_a_handler_change_without_handler_information_is_refused(reviewer_client, django_capture_on_commit_callbacks):
    # Approving would have said 审核通过 and changed nothing (bug fixed in change_request_approve).
    code = make_code(with_handler=False)
    change = make_change_request(code, ["handler_name"], {"handler_name": "李新"})

    with django_capture_on_commit_callbacks(execute=True):
        response = reviewer_client.post(action(change, "approve"), follow=True)

    change.refresh_from_db()
    assert change.status == ChangeRequest.Status.PENDING
    assert any("尚未完成【经办人填报】" in message for message in messages_of(response))
    assert mail.outbox == []


def test_rejecting_a_change_request_needs_and_mails_the_reason(reviewer_client, django_capture_on_commit_callbacks):
    code = make_code()
    change = make_change_request(code, ["address"], {"address": "新地址"})

    with django_capture_on_commit_callbacks(execute=True):
        empty = reviewer_client.post(action(change, "reject"), {"reason": ""}, follow=True)
        reviewer_client.post(action(change, "reject"), {"reason": "申请单未加盖公章"})
        again = reviewer_client.post(action(change, "approve"), follow=True)

    change.refresh_from_db()
    assert "请填写审核不通过的原因。" in messages_of(empty)
    assert (change.status, change.reject_reason) == (ChangeRequest.Status.REJECTED, "申请单未加盖公章")
    assert "该申请已审核不通过，无需重复审核。" in messages_of(again)
    assert len(mail.outbox) == 1 and "申请单未加盖公章" in mail.outbox[0].body
    assert code.units.get(is_lead=True).address == "上海市普陀区长寿路100号"


# --- 单位名称变更 (SPEC HND-3) ---------------------------------------------------------------------


def test_code_page_offers_the_name_change_to_reviewers(reviewer_client):
    code = make_code()

    response = reviewer_client.get(change_page(code))

    assertContains(response, f'<a href="{action(code, "name_change")}">单位名称变更</a>', html=True)
    assertNotContains(response, 'name="unit_name"')  # read only for reviewers
    assertContains(response, "暂无单位名称变更记录")


def test_unit_name_change_updates_code_lead_unit_and_account_and_keeps_the_evidence(reviewer_client, reviewer, media_root):
    code = make_code()

    response = reviewer_client.post(
        action(code, "name_change"),
        {
            "new_name": "上海长寿智能装备有限公司",
            "note": "准予变更登记通知书（普市监）",
            "evidence": [png_upload("变更证明.png"), pdf_upload("准予变更登记通知书.pdf")],
        },
        follow=True,
    )

    code.refresh_from_db()
    change = UnitNameChange.objects.get(code=code)
    assert code.unit_name == "上海长寿智能装备有限公司"
    assert code.units.get(is_lead=True).name == "上海长寿智能装备有限公司"
    assert User.objects.get(pk=code.account_id).unit_name == "上海长寿智能装备有限公司"
    assert (change.old_name, change.new_name, change.changed_by) == ("上海长寿机电有限公司", "上海长寿智能装备有限公司", reviewer)
    evidence = list(attachments_of(change))
    assert [attachment.original_name for attachment in evidence] == ["变更证明.png", "准予变更登记通知书.pdf"]
    assert len(stored_files(media_root)) == 2
    # Back on the code's page: the message, and the record with its evidence.
    assert response.redirect_chain[-1][0] == change_page(code)
    assert any("上海长寿智能装备有限公司" in message for message in messages_of(response))
    evidence_url = reverse(
        "admin:enrollment_enrollmentcode_name_change_attachment", args=[code.pk, change.pk, evidence[0].pk]
    )
    assertContains(response, evidence_url)
    assert reviewer_client.get(evidence_url)["Content-Type"] == "image/png"


def test_name_change_needs_evidence(reviewer_client):
    code = make_code()

    response = reviewer_client.post(action(code, "name_change"), {"new_name": "新名称有限公司", "note": ""})

    assert response.status_code == 200
    assertContains(response, "请上传加盖公章的变更证明材料。")
    code.refresh_from_db()
    assert code.unit_name == "上海长寿机电有限公司"
    assert not UnitNameChange.objects.exists()


def test_name_change_to_a_name_with_another_code_is_refused(reviewer_client):
    code = make_code()
    make_code(code="0072J3", unit_name="上海另一家有限公司")

    response = reviewer_client.post(
        action(code, "name_change"), {"new_name": "上海另一家有限公司", "evidence": [png_upload()]}
    )

    assertContains(response, "该单位名称已有其他参保编码，请核对。")
    assert not UnitNameChange.objects.exists()
    assert not Attachment.objects.exists()


def test_a_refused_evidence_file_rolls_the_name_change_back(reviewer_client, media_root):
    code = make_code()
    fake = SimpleUploadedFile("证明.png", b"not an image at all", content_type="image/png")

    response = reviewer_client.post(
        action(code, "name_change"), {"new_name": "新名称有限公司", "evidence": [png_upload(), fake]}
    )

    assertContains(response, "仅支持 JPG、PNG 图片或 PDF 文件")
    code.refresh_from_db()
    assert code.unit_name == "上海长寿机电有限公司"
    assert not UnitNameChange.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []  # the first file, written before the refusal, is gone too


def test_a_second_submission_of_the_same_name_change_does_nothing(reviewer_client):
    code = make_code()
    data = {"new_name": "新名称有限公司"}
    reviewer_client.post(action(code, "name_change"), {**data, "evidence": [png_upload()]})

    response = reviewer_client.post(action(code, "name_change"), {**data, "evidence": [png_upload()]})

    assertContains(response, "新单位名称与原名称相同。")
    assert UnitNameChange.objects.count() == 1


def test_name_change_records_cannot_be_added_outside_the_action(reviewer_client):
    assert reviewer_client.get(reverse("admin:enrollment_unitnamechange_add")).status_code == 403
    assert reviewer_client.get(changelist("unitnamechange")).status_code == 200


# --- codes, units and handler information: read only, masked (SPEC CODE-5, HND-1, X-1) -------------


def test_code_list_shows_account_or_unbound(reviewer_client):
    make_code(account=UserFactory(username="unit-bound"))
    EnrollmentCode.objects.create(code="0072J3", unit_name="原平台单位", source=EnrollmentCode.Source.IMPORTED)

    response = reviewer_client.get(changelist("enrollmentcode"))

    for column in ("参保编码", "登记单位名称", "平台账号", "来源", "创建时间"):
        assertContains(response, column)
    assertContains(response, "unit-bound")
    assertContains(response, "未绑定")
    assertContains(response, "原平台导入")
    searched = reviewer_client.get(changelist("enrollmentcode"), {"q": "0072J3"})
    assert [row.code for row in searched.context["cl"].result_list] == ["0072J3"]
    by_name = reviewer_client.get(changelist("enrollmentcode"), {"q": "长寿机电"})
    assert [row.code for row in by_name.context["cl"].result_list] == ["09000X"]


def test_reviewer_cannot_edit_a_code_unit_or_handler_information(reviewer_client):
    code = make_code()
    unit = code.units.get()
    handler = HandlerInfo.objects.get(code=code)

    assert reviewer_client.post(change_page(code), {"code": "ZZZZZZ", "unit_name": "x"}).status_code == 403
    assert reviewer_client.post(change_page(unit), {"name": "x"}).status_code == 403
    assert reviewer_client.post(change_page(handler), {"handler_name": "x"}).status_code == 403
    assert reviewer_client.get(reverse("admin:enrollment_enrollmentcode_add")).status_code == 403
    code.refresh_from_db()
    assert code.code == "09000X"


def test_handler_mobile_is_masked_for_reviewers_and_full_for_superusers(client, reviewer):
    code = make_code()
    handler = HandlerInfo.objects.get(code=code)
    superuser = UserFactory(role=Role.REVIEWER, is_superuser=True)

    client.force_login(reviewer)
    listed = client.get(changelist("handlerinfo"))
    page = client.get(change_page(handler))
    client.force_login(superuser)
    full_list = client.get(changelist("handlerinfo"))
    full_page = client.get(change_page(handler))

    for response in (listed, page):
        assertContains(response, "138****2222")
        assertNotContains(response, "13811112222")
    assertContains(full_list, "13811112222")
    assertContains(full_page, 'name="handler_mobile"')  # superusers edit
    assertContains(full_page, 'value="13811112222"')


def test_unit_list_is_read_only_for_reviewers_and_full_for_superusers(client, reviewer):
    code = make_code()
    unit = code.units.get()
    superuser = UserFactory(role=Role.REVIEWER, is_superuser=True)

    client.force_login(reviewer)
    assertContains(client.get(changelist("unit")), "上海长寿机电有限公司")
    assertNotContains(client.get(change_page(unit)), 'name="name"')
    client.force_login(superuser)
    assertContains(client.get(change_page(unit)), 'name="name"')


# --- who may open what (STYLE.md §10, SPEC BO-1, BO-2) -----------------------------------------------


@pytest.fixture
def pages(committee):
    """Every page of this file's back office, GET and POST, with the objects they need."""
    application = make_application(committee)
    application_file = attach(application, png_upload(), application.account)
    code = make_code()
    change = make_change_request(code, ["address"], {"address": "新地址"})
    change_file = attach(change, png_upload("申请单.png"), code.account)
    name_change = UnitNameChange.objects.create(
        code=code, old_name="旧名", new_name=code.unit_name, changed_by=UserFactory(role=Role.REVIEWER)
    )
    evidence = attach(name_change, png_upload("证明.png"), name_change.changed_by)
    gets = [
        changelist("codeapplication"),
        changelist("changerequest"),
        changelist("enrollmentcode"),
        changelist("unit"),
        changelist("handlerinfo"),
        changelist("unitnamechange"),
        change_page(application),
        change_page(change),
        change_page(code),
        change_page(code.units.get()),
        change_page(HandlerInfo.objects.get(code=code)),
        change_page(name_change),
        attachment_url(application, application_file),
        attachment_url(change, change_file),
        action(code, "name_change"),
        reverse("admin:enrollment_enrollmentcode_name_change_attachment", args=[code.pk, name_change.pk, evidence.pk]),
    ]
    posts = [
        (action(application, "approve"), {}),
        (action(application, "reject"), {"reason": "原因"}),
        (action(change, "approve"), {}),
        (action(change, "reject"), {"reason": "原因"}),
        (action(code, "name_change"), {"new_name": "另一个名称有限公司"}),
    ]
    return {"gets": gets, "posts": posts, "application": application, "change": change, "code": code}


def test_reviewer_opens_every_page(reviewer_client, pages):
    for url in pages["gets"]:
        assert reviewer_client.get(url).status_code == 200, url


def test_union_staff_get_403_on_every_page(client, union_staff, pages, django_capture_on_commit_callbacks):
    client.force_login(union_staff)

    for url in pages["gets"]:
        assert client.get(url).status_code == 403, url
    with django_capture_on_commit_callbacks(execute=True):
        for url, data in pages["posts"]:
            assert client.post(url, data).status_code == 403, url

    assert CodeApplication.objects.get().status == CodeApplication.Status.PENDING
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING
    assert mail.outbox == []


def test_union_staff_see_no_queue_on_the_index(client, union_staff, pages):
    client.force_login(union_staff)

    response = client.get(reverse("admin:index"))

    assertNotContains(response, "待办")
    assertNotContains(response, "参保编码申请")
    assert backoffice_queues(union_staff) == []


@pytest.mark.parametrize("who", ["unit_admin", "anonymous"])
def test_unit_admins_and_strangers_are_sent_to_the_login(client, who, pages):
    if who == "unit_admin":
        client.force_login(UserFactory(role=Role.UNIT_ADMIN))

    for url in pages["gets"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    for url, data in pages["posts"]:
        response = client.post(url, data)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    assert CodeApplication.objects.get().status == CodeApplication.Status.PENDING


def test_every_post_needs_its_csrf_token(reviewer, pages, django_capture_on_commit_callbacks):
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(reviewer)

    with django_capture_on_commit_callbacks(execute=True):
        for url, data in pages["posts"]:
            assert client.post(url, data).status_code == 403, url

    assert CodeApplication.objects.get().status == CodeApplication.Status.PENDING
    assert ChangeRequest.objects.get().status == ChangeRequest.Status.PENDING
    assert pages["code"].unit_name == EnrollmentCode.objects.get(pk=pages["code"].pk).unit_name
    assert mail.outbox == []


def test_with_its_token_the_same_post_goes_through(reviewer, pages, django_capture_on_commit_callbacks):
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    page = client.get(change_page(pages["application"]))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(action(pages["application"], "approve"), {"csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert CodeApplication.objects.get().status == CodeApplication.Status.APPROVED


def test_reviewer_permissions_are_in_the_reviewer_role_only():
    # accounts/roles.py: the reviewers' set holds the queues; union staff and units get none of them.
    queue_permissions = {
        "enrollment.view_codeapplication",
        "enrollment.change_codeapplication",
        "enrollment.view_changerequest",
        "enrollment.change_changerequest",
        "enrollment.view_enrollmentcode",
        "enrollment.view_unit",
        "enrollment.view_handlerinfo",
        "enrollment.view_unitnamechange",
        "enrollment.add_unitnamechange",
    }
    assert queue_permissions <= ROLE_PERMISSIONS[Role.REVIEWER]
    assert not queue_permissions & ROLE_PERMISSIONS[Role.UNION_STAFF]
    assert not queue_permissions & ROLE_PERMISSIONS[Role.UNIT_ADMIN]
    assert "enrollment.change_enrollmentcode" not in ROLE_PERMISSIONS[Role.REVIEWER]


# --- the 待办 panel (UI.md: "the queues first on its index") -----------------------------------------


def test_index_panel_counts_pending_work_and_the_overdue(reviewer_client, reviewer, committee):
    make_application(committee, unit_name="迟了一", submitted_at=shanghai(2026, 9, 29, 10, 0))
    make_application(committee, unit_name="迟了二", submitted_at=shanghai(2026, 9, 30, 10, 0))
    make_application(committee, unit_name="新来的", submitted_at=shanghai(2026, 10, 9, 9, 0))
    make_application(committee, unit_name="已通过", status="approved", submitted_at=shanghai(2026, 9, 1, 10, 0))
    code = make_code()
    make_change_request(code, ["address"], {"address": "新地址"})
    make_change_request(code, ["handler_name"], {"handler_name": "李新"})
    rejected = make_change_request(code, ["resend_email"], {})
    rejected.status = ChangeRequest.Status.REJECTED
    rejected.save()

    with time_machine.travel(shanghai(2026, 10, 9, 12, 0), tick=False):
        response = reviewer_client.get(reverse("admin:index"))
        queues = backoffice_queues(reviewer)[:2]

    assert queues == [
        QueueLine(
            "参保编码申请",
            changelist("codeapplication") + "?status__exact=pending",
            3,
            2,
            changelist("codeapplication") + "?overdue=yes&status__exact=pending",
        ),
        QueueLine("参保信息变更申请", changelist("changerequest") + "?status__exact=pending", 2, None),
    ]  # later queues (清册审核 from rosters, …) follow these two; tests/rosters/test_review.py covers theirs
    content = response.content.decode()
    assert "<caption>待办</caption>" in content
    # The panel comes before the list of models.
    assert content.index("backoffice-queues") < content.index("app-enrollment")
    assertContains(response, f'<a href="{changelist("codeapplication")}?status__exact=pending">参保编码申请</a>', html=True)
    assertContains(response, "2 件已超期")
    assertContains(
        response, f'<a href="{changelist("changerequest")}?status__exact=pending" class="queue-count">2 件</a>', html=True
    )
    # Its styles pass the content security policy with the response's nonce.
    assert "'nonce-" in response["Content-Security-Policy"]


def test_index_panel_is_open_to_later_queues(reviewer, monkeypatch):
    # A queue's line comes from its selector in the back office's list (backoffice/views.py).
    def voucher_queue(user):
        return QueueLine("缴费凭证审核", "/backoffice/payments/voucher/?status__exact=pending", 4, 1)

    monkeypatch.setattr(
        backoffice_views, "QUEUE_SOURCES", [*backoffice_views.QUEUE_SOURCES, voucher_queue]
    )

    labels = [line.label for line in backoffice_queues(reviewer)]

    assert labels[:2] == ["参保编码申请", "参保信息变更申请"]
    assert labels[-1] == "缴费凭证审核"
