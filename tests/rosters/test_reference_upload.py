"""Reference data uploaded in the back office (SPEC REF-1..REF-4, BO-3, X-1, X-2, X-3; UI.md "Long work").

【上传参考数据】 streams the file to disk, records a queued ReferenceLoad and starts the Celery task after the
commit (eager here); the progress page polls until the result; the rejected lines download as CSV for
reviewers only. Every page is tried by a reviewer, union staff (403), a unit administrator and a
stranger (login), and every POST without its CSRF token (STYLE.md §10).
"""
import csv
import datetime as dt
import gzip
import io
import re
import types
import uuid
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Role
from accounts.roles import ROLE_PERMISSIONS
from mutualaid.sealed import open_sealed, seal_stream
from mutualaid.validators import resident_id_check_character
from rosters import admin as rosters_admin
from rosters import tasks
from rosters.reference import loader as loader_module
from rosters.models import ReferenceLoad, SsUnit, SuggestedPerson
from rosters.errors import RosterError
from tests.factories import CoverageYearFactory, UserFactory
from tests.rosters.importfiles import template_xlsx, with_macros
from mutualaid.jobs import JobStatus
from tests.rosters.referencefiles import suggested_csv
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

Status = JobStatus
SHANGHAI = ZoneInfo("Asia/Shanghai")


def resident_id(serial: int, *, birth="19850312", area="310104") -> str:
    first17 = f"{area}{birth}{serial:03d}"
    return first17 + resident_id_check_character(first17)


GOOD_ROWS = [
    [resident_id(11), "张伟", "0100001", "SB0001", "在职", "是"],
    [resident_id(22), "王芳", "0100001", "SB0002", "在职", "是"],
    [resident_id(33), "李娜", "", "SB0003", "退休", "否"],
]
BAD_ROW = ["310104198503120110", "赵强", "0100001", "SB0004", "在职", "是"]  # wrong check character


# --- the loader -----------------------------------------------------------------------------------


class FakeLoader:
    """Stands in for rosters.reference.reference_load where a test needs to steer it: counts its calls,
    reports progress, rejects rows whose name is "坏", writes their lines to a CSV, or raises."""

    def __init__(self, *, raises: Exception | None = None, total: int | None = None):
        self.calls = []
        self.raises = raises
        self.total = total

    def __call__(self, *, kind, path, year, acting_user=None, progress=None):
        path = Path(path)
        content = path.read_bytes() if path.exists() else None
        self.calls.append({"kind": kind, "path": path, "year": year, "acting_user": acting_user, "content": content})
        if progress:
            progress(0, self.total)
        if self.raises:
            raise self.raises
        rows = list(csv.reader(io.StringIO(Path(path).read_bytes().decode("utf-8"))))[1:]
        rejected = [row for row in rows if row[1] == "坏"]
        # Like the real loader: the report is sealed under MEDIA_ROOT (SPEC SEC-4).
        report = Path(settings.MEDIA_ROOT) / "private" / "reference" / "rejected" / f"{uuid.uuid4().hex}.csv"
        report.parent.mkdir(parents=True, exist_ok=True)
        text = "行号,错误原因\n" + "".join(f"{i},姓名错误\n" for i, _ in enumerate(rejected, 2))
        seal_stream([text.encode("utf-8")], report)
        if progress:
            progress(len(rows), self.total)
        return types.SimpleNamespace(
            read=len(rows), loaded=len(rows) - len(rejected), rejected=len(rejected), rejected_rows=[], rejected_path=report
        )


@pytest.fixture
def use_loader(monkeypatch):
    """Replace the loader the task calls (rosters.reference.loader.reference_load) by `loader`."""

    def install(loader):
        monkeypatch.setattr(loader_module, "reference_load", loader)
        return loader

    return install


# --- clients and objects ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clear_cache():
    cache.clear()


@pytest.fixture
def year(db):
    return CoverageYearFactory(year=2025)


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


def add_url() -> str:
    return reverse("admin:rosters_referenceload_add")


def list_url() -> str:
    return reverse("admin:rosters_referenceload_changelist")


def page_url(load, name="change") -> str:
    return reverse(f"admin:rosters_referenceload_{name}", args=[load.pk])


def upload(content: bytes, name="建议清册2025.csv", content_type="text/csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def post_upload(client, django_capture_on_commit_callbacks, *, file, kind="suggested", year=2025):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(add_url(), {"kind": kind, "year": year, "file": file})


def stored_files(media_root: Path) -> list[Path]:
    folder = Path(media_root) / "private" / "reference"
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def make_load(**fields) -> ReferenceLoad:
    """A load with its stored upload, sealed like the page stores it (SPEC SEC-4)."""
    stored = f"private/reference/{uuid.uuid4().hex}.csv"
    (Path(settings.MEDIA_ROOT) / stored).parent.mkdir(parents=True, exist_ok=True)
    seal_stream([suggested_csv(GOOD_ROWS)], Path(settings.MEDIA_ROOT) / stored)
    defaults = {"kind": "suggested", "year": 2025, "file_name": "建议清册.csv", "stored_file": stored}
    return ReferenceLoad.objects.create(**{**defaults, **fields})


def done_load_with_report(media_root, reviewer) -> ReferenceLoad:
    report = Path(media_root) / "private" / "reference" / "r-rejected.csv"
    report.parent.mkdir(parents=True, exist_ok=True)
    seal_stream(["行号,证件号码,错误原因\n3,310104198503120110,身份证号码校验位错误（应为X）\n".encode()], report)
    return make_load(
        status=Status.DONE,
        rows_read=4,
        rows_loaded=3,
        rows_rejected=1,
        rejected_report=str(report),
        started_by=reviewer,
        started_at=dt.datetime(2025, 6, 3, 23, 58, 30, tzinfo=SHANGHAI),
        finished_at=dt.datetime(2025, 6, 3, 23, 59, 42, tzinfo=SHANGHAI),  # 15:59 UTC: the Shanghai day counts
    )


# --- 【上传参考数据】 → the task → the result (SPEC REF-1, BO-3) ------------------------------------------


def test_reviewer_uploads_a_small_csv_and_the_load_ends_done(
    reviewer_client, reviewer, year, media_root, django_capture_on_commit_callbacks
):
    # The real loader (rosters/reference/): three good rows and one with a wrong check character.
    content = suggested_csv(GOOD_ROWS + [BAD_ROW])

    response = post_upload(reviewer_client, django_capture_on_commit_callbacks, file=upload(content))

    load = ReferenceLoad.objects.get()
    assert response.status_code == 302 and response["Location"] == page_url(load)
    assert (load.status, load.rows_read, load.rows_loaded, load.rows_rejected) == (Status.DONE, 4, 3, 1), load.error
    assert (load.kind, load.year, load.file_name, load.started_by) == ("suggested", 2025, "建议清册2025.csv", reviewer)
    assert load.started_at and load.finished_at and load.error == ""
    assert re.fullmatch(r"private/reference/[0-9a-f]{32}\.csv", load.stored_file)
    people = SuggestedPerson.objects.filter(year=2025)
    assert sorted(person.ss_name for person in people) == ["张伟", "李娜", "王芳"]
    assert {person.id_number for person in people} == {row[0] for row in GOOD_ROWS}
    # The upload held every ID in clear: once loaded, only the database's encrypted copy stays.
    assert not (Path(media_root) / load.stored_file).exists()
    assert load.rejected_report.startswith("private/reference/rejected/")

    page = reviewer_client.get(response["Location"])
    assertContains(page, "读取 4 行，导入 3 行，")
    assertContains(page, "错误 1 行")
    assertContains(page, page_url(load, "rejected"))
    assertNotContains(page, 'data-hx-trigger="every 2s"')  # finished: no more polling

    download = reviewer_client.get(page_url(load, "rejected"))
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0].startswith("行号,错误原因,证件号码")
    assert lines[1].startswith("5,证件号码：身份证号码校验位错误") and BAD_ROW[0] in lines[1]
    assert len(lines) == 2


def test_a_reload_replaces_the_year_and_the_task_reports_progress(
    reviewer_client, year, monkeypatch, django_capture_on_commit_callbacks
):
    ticks = []
    writer_class = tasks._ProgressWriter

    class RecordingWriter(writer_class):
        def __call__(self, rows_done, rows_total=None):
            ticks.append((rows_done, rows_total))
            super().__call__(rows_done, rows_total)

    monkeypatch.setattr(tasks, "_ProgressWriter", RecordingWriter)
    post_upload(reviewer_client, django_capture_on_commit_callbacks, file=upload(suggested_csv(GOOD_ROWS)))
    post_upload(reviewer_client, django_capture_on_commit_callbacks, file=upload(suggested_csv(GOOD_ROWS[:1])))

    assert list(ReferenceLoad.objects.order_by("pk").values_list("status", "rows_loaded")) == [("done", 3), ("done", 1)]
    assert list(SuggestedPerson.objects.filter(year=2025).values_list("ss_name", flat=True)) == ["张伟"]
    assert ticks[0][0] == 0 and ticks[-1] == (1, 1)


def test_the_upload_is_recorded_in_the_admin_log(
    reviewer_client, reviewer, year, use_loader, django_capture_on_commit_callbacks
):
    use_loader(FakeLoader())

    post_upload(reviewer_client, django_capture_on_commit_callbacks, file=upload(suggested_csv(GOOD_ROWS)))

    entry = AdminLogEntry.objects.get()
    assert entry.user == reviewer and "上传参考数据" in entry.get_change_message()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("会员库.csv.gz", gzip.compress(suggested_csv(GOOD_ROWS))),
        ("单位社保编码.XLSX", b"PK\x03\x04" + b"\x00" * 64),
    ],
)
def test_gzip_and_xlsx_files_are_accepted_with_their_extension(
    reviewer_client, year, media_root, use_loader, name, content, django_capture_on_commit_callbacks
):
    loader = use_loader(FakeLoader(raises=RosterError("测试：不读取")))

    response = post_upload(
        reviewer_client, django_capture_on_commit_callbacks, file=upload(content, name=name), kind="members"
    )

    assert response.status_code == 302
    stored = loader.calls[0]["path"]
    assert stored.name.endswith(".csv.gz" if name.endswith(".gz") else ".xlsx")
    assert ReferenceLoad.objects.get().file_name == name


# --- refused files: a message at the field, nothing stored, nothing queued (SPEC X-3) ---------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("名单.txt", b"a,b,c\n", "文件格式不正确：请上传 CSV、CSV.GZ 或 XLSX 文件"),
        ("名单.xls", b"\xd0\xcf\x11\xe0", "文件格式不正确"),
        ("名单.xlsx", suggested_csv(GOOD_ROWS), "文件内容与扩展名（.xlsx）不符"),
        ("名单.csv.gz", suggested_csv(GOOD_ROWS), "文件内容与扩展名（.csv.gz）不符"),
        ("名单.csv", b"PK\x03\x04rest-of-a-workbook", "文件内容与扩展名（.csv）不符"),
        ("名单.xlsx", with_macros(template_xlsx([["a"]])), "文件含有宏（VBA），为安全起见未导入"),  # SPEC SEC-5
    ],
)
def test_a_file_of_the_wrong_type_is_refused_at_the_field(
    reviewer_client, year, media_root, use_loader, name, content, message, django_capture_on_commit_callbacks
):
    loader = use_loader(FakeLoader())

    response = post_upload(reviewer_client, django_capture_on_commit_callbacks, file=upload(content, name=name))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])
    assertContains(response, "请按提示修改后重新提交")
    assert not ReferenceLoad.objects.exists() and loader.calls == [] and stored_files(media_root) == []


def test_a_file_over_the_limit_is_refused(
    reviewer_client, year, media_root, use_loader, settings, django_capture_on_commit_callbacks
):
    settings.REFERENCE_UPLOAD_MAX_BYTES = 100
    loader = use_loader(FakeLoader())

    response = post_upload(reviewer_client, django_capture_on_commit_callbacks, file=upload(suggested_csv(GOOD_ROWS)))

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["file"])
    assert "文件过大" in errors and "单个文件不能超过 100字节" in errors
    assert not ReferenceLoad.objects.exists() and loader.calls == [] and stored_files(media_root) == []


def test_missing_kind_year_and_file_are_asked_for_in_chinese(reviewer_client, year, use_loader):
    use_loader(FakeLoader())

    response = reviewer_client.post(add_url(), {})

    errors = response.context["form"].errors
    assert errors["kind"] == ["请选择数据类型。"]
    assert errors["year"] == ["请选择保障年度。"]
    assert errors["file"] == ["请选择要上传的文件。"]
    assert not ReferenceLoad.objects.exists()


def test_the_previous_enrolment_may_be_loaded_for_the_year_before_a_configured_one(
    reviewer_client, year, media_root, django_capture_on_commit_callbacks
):
    # SPEC REF-4: the list is stored under the year it lists; 2024 is not configured, 2025 is.
    assertContains(reviewer_client.get(add_url()), '<option value="2024">2024年度</option>', html=True)
    content = f"参保编码,姓名,证件号码,证件类型\nA2B3C4,张伟,{resident_id(11)},身份证\n".encode()

    capture = django_capture_on_commit_callbacks
    refused = post_upload(reviewer_client, capture, file=upload(content), kind="suggested", year=2024)
    loaded = post_upload(reviewer_client, capture, file=upload(content), kind="previous", year=2024)

    assert refused.context["form"].errors["year"] == ["2024年度尚未设置，请选择已设置的保障年度（上年度参保名单才可选上一年度）。"]
    load = ReferenceLoad.objects.get()
    assert loaded.status_code == 302
    assert (load.kind, load.year, load.status, load.rows_loaded) == ("previous", 2024, "done", 1)


def test_an_empty_file_and_an_unknown_year_are_refused(reviewer_client, year, django_capture_on_commit_callbacks):
    response = post_upload(reviewer_client, django_capture_on_commit_callbacks, file=upload(b""), year=1999)

    errors = response.context["form"].errors
    assert errors["year"] == ["请选择已设置的保障年度。"]
    assert errors["file"] == ["上传的文件是空的，请检查后重新选择。"]


# --- streamed to disk, copied in chunks -------------------------------------------------------------


def test_the_upload_is_copied_to_disk_chunk_by_chunk(media_root, monkeypatch):
    content = suggested_csv(GOOD_ROWS * 4000)  # about 300 KB
    monkeypatch.setattr(rosters_admin, "COPY_CHUNK_BYTES", 64 * 1024)
    temporary = TemporaryUploadedFile("建议清册.csv", "text/csv", len(content), "utf-8")
    temporary.write(content)
    temporary.seek(0)
    sizes = []
    chunks = temporary.chunks

    def counting_chunks(chunk_size=None):
        for chunk in chunks(chunk_size):
            sizes.append(len(chunk))
            yield chunk

    monkeypatch.setattr(temporary, "chunks", counting_chunks)

    relative = rosters_admin.reference_upload_store(upload=temporary, extension=".csv")

    stored = Path(media_root) / relative
    assert open_sealed(stored).read() == content and content[:100] not in stored.read_bytes()  # SPEC SEC-4
    assert stored.parent == Path(media_root) / "private" / "reference"
    # Never more than one chunk in memory: the copy went through chunks() of the chosen size.
    assert max(sizes) == 64 * 1024 and len(sizes) == -(-len(content) // (64 * 1024)) and sum(sizes) == len(content)
    temporary.close()


def test_a_large_upload_reaches_the_view_as_a_temporary_file(
    reviewer_client, year, media_root, use_loader, settings, monkeypatch, django_capture_on_commit_callbacks
):
    # Above FILE_UPLOAD_MAX_MEMORY_SIZE Django writes the upload to a temporary file as it arrives.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    loader = use_loader(FakeLoader())
    seen = []
    store = rosters_admin.reference_upload_store

    def spy(*, upload, extension):
        seen.append(type(upload))
        return store(upload=upload, extension=extension)

    monkeypatch.setattr(rosters_admin, "reference_upload_store", spy)
    content = suggested_csv(GOOD_ROWS * 200)

    post_upload(reviewer_client, django_capture_on_commit_callbacks, file=upload(content))

    assert seen == [TemporaryUploadedFile]
    assert loader.calls[0]["content"] == content  # what the loader read is what was sent


# --- the task: once, progress, failure ----------------------------------------------------------------


def test_running_the_task_twice_loads_once(use_loader, reviewer):
    loader = use_loader(FakeLoader())
    load = make_load(started_by=reviewer)

    assert tasks.load_reference_file(load.pk) == Status.DONE
    finished_at = ReferenceLoad.objects.get().finished_at
    assert tasks.load_reference_file(load.pk) == Status.DONE

    assert len(loader.calls) == 1
    assert ReferenceLoad.objects.get().finished_at == finished_at


def test_a_running_load_is_not_started_again(use_loader):
    loader = use_loader(FakeLoader())
    load = make_load(status=Status.RUNNING)

    assert tasks.load_reference_file(load.pk) == Status.RUNNING
    assert loader.calls == []


def test_a_missing_load_is_ignored(use_loader):
    loader = use_loader(FakeLoader())

    assert tasks.load_reference_file(987654) == "missing"
    assert loader.calls == []


def test_a_failing_load_is_marked_failed_and_keeps_the_previous_data(
    reviewer_client, year, media_root, django_capture_on_commit_callbacks
):
    # The real loader refuses a file without a required column as a whole (RosterError).
    SsUnit.objects.create(year=2025, code="0100001", unit_name="上海示范机电有限公司", paying_headcount=120)

    response = post_upload(
        reviewer_client,
        django_capture_on_commit_callbacks,
        file=upload("单位社保编码,单位名称\n0100002,上海长寿路服务社\n".encode(), name="单位.csv"),
        kind="ss_units",
    )

    load = ReferenceLoad.objects.get()
    assert load.status == Status.FAILED and load.finished_at
    assert load.error == "文件缺少必需的列：社保在职人数。第1行应为标题行，列名见导入说明。"
    assert list(SsUnit.objects.values_list("code", "unit_name")) == [("0100001", "上海示范机电有限公司")]
    assert stored_files(media_root) == []  # the reviewer fixes their own copy
    page = reviewer_client.get(response["Location"])
    assertContains(page, "文件缺少必需的列：社保在职人数")
    assertContains(page, "原有的单位社保编码数据保持不变")
    assertContains(page, '<span class="state-badge state-rejected">失败</span>', html=True)
    assertNotContains(page, "data-hx-trigger")


def test_a_loader_error_message_is_shown_as_it_is(use_loader, reviewer):
    use_loader(FakeLoader(raises=RosterError("2025年度的建议清册正在导入中，请等它完成后再试。")))
    load = make_load(started_by=reviewer)

    assert tasks.load_reference_file(load.pk) == Status.FAILED

    assert ReferenceLoad.objects.get().error == "2025年度的建议清册正在导入中，请等它完成后再试。"


def test_an_unexpected_error_ends_failed_with_a_chinese_message(use_loader, caplog):
    use_loader(FakeLoader(raises=RuntimeError("disk I/O error")))
    load = make_load()

    assert tasks.load_reference_file(load.pk) == Status.FAILED

    load.refresh_from_db()
    assert load.error.startswith("导入失败：系统处理文件时出错，原有数据未改变")
    assert f"导入编号 {load.pk}" in load.error and "disk I/O" not in load.error
    assert "disk I/O error" in caplog.text  # the cause is in the log for the support desk
    assert tasks.stored_path(load).exists()  # and the file, which they know by the load's number


def test_progress_is_written_at_most_every_two_seconds(monkeypatch):
    load = make_load(status=Status.RUNNING)
    clock = [100.0]
    monkeypatch.setattr(tasks.time, "monotonic", lambda: clock[0])
    writer = tasks._ProgressWriter(load)

    writer(50_000, 200_000)
    assert ReferenceLoad.objects.get().rows_read == 50_000
    assert tasks.progress_total(load.pk) == 200_000
    clock[0] += 0.5
    writer(100_000, 200_000)
    assert ReferenceLoad.objects.get().rows_read == 50_000  # too soon
    clock[0] += 2.0
    writer(150_000, 200_000)
    assert ReferenceLoad.objects.get().rows_read == 150_000


def test_progress_updates_write_no_audit_entry_per_tick(monkeypatch):
    load = make_load(status=Status.RUNNING)
    before = LogEntry.objects.count()
    clock = [0.0]
    monkeypatch.setattr(tasks.time, "monotonic", lambda: clock[0])
    writer = tasks._ProgressWriter(load)
    for rows in range(50_000, 500_001, 50_000):
        clock[0] += 3
        writer(rows, None)

    assert ReferenceLoad.objects.get().rows_read == 500_000
    assert LogEntry.objects.count() == before  # SPEC X-2: one event per load, not per tick


# --- the progress page and its htmx partial (UI.md "Long work") --------------------------------------


def test_the_partial_of_a_running_load_shows_the_bar_and_the_counts(reviewer_client):
    load = make_load(status=Status.RUNNING, rows_read=50_000)
    cache.set(tasks.progress_total_key(load.pk), 120_000)

    response = reviewer_client.get(page_url(load, "progress"), HTTP_HX_REQUEST="true")

    assertContains(response, "已处理 50,000 / 120,000 行")
    assertContains(response, '<progress aria-label="导入进度" max="120000" value="50000"></progress>', html=True)
    assertContains(response, f'data-hx-get="{page_url(load, "progress")}"')
    assertContains(response, 'data-hx-trigger="every 2s"')
    assertNotContains(response, "<html")  # the block alone


def test_the_partial_without_a_known_total_counts_rows_only(reviewer_client):
    load = make_load(status=Status.RUNNING, rows_read=1_250_000)

    response = reviewer_client.get(page_url(load, "progress"))

    assertContains(response, "已处理 1,250,000 行")
    assertContains(response, '<progress aria-label="导入进度"></progress>', html=True)


def test_a_queued_load_waits_and_polls(reviewer_client):
    load = make_load()

    response = reviewer_client.get(page_url(load))

    assertContains(response, '<span class="state-badge state-draft">排队中</span>', html=True)
    assertContains(response, "排队中，等待后台开始导入")
    assertContains(response, 'data-hx-trigger="every 2s"')
    assertContains(response, "vendor/htmx/htmx.min.js")


def test_the_partial_of_a_finished_load_stops_polling(reviewer_client, reviewer, media_root):
    load = done_load_with_report(media_root, reviewer)

    response = reviewer_client.get(page_url(load, "progress"))

    assertContains(response, "读取 4 行，导入 3 行，")
    assertContains(response, "下载错误行（CSV）")
    assertNotContains(response, "data-hx-trigger")


def test_the_list_shows_each_load_and_links_to_its_page(reviewer_client, reviewer, media_root):
    load = done_load_with_report(media_root, reviewer)
    make_load(kind="ss_units", file_name="单位社保编码.xlsx", status=Status.FAILED, error="x")

    response = reviewer_client.get(list_url())

    for header in ("数据类型", "保障年度", "文件名", "状态", "读取行数", "导入行数", "错误行数", "操作人", "提交时间", "完成时间"):
        assertContains(response, header)
    assertContains(response, f'href="{page_url(load)}"')
    assertContains(response, f'href="{page_url(load, "rejected")}"')
    assertContains(response, '<span class="state-badge state-done">已完成</span>', html=True)
    assertContains(response, '<span class="state-badge state-rejected">失败</span>', html=True)
    assertContains(response, "上传参考数据")
    assertContains(response, "总共 2 条记录")


def test_the_upload_page_writes_each_kind_s_columns_and_the_limit(reviewer_client, year):
    response = reviewer_client.get(add_url())

    # The columns come from the loaders' own specifications (rosters.reference.SPECS).
    assertContains(response, "证件号码、社保姓名、单位社保编码、个人社保登记号（可无此列）、职退状态、医保享受在职待遇（可无此列）")
    assertContains(response, "职退状态填 在职、退休 或 -；医保享受在职待遇填 是 或 否")
    assertContains(response, "单位社保编码、单位名称、社保在职人数")
    assertContains(response, "参保编码或统一社会信用代码、姓名、证件号码")
    assertContains(response, "参保编码、姓名、证件号码、证件类型（可无此列）")
    assertContains(response, "格式：CSV、CSV.GZ（gzip 压缩的 CSV）或 XLSX，单个不超过 1GB")
    assertContains(response, '<option value="2025" selected>2025年度</option>', html=True)  # the current year
    assertContains(response, "js/reference_upload.js")
    assertNotContains(response, "<script>")  # CSP: no inline script


# --- the rejected lines (SPEC X-1: reviewers only, and logged) ----------------------------------------


def test_a_reviewer_downloads_the_rejected_lines_with_a_chinese_file_name(reviewer_client, reviewer, media_root):
    load = done_load_with_report(media_root, reviewer)

    response = reviewer_client.get(page_url(load, "rejected"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8")
    assert "身份证号码校验位错误（应为X）" in body
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=utf-8''" in disposition
    assert unquote(disposition.split("''")[1]) == "2025年度建议清册导入错误行_20250603.csv"
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(load.pk)).exists()


def test_no_rejected_lines_answers_404(reviewer_client, reviewer):
    load = make_load(status=Status.DONE, rows_read=3, rows_loaded=3)

    assert reviewer_client.get(page_url(load, "rejected")).status_code == 404


# --- who may do what (STYLE.md §10) -------------------------------------------------------------------


@pytest.fixture
def pages(reviewer, media_root, year):
    load = done_load_with_report(media_root, reviewer)
    return [list_url(), add_url(), page_url(load), page_url(load, "progress"), page_url(load, "rejected")]


def test_reviewer_opens_every_page(reviewer_client, pages):
    for url in pages:
        assert reviewer_client.get(url).status_code == 200, url


def test_union_staff_get_403_everywhere_and_queue_nothing(
    client, union_staff, pages, use_loader, django_capture_on_commit_callbacks
):
    loader = use_loader(FakeLoader())
    client.force_login(union_staff)

    for url in pages:
        assert client.get(url).status_code == 403, url
    response = post_upload(client, django_capture_on_commit_callbacks, file=upload(suggested_csv(GOOD_ROWS)))

    assert response.status_code == 403
    assert ReferenceLoad.objects.count() == 1 and loader.calls == []


@pytest.mark.parametrize("who", ["unit_admin", "anonymous"])
def test_unit_admins_and_strangers_are_sent_to_the_login(client, who, pages, use_loader, django_capture_on_commit_callbacks):
    loader = use_loader(FakeLoader())
    if who == "unit_admin":
        client.force_login(UserFactory(role=Role.UNIT_ADMIN))

    for url in pages:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    response = post_upload(client, django_capture_on_commit_callbacks, file=upload(suggested_csv(GOOD_ROWS)))

    assert response.status_code == 302 and "/login/" in response["Location"]
    assert ReferenceLoad.objects.count() == 1 and loader.calls == []


def test_nobody_changes_or_deletes_a_load(reviewer_client, reviewer, media_root):
    load = done_load_with_report(media_root, reviewer)

    assert reviewer_client.post(page_url(load), {"status": "queued"}).status_code == 200  # the page, read only
    assert reviewer_client.get(page_url(load, "delete")).status_code == 403
    assert ReferenceLoad.objects.get().status == Status.DONE


def test_the_upload_needs_its_csrf_token(reviewer, year, use_loader, django_capture_on_commit_callbacks):
    loader = use_loader(FakeLoader())
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(reviewer)

    response = post_upload(client, django_capture_on_commit_callbacks, file=upload(suggested_csv(GOOD_ROWS)))
    assert response.status_code == 403
    assert not ReferenceLoad.objects.exists() and loader.calls == []

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(add_url()).content.decode()).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            add_url(),
            {"kind": "suggested", "year": 2025, "file": upload(suggested_csv(GOOD_ROWS)), "csrfmiddlewaretoken": token},
        )
    assert response.status_code == 302 and len(loader.calls) == 1


def test_reference_loads_are_in_the_reviewer_role_only():
    wanted = {"rosters.view_referenceload", "rosters.add_referenceload"}

    assert wanted <= ROLE_PERMISSIONS[Role.REVIEWER]
    assert not {"rosters.change_referenceload", "rosters.delete_referenceload"} & ROLE_PERMISSIONS[Role.REVIEWER]
    for role in (Role.UNION_STAFF, Role.UNIT_ADMIN):
        assert not any(permission.startswith("rosters.") for permission in ROLE_PERMISSIONS[role])
