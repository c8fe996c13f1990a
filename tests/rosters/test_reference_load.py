"""Reference data loads (SPEC REF-1..REF-4, ROS-3, X-2, X-3; issue 5 items 1, 2 and the command):
rosters/reference/, migration rosters/0002 and manage.py load_reference.

They run on SQLite (the generic path) and on PostgreSQL (partitions, COPY, ATTACH/DETACH); the
tests of the partitioned layout skip on SQLite.
"""
import csv
import gzip
import io
import re
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings as hypothesis_settings, strategies as st

from mutualaid.sealed import open_sealed
from mutualaid.pii import pii_decrypt, pii_hash
from mutualaid.identifiers import canonical_id_number
from mutualaid.validators import resident_id_check_character, resident_id_problem
from rosters import reference
from rosters.importer import lookups as importer_lookups
from rosters.reference import kinds, loader, lookup, pool, writer
from rosters.models import PreviousEnrolment, ReferenceLoad, SsUnit, SuggestedPerson, UnionMember
from rosters.errors import RosterError
from rosters.reference import (
    RowProblem,
    SuggestedPersonRow,
    header_name,
    reference_load,
    suggested_people_by_hash,
)
from tests.factories import UserFactory
from tests.rosters.referencefiles import (
    MEMBERS_HEADER,
    PREVIOUS_HEADER,
    SS_UNITS_HEADER,
    SUGGESTED_HEADER,
    suggested_rows,
    write_csv,
)

pytestmark = pytest.mark.django_db

YEAR = 2025
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitions, COPY and ATTACH/DETACH exist on PostgreSQL only"
)

USCC = "91310000132206289R"  # a real code (tests/mutualaid/test_validators.py)
CLEAR_ID = re.compile(r"\d{17}[\dX]")


def resident_id(serial: int, *, birth: str = "19850312", area: str = "310104") -> str:
    """A valid resident ID (SPEC ROS-3); an odd serial is a man."""
    first17 = f"{area}{birth}{serial:03d}"
    return first17 + resident_id_check_character(first17)


def wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


ALICE, BOB, CAROL, DAVE = (resident_id(n) for n in (2, 3, 4, 5))
WITH_X = next(number for number in map(resident_id, range(100, 200)) if number.endswith("X"))
ALL_DIGITS = next(number for number in map(resident_id, range(200, 300)) if number.isdigit())


def write_xlsx(path: Path, header, rows) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(row)
    workbook.save(path)
    return path


def load(kind, path, **kwargs):
    return reference_load(kind=kind, path=path, year=kwargs.pop("year", YEAR), **kwargs)


def table_rows(model, year=YEAR):
    return sorted(model.objects.filter(year=year).values_list(*[f.attname for f in model._meta.concrete_fields if f.attname != "id_cipher"]))


# --- SPEC REF-1: the suggested roster ---------------------------------------------------------------


def test_suggested_roster_good_rows_are_loaded_with_birth_date_sex_and_defaults(tmp_path):
    # SPEC REF-1, ROS-3: birth date and sex come from the ID; 医保享受在职待遇 may be absent (否).
    header = ["证件号码", "社保姓名", "单位社保编码", "职退状态"]
    rows = [[ALICE, "王芳", "00108537", "在职"], [BOB, "张伟", "", "-"], [WITH_X.lower(), "李娜", "00108538", "退休"]]

    result = load("suggested", write_csv(tmp_path / "s.csv", header, rows))

    assert (result.read, result.loaded, result.rejected, result.rejected_path) == (3, 3, 0, None)
    assert result.summary == "读取 3 行，导入 3 行，错误 0 行"
    people = {person.ss_name: person for person in SuggestedPerson.objects.filter(year=YEAR)}
    alice, bob = people["王芳"], people["张伟"]
    assert (alice.id_number, alice.id_hash) == (ALICE, pii_hash(ALICE))
    assert (str(alice.birth_date), alice.sex, alice.work_status, alice.medical_active) == ("1985-03-12", "女", "在职", False)
    assert (bob.sex, bob.ss_unit_code, bob.work_status, bob.personal_ss_number) == ("男", "", "-", "")
    assert (people["李娜"].work_status, people["李娜"].id_number) == ("退休", WITH_X)  # a lower-case x is normalised


def test_suggested_roster_bad_rows_are_rejected_with_line_and_reason_and_the_good_ones_loaded(tmp_path):
    # SPEC REF-1, ROS-3, ROS-4 (the same person twice: the second is the error), X-3.
    rows = [
        [ALICE, "王芳", "00108537", "", "在职", "是"],  # line 2: good
        [wrong_check(BOB), "张伟", "00108537", "", "在职", "是"],  # 3: check character
        [CAROL, "李娜", "00108537", "", "在休", "是"],  # 4: unknown 职退状态
        [ALICE, "王芳二", "00108537", "", "在职", "否"],  # 5: the same ID again
        [DAVE, "", "00108537", "", "在职", "是"],  # 6: no name
        ["3.10104198503121E+17", "赵强", "00108537", "", "在职", "是"],  # 7: Excel made it a number
        [resident_id(7)[:15], "钱七", "00108537", "", "在职", "是"],  # 8: 15 digits
        [resident_id(9), "孙九", "00108537", "", "在职", "也许"],  # 9: 医保 neither 是 nor 否
        ["", "", "", "", "", ""],  # 10: an empty row is no row
        [resident_id(11), "周十一", "0010 8539", "", "-", ""],  # 11: good, the code's space removed
    ]

    result = load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, rows))

    assert (result.read, result.loaded, result.rejected) == (9, 2, 7)
    reasons = {line: reason for line, reason, _raw in result.rejected_rows}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "校验位错误" in reasons[3]
    assert reasons[4].startswith("未知的职退状态“在休”")
    assert "重复" in reasons[5]
    assert reasons[6] == "社保姓名为空"
    assert "Excel" in reasons[7]
    assert "15位" in reasons[8]
    assert "医保享受在职待遇" in reasons[9]
    assert result.rejected_rows[0][2] == (wrong_check(BOB), "张伟", "00108537", "", "在职", "是")
    assert sorted(SuggestedPerson.objects.filter(year=YEAR).values_list("ss_name", "ss_unit_code")) == [
        ("周十一", "00108539"),
        ("王芳", "00108537"),
    ]
    # The full list as CSV for the reviewer (rosters/admin.py serves it).
    # Sealed at rest (SPEC SEC-4): read back through mutualaid.sealed.
    with io.TextIOWrapper(open_sealed(result.rejected_path), encoding="utf-8-sig", newline="") as stream:
        report = list(csv.reader(stream))
    assert report[0] == ["行号", "错误原因", *SUGGESTED_HEADER]
    assert [row[0] for row in report[1:]] == ["3", "4", "5", "6", "7", "8", "9"]
    assert report[1][2] == wrong_check(BOB)


def test_the_rejected_rows_in_memory_are_capped_but_the_report_has_them_all(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "REJECTED_IN_MEMORY", 2)
    rows = [[wrong_check(resident_id(n)), "某", "", "", "在职", ""] for n in range(5)] + suggested_rows(ALICE)

    result = load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, rows))

    assert (result.rejected, len(result.rejected_rows)) == (5, 2)
    assert len(open_sealed(result.rejected_path).read().decode("utf-8-sig").splitlines()) == 1 + 5


def test_a_file_whose_rows_are_all_bad_is_refused_and_the_year_keeps_its_data(tmp_path):
    load("suggested", write_csv(tmp_path / "good.csv", SUGGESTED_HEADER, suggested_rows(ALICE)))
    bad = write_csv(tmp_path / "bad.csv", SUGGESTED_HEADER, [[wrong_check(BOB), "张伟", "", "", "在职", ""]])

    with pytest.raises(RosterError, match="全部有错误.*第2行"):
        load("suggested", bad)

    assert [p.ss_name for p in SuggestedPerson.objects.filter(year=YEAR)] == ["职工0"]


# --- SPEC REF-2, REF-3, REF-4: the other kinds --------------------------------------------------------


def test_ss_unit_codes_good_and_bad_rows(tmp_path):
    # SPEC REF-2: code, unit name, paying headcount (an integer ≥ 0; "120.0" is how Excel saves 120).
    rows = [
        ["00108537", "上海某某机械有限公司", "120"],
        ["00108538", "上海某某商贸有限公司", "35.0"],
        ["", "无编码公司", "3"],  # missing code
        ["00108539", "负数公司", "-1"],
        ["00108537", "重复公司", "7"],  # the same code again
        ["00108540", "", "7"],
    ]

    result = load("ss_units", write_csv(tmp_path / "u.csv", SS_UNITS_HEADER, rows))

    assert (result.read, result.loaded, result.rejected) == (6, 2, 4)
    reasons = dict((line, reason) for line, reason, _ in result.rejected_rows)
    assert reasons == {
        4: "单位社保编码为空",
        5: "社保在职人数应为不小于0的整数",
        6: "单位社保编码：在文件中重复出现（只导入第一次出现的行）",
        7: "单位名称为空",
    }
    assert sorted(SsUnit.objects.filter(year=YEAR).values_list("code", "paying_headcount")) == [
        ("00108537", 120),
        ("00108538", 35),
    ]


def test_union_members_by_enrollment_code_or_uscc(tmp_path):
    # SPEC REF-3: the unit is the enrollment code if given, else the USCC.
    rows = [
        ["09000X", "", "王芳", ALICE],
        ["", USCC, "张伟", BOB],
        ["09000x", USCC, "李娜", CAROL],  # both: the code wins (upper-cased)
        ["", "", "赵强", DAVE],  # no unit
        ["", "91310000132206289A", "钱七", resident_id(7)],  # USCC check character
        ["09000X", "", "王芳", ALICE],  # the same member of the same unit again
        ["0900", "", "孙九", resident_id(9)],  # not a 6-character code
    ]

    result = load("members", write_csv(tmp_path / "m.csv", MEMBERS_HEADER, rows))

    assert (result.read, result.loaded, result.rejected) == (7, 3, 4)
    reasons = dict((line, reason) for line, reason, _ in result.rejected_rows)
    assert reasons[5].startswith("参保编码和统一社会信用代码均为空")
    assert "校验位错误" in reasons[6] and reasons[6].startswith("统一社会信用代码")
    assert "重复" in reasons[7]
    assert "6位" in reasons[8]
    members = sorted(UnionMember.objects.filter(year=YEAR).values_list("unit_key", "name", "id_hash"))
    assert members == sorted([("09000X", "王芳", pii_hash(ALICE)), (USCC, "张伟", pii_hash(BOB)), ("09000X", "李娜", pii_hash(CAROL))])


def test_union_members_file_may_have_only_the_uscc_column_but_not_neither(tmp_path):
    only_uscc = write_csv(tmp_path / "m.csv", ["统一社会信用代码", "姓名", "证件号码"], [[USCC, "王芳", ALICE]])
    assert load("members", only_uscc).loaded == 1

    neither = write_csv(tmp_path / "n.csv", ["姓名", "证件号码"], [["王芳", ALICE]])
    with pytest.raises(RosterError, match="参保编码 或 统一社会信用代码"):
        load("members", neither)


def test_previous_enrolment_with_resident_and_other_ids(tmp_path):
    # SPEC REF-4, ROS-3: 证件类型 defaults to 身份证; 非身份证 numbers are 4–30 letters, digits or "-".
    rows = [
        ["0072J3", "王芳", ALICE, ""],
        ["0072J3", "JOHN SMITH", " e1234５67 ", "非身份证"],  # normalised: E1234567
        ["", "张伟", BOB, "身份证"],  # missing code
        ["0072J3", "李娜", "A1", "非身份证"],  # too short
        ["0072J3", "赵强", CAROL, "护照"],  # unknown type
        ["0072J3", "钱七", wrong_check(DAVE), "身份证"],
    ]

    result = load("previous", write_csv(tmp_path / "p.csv", PREVIOUS_HEADER, rows))

    assert (result.read, result.loaded, result.rejected) == (6, 2, 4)
    reasons = dict((line, reason) for line, reason, _ in result.rejected_rows)
    assert reasons[4] == "参保编码为空"
    assert "4–30位" in reasons[5]
    assert reasons[6] == "证件类型应为“身份证”或“非身份证”"
    assert "校验位错误" in reasons[7]
    people = {p.name: p for p in PreviousEnrolment.objects.filter(year=YEAR)}
    assert (people["王芳"].id_type, people["王芳"].id_number) == ("身份证", ALICE)
    assert (people["JOHN SMITH"].id_type, people["JOHN SMITH"].id_number) == ("非身份证", "E1234567")
    assert people["JOHN SMITH"].id_hash == pii_hash("E1234567")


def test_previous_enrolment_file_without_the_type_column_reads_resident_ids(tmp_path):
    path = write_csv(tmp_path / "p.csv", ["参保编码", "姓名", "证件号码"], [["0072J3", "王芳", ALICE]])
    assert load("previous", path).loaded == 1
    assert PreviousEnrolment.objects.get().id_type == "身份证"


# --- files as a whole (SPEC ROS-2's header rule, ROS-10, X-3) ------------------------------------------


@pytest.mark.parametrize(
    ("kind", "header", "missing"),
    [
        ("suggested", ["证件号码", "社保姓名", "职退状态"], "单位社保编码"),
        ("ss_units", ["单位社保编码", "单位名称"], "社保在职人数"),
        ("members", ["参保编码", "证件号码"], "姓名"),
        ("previous", ["姓名", "证件号码"], "参保编码"),
    ],
)
def test_a_missing_required_column_refuses_the_whole_file_and_changes_nothing(tmp_path, kind, header, missing):
    load("suggested", write_csv(tmp_path / "good.csv", SUGGESTED_HEADER, suggested_rows(ALICE)))
    path = write_csv(tmp_path / "f.csv", header, [["x"] * len(header)])

    with pytest.raises(RosterError, match=f"缺少必需的列：.*{missing}") as refused:
        load(kind, path)

    assert "第1行应为标题行" in refused.value.message
    assert SuggestedPerson.objects.filter(year=YEAR).count() == 1


def test_columns_are_found_by_name_in_any_order_and_extra_columns_are_ignored(tmp_path):
    header = ["备注", "职退状态", "*社保姓名", "证件号码（18位）", "单位社保编码 (可空)"]
    path = write_csv(tmp_path / "s.csv", header, [["随便", "在职", "王芳", ALICE, "00108537"]])

    assert load("suggested", path).loaded == 1
    person = SuggestedPerson.objects.get()
    assert (person.ss_name, person.ss_unit_code, person.id_number) == ("王芳", "00108537", ALICE)


def test_header_names_are_read_like_the_roster_template():
    assert header_name("*证件号码") == header_name(" 证件号码 (必填)") == header_name("\ufeff证件号码（18位）") == "证件号码"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "文件是空的"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00", "请上传 CSV"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "旧版 Excel"),
        (b"\xff\xfe" + "证件号码".encode("utf-16-le"), "UTF-16"),
        (b"PK\x03\x04 not really a workbook", "无法读取该 Excel 文件"),
        (b"\x1f\x8b\x08 broken gzip", "压缩文件已损坏"),
        ("证件号码,社保姓名,单位社保编码,职退状态\n".encode(), "没有数据行"),
    ],
)
def test_a_file_that_is_no_readable_table_is_refused_with_a_chinese_message(tmp_path, content, message):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)

    with pytest.raises(RosterError, match=message):
        load("suggested", path)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_in_utf8_with_or_without_bom_and_in_gb18030(tmp_path, encoding):
    path = write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, [[ALICE, "王芳·𠮷", "", "", "在职", "否"]], encoding=encoding)

    assert load("suggested", path).loaded == 1
    assert SuggestedPerson.objects.get().ss_name == "王芳·𠮷"


def test_gzip_compressed_csv_with_windows_line_ends(tmp_path):
    text = "证件号码,社保姓名,单位社保编码,职退状态\r\n" + f"{ALICE},王芳,00108537,在职\r\n{BOB},张伟,,-\r\n"
    path = tmp_path / "s.csv.gz"
    path.write_bytes(gzip.compress(text.encode("gb18030")))
    totals = []

    result = load("suggested", path, progress=lambda done, total: totals.append((done, total)))

    assert (result.read, result.loaded) == (2, 2)
    assert totals[0] == (0, None)  # a compressed file's length is unknown until read
    assert sorted(SuggestedPerson.objects.values_list("ss_name", flat=True)) == ["张伟", "王芳"]


def test_xlsx_rows_with_numbers_typed_by_excel(tmp_path):
    # SPEC ROS-3: an ID typed as a number is a float in the file: reported, not guessed.
    rows = [
        [ALICE, "王芳", "00108537", "SB1", "在职", "是"],
        [float(ALL_DIGITS), "张伟", 108537, None, "在职", "否"],
        [CAROL, "李娜", None, None, "-", None],
    ]
    path = write_xlsx(tmp_path / "s.xlsx", SUGGESTED_HEADER, rows)
    totals = []

    result = load("suggested", path, progress=lambda done, total: totals.append((done, total)))

    assert (result.read, result.loaded, result.rejected) == (3, 2, 1)
    line, reason, raw = result.rejected_rows[0]
    assert line == 3 and "Excel" in reason and raw[0].endswith("e+17")
    assert totals[0] == (0, 3)
    assert sorted(SuggestedPerson.objects.values_list("ss_name", "ss_unit_code")) == [("李娜", ""), ("王芳", "00108537")]


def test_xlsx_header_may_start_below_the_first_row_and_lines_are_the_sheet_s_rows(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append([])  # row 1 empty
    sheet.append([None, *SUGGESTED_HEADER])  # row 2, from column B
    sheet.append([None, ALICE, "王芳", "", "", "在职", ""])
    sheet.append([None, wrong_check(BOB), "张伟", "", "", "在职", ""])  # row 4
    workbook.save(tmp_path / "s.xlsx")

    result = load("suggested", tmp_path / "s.xlsx")

    assert (result.loaded, [line for line, _reason, _raw in result.rejected_rows]) == (1, [4])


def test_a_quoted_value_with_a_line_break_stays_in_its_row_and_the_line_numbers_stay_right(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "CHUNK_ROWS", 2)
    text = (
        "证件号码,社保姓名,单位社保编码,职退状态\n"
        f'{ALICE},"王\n芳",00108537,在职\n'  # lines 2-3: the name holds a line break
        f"{wrong_check(BOB)},张伟,,-\n"  # line 4
        f'{CAROL},"李\\娜\t",,-\n'  # line 5: a backslash and a tab (COPY escapes)
        f"{wrong_check(DAVE)},赵强,,-\n"  # line 6
    )
    path = tmp_path / "s.csv"
    path.write_text(text, "utf-8")

    result = load("suggested", path)

    assert [line for line, _reason, _raw in result.rejected_rows] == [4, 6]
    assert sorted(SuggestedPerson.objects.values_list("ss_name", flat=True)) == ["李\\娜", "王 芳"]


# --- replacing a year: idempotent, all or nothing -------------------------------------------------------


def test_a_reload_replaces_the_year_and_loading_the_same_file_again_changes_nothing(tmp_path):
    first = write_csv(tmp_path / "a.csv", SUGGESTED_HEADER, suggested_rows(ALICE, BOB, CAROL))
    second = write_csv(tmp_path / "b.csv", SUGGESTED_HEADER, suggested_rows(DAVE, BOB))
    other_year = load("suggested", first, year=YEAR - 1)
    load("suggested", first)

    load("suggested", second)
    after_once = table_rows(SuggestedPerson)
    load("suggested", second)

    assert other_year.loaded == 3 and SuggestedPerson.objects.filter(year=YEAR - 1).count() == 3
    assert {row[1] for row in after_once} == {pii_hash(DAVE), pii_hash(BOB)}
    assert table_rows(SuggestedPerson) == after_once  # the same rows (ciphers differ: fresh nonces)


@pytest.mark.parametrize("failure", ["error", "database"])
def test_a_load_that_fails_half_way_keeps_the_previous_data(tmp_path, monkeypatch, media_root, failure):
    # "error": the process fails after some rows are written; "database": the database refuses a
    # chunk written twice (SQLite at once, PostgreSQL when the primary key is built).
    load("suggested", write_csv(tmp_path / "a.csv", SUGGESTED_HEADER, suggested_rows(ALICE, BOB)))
    before = table_rows(SuggestedPerson)
    numbers = [resident_id(n) for n in range(10, 20)]
    rows = [[wrong_check(CAROL), "坏", "", "", "在职", ""]] + suggested_rows(*numbers)
    path = write_csv(tmp_path / "b.csv", SUGGESTED_HEADER, rows)
    monkeypatch.setattr(pool, "CHUNK_ROWS", 2)
    written = []
    real_write = loader._chunk_write

    def write_then_fail(writer, payload):
        if written and failure == "error":
            raise OSError("disk full (test)")
        real_write(writer, written[0] if written else payload)
        written.append(payload)

    monkeypatch.setattr(loader, "_chunk_write", write_then_fail)

    with pytest.raises(OSError if failure == "error" else IntegrityError):
        load("suggested", path)

    assert written  # some rows had been written when it failed
    assert table_rows(SuggestedPerson) == before
    assert not list((Path(media_root) / writer.REJECTED_DIR).glob("*.csv"))  # no report of a failed load
    if connection.vendor == "postgresql":
        assert _tables_like("rosters_suggestedperson_load_%") == []
    monkeypatch.setattr(loader, "_chunk_write", real_write)  # and the next load runs (the lock is free)
    assert load("suggested", write_csv(tmp_path / "c.csv", SUGGESTED_HEADER, suggested_rows(DAVE))).loaded == 1


def test_ids_are_never_stored_in_clear(tmp_path):
    # ARCHITECTURE.md "Data rules": hash and cipher only; the mask is computed when shown.
    load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(ALICE, BOB)))
    load("members", write_csv(tmp_path / "m.csv", MEMBERS_HEADER, [["09000X", "", "王芳", ALICE]]))
    load("previous", write_csv(tmp_path / "p.csv", PREVIOUS_HEADER, [["0072J3", "张伟", BOB, ""]]))
    load("ss_units", write_csv(tmp_path / "u.csv", SS_UNITS_HEADER, [["00108537", "某公司", "3"]]))

    for model in (SuggestedPerson, UnionMember, PreviousEnrolment, SsUnit):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")
            values = [str(value) for row in cursor.fetchall() for value in row]
        assert values, model
        assert not [value for value in values if CLEAR_ID.search(value)], model
    assert pii_decrypt(UnionMember.objects.get().id_cipher) == ALICE


# --- the fast paths agree with the reference functions ------------------------------------------------


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    base=st.integers(min_value=0, max_value=10**6),
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from("0123456789Xx ０-"),
)
def test_the_fast_id_check_agrees_with_resident_id_problem(base, position, replacement):
    # SPEC ROS-3: valid IDs (some with birth dates outside the fast path's table) and one-character changes.
    birth = ["19850312", "18991231", "21000101", "20000229", "19990229"][base % 5]
    valid = resident_id(base % 1000, birth=birth)
    changed = valid[:position] + replacement + valid[position + 1 :]
    for value in (valid, changed, valid.lower()):
        number = canonical_id_number(value).value
        try:
            accepted = kinds._resident_number(value) == number
        except RowProblem:
            accepted = False
        assert accepted == (bool(number) and resident_id_problem(number) is None), value


def test_every_kind_has_a_spec_whose_columns_are_the_model_s():
    for kind, spec in reference.SPECS.items():
        columns = [f.column for f in spec.model._meta.concrete_fields]
        assert ["year", *spec.columns] == columns, kind
    # The look-up's row: every field but the cipher, which its covering key leaves out (migration 0010).
    assert list(SuggestedPersonRow._fields) == [
        f.attname for f in SuggestedPerson._meta.concrete_fields if f.attname != "id_cipher"
    ]


# --- the look-up helper (for the roster rules, VAL) ---------------------------------------------------


def test_suggested_people_are_found_by_hash_in_one_query(tmp_path, django_assert_num_queries):
    load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(ALICE, BOB, CAROL)))
    load("suggested", write_csv(tmp_path / "t.csv", SUGGESTED_HEADER, suggested_rows(DAVE)), year=YEAR + 1)
    not_a_hash = "'},{" + pii_hash(BOB)  # never reaches the query
    wanted = [pii_hash(ALICE), pii_hash(CAROL), pii_hash(DAVE), pii_hash("not in the roster"), pii_hash(ALICE), not_a_hash]

    with django_assert_num_queries(1):
        found = suggested_people_by_hash(year=YEAR, id_hashes=wanted)

    assert set(found) == {pii_hash(ALICE), pii_hash(CAROL)}  # DAVE is in the other year only
    alice = found[pii_hash(ALICE)]
    assert (alice.ss_name, alice.work_status, alice.medical_active, alice.sex) == ("职工0", "在职", True, "女")
    assert (str(alice.birth_date), alice.ss_unit_code, alice.personal_ss_number) == ("1985-03-12", "00108537", "SB0000")
    assert not hasattr(alice, "id_cipher")  # a page that shows the ID reads SuggestedPerson (migration 0010)
    assert suggested_people_by_hash(year=YEAR, id_hashes=[]) == {}


def test_the_look_up_drops_values_that_are_no_hash_and_finds_the_others(tmp_path):
    # The usual case (all hashes) is checked in bulk, anything else value by value: both must agree.
    load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(ALICE, BOB, CAROL)))
    alice, bob, carol = pii_hash(ALICE), pii_hash(BOB), pii_hash(CAROL)
    odd = [
        bob.upper(),  # not what pii_hash writes
        bob[:63],
        bob + "0",
        bob[:10] + "," + bob[11:],  # 64 characters, one of them a comma: never splits the array
        bob[:10] + "}" + bob[11:],
        "é" * 64,
        None,
        12345,
    ]

    assert lookup._distinct_hashes([carol, alice, carol]) == sorted([alice, carol])
    assert lookup._distinct_hashes([carol, *odd, alice, carol]) == sorted([alice, carol])
    assert set(suggested_people_by_hash(year=YEAR, id_hashes=[carol, *odd, alice])) == {alice, carol}
    assert suggested_people_by_hash(year=YEAR, id_hashes=odd) == {}


# --- PostgreSQL: partitions, COPY, the swap -------------------------------------------------------------


def _tables_like(pattern: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE %s AND relkind IN ('r', 'p') ORDER BY 1", [pattern])
        return [row[0] for row in cursor.fetchall()]


def _partitions(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT child.relname, pg_get_expr(child.relpartbound, child.oid) FROM pg_inherits
               JOIN pg_class child ON child.oid = inhrelid WHERE inhparent = %s::regclass""",
            [table],
        )
        return dict(cursor.fetchall())


@on_postgres
def test_the_four_tables_are_partitioned_by_year_with_a_default_partition():
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, pg_get_partkeydef(c.oid) FROM pg_partitioned_table p
               JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname LIKE 'rosters_%%' ORDER BY 1"""
        )
        partitioned = dict(cursor.fetchall())
    tables = [m._meta.db_table for m in (PreviousEnrolment, SsUnit, SuggestedPerson, UnionMember)]
    assert partitioned == {table: "LIST (year)" for table in tables}
    for table in tables:
        assert _partitions(table) == {f"{table}_default": "DEFAULT"}


@on_postgres
def test_a_load_attaches_the_year_s_partition_with_the_parent_s_indexes(tmp_path):
    path = write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(ALICE, BOB))
    load("suggested", path)
    load("suggested", path)  # the second load swaps the first one's partition out

    assert _partitions("rosters_suggestedperson") == {
        "rosters_suggestedperson_default": "DEFAULT",
        "rosters_suggestedperson_y2025": "FOR VALUES IN ('2025')",
    }
    with connection.cursor() as cursor:
        # Every index of the partition is attached to one of the parent's (ATTACH built none).
        cursor.execute(
            """SELECT index.relname, parent.relname FROM pg_index i
               JOIN pg_class index ON index.oid = i.indexrelid
               LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid
               LEFT JOIN pg_class parent ON parent.oid = inh.inhparent
               WHERE i.indrelid = 'rosters_suggestedperson_y2025'::regclass ORDER BY 1"""
        )
        assert cursor.fetchall() == [
            ("rosters_suggestedperson_y2025_pkey", "rosters_suggestedperson_pkey"),
            ("rosters_suggestedperson_y2025_suggested_year_unit", "suggested_year_unit"),
        ]
    assert _tables_like("rosters_suggestedperson_load_%") == []
    assert SuggestedPerson.objects.filter(year=YEAR).count() == 2


def _collation(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT coll.collname FROM pg_attribute attribute
               JOIN pg_collation coll ON coll.oid = attribute.attcollation
               WHERE attribute.attrelid = %s::regclass AND attribute.attname = %s""",
            [table, column],
        )
        return cursor.fetchone()[0]


@on_postgres
def test_the_suggested_roster_s_indexes_are_shaped_for_the_look_up_and_the_load_on_every_partition(tmp_path):
    # Migrations 0005 and 0010 (issue 5's goals): the key INCLUDEs every column a look-up returns
    # (all but the cipher), for an Index Only Scan; it and the unit index lead with a column in
    # "C", whose abbreviated keys make the loader's sorts fast. The loader builds each partition's
    # indexes the same way.
    load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(ALICE, BOB)))
    returned = [name for name in SuggestedPersonRow._fields if name not in ("year", "id_hash")]
    assert "id_cipher" not in returned
    # The roster import's own look-up reads no more than the key holds (an Index Only Scan too).
    assert set(importer_lookups._SuggestedRow._fields) <= {"id_hash", *returned}

    for table in ("rosters_suggestedperson", "rosters_suggestedperson_y2025"):
        with connection.cursor() as cursor:
            indexes = [(index.primary, index.key, index.included) for index in writer._parent_indexes(cursor, table)]
        assert indexes == [(True, ["id_hash", "year"], returned), (False, ["ss_unit_code", "year"], [])], table
        assert (_collation(table, "id_hash"), _collation(table, "ss_unit_code")) == ("C", "C"), table
    with connection.cursor() as cursor:  # the other kinds' indexes are the model's
        for model in (SsUnit, UnionMember, PreviousEnrolment):
            meta = model._meta
            expected = [([field.column for field in meta.pk_fields], [])] + sorted(
                ([meta.get_field(name).column for name in index.fields], []) for index in meta.indexes
            )
            found = [(index.key, index.included) for index in writer._parent_indexes(cursor, meta.db_table)]
            assert found[0] == expected[0] and sorted(found[1:]) == expected[1:], model
    # Hex and codes compare alike in "C" and in the default collation, and the two meet without a conflict.
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM rosters_suggestedperson person
               JOIN (VALUES (%s::varchar, '00108537'::varchar), (%s::varchar, '00108537'::varchar)) AS wanted (id_hash, code)
                 ON wanted.id_hash = person.id_hash AND wanted.code = person.ss_unit_code
               WHERE person.year = %s""",
            [pii_hash(ALICE), pii_hash(CAROL), YEAR],
        )
        assert cursor.fetchone()[0] == 1
    assert [p.id_hash for p in SuggestedPerson.objects.filter(year=YEAR).order_by("id_hash")] == sorted(
        [pii_hash(ALICE), pii_hash(BOB)]
    )


@on_postgres
def test_a_look_up_by_unit_can_use_the_unit_index(tmp_path):
    # Migration 0010 put the column, not only the index, in "C": an index in another collation than
    # the query's comparison would not serve it.
    rows = [[resident_id(n), f"职工{n}", f"0010{n % 40:04d}", "", "在职", "是"] for n in range(400)]
    load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, rows))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # 400 rows: a scan would win otherwise
        plan = SuggestedPerson.objects.filter(year=YEAR, ss_unit_code="00100007").values("ss_name").explain()

    assert "rosters_suggestedperson_y2025_suggested_year_unit" in plan, plan
    assert "Index Cond: (((ss_unit_code)::text = '00100007'::text) AND (year = 2025))" in plan, plan
    assert SuggestedPerson.objects.filter(year=YEAR, ss_unit_code="00100007").count() == 10


def _look_up_plan(*, year: int, wanted: list[str]) -> str:
    """EXPLAIN ANALYZE of the very statement suggested_people_by_hash sends (Django logs it with $1,
    $2 where the year and the array go)."""
    with CaptureQueriesContext(connection) as queries:
        found = suggested_people_by_hash(year=year, id_hashes=wanted)
    assert len(found) == len(set(wanted))
    statement = queries.captured_queries[0]["sql"].replace("$1", "%s").replace("$2", "%s")
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + statement, [year, "{" + ",".join(sorted(wanted)) + "}"]
        )
        return "\n".join(row[0] for row in cursor.fetchall())


def _all_visible(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = %s", [table])
        pages, all_visible = cursor.fetchone()
    return pages > 1 and all_visible == pages


@on_postgres
def test_a_load_lets_look_ups_read_no_heap_page(tmp_path):
    # COPY FREEZE into the staging table created in the same transaction (here: savepoint) writes
    # the rows all-visible, so the look-up is an Index Only Scan of the covering key that fetches
    # nothing from the heap, without a VACUUM (which cannot run inside a transaction anyway).
    numbers = [resident_id(serial, birth=f"19{70 + serial % 20}0312") for serial in range(1000)]
    load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(*numbers)))
    partition = f"rosters_suggestedperson_y{YEAR}"

    plan = _look_up_plan(year=YEAR, wanted=[pii_hash(number) for number in numbers[::10]])

    assert _all_visible(partition)
    assert f"Index Only Scan using {partition}_pkey" in plan, plan
    assert "Heap Fetches: 0" in plan, plan


# Outside a transaction (the upload task, the command): the loader fills the staging table on a
# second connection and builds the indexes on both connections at once. These tests commit, so
# they use a year of their own and drop its partitions after.
OUTSIDE_YEAR = 2031


@pytest.fixture
def outside_a_transaction(transactional_db):
    yield
    with connection.cursor() as cursor:
        for model in (SuggestedPerson, SsUnit, UnionMember, PreviousEnrolment):
            for suffix in ("y", "load_"):
                cursor.execute(f"DROP TABLE IF EXISTS {model._meta.db_table}_{suffix}{OUTSIDE_YEAR}")


def _backends() -> dict[int, tuple[str, str]]:
    """pid → (state, query) of the other client sessions on the test database. Sessions of other
    tests in the same run (a live server's, a worker's) may be there too: compare with a snapshot."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT pid, state, query FROM pg_stat_activity
               WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()"""
        )
        return {pid: (state, query) for pid, state, query in cursor.fetchall()}


def _new_backends(before: dict) -> dict[int, tuple[str, str]]:
    return {pid: session for pid, session in _backends().items() if pid not in before}


@on_postgres
def test_outside_a_transaction_the_load_fills_on_a_second_connection_and_builds_the_indexes_side_by_side(
    tmp_path, monkeypatch, caplog, outside_a_transaction
):
    sessions = _backends()
    numbers = [resident_id(serial, birth=f"19{70 + serial % 20}0312") for serial in range(1000)]
    path = write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(*numbers))
    monkeypatch.setattr(pool, "CHUNK_ROWS", 200)
    record = ReferenceLoad.objects.create(kind="suggested", year=OUTSIDE_YEAR, file_name="s.csv")
    observer = connection.copy()  # another session, as the progress page's
    seen = []

    def progress(done, total):
        # The caller's connection is free: what it writes is committed, and others see it at once.
        ReferenceLoad.objects.filter(pk=record.pk).update(rows_read=done)
        with observer.cursor() as cursor:
            cursor.execute("SELECT rows_read FROM rosters_referenceload WHERE id = %s", [record.pk])
            seen.append(cursor.fetchone()[0])

    try:
        with caplog.at_level("INFO", logger="rosters.reference"):
            result = load("suggested", path, year=OUTSIDE_YEAR, progress=progress)
    finally:
        observer.close()

    assert result.loaded == 1000
    # Another session saw the progress during the load (chunks of about 200 rows).
    assert len([value for value in seen if 0 < value < 1000]) >= 3 and seen == sorted(seen)
    assert "side by side" in caplog.text
    partition = f"rosters_suggestedperson_y{OUTSIDE_YEAR}"
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT index.relname, parent.relname, constraint_.contype FROM pg_index i
               JOIN pg_class index ON index.oid = i.indexrelid
               JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid
               JOIN pg_class parent ON parent.oid = inh.inhparent
               LEFT JOIN pg_constraint constraint_ ON constraint_.conindid = i.indexrelid
               WHERE i.indrelid = %s::regclass ORDER BY 1""",
            [partition],
        )
        assert cursor.fetchall() == [
            (f"{partition}_pkey", "rosters_suggestedperson_pkey", "p"),
            (f"{partition}_suggested_year_unit", "suggested_year_unit", None),
        ]
    assert _tables_like("rosters_suggestedperson_load_%") == []
    assert _all_visible(partition)
    plan = _look_up_plan(year=OUTSIDE_YEAR, wanted=[pii_hash(number) for number in numbers[::10]])
    assert f"Index Only Scan using {partition}_pkey" in plan and "Heap Fetches: 0" in plan, plan
    assert _new_backends(sessions) == {}  # the loader's second connection is closed


@on_postgres
@pytest.mark.parametrize("failure", ["filling", "key"])
def test_outside_a_transaction_a_failed_load_keeps_the_previous_data_and_leaves_nothing_behind(
    tmp_path, monkeypatch, media_root, failure, outside_a_transaction
):
    # "filling": the process fails while COPYing on the second connection (its transaction rolls
    # back, the staging table with it); "key": a chunk written twice makes the primary key fail
    # while the other index is built on the second connection (cancelled, then the table dropped).
    sessions = _backends()
    load("suggested", write_csv(tmp_path / "a.csv", SUGGESTED_HEADER, suggested_rows(ALICE, BOB)), year=OUTSIDE_YEAR)
    before = table_rows(SuggestedPerson, year=OUTSIDE_YEAR)
    path = write_csv(tmp_path / "b.csv", SUGGESTED_HEADER, suggested_rows(*[resident_id(n) for n in range(10, 20)]))
    monkeypatch.setattr(pool, "CHUNK_ROWS", 2)
    written = []
    real_write = loader._chunk_write

    def write_then_fail(writer, payload):
        if written and failure == "filling":
            raise OSError("disk full (test)")
        real_write(writer, written[0] if written else payload)
        written.append(payload)

    monkeypatch.setattr(loader, "_chunk_write", write_then_fail)

    with pytest.raises(OSError if failure == "filling" else IntegrityError):
        load("suggested", path, year=OUTSIDE_YEAR)

    assert written
    assert table_rows(SuggestedPerson, year=OUTSIDE_YEAR) == before
    assert _tables_like("rosters_suggestedperson_load_%") == []
    assert _new_backends(sessions) == {}  # no second connection left, in a transaction or idle
    monkeypatch.setattr(loader, "_chunk_write", real_write)  # and the next load runs (the lock is free)
    assert load("suggested", write_csv(tmp_path / "c.csv", SUGGESTED_HEADER, suggested_rows(DAVE)), year=OUTSIDE_YEAR).loaded == 1


@on_postgres
def test_rows_of_the_year_in_the_default_partition_are_replaced_by_a_load(tmp_path):
    SuggestedPerson(year=YEAR, id_number=CAROL, ss_name="旧", work_status="在职", birth_date="1985-03-12", sex="女").save(
        force_insert=True
    )

    load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(ALICE)))

    assert list(SuggestedPerson.objects.filter(year=YEAR).values_list("ss_name", flat=True)) == ["职工0"]


@on_postgres
def test_a_second_load_of_the_same_kind_and_year_waits_its_turn(tmp_path):
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [writer.ADVISORY_LOCK_CLASS, YEAR * 8 + 0])
        with pytest.raises(RosterError, match="正在导入"):
            load("suggested", write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(ALICE)))
        assert load("ss_units", write_csv(tmp_path / "u.csv", SS_UNITS_HEADER, [["001", "某", "1"]])).loaded == 1
    finally:
        other.close()


@on_postgres
def test_large_files_are_prepared_by_a_pool_of_processes_with_the_same_result(tmp_path, monkeypatch):
    numbers = [resident_id(n, birth=f"19{60 + n // 365 % 40}0101") for n in range(300)]
    rows = suggested_rows(*numbers) + [[wrong_check(ALICE), "坏", "", "", "在职", ""], suggested_rows(numbers[5])[0]]
    path = write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, rows)
    monkeypatch.setattr(pool, "CHUNK_ROWS", 40)
    single = load("suggested", path)
    single_rows = table_rows(SuggestedPerson)
    monkeypatch.setattr(loader, "POOL_MIN_BYTES", 0)
    pools = []
    real_chunks = loader._prepared_chunks
    monkeypatch.setattr(
        loader, "_prepared_chunks", lambda *a, use_pool: pools.append(use_pool) or real_chunks(*a, use_pool=use_pool)
    )

    pooled = load("suggested", path)

    assert pools == [True]
    assert (pooled.read, pooled.loaded, pooled.rejected) == (single.read, single.loaded, single.rejected) == (302, 300, 2)
    assert [row[:2] for row in pooled.rejected_rows] == [row[:2] for row in single.rejected_rows]
    assert table_rows(SuggestedPerson) == single_rows


# --- manage.py load_reference and the audit trail (SPEC X-2) --------------------------------------------


def test_load_reference_command_prints_the_summary_and_records_the_load(tmp_path, media_root):
    reviewer = UserFactory(username="reviewer01", role="reviewer")
    rows = suggested_rows(ALICE, BOB) + [[wrong_check(CAROL), "坏", "", "", "在职", ""]]
    path = write_csv(tmp_path / "建议清册.csv", SUGGESTED_HEADER, rows)
    out = io.StringIO()

    call_command("load_reference", "suggested", str(path), "--year", str(YEAR), "--user", "reviewer01", stdout=out)

    output = out.getvalue()
    assert "读取 3 行，导入 2 行，错误 1 行" in output
    record = ReferenceLoad.objects.get()
    assert f"错误行清单（已加密保存，请在后台该导入记录页下载）：{Path(media_root) / record.rejected_report}" in output
    assert (record.kind, record.year, record.file_name, record.status) == ("suggested", YEAR, "建议清册.csv", "done")
    assert (record.rows_read, record.rows_loaded, record.rows_rejected, record.started_by) == (3, 2, 1, reviewer)
    assert record.rejected_report.startswith("private/reference/rejected/")
    # One audit event carries the counts (the bulk rows themselves are not tracked).
    update = LogEntry.objects.get(
        content_type=ContentType.objects.get_for_model(ReferenceLoad), object_pk=str(record.pk), action=LogEntry.Action.UPDATE
    )
    assert update.actor == reviewer
    assert update.changes_dict["rows_loaded"] == ["0", "2"] and update.changes_dict["status"][1] == "done"
    assert not LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(SuggestedPerson)).exists()


def test_load_reference_command_refuses_a_bad_file_with_the_message_and_records_the_failure(tmp_path):
    path = write_csv(tmp_path / "u.csv", ["单位社保编码"], [["001"]])

    with pytest.raises(CommandError, match="缺少必需的列：单位名称、社保在职人数"):
        call_command("load_reference", "ss_units", str(path), "--year", str(YEAR), stdout=io.StringIO())

    record = ReferenceLoad.objects.get()
    assert (record.status, record.rows_loaded) == ("failed", 0) and "缺少必需的列" in record.error


def test_load_reference_command_reports_progress_on_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "CHUNK_ROWS", 2)
    numbers = [resident_id(n) for n in range(30, 36)]
    path = write_csv(tmp_path / "s.csv", SUGGESTED_HEADER, suggested_rows(*numbers))

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    call_command("load_reference", "suggested", str(path), "--year", str(YEAR), stdout=out)

    bars = [part for part in out.getvalue().split("\r") if part.startswith("[")]
    assert len(bars) >= 3
    assert "6/6 行" in bars[-1] and "100%" in bars[-1] and "行/秒" in bars[-1]
    assert "读取 6 行，导入 6 行，错误 0 行" in out.getvalue()
