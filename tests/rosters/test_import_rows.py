"""JSON rows as a source of the roster importer (SPEC API-2 through ROS-1…ROS-12, SEC-1, SEC-4, X-1):
`roster_import_start_rows`, one pipeline with the file's."""
import json
from pathlib import Path

import pytest
from django.db import connection
from django.http import UnreadablePostError
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from enrollment.models import BatchState
from mutualaid.jobs import JobStatus
from rosters import importer
from rosters.errors import RosterError, RosterUploadTooLarge
from rosters.importer import (
    EXCEL_NUMBER,
    marked_copy_available,
    roster_import_start,
    roster_import_start_rows,
    service as importer_service,
)
from rosters.models import RosterEntry, RosterImport
from rosters.workbooks import TEMPLATE_HEADER
from tests.factories import IMPORT_CODE, UserFactory, make_batch
from tests.rosters.importfiles import (
    hold, left_by_a_dead_worker, many_rows, resident_id, row, suggest, template_xlsx, upload, wrong_check,
)

pytestmark = pytest.mark.django_db

ALICE = resident_id("19900101", 101)  # male
BETTY = resident_id("19850615", 202)  # female
CAROL = resident_id("19780320", 303)
NAMES = ("姓名", "证件类型", "证件号码", "出生日期", "性别", "手机号", "是否有社保")


@pytest.fixture
def account(db):
    return UserFactory(username="rows-unit", first_name="丁一")


@pytest.fixture
def batch(account, handbook_year):
    return make_batch(account, year=handbook_year, code=IMPORT_CODE)


def as_objects(rows, keys=NAMES) -> list[dict]:
    """Template rows (importfiles.row) as JSON objects, empty optional values left out."""
    return [{key: value for key, value in zip(keys, values) if value not in ("", None)} for values in rows]


def document(rows, keys=NAMES) -> bytes:
    return json.dumps({"rows": as_objects(rows, keys)}, ensure_ascii=False).encode()


def post(batch, account, body: bytes, *, chunk=64 * 1024, **options) -> RosterImport:
    """As the API view will call it: the body in chunks, as read from the request."""
    chunks = (body[start : start + chunk] for start in range(0, len(body), chunk))
    return roster_import_start_rows(batch=batch, chunks=chunks, acting_user=account, **options)


def entries(batch):
    return {entry.id_number: entry for entry in RosterEntry.objects.filter(batch=batch)}


def folders(media_root) -> list[Path]:
    root = Path(media_root) / importer.UPLOAD_DIR
    return list(root.iterdir()) if root.exists() else []


MIXED = [
    row("王豆豆", "身份证", ALICE, insured="是"),
    row("李梅", "身份证", BETTY, mobile="13912345678", insured="否"),
    row("JOHN SMITH", "非身份证", "e1234567", "1998-12-09", "男", insured="是"),
    row("错号", "身份证", wrong_check(CAROL)),
    row("王豆豆", "身份证", ALICE),  # the same person again (ROS-4)
    row("", "身份证", resident_id("19700101", 111), mobile="1381234"),
]


# --- the same import as a file ---------------------------------------------------------------------------


def test_json_rows_import_the_same_people_with_the_same_results_as_the_file(account, handbook_year, media_root):
    # SPEC API-2: one importer; a file and JSON rows of the same people give the same roster and report.
    by_file = make_batch(account, year=handbook_year, code=IMPORT_CODE)
    by_rows = make_batch(account, year=handbook_year, code="0A1B2C")  # drafts: the registry holds neither
    suggest(handbook_year.year, BETTY, "李 梅")  # ROS-5: the suggested roster's name is taken
    from_file = roster_import_start(batch=by_file, upload=upload(template_xlsx(MIXED)), acting_user=account)
    from_rows = post(by_rows, account, document(MIXED))
    assert from_rows.source == RosterImport.Source.ROWS
    assert from_rows.status == from_file.status == JobStatus.DONE
    counts = ("rows_read", "rows_imported", "rows_added", "rows_updated", "rows_failed")
    assert [getattr(from_rows, name) for name in counts] == [getattr(from_file, name) for name in counts] == [6, 3, 3, 0, 3]
    assert from_rows.summary == from_file.summary

    def fields(batch):
        return {
            number: (entry.name, entry.id_type, entry.birth_date, entry.sex, entry.mobile, entry.id_hash)
            for number, entry in entries(batch).items()
        }

    assert fields(by_rows) == fields(by_file)
    assert set(fields(by_rows)) == {ALICE, BETTY, "E1234567"}
    # The file's row 2 is the first data row; JSON rows are numbered by their position in `rows`.
    # (ROS-4's message names the first row, so it is numbered the same way.)
    shifted = [
        {**problem, "row": problem["row"] - 1, "reason": problem["reason"].replace("与第 2 行", "与第 1 行")}
        for problem in from_file.problems
    ]
    assert shifted == from_rows.problems
    assert [problem["row"] for problem in from_rows.problems] == [4, 5, 6, 6]
    # no marked copy for JSON rows, and upload.json is gone after the run.
    assert not marked_copy_available(from_rows)
    assert marked_copy_available(from_file)
    assert from_rows.stored_file == ""
    assert [folder.name.split("-")[0] for folder in folders(media_root)] == [str(from_file.pk)]


def test_keys_may_carry_the_full_header_text_and_unknown_keys_are_ignored(batch, account):
    # SPEC ROS-2 [departure]: columns by their leading name, extra ones ignored.
    objects = as_objects([row("王豆豆", number=ALICE, mobile="13912345678")], TEMPLATE_HEADER)
    objects[0]["工号"] = "A-17"
    objects[0]["备注"] = {"部门": "财务"}  # not a template column: not even looked at
    body = json.dumps({"rows": objects, "unit": "x"}, ensure_ascii=False).encode()
    result = post(batch, account, body)
    assert (result.status, result.rows_added, result.rows_failed) == (JobStatus.DONE, 1, 0)
    assert entries(batch)[ALICE].mobile == "13912345678"


def test_values_typed_as_numbers_and_full_width_text(batch, account):
    # SPEC ROS-3, SEC-1: a JSON integer keeps its digits; a float past 2^53 is Excel's number; full-width
    # digits and a lower-case x are normalised as in a cell.
    x_id = next(resident_id("19920202", sequence) for sequence in range(100, 200) if resident_id("19920202", sequence).endswith("X"))
    full_width = "".join(chr(ord(char) + 0xFEE0) for char in BETTY)
    body = json.dumps(
        {
            "rows": [
                {"姓名": "整数", "证件类型": "身份证", "证件号码": int(ALICE), "手机号": 13912345678, "是否有社保": "是"},
                {"姓名": "全角", "证件类型": "身份证", "证件号码": full_width, "是否有社保": "否"},
                {"姓名": "小写", "证件类型": "身份证", "证件号码": x_id.lower(), "是否有社保": True},
                {"姓名": "浮点", "证件类型": "身份证", "证件号码": float(CAROL[:17] + "0"), "是否有社保": "是"},
            ]
        },
        ensure_ascii=False,
    ).encode()
    assert b"e+17" in body  # json writes the float the way an exporter would
    result = post(batch, account, body)
    assert (result.status, result.rows_added, result.rows_failed) == (JobStatus.DONE, 3, 1)
    people = entries(batch)
    assert set(people) == {ALICE, BETTY, x_id}
    assert people[ALICE].mobile == "13912345678"
    assert [(problem["row"], problem["column"], problem["reason"]) for problem in result.problems] == [(4, "证件号码", EXCEL_NUMBER)]


# --- row errors: row = position in `rows` ------------------------------------------------------------------


def test_row_errors_name_the_position_in_rows_and_the_column(batch, account):
    # SPEC ROS-3, ROS-4, ROS-10 through API-2: the page's words, 行号 = 1-based position in `rows`.
    rows = [
        row("王豆豆", number=ALICE),
        row("错号", number=wrong_check(BETTY)),
        row("坏手机", number=CAROL, mobile="1381234"),
        row("", number=resident_id("19700101", 111)),
        row("王豆豆", number=ALICE),
        row("无社保", number=resident_id("19700101", 121), insured=""),
    ]
    objects = as_objects(rows)
    objects.insert(2, {})  # an empty element keeps its place and is skipped, like an empty row
    result = post(batch, account, json.dumps({"rows": objects}, ensure_ascii=False).encode())
    assert (result.status, result.rows_read, result.rows_added, result.rows_failed) == (JobStatus.DONE, 6, 1, 5)
    found = [(problem["row"], problem["column"]) for problem in result.problems]
    assert found == [(2, "证件号码"), (4, "手机号"), (5, "姓名"), (6, "证件号码"), (7, "是否有社保")]
    reasons = {problem["row"]: problem["reason"] for problem in result.problems}
    assert reasons[2].startswith("证件号码校验位错误（应为")
    assert reasons[4].startswith("手机号")
    assert reasons[5] == "姓名为空，请填写后重新导入"
    assert reasons[6] == "与第 1 行是同一人（证件号码重复），本行未导入"
    assert importer.problem_message(result.problems[0]).startswith("第 2 行：")


def test_control_characters_and_storable_text(batch, account):
    # SEC-1: a control character in an ID is a row error, never imported; NUL and lone surrogates
    # (which a database cannot store) become U+FFFD, so the problems are written, never a failure.
    body = (
        '{"rows": ['
        '{"姓名": "甲", "证件类型": "身份证", "证件号码": "' + ALICE[:5] + '\\u0007' + ALICE[5:] + '", "是否有社保": "是"},'
        '{"姓名": "乙\\u0000", "证件类型": "身份证", "证件号码": "' + BETTY + '", "性别": "\\ud800", "是否有社保": "\\u0000"},'
        '{"姓名": "丙", "证件类型": "非身份证", "证件号码": "\\udfffAB12", "出生日期": "1990-01-01", "性别": "\\u0000", "是否有社保": "是"}'
        "]}"
    ).encode()
    result = post(batch, account, body)
    assert result.status == JobStatus.DONE
    assert result.rows_added == 0 and result.rows_failed == 3
    assert [(problem["row"], problem["column"]) for problem in result.problems] == [
        (1, "证件号码"), (2, "是否有社保"), (3, "证件号码"), (3, "性别")
    ]
    assert all("\x00" not in problem["value"] for problem in result.problems)


# --- whole-document refusals ---------------------------------------------------------------------------------


REFUSED = {
    "not UTF-8": ('{"rows": [{"姓名": "张三"}]}'.encode("gbk"), importer.messages.ROWS_NOT_UTF8),
    "not JSON": (b'{"rows": [', "不是有效的JSON（第 1 行第 11 列附近有误）"),
    "NaN": ('{"rows": [{"姓名": NaN}]}'.encode(), importer.messages.ROWS_BAD_NUMBER),
    "Infinity": (b'{"rows": [{"a": -Infinity}]}', importer.messages.ROWS_BAD_NUMBER),
    "huge integer": (b'{"rows": [{"a": ' + b"9" * 5000 + b"}]}", importer.messages.ROWS_BAD_NUMBER),
    "too deep": (b"[" * 100_000 + b"]" * 100_000, importer.messages.ROWS_TOO_DEEP),
    "an array": (b"[]", importer.messages.ROWS_NOT_ROWS),
    "a string": (b'"rows"', importer.messages.ROWS_NOT_ROWS),
    "no rows": (b'{"people": []}', importer.messages.ROWS_NOT_ROWS),
    "rows not an array": ('{"rows": {"姓名": "张三"}}'.encode(), importer.messages.ROWS_NOT_ROWS),
    "rows empty": (b'{"rows": []}', importer.messages.ROWS_NO_DATA),
    "rows all empty": ('{"rows": [{}, {"姓名": null, "证件类型": "", "证件号码": " ", "是否有社保": null}, {"x": 1}]}'.encode(), importer.messages.ROWS_NO_DATA),
    "an element not an object": ('{"rows": [{"a": 1}, ["张三"]]}'.encode(), "rows 的第 2 项不是JSON对象"),
    "a nested value": (
        '{"rows": [{"姓名": "张三"}, {"姓名": {"first": "三"}}]}'.encode(),
        "rows 的第 2 项中“姓名”的值是对象或数组",
    ),
    "a missing required column": (
        json.dumps({"rows": [{"姓名": "张三", "证件类型": "身份证", "证件号码": ALICE}]}, ensure_ascii=False).encode(),
        "缺少必填列“是否有社保”",
    ),
    "no template column at all": (b'{"rows": [{"name": "x"}]}', "缺少必填列“姓名”、“证件类型”、“证件号码”、“是否有社保”"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_document_refused_as_a_whole_ends_refused_with_its_message(batch, account, media_root, case):
    body, message = REFUSED[case]
    result = post(batch, account, body)
    assert result.status == JobStatus.REFUSED, result.error
    assert message in result.error
    assert result.stored_file == "" and folders(media_root) == []  # nothing kept
    assert RosterEntry.objects.filter(batch=batch).count() == 0


def test_an_empty_body_is_refused_with_nothing_recorded(batch, account):
    for chunks in ([], [b""]):
        with pytest.raises(RosterError) as refused:
            roster_import_start_rows(batch=batch, chunks=chunks, acting_user=account)
        assert refused.value.message == importer.EMPTY_FILE
    assert not RosterImport.objects.exists()


def test_a_utf8_byte_order_mark_is_accepted(batch, account):
    result = post(batch, account, b"\xef\xbb\xbf" + document([row("王豆豆", number=ALICE)]))
    assert (result.status, result.rows_added) == (JobStatus.DONE, 1)


# --- the size limit and the state ----------------------------------------------------------------------------


def test_a_declared_length_over_the_limit_is_refused_before_reading(batch, account, settings, media_root):
    # SPEC API-2: ROSTER_API_MAX_BYTES, RosterUploadTooLarge, nothing recorded, nothing read.
    settings.ROSTER_API_MAX_BYTES = 1000

    def never():
        raise AssertionError("the body was read")
        yield b""

    with pytest.raises(RosterUploadTooLarge) as refused:
        roster_import_start_rows(batch=batch, chunks=never(), acting_user=account, content_length=1001)
    assert "不能超过" in refused.value.message and "MB" in refused.value.message
    assert isinstance(refused.value, RosterError)
    assert not RosterImport.objects.exists() and folders(media_root) == []


def test_a_stream_that_passes_the_limit_stops_there_and_leaves_nothing(batch, account, settings, media_root):
    settings.ROSTER_API_MAX_BYTES = 100 * 1024  # under INLINE_MAX_BYTES: what passes runs inline
    read = []

    def endless():
        while True:
            read.append(64 * 1024)
            yield b" " * (64 * 1024)

    with pytest.raises(RosterUploadTooLarge):
        roster_import_start_rows(batch=batch, chunks=endless(), acting_user=account, content_length=None)
    assert sum(read) == 2 * 64 * 1024  # stopped at the first chunk past the limit
    assert not RosterImport.objects.exists() and folders(media_root) == []
    # a body exactly at the limit is accepted (and then read as the JSON it is not)
    body = b" " * (100 * 1024 - 2) + b"[]"
    assert post(batch, account, body, content_length=len(body)).status == JobStatus.REFUSED


def test_a_body_that_cannot_be_received_leaves_nothing(batch, account, media_root):
    # A client gone mid-body: the request's own exception comes through, nothing recorded or kept.
    def broken():
        yield b'{"rows": ['
        raise UnreadablePostError("connection reset")

    with pytest.raises(UnreadablePostError):
        roster_import_start_rows(batch=batch, chunks=broken(), acting_user=account)
    assert not RosterImport.objects.exists() and folders(media_root) == []


def test_the_file_path_reports_too_large_with_the_same_exception(batch, account, settings):
    settings.ROSTER_UPLOAD_MAX_BYTES = 100
    with pytest.raises(RosterUploadTooLarge):
        roster_import_start(batch=batch, upload=upload(template_xlsx([row(number=ALICE)])), acting_user=account)
    assert not RosterImport.objects.exists()


@pytest.mark.parametrize("state", [BatchState.IN_REVIEW, BatchState.COMPLETED])
def test_a_roster_locked_by_its_state_refuses_json_rows(account, handbook_year, state):
    batch = make_batch(account, year=handbook_year, state=state, code=IMPORT_CODE)
    with pytest.raises(RosterError) as refused:
        post(batch, account, document([row(number=ALICE)]))
    assert "参保清册不能修改" in refused.value.message
    assert not RosterImport.objects.exists()


# --- large documents: the task, the query count --------------------------------------------------------------


def test_a_large_document_runs_after_commit_as_a_task(batch, account, media_root, django_capture_on_commit_callbacks):
    # SPEC ROS-9: over INLINE_MAX_BYTES, a Celery task started on commit (eager in the tests).
    body = document(many_rows(3000, bad_every=100))
    assert len(body) > importer.INLINE_MAX_BYTES
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        started = post(batch, account, body)
    assert len(callbacks) == 1
    started.refresh_from_db()
    assert started.status == JobStatus.DONE
    assert (started.rows_total, started.rows_done, started.rows_added, started.rows_failed) == (3000, 3000, 2970, 30)
    assert {problem["row"] for problem in started.problems} == set(range(100, 3001, 100))
    assert started.stored_file == "" and folders(media_root) == []


def test_the_query_count_does_not_depend_on_the_number_of_rows(batch, account, handbook_year, monkeypatch, django_assert_max_num_queries):
    # STYLE.md §6: a 2,000-row document costs what a 50-row one does.
    monkeypatch.setattr(importer_service, "INLINE_MAX_BYTES", 10**9)
    small, large = many_rows(50, bad_every=10), many_rows(2000, bad_every=10, birth_year=1970)
    for number in (small[0][2], large[0][2], large[1999][2]):
        suggest(handbook_year.year, number, "建议")
    other = make_batch(UserFactory(username="other-unit"), year=handbook_year, code="0A1B2C", state=BatchState.IN_REVIEW)
    hold(other, large[5][2])
    hold(other, small[5][2])
    with CaptureQueriesContext(connection) as first:
        result = post(batch, account, document(small))
    assert result.rows_added == 44
    with django_assert_max_num_queries(len(first.captured_queries)):
        result = post(batch, account, document(large))
    assert result.rows_added == 1799


# --- hostile input ---------------------------------------------------------------------------------------------


HOSTILE = [
    b"\x00\x01\x02",
    b"\xff\xfe{\x00}\x00",  # UTF-16
    ('{"rows": [' + '{"姓名": "a"},' * 3 + "]}").encode(),  # a trailing comma
    '{"rows": [{"姓名": 1e999, "证件号码": -0.0}]}'.encode(),
    '{"rows": [{"证件号码": 1e308, "姓名": true, "证件类型": false, "是否有社保": 0}]}'.encode(),
    '{"rows": [{"出生日期": 99999999999, "姓名": "x", "证件类型": "非身份证", "证件号码": "AB12", "性别": -1, "是否有社保": "是"}]}'.encode(),
    ('{"rows": [{"姓名": "' + "名" * 10_000 + '", "证件类型": "身份证", "证件号码": "310", "是否有社保": "是"}]}').encode(),
    '{"rows": null, "rows": [{"姓名": "x"}]}'.encode(),
    '{"rows": [{"*姓名": "a", "姓名": {"x": 1}, "证件类型": "身份证", "证件号码": "1", "是否有社保": "否"}]}'.encode(),
    '{"rows": [{"姓名": "a", "证件类型": "身份证", "证件号码": "3101011990010112345678901234567890", "是否有社保": "是"}]}'.encode(),
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_input_ends_done_or_refused_never_failed(batch, account, body):
    result = post(batch, account, body, chunk=7)
    assert result.status in (JobStatus.DONE, JobStatus.REFUSED), (result.status, result.error)
    assert result.error or result.rows_read


# --- the pages show an import of JSON rows ---------------------------------------------------------------------


def test_the_result_page_and_the_history_show_json_rows_without_a_marked_copy(client, batch, account):
    # SPEC ROS-1, X-1, API-2: the log and bad rows by 行号 (position in rows), no marked copy to download.
    result = post(batch, account, document([row("王豆豆", number=ALICE), row("李梅", number=wrong_check(BETTY))]))
    client.login(username=account.username, password="Portal#2026")
    page = client.get(reverse("rosters:roster_import_result", kwargs={"number": batch.number, "import_id": result.pk}))
    assertContains(page, "接口提交的JSON参保名单")
    assertContains(page, "<th scope=\"col\">行号</th>", html=False)
    assertContains(page, "证件号码校验位错误")
    assertNotContains(page, "下载标注错误的名单文件")
    assertNotContains(page, reverse("rosters:roster_import_marked", kwargs={"number": batch.number, "import_id": result.pk}))
    marked = client.get(reverse("rosters:roster_import_marked", kwargs={"number": batch.number, "import_id": result.pk}))
    assert marked.status_code == 404
    history = client.get(reverse("rosters:roster_import", kwargs={"number": batch.number}))
    assertContains(history, "接口提交的JSON参保名单")


def test_json_rows_whose_worker_died_are_run_again_from_the_start_once(batch, account, monkeypatch, settings, django_capture_on_commit_callbacks):
    # SPEC SEC-2: the JSON row source is a job like a file's; the sweep runs it again from the stored rows.
    from mutualaid.jobs import jobs_sweep

    monkeypatch.setattr(importer_service, "INLINE_MAX_BYTES", 0)
    with django_capture_on_commit_callbacks(execute=False):
        started = post(batch, account, document(many_rows(30)))
    left_by_a_dead_worker(started, settings)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == {"requeued": 1, "failed": 0, "scratch_removed": 0}
    ended = RosterImport.objects.get(pk=started.pk)
    assert (ended.status, ended.attempts, ended.rows_added) == (JobStatus.DONE, 2, 30)
    assert RosterEntry.objects.filter(batch=batch).count() == 30
