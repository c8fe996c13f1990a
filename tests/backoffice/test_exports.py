"""The back office's exports (payments/exports.py, backoffice/exports.py; SPEC BO-3, X-1, X-2): 参保人员,
保费与缴费 and 待退款 masked without `mutualaid.export_full_id` and full (and audited as such) with it; union
staff get 403; the row counts; the files open in openpyxl."""
import datetime as dt
import io
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.test import TestCase
from django.urls import resolve, reverse
from openpyxl import load_workbook

from accounts.models import UnionOrganisation
from enrollment.models import BatchTotals
from enrollment.states import BatchState
from mutualaid.exports import ExportError, export_run_sync, export_start
from mutualaid.models import ExportJob
from payments.services import RefundDetails, voucher_approve, voucher_submit
from tests.factories import UserFactory, make_batch, make_entry, resident_id
from tests.payments.helpers import awaiting_payment_batch, proof_draft
from tests.plans.helpers import approved_batch

pytestmark = pytest.mark.django_db

NUMBER = resident_id(dt.date(1971, 2, 3), 517)
MASKED = f"{NUMBER[:4]}*****{NUMBER[-4:]}"
ACCOUNT = "6222021001123456789"


@pytest.fixture
def batch(handbook_year):
    """缴费凭证待上传: 4 people with 社保 (A0 B0 C0 at 180 each) and 胡庆庆 with a known ID."""
    batch = approved_batch(year=handbook_year, social_security=3)
    make_entry(
        batch, name="胡庆庆", id_number=NUMBER, birth_date=dt.date(1971, 2, 3), has_social_security=True,
        coverage_start=handbook_year.coverage_start, coverage_end=handbook_year.coverage_end,
    )
    from plans.services import premium_confirm

    premium_confirm(batch=batch, codes=["A0", "B0", "C0"], acting_user=batch.account)
    batch.refresh_from_db()
    return batch


@pytest.fixture
def full_reviewer(db):
    user = UserFactory(role="reviewer")
    user.user_permissions.add(Permission.objects.get(codename="export_full_id", content_type__app_label="mutualaid"))
    return UserFactory._meta.model.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def rows_of(path_or_bytes) -> list[tuple]:
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    return [tuple(row) for row in load_workbook(source).active.iter_rows(values_only=True)]


def post_export(client, user, data) -> tuple:
    """The 导出中心's form, then the job's page and its file (Celery eager, started on commit)."""
    client.force_login(user)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(reverse("admin:exports"), data)
    assert response.status_code == 302, response.status_code
    match = resolve(response["Location"])
    assert match.view_name == "exports:job"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "导出完成" in page.content.decode()
    download = client.get(reverse("exports:job_download", kwargs=match.kwargs))
    assert download.status_code == 200
    job = ExportJob.objects.get(pk=match.kwargs["job_id"])
    return job, rows_of(b"".join(download.streaming_content))


def audit_of(job) -> LogEntry:
    return LogEntry.objects.get(action=LogEntry.Action.ACCESS, object_pk=str(job.pk))


# --- 参保人员 --------------------------------------------------------------------------------------------


def test_people_of_a_batch_masked_without_the_permission(client, reviewer, batch):
    job, rows = post_export(client, reviewer, {"kind": "enrolled_people", "batch": batch.number})

    assert rows[0] == ("批次", "单位", "姓名", "证件类型", "证件号码", "性别", "出生日期", "社保", "参加项目", "保费", "起保日期", "终保日期")
    people = rows[1:]
    assert len(people) == 4 and job.rows_done == 4
    hu = next(row for row in people if row[2] == "胡庆庆")
    # SPEC X-1: the masked ID, and for a resident ID only the birth year
    assert hu == (batch.number, batch.unit_name, "胡庆庆", "身份证", MASKED, "男", "1971年**月**日", "是", "A0 B0 C0", 180, "2023-07-01", "2024-06-30")
    assert NUMBER not in repr(rows)
    assert all("*****" in row[4] for row in people)
    entry = audit_of(job)
    assert entry.actor == reviewer
    assert entry.additional_data == {
        "export": "enrolled_people", "params": {"batch": batch.number}, "rows": 4, "full_ids": False, "file": job.filename,
    }


def test_people_full_with_the_permission_and_audited_as_such(client, full_reviewer, batch):
    job, rows = post_export(client, full_reviewer, {"kind": "enrolled_people", "batch": batch.number})

    hu = next(row for row in rows[1:] if row[2] == "胡庆庆")
    assert hu[4] == NUMBER and hu[6] == "1971-02-03"
    assert job.full_ids is True
    entry = audit_of(job)
    assert entry.additional_data["full_ids"] is True and "含完整证件号码" in entry.changes_text


def test_superusers_export_full_numbers(batch):
    admin = UserFactory(role="reviewer", is_superuser=True, is_staff=True)
    rows = rows_of(export_run_sync(kind="enrolled_people", params={"batch": batch.number}, user=admin))
    assert NUMBER in {row[4] for row in rows}


def test_the_form_says_which_numbers_you_will_get(client, reviewer, full_reviewer):
    client.force_login(reviewer)
    page = client.get(reverse("admin:exports")).content.decode()
    assert "将脱敏导出" in page and "完整导出" not in page
    client.force_login(full_reviewer)
    page = client.get(reverse("admin:exports")).content.decode()
    assert "完整导出" in page


def test_no_role_holds_the_full_id_permission(db):
    for role in ("reviewer", "union_staff", "unit_admin"):
        assert not UserFactory(role=role).has_perm("mutualaid.export_full_id")


def test_people_of_a_union_organisation_for_a_year(handbook_year, reviewer, union_organisations):
    """SPEC BO-2, BO-3: a level-1 organisation includes its level-2 ones; another organisation's
    batches and unsubmitted batches are left out."""
    level2 = UnionOrganisation.objects.filter(level=2).select_related("parent").first()
    level1 = level2.parent
    other = UnionOrganisation.objects.filter(level=1).exclude(pk=level1.pk).first()
    direct = approved_batch(year=handbook_year, social_security=2)
    below = approved_batch(year=handbook_year, social_security=3)
    elsewhere = approved_batch(year=handbook_year, social_security=5)
    draft = make_batch(year=handbook_year, state=BatchState.DRAFT)
    make_entry(draft)
    BatchTotals.objects.create(batch=direct, people=2, union_level1=level1)
    BatchTotals.objects.create(batch=below, people=3, union_level1=level1, union_level2=level2)
    BatchTotals.objects.create(batch=elsewhere, people=5, union_level1=other)
    BatchTotals.objects.create(batch=draft, people=1, union_level1=level1)

    rows = rows_of(export_run_sync(kind="enrolled_people", params={"year": 2023, "union": level1.pk}, user=reviewer))
    assert sorted({row[0] for row in rows[1:]}) == sorted([direct.number, below.number])
    assert len(rows) - 1 == 5
    # not confirmed yet: no items, no premium
    assert {row[8] for row in rows[1:]} == {"-"} and {row[9] for row in rows[1:]} == {None}

    rows = rows_of(export_run_sync(kind="enrolled_people", params={"year": 2023, "union": level2.pk}, user=reviewer))
    assert {row[0] for row in rows[1:]} == {below.number} and len(rows) - 1 == 3

    rows = rows_of(export_run_sync(kind="enrolled_people", params={"year": 2023}, user=reviewer))
    assert len(rows) - 1 == 10


def test_a_batch_not_submitted_cannot_be_exported(handbook_year, reviewer, client):
    draft = make_batch(year=handbook_year)
    with pytest.raises(ExportError) as error:
        export_start(kind="enrolled_people", params={"batch": draft.number}, user=reviewer)
    assert "尚未提交清册" in error.value.message
    client.force_login(reviewer)
    response = client.post(reverse("admin:exports"), {"kind": "enrolled_people", "batch": "B0000"}, follow=True)
    assert "未找到参保批次 B0000" in response.content.decode()
    assert not ExportJob.objects.exists()


# --- 保费与缴费, 待退款 --------------------------------------------------------------------------------------


def refunded(batch, reviewer):
    """Paid 1,000.00 for 720.00: 280.00 to refund, approved."""
    voucher = voucher_submit(
        account=batch.account, batch_numbers=[batch.number], payer=batch.unit_name, method="online",
        amount=Decimal("1000.00"), draft_token=proof_draft(batch.account),
        refund=RefundDetails(account_number=ACCOUNT, account_name="上海长风示范科技有限公司", bank="中国工商银行"),
    )
    return voucher_approve(voucher=voucher, acting_user=reviewer)


def test_premiums_and_payments_per_batch(client, handbook_year, reviewer, batch):
    refunded(batch, reviewer)
    unpaid = awaiting_payment_batch(year=handbook_year, people=2)
    approved_batch(year=handbook_year)  # no premium confirmed: not in the export

    job, rows = post_export(client, reviewer, {"kind": "premiums_payments", "year": "2023"})

    assert rows[0][:9] == ("批次", "参保编码", "单位名称", "参保类型", "批次状态", "参保人数", "确认保费", "保费确认日期", "缴费截止日期")
    assert job.rows_done == 2 and len(rows) == 3
    by_number = {row[0]: row for row in rows[1:]}
    paid = by_number[batch.number]
    assert paid[4] == "参保已完成" and paid[5] == 4 and paid[6] == 720
    assert paid[9:15] == ("第1张", batch.unit_name, 1000, 720, 280, "审核通过")
    assert by_number[unpaid.number][4] == "缴费凭证待上传" and by_number[unpaid.number][9] == "无"


def test_refunds_masked_then_full_with_the_permission(client, reviewer, full_reviewer, batch):
    refunded(batch, reviewer)

    job, rows = post_export(client, reviewer, {"kind": "refunds", "year": ""})
    assert rows[0][:6] == ("付款单位", "平台账号", "参保批次", "缴费金额", "应缴保费合计", "退款金额")
    assert len(rows) == 2 and job.rows_done == 1
    refund = rows[1]
    assert refund[2] == batch.number and refund[3:6] == (1000, 720, 280)
    assert refund[9] == "中国工商银行" and refund[10] == "6222***********6789"
    assert ACCOUNT not in repr(rows)
    assert audit_of(job).additional_data["full_ids"] is False

    job, rows = post_export(client, full_reviewer, {"kind": "refunds", "year": "2023"})
    assert rows[1][10] == ACCOUNT
    assert audit_of(job).additional_data == {
        "export": "refunds", "params": {"year": 2023}, "rows": 1, "full_ids": True, "file": job.filename,
    }


# --- access (Kiwi TCMS: with and without the permission) ----------------------------------------------------


def test_union_staff_and_units_may_not_export(client, union_staff, unit_admin, batch):
    for user in (union_staff,):
        client.force_login(user)
        assert client.get(reverse("admin:exports")).status_code == 403
        assert client.post(reverse("admin:exports"), {"kind": "refunds"}).status_code == 403
        for kind, params in (("enrolled_people", {"batch": batch.number}), ("refunds", {}), ("premiums_payments", {"year": 2023})):
            with pytest.raises(PermissionDenied):
                export_start(kind=kind, params=params, user=user)
    client.force_login(unit_admin)
    assert client.get(reverse("admin:exports")).status_code == 302  # not staff: the back office's login
    client.logout()
    assert client.get(reverse("admin:exports")).status_code == 302
    assert not ExportJob.objects.exists()


def test_the_export_centre_lists_only_my_jobs(client, reviewer, batch):
    mine = export_start(kind="enrolled_people", params={"batch": batch.number}, user=reviewer)
    other = export_start(kind="enrolled_people", params={"batch": batch.number}, user=UserFactory(role="reviewer"))
    client.force_login(reviewer)
    page = client.get(reverse("admin:exports")).content.decode()
    assert reverse("exports:job", kwargs={"job_id": mine.pk}) in page
    assert reverse("exports:job", kwargs={"job_id": other.pk}) not in page


def test_the_export_audit_entry_carries_the_requesters_ip_address(client, reviewer, batch):
    # SPEC SEC-4: the job runs after the request (here: on commit, outside it), so the address the
    # export was asked from is kept on the job and written into the audit entry.
    client.defaults["REMOTE_ADDR"] = "203.0.113.24"

    job, _rows = post_export(client, reviewer, {"kind": "enrolled_people", "batch": batch.number})

    assert job.requested_from == "203.0.113.24"
    assert audit_of(job).remote_addr == "203.0.113.24"
