"""Exports as background jobs (mutualaid.exports, mutualaid.export_views, mutualaid.xlsx; UI.md "Long work",
SPEC X-1, X-2): the job's lifecycle and progress, the owner-only page and download, the purge after 7 days,
the audit entry of every export, the Chinese message of a failure, and the xlsx writer read back by openpyxl."""
import datetime as dt
import io
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from mutualaid import exports
from mutualaid.exports import ExportBuilder, ExportError, ExportPlan, export_jobs_purge, export_run, export_run_sync, export_start
from mutualaid.models import ExportJob
from mutualaid.tasks import purge_exports, run_export
from mutualaid.xlsx import XlsxWriter, column_letter
from tests.factories import UserFactory
from mutualaid.jobs import JobStatus

pytestmark = pytest.mark.django_db

SEEN_PROGRESS = []


class FakeExport(ExportBuilder):
    """A test builder: `rows` rows of (序号, 证件号码, 金额); params {"fail": "boom"|"message"|"denied"}."""

    kind = "fake"
    label = "测试导出"

    def check(self, *, user, params):
        if params.get("fail") == "denied" or user.username.startswith("nobody"):
            raise PermissionDenied
        if params.get("fail") == "empty":
            raise ExportError("没有可导出的数据。")

    def plan(self, *, user, params):
        return ExportPlan(title=f"测试导出（{params.get('rows', 0)}行）", filename="测试导出_20230615.xlsx", full_ids=bool(params.get("full")))

    def back_url(self, *, params):
        return "/"

    def write(self, *, user, params, path, progress):
        total = params.get("rows", 0)
        progress.total(total)
        if params.get("fail") == "boom":
            raise RuntimeError("disk full")
        if params.get("fail") == "message":
            raise ExportError("导出失败：该批次已作废。")
        with XlsxWriter(path) as book:
            sheet = book.sheet("测试", [("序号", 6), ("证件号码", 22), ("金额", 10)])
            for number in range(1, total + 1):
                sheet.row([number, "310101198001011234", Decimal("12.50")])
                progress.done(number, force=True)
                SEEN_PROGRESS.append(ExportJob.objects.values_list("rows_done", "rows_total").last())
        return total


@pytest.fixture(autouse=True)
def fake_kind(monkeypatch):
    monkeypatch.setitem(exports.EXPORT_BUILDERS, "fake", "tests.mutualaid.test_exports.FakeExport")
    SEEN_PROGRESS.clear()


@pytest.fixture
def owner(db):
    return UserFactory(role="reviewer")


def start(owner, django_capture_on_commit_callbacks, **params):
    with django_capture_on_commit_callbacks(execute=True):
        job = export_start(kind="fake", params=params, user=owner)
    job.refresh_from_db()
    return job


# --- lifecycle -----------------------------------------------------------------------------------------


def test_start_queues_then_the_task_runs_after_commit(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = export_start(kind="fake", params={"rows": 3}, user=owner)
    assert job.status == JobStatus.QUEUED and job.rows_done == 0
    assert job.title == "测试导出（3行）" and job.filename == "测试导出_20230615.xlsx"
    assert len(callbacks) == 1  # STYLE 7: started on commit

    callbacks[0]()
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert (job.rows_done, job.rows_total) == (3, 3)
    assert job.finished_at is not None and job.file.name.startswith("private/exports/")
    # progress was visible while it ran: 1 / 3, 2 / 3, 3 / 3
    assert SEEN_PROGRESS == [(1, 3), (2, 3), (3, 3)]


def test_a_second_run_of_the_task_does_nothing(owner, django_capture_on_commit_callbacks):
    job = start(owner, django_capture_on_commit_callbacks, rows=2)
    name = job.file.name
    assert run_export(job.pk) == "done"
    job.refresh_from_db()
    assert job.file.name == name
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(job.pk)).count() == 1
    assert run_export(999999) == "missing"


def test_a_double_click_reuses_the_running_job(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first = export_start(kind="fake", params={"rows": 2}, user=owner)
        second = export_start(kind="fake", params={"rows": 2}, user=owner)
        other = export_start(kind="fake", params={"rows": 5}, user=owner)
    assert first.pk == second.pk != other.pk
    assert ExportJob.objects.count() == 2


def test_permission_is_checked_before_anything_is_recorded(db):
    with pytest.raises(PermissionDenied):
        export_start(kind="fake", params={"fail": "denied"}, user=UserFactory(role="reviewer"))
    with pytest.raises(ExportError) as error:
        export_start(kind="fake", params={"fail": "empty"}, user=UserFactory(role="reviewer"))
    assert error.value.message == "没有可导出的数据。"
    with pytest.raises(ExportError):
        export_start(kind="no-such-kind", params={}, user=UserFactory(role="reviewer"))
    assert not ExportJob.objects.exists()


def test_failure_keeps_a_chinese_message(owner, django_capture_on_commit_callbacks):
    job = start(owner, django_capture_on_commit_callbacks, rows=2, fail="boom")
    assert job.status == JobStatus.FAILED
    assert job.error == exports.FAILED_MESSAGE and "disk" not in job.error
    assert not job.file
    job = start(owner, django_capture_on_commit_callbacks, rows=2, fail="message")
    assert (job.status, job.error) == (JobStatus.FAILED, "导出失败：该批次已作废。")
    # no audit entry for an export that produced nothing
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_a_user_who_lost_the_right_before_the_run_gets_nothing(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = export_start(kind="fake", params={"rows": 2}, user=owner)
    owner.username = "nobody-now"
    owner.save()
    job = export_run(job=ExportJob.objects.get(pk=job.pk))
    assert job.status == JobStatus.FAILED and job.error == "导出失败：您已无权导出这些数据。"


def test_export_run_sync_returns_the_files_bytes(owner):
    data = export_run_sync(kind="fake", params={"rows": 4}, user=owner)
    rows = list(load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == ("序号", "证件号码", "金额") and len(rows) == 5
    with pytest.raises(ExportError):
        export_run_sync(kind="fake", params={"rows": 1, "fail": "message"}, user=owner)


# --- audit (SPEC) -----------------------------------------------------------------------------------


def test_every_export_is_audited_with_who_kind_filter_and_rows(owner, django_capture_on_commit_callbacks):
    job = start(owner, django_capture_on_commit_callbacks, rows=3)
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS, object_pk=str(job.pk))
    assert entry.actor == owner
    assert entry.timestamp is not None
    assert entry.additional_data == {
        "export": "fake", "params": {"rows": 3}, "rows": 3, "full_ids": False, "file": "测试导出_20230615.xlsx",
    }
    assert entry.changes_text == "导出 测试导出（3行），3 行"


def test_a_full_id_export_is_marked_in_its_audit_entry(owner, django_capture_on_commit_callbacks):
    job = start(owner, django_capture_on_commit_callbacks, rows=1, full=True)
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS, object_pk=str(job.pk))
    assert entry.additional_data["full_ids"] is True
    assert "含完整证件号码" in entry.changes_text


# --- pages: progress, owner-only download (SPEC X-4) -----------------------------------------------------------


def test_progress_page_shows_counts_while_running(client, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        job = export_start(kind="fake", params={"rows": 50000}, user=owner)
    client.force_login(owner)
    page = client.get(reverse("exports:job", kwargs={"job_id": job.pk}))
    assert page.status_code == 200
    assert "排队中" in page.content.decode()
    ExportJob.objects.filter(pk=job.pk).update(status="running", rows_done=12000, rows_total=50000)
    partial = client.get(reverse("exports:job_progress", kwargs={"job_id": job.pk}))
    text = partial.content.decode()
    assert "已处理 12000 / 50000" in text
    assert 'data-hx-trigger="every 1s"' in text  # polls while running (UI.md "Long work")
    assert client.get(reverse("exports:job_download", kwargs={"job_id": job.pk})).status_code == 404


def test_finished_job_page_offers_the_file_and_stops_polling(client, owner, django_capture_on_commit_callbacks):
    job = start(owner, django_capture_on_commit_callbacks, rows=2)
    client.force_login(owner)
    text = client.get(reverse("exports:job_progress", kwargs={"job_id": job.pk})).content.decode()
    assert "导出完成，共 2 行" in text and "data-hx-trigger" not in text
    download = client.get(reverse("exports:job_download", kwargs={"job_id": job.pk}))
    assert download.status_code == 200
    assert download["Content-Type"] == exports.XLSX
    assert "filename*=UTF-8''%E6%B5%8B%E8%AF%95" in download["Content-Disposition"]
    assert download["Cache-Control"] == "private, no-store"
    rows = list(load_workbook(io.BytesIO(b"".join(download.streaming_content))).active.iter_rows(values_only=True))
    assert len(rows) == 3


def test_failed_job_page_shows_the_message(client, owner, django_capture_on_commit_callbacks):
    job = start(owner, django_capture_on_commit_callbacks, rows=1, fail="message")
    client.force_login(owner)
    page = client.get(reverse("exports:job", kwargs={"job_id": job.pk}))
    assert "导出失败：该批次已作废。" in page.content.decode()


@pytest.mark.parametrize("name", ["exports:job", "exports:job_progress", "exports:job_download"])
def test_only_the_owner_sees_a_job(client, owner, django_capture_on_commit_callbacks, name):
    job = start(owner, django_capture_on_commit_callbacks, rows=1)
    url = reverse(name, kwargs={"job_id": job.pk})
    assert client.get(url).status_code == 302  # anonymous: the login
    for other in (UserFactory(role="reviewer"), UserFactory(role="unit_admin"), UserFactory(role="union_staff")):
        client.force_login(other)
        assert client.get(url).status_code == 404
    client.force_login(owner)
    assert client.get(url).status_code == 200


# --- purge (SPEC X-1: 7 days) ---------------------------------------------------------------------------------


def test_jobs_and_files_are_purged_after_seven_days(owner, django_capture_on_commit_callbacks, settings):
    old = start(owner, django_capture_on_commit_callbacks, rows=1)
    recent = start(owner, django_capture_on_commit_callbacks, rows=2)
    old_path = old.file.path
    ExportJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=7, minutes=1))
    ExportJob.objects.filter(pk=recent.pk).update(created_at=timezone.now() - dt.timedelta(days=6, hours=23))

    assert purge_exports() == 1

    assert list(ExportJob.objects.values_list("pk", flat=True)) == [recent.pk]
    import os

    assert not os.path.exists(old_path) and os.path.exists(recent.file.path)
    # the audit entries stay
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count() == 2
    assert "purge-exports" in settings.CELERY_BEAT_SCHEDULE
    assert export_jobs_purge() == 0


# --- the xlsx writer -----------------------------------------------------------------------------------------


def test_xlsx_opens_in_openpyxl_with_types_styles_and_frozen_header(tmp_path):
    path = tmp_path / "t.xlsx"
    with XlsxWriter(path) as book:
        sheet = book.sheet("参保人员", [("姓名", 12), ("证件号码", 22), ("人数", 8), ("保费", 10), ("日期", 12)])
        sheet.row(["张三 & <李四>", "310101198001011234", 12, Decimal("1195.50"), dt.date(2023, 7, 1)])
        sheet.row(["控制\x07字符", "0012", 0, Decimal("-15.00"), None])
        sheet.row(["合计", "", 12, Decimal("1180.50")], bold=True)
        second = book.sheet("保费信息", [("参加项目", 10)])
        second.row(["A0"])
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["参保人员", "保费信息"]
    sheet = workbook["参保人员"]
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].value == "姓名" and sheet["A1"].font.b
    assert sheet["A2"].value == "张三 & <李四>"
    assert sheet["B2"].value == "310101198001011234" and sheet["B2"].data_type == "s"  # IDs stay text
    assert sheet["B3"].value == "0012"
    assert sheet["C2"].value == 12 and sheet["D2"].value == 1195.5 and sheet["D2"].number_format == "0.00"
    assert sheet["E2"].value == "2023-07-01"
    assert sheet["A3"].value == "控制字符"  # characters XML cannot hold are dropped
    assert sheet["A4"].font.b and sheet["D4"].font.b and sheet["D4"].number_format == "0.00"
    assert sheet.column_dimensions["B"].width == 22
    assert workbook["保费信息"]["A2"].value == "A0"


def test_column_letters():
    assert [column_letter(n) for n in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]


def test_the_audit_entry_of_a_background_export_has_the_requesters_ip(owner, django_capture_on_commit_callbacks):
    # SPEC SEC-4: the worker has no request; the address comes from the job.
    with django_capture_on_commit_callbacks(execute=True):
        job = export_start(kind="fake", params={"rows": 1}, user=owner, ip_address="2001:db8::7")
    job.refresh_from_db()

    assert job.requested_from == "2001:db8::7"
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS, object_pk=str(job.pk))
    assert entry.remote_addr == "2001:db8::7"
    assert entry.actor == owner


def test_an_export_without_a_known_address_is_still_audited(owner, django_capture_on_commit_callbacks):
    job = start(owner, django_capture_on_commit_callbacks, rows=1)

    assert job.requested_from is None
    assert LogEntry.objects.get(action=LogEntry.Action.ACCESS, object_pk=str(job.pk)).remote_addr is None
