"""The roster import pipeline (rosters/importer/): SPEC ROS-1…ROS-12, X-1, X-2, one file per case."""
import datetime as dt
from unittest import mock

import pytest
import time_machine
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from enrollment.models import Batch, BatchState
from mutualaid.pii import pii_hash
from rosters import importer
from rosters.importer import lookups as importer_lookups, reading as importer_reading, rows as importer_rows, service as importer_service
from rosters.errors import RosterError
from rosters.importer import (
    EXCEL_NUMBER,
    problem_message,
    roster_import_members,
    roster_import_previous,
    roster_import_run,
    roster_import_start,
    roster_imports_purge,
    stored_path,
)
from rosters.models import RosterEntry, RosterImport
from rosters.workbooks import TEMPLATE_HEADER
from tests.factories import IMPORT_CODE, USCC, UserFactory, make_batch
from tests.rosters.importfiles import (
    encrypted_office,
    hold,
    left_by_a_dead_worker,
    many_rows,
    ods_file,
    member,
    previous,
    resident_id,
    row,
    suggest,
    template_xlsx,
    upload,
    with_macros,
    wrong_check,
    xls_with_macros,
    zip_bomb,
    zip_declaring,
)
from mutualaid.jobs import JobStatus

pytestmark = pytest.mark.django_db

ALICE = resident_id("19900101", 101)  # male
BETTY = resident_id("19850615", 202)  # female
CAROL = resident_id("19780320", 303)


@pytest.fixture
def year(handbook_year):
    return handbook_year


@pytest.fixture
def account(db):
    return UserFactory(username="cf-unit", first_name="丁一")


@pytest.fixture
def batch(account, year):
    return make_batch(account, year=year, code=IMPORT_CODE)


def import_rows(batch, account, rows, **options) -> RosterImport:
    return roster_import_start(batch=batch, upload=upload(template_xlsx(rows, **options)), acting_user=account)


def entries(batch):
    return {entry.id_number: entry for entry in RosterEntry.objects.filter(batch=batch)}


# --- good rows -----------------------------------------------------------------------------------------


def test_good_rows_are_imported_with_the_handbook_summary(batch, account):
    # SPEC ROS-1, ROS-3: 身份证 rows get birth date and sex from the number; 非身份证 rows bring theirs.
    result = import_rows(
        batch,
        account,
        [
            row("王豆豆", "身份证", ALICE, insured="是"),
            row("李梅", "身份证", BETTY, mobile="13912345678", insured="否"),
            row("JOHN SMITH", "非身份证", "e1234567", "1998-12-09", "男", insured="是"),
        ],
    )
    assert result.status == JobStatus.DONE
    assert result.summary == (
        "-----处理完成 数据读取：3人，成功导入：3条信息（新增加3人，修改0人），导入失败：0条信息。-----"
    )
    people = entries(batch)
    assert set(people) == {ALICE, BETTY, "E1234567"}
    assert (people[ALICE].birth_date, people[ALICE].sex) == (dt.date(1990, 1, 1), "男")
    assert (people[BETTY].birth_date, people[BETTY].sex, people[BETTY].mobile) == (dt.date(1985, 6, 15), "女", "13912345678")
    assert (people["E1234567"].id_type, people["E1234567"].birth_date, people["E1234567"].sex) == ("非身份证", dt.date(1998, 12, 9), "男")
    assert people[ALICE].id_hash == pii_hash(ALICE)
    batch.refresh_from_db()
    assert batch.roster_version == 1  # people were added: a validation result is now stale


def test_an_import_is_audited_as_one_event_with_its_counts(batch, account):
    # SPEC X-2: a bulk operation is one audit event on the batch with its counts.
    before = LogEntry.objects.get_for_object(batch).count()
    import_rows(batch, account, [row("王豆豆", number=ALICE), row("李梅", number=wrong_check(BETTY))])
    events = LogEntry.objects.get_for_object(batch).order_by("pk")
    assert events.count() == before + 1
    event = events.last()
    assert event.actor == account
    action, counts = event.changes_dict["参保清册"]
    assert action == "导入参保人员（上传本地参保名单文件）"
    assert counts == "read=2, added=1, updated=0, failed=1"


def test_ids_are_stored_hashed_and_encrypted_never_in_clear(batch, account):
    import_rows(batch, account, [row(number=ALICE)])
    stored = RosterEntry.objects.filter(batch=batch).values_list("id_hash", "id_cipher").get()
    assert ALICE not in stored[0] and ALICE not in stored[1]


ENDS_IN_X = next(n for n in (resident_id("19900101", sequence) for sequence in range(100, 300)) if n[-1] == "X")


@pytest.mark.parametrize(
    "typed",
    [
        "".join(chr(ord(c) + 0xFEE0) for c in ENDS_IN_X),  # full-width
        ENDS_IN_X.lower(),
        f" {ENDS_IN_X[:6]} {ENDS_IN_X[6:14]}\u3000{ENDS_IN_X[14:]} ",
        "'" + ENDS_IN_X,  # Excel's text mark, pasted as a character
    ],
)
def test_id_numbers_are_normalised(batch, account, typed):
    # SPEC ROS-3: lower-case x, spaces and full-width characters are normalised.
    result = import_rows(batch, account, [row(number=typed)])
    assert result.rows_imported == 1, result.problems
    assert set(entries(batch)) == {ENDS_IN_X}


@pytest.mark.parametrize(
    "typed",
    ["1990-01-01", "1990/1/1", "19900101", "1990.01.01", "1990年1月1日", "１９９０－０１－０１", "DATE", "SERIAL", "1990-01-01 00:00:00"],
)
def test_birth_dates_in_common_forms(batch, account, typed):
    # SPEC ROS-3 (非身份证 needs a birth date): Excel dates and the usual ways of writing one.
    value = {"DATE": dt.datetime(1990, 1, 1), "SERIAL": 32874}.get(typed, typed)
    result = import_rows(batch, account, [row("TANAKA", "非身份证", "TK-1234", value, "女")])
    assert result.rows_imported == 1, result.problems
    assert entries(batch)["TK-1234"].birth_date == dt.date(1990, 1, 1)


def test_an_other_id_is_upper_cased_and_numbers_typed_as_numbers_are_read_when_exact(batch, account):
    # Module docstring: an exact number (a short passport number, an 11-digit mobile) is its digits.
    result = import_rows(
        batch, account, [row("KIM", "非身份证", 12345678, "1990-01-01", "男", mobile=13912345678.0), row("LEE", "非身份证", "m-12ab", "1991-02-03", "女")]
    )
    assert result.rows_imported == 2, result.problems
    people = entries(batch)
    assert people["12345678"].mobile == "13912345678"
    assert "M-12AB" in people


def test_names_are_trimmed_and_middle_dots_unified(batch, account):
    # SPEC ROS-3: names of 1–50 characters, "·" allowed.
    import_rows(batch, account, [row("  买买提•艾力  ", number=ALICE)])
    assert entries(batch)[ALICE].name == "买买提·艾力"


def test_an_ods_file_saved_by_libreoffice_or_wps_is_read_like_xlsx(batch, account):
    # The file's kind comes from its bytes: an .ods named .xlsx is read as .ods.
    content = ods_file([row("王豆豆", number=ALICE), row("李梅", number=wrong_check(BETTY))])
    result = roster_import_start(batch=batch, upload=upload(content, "名单.xlsx"), acting_user=account)
    assert (result.rows_imported, result.rows_failed) == (1, 1), (result.error, result.problems)
    assert result.problems[0]["row"] == 3
    assert stored_path(result).suffix == ".ods"


def test_entirely_empty_rows_are_skipped_and_not_counted(batch, account):
    result = import_rows(batch, account, [row(number=ALICE), [None] * 7, ["", " ", "", "", "", "", ""], row("李梅", number=BETTY)])
    assert (result.rows_read, result.rows_imported, result.rows_failed) == (2, 2, 0)


# --- bad rows ------------------------------------------------------------------------------------------


BAD_ROWS = {
    # case: (row, column, reason contains)
    "bad check character": (row(number=wrong_check(ALICE)), "证件号码", f"证件号码校验位错误（应为 {ALICE[17]}），请核对后重新导入"),
    "impossible date": (row(number=resident_id("19900230", 101)), "证件号码", "出生日期19900230不存在"),
    "15-digit old ID": (row(number="310101900101101"), "证件号码", "15位旧身份证号码"),
    "ID as a float": (row(number=float(ALICE)), "证件号码", EXCEL_NUMBER),
    "ID as scientific text": (row(number="3.10101199001011E+17"), "证件号码", EXCEL_NUMBER),
    "ID empty": (row(number=""), "证件号码", "证件号码为空"),
    "other ID with bad characters": (row("KIM", "非身份证", "AB#12", "1990-01-01", "男"), "证件号码", "4–30位字母、数字或“-”"),
    "other ID without birth date": (row("KIM", "非身份证", "AB1234", "", "男"), "出生日期", "非身份证人员必须填写出生日期"),
    "other ID without sex": (row("KIM", "非身份证", "AB1234", "1990-01-01", ""), "性别", "非身份证人员必须填写性别"),
    "other ID with a wrong sex": (row("KIM", "非身份证", "AB1234", "1990-01-01", "M"), "性别", "性别应为“男”或“女”"),
    "other ID with a bad date": (row("KIM", "非身份证", "AB1234", "1990-13-01", "男"), "出生日期", "出生日期1990-13-01不存在"),
    "other ID with an unreadable date": (row("KIM", "非身份证", "AB1234", "九零年", "男"), "出生日期", "出生日期格式不正确"),
    "bad mobile": (row(number=ALICE, mobile="1391234567"), "手机号", "手机号应为11位数字"),
    "bad 是否有社保": (row(number=ALICE, insured="有"), "是否有社保", "是否有社保应填“是”或“否”"),
    "empty 是否有社保": (row(number=ALICE, insured=""), "是否有社保", "是否有社保为空"),
    "bad 证件类型": (row(id_type="护照", number="E1234567"), "证件类型", "证件类型应为“身份证”或“非身份证”"),
    "empty name": (row(name="", number=ALICE), "姓名", "姓名为空"),
    "name too long": (row(name="长" * 51, number=ALICE), "姓名", "姓名超过50个字符"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_each_row_error_is_reported_with_row_column_and_reason_and_the_good_rows_are_imported(batch, account, case):
    # SPEC ROS-3, ROS-10: bad rows are reported row by row; the good ones are imported.
    bad, column, reason = BAD_ROWS[case]
    result = import_rows(batch, account, [row("李梅", number=BETTY), bad])
    assert (result.rows_read, result.rows_imported, result.rows_failed) == (2, 1, 1)
    assert set(entries(batch)) == {BETTY}
    [problem] = result.problems
    assert problem["row"] == 3  # the sheet's row: the header is row 1
    assert problem["column"] == column
    assert reason in problem["reason"]
    assert problem_message(problem).startswith("第 3 行：")


def test_the_check_character_message_is_the_handbook_style_message(batch, account):
    # UI.md: "第 12 行：证件号码校验位错误（应为 X），请核对后重新导入"
    number = next(n for n in (resident_id("19900101", s) for s in range(100, 300)) if n[-1] == "X")
    result = import_rows(batch, account, [row(number=number[:17] + "1")])
    assert problem_message(result.problems[0]) == "第 2 行：证件号码校验位错误（应为 X），请核对后重新导入"


def test_id_values_in_problems_are_masked(batch, account):
    # SPEC X-1: 身份证 keeps the first 4 and last 4, 非身份证 the first 2 and last 3.
    bad = wrong_check(ALICE)
    result = import_rows(batch, account, [row(number=bad), row("KIM", "非身份证", "AB12345X", "", "男")])
    values = [problem["value"] for problem in result.problems]
    assert values[0] == bad[:4] + "*****" + bad[-4:]
    assert result.problems[1]["column"] == "出生日期"
    assert all(bad not in str(problem) for problem in result.problems)


def test_an_invalid_mobile_in_problems_is_shown_as_typed(batch, account):
    # SPEC ROS-10: masked, 1391234567 would read 139****4567, which looks valid.
    result = import_rows(batch, account, [row(number=ALICE, mobile="1391234567"), row("李梅", number=BETTY, mobile="139-1234-567x")])
    assert [(problem["column"], problem["value"]) for problem in result.problems] == [("手机号", "1391234567"), ("手机号", "139-1234-567x")]


def test_a_row_with_several_bad_cells_counts_once_with_each_cell_reported(batch, account):
    result = import_rows(batch, account, [row(name="", number=wrong_check(ALICE), mobile="123", insured="")])
    assert result.rows_failed == 1
    assert [problem["column"] for problem in result.problems] == ["姓名", "证件号码", "手机号", "是否有社保"]


def test_the_same_person_twice_in_a_file_is_an_error_for_the_second(batch, account):
    # SPEC ROS-4: the second occurrence is the row error.
    result = import_rows(batch, account, [row("王豆豆", number=ALICE), row("李梅", number=BETTY), row("王豆豆", number=ALICE.lower())])
    assert (result.rows_imported, result.rows_failed) == (2, 1)
    [problem] = result.problems
    assert (problem["row"], problem["column"]) == (4, "证件号码")
    assert "与第 2 行是同一人" in problem["reason"]


@pytest.fixture
def holder(year):
    """Another unit's submitted batch (SPEC ROS-11)."""
    return make_batch(
        UserFactory(username="other-unit"), year=year, code="0A1B2C", unit_name="上海别的有限公司",
        state=BatchState.IN_REVIEW, handler_name="陈经办", handler_mobile="13812345678",
    )


NAMED = "身份信息被上海别的有限公司单位占用（经办人：陈经办，联系电话：138****5678）"


def naming_audits():
    return list(LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__has_key="named_batch"))


@pytest.mark.parametrize("given", ["王豆豆", "王 豆豆", "王\u3000豆豆 ", " 王豆豆"])
def test_a_held_person_names_the_holder_when_the_names_match(batch, account, holder, given):
    # SPEC ROS-11 [departure]: the same name (after NFKC, whitespace removed) as the holder enrolled:
    # `身份信息被XXX单位占用` with that unit's handler name and masked phone; not imported.
    hold(holder, ALICE, "王豆豆")
    result = import_rows(batch, account, [row(given, number=ALICE), row("李梅", number=BETTY)])
    assert set(entries(batch)) == {BETTY}
    [problem] = result.problems
    assert problem["reason"] == NAMED
    assert "13812345678" not in str(result.problems)


def test_full_width_latin_names_match_after_nfkc(batch, account, holder):
    # SPEC ROS-11 [departure]: NFKC folds full-width letters (Ｍａｒｙ → Mary).
    hold(holder, ALICE, "Mary Smith")
    result = import_rows(batch, account, [row("Ｍａｒｙ　Ｓｍｉｔｈ", number=ALICE)])
    assert result.problems[0]["reason"] == NAMED


@pytest.mark.parametrize("given", ["王豆", "李梅", "王豆豆豆"])
def test_a_held_person_under_another_name_names_nobody(batch, account, holder, given):
    # SPEC ROS-11 [departure]: the ID alone does not reveal who holds the person.
    hold(holder, ALICE, "王豆豆")
    result = import_rows(batch, account, [row(given, number=ALICE)])
    assert [problem["reason"] for problem in result.problems] == ["该人员本年度已在其他单位参保，请核实"]
    assert "上海别的有限公司" not in str(result.problems) and "陈经办" not in str(result.problems)
    assert naming_audits() == []
    assert not RosterEntry.objects.filter(batch=batch).exists()


def test_a_naming_is_audited_with_who_whom_and_the_ip(batch, account, holder):
    # SPEC ROS-11, SEC-3: one ACCESS entry on the named batch: the importing user, the import, the IP.
    hold(holder, ALICE, "王豆豆")
    hold(holder, BETTY, "李梅")
    result = roster_import_start(
        batch=batch, upload=upload(template_xlsx([row("王豆豆", number=ALICE), row("李梅", number=BETTY)])),
        acting_user=account, remote_addr="203.0.113.7",
    )
    assert result.remote_addr == "203.0.113.7"
    [entry] = naming_audits()
    assert entry.actor == account
    assert entry.object_pk == str(holder.pk)
    assert entry.remote_addr == "203.0.113.7"
    assert entry.additional_data == {
        "named_unit": "上海别的有限公司", "named_batch": holder.number, "ip": "203.0.113.7",
        "roster_import": result.pk, "rows": [2, 3], "rows_named": 2,
    }


def test_the_previous_year_list_names_and_audits_too(batch, account, holder, year):
    # SPEC ROS-11: the same rule for 【获取上年度参保名单】 (the name is last year's).
    previous(year.year - 1, batch.code.code, ALICE, "王豆豆")
    previous(year.year - 1, batch.code.code, BETTY, "李梅")
    hold(holder, ALICE, "王豆豆")
    hold(holder, BETTY, "李美")
    result = roster_import_previous(batch=batch, acting_user=account, remote_addr="198.51.100.2")
    reasons = sorted(problem["reason"] for problem in result.problems)
    assert reasons == sorted([NAMED, "该人员本年度已在其他单位参保，请核实"])
    [entry] = naming_audits()
    assert (entry.additional_data["roster_import"], entry.additional_data["ip"]) == (result.pk, "198.51.100.2")


def test_a_person_held_by_this_batch_itself_is_no_conflict(account, year):
    # SPEC ROS-11: a batch sent back (职保会审核不通过) holds its people and may still edit its roster.
    batch = make_batch(account, year=year, state=BatchState.REVIEW_REJECTED, code=IMPORT_CODE)
    hold(batch, ALICE)
    result = import_rows(batch, account, [row("王豆豆", number=ALICE)])
    assert result.rows_imported == 1, result.problems


def test_a_draft_holds_nobody(batch, account, year):
    # SPEC ROS-11 [interpretation]: drafts hold nobody; the same person may be in two drafts.
    other = make_batch(UserFactory(username="other-unit"), year=year, code="0A1B2C")
    import_rows(other, other.account, [row(number=ALICE)])
    assert import_rows(batch, account, [row(number=ALICE)]).rows_imported == 1


def test_retired_people_enter_the_roster_marked_retired(batch, account, year):
    # SPEC ROS-12: a retired person is imported marked 退休 (清册校验 lists them, VAL-1; 清册提交 refuses
    # them); 是否有社保 = 是 in the file does not make them 在职, now or when imported again (ROS-8).
    suggest(year.year, ALICE, "王豆豆", work_status="退休", medical_active=False)
    result = import_rows(batch, account, [row("王豆豆", number=ALICE, insured="是"), row("李梅", number=BETTY)])
    assert (result.rows_added, result.rows_failed, result.problems) == (2, 0, [])
    people = entries(batch)
    assert (people[ALICE].work_status, people[ALICE].has_social_security, people[ALICE].is_suggested) == ("退休", False, True)
    again = import_rows(batch, account, [row("王豆豆", number=ALICE, insured="是")])
    assert again.rows_updated == 1 and entries(batch)[ALICE].work_status == "退休"


# --- the rules -----------------------------------------------------------------------------------------


def test_the_suggested_roster_name_wins_and_brings_the_social_security_data(batch, account, year):
    # SPEC ROS-5 (name precedence), ROS-8 (职退状态 from the suggested roster).
    suggest(year.year, ALICE, "王豆豆", medical_active=True, ss_unit_code="00108537", personal_ss_number="P123")
    import_rows(batch, account, [row("王豆", number=ALICE, insured="否")])
    entry = entries(batch)[ALICE]
    assert entry.name == "王豆豆"
    assert (entry.is_suggested, entry.work_status, entry.has_social_security) == (True, "在职", True)
    assert (entry.ss_unit_code, entry.personal_ss_number, entry.medical_active) == ("00108537", "P123", True)
    assert entry.imported_name == "王豆"
    assert entry.name_mismatch is False  # no 会员库 or last-year name to disagree with


def test_found_in_service_without_medical_benefits_has_no_social_security_unless_the_row_says_so(batch, account, year):
    # SPEC ROS-8
    suggest(year.year, ALICE, "王豆豆", medical_active=False)
    suggest(year.year, BETTY, "李梅", medical_active=False)
    import_rows(batch, account, [row("王豆豆", number=ALICE, insured="否"), row("李梅", number=BETTY, insured="是")])
    people = entries(batch)
    assert (people[ALICE].work_status, people[ALICE].has_social_security) == ("在职", False)
    assert (people[BETTY].work_status, people[BETTY].has_social_security) == ("在职", True)


def test_someone_not_in_the_suggested_roster_is_unknown_unless_the_row_says_insured(batch, account):
    # SPEC ROS-8: "-" (unknown), 是否有社保 否; a template row with 是否有社保 = 是 makes it 在职 with 社保.
    import_rows(batch, account, [row("王豆豆", number=ALICE, insured="否"), row("李梅", number=BETTY, insured="是")])
    people = entries(batch)
    assert (people[ALICE].work_status, people[ALICE].has_social_security, people[ALICE].is_suggested) == ("-", False, False)
    assert (people[BETTY].work_status, people[BETTY].has_social_security, people[BETTY].is_suggested) == ("在职", True, False)


def test_a_name_that_differs_from_the_member_register_or_last_year_is_flagged_with_the_three_names(batch, account, year):
    # SPEC ROS-5: mismatch with the 会员库 name or the previous year's name → 【警告】 with the three names.
    member(year.year, batch.code.code, ALICE, "王梅")
    previous(year.year - 1, batch.code.code, BETTY, "李梅梅")
    member(year.year, USCC, CAROL, "张三")  # the register may know the unit by its USCC
    import_rows(batch, account, [row("王梅晓", number=ALICE), row("李梅", number=BETTY), row("张三", number=CAROL)])
    people = entries(batch)
    assert (people[ALICE].name_mismatch, people[ALICE].imported_name, people[ALICE].member_name, people[ALICE].previous_name) == (
        True, "王梅晓", "王梅", ""
    )
    assert (people[BETTY].name_mismatch, people[BETTY].previous_name) == (True, "李梅梅")
    assert (people[CAROL].name_mismatch, people[CAROL].member_name) == (False, "张三")


# --- ROS-4: importing again ----------------------------------------------------------------------------


def test_importing_again_updates_instead_of_duplicating(batch, account):
    # SPEC ROS-4: same type and number → updated (the 修改 count); the roster version stays.
    import_rows(batch, account, [row("王豆豆", number=ALICE, mobile="13912345678"), row("李梅", number=BETTY)])
    batch.refresh_from_db()
    version = batch.roster_version
    result = import_rows(batch, account, [row("王豆豆", number=ALICE, mobile="13800000000"), row("张三", number=CAROL)])
    assert (result.rows_added, result.rows_updated) == (1, 1)
    assert "新增加1人，修改1人" in result.summary
    assert RosterEntry.objects.filter(batch=batch).count() == 3
    assert entries(batch)[ALICE].mobile == "13800000000"
    batch.refresh_from_db()
    assert batch.roster_version == version + 1  # CAROL was added
    result = import_rows(batch, account, [row("王豆豆", number=ALICE)])
    assert (result.rows_added, result.rows_updated) == (0, 1)
    batch.refresh_from_db()
    assert batch.roster_version == version + 1  # nobody added: a validation result stays current
    assert entries(batch)[ALICE].mobile == "13800000000"  # an empty mobile keeps the one we had


def test_importing_the_same_people_with_mobiles_fills_them_and_an_empty_cell_keeps_them(batch, account, year):
    """SPEC ROS-7 [departure] (参保查询, LOOK-1) with ROS-4: people from 上年度参保名单 arrive without a
    mobile; the template with 手机号 filled gives them one (the 修改 count), a filled cell replaces a
    mobile, and an empty cell or a source without mobiles never erases one."""
    code = batch.code.code
    previous(year.year - 1, code, ALICE, "王豆豆")
    previous(year.year - 1, code, BETTY, "李梅")
    roster_import_previous(batch=batch, acting_user=account)
    assert {number: entry.mobile for number, entry in entries(batch).items()} == {ALICE: "", BETTY: ""}

    result = import_rows(batch, account, [row("王豆豆", number=ALICE, mobile="139 1234 5678"), row("李梅", number=BETTY)])

    assert "新增加0人，修改2人" in result.summary
    people = entries(batch)
    assert (people[ALICE].mobile, people[BETTY].mobile) == ("13912345678", "")

    import_rows(batch, account, [row("王豆豆", number=ALICE, mobile="13800001111"), row("李梅", number=BETTY, mobile="13700002222")])
    roster_import_previous(batch=batch, acting_user=account)  # no 手机号 in that source: kept
    import_rows(batch, account, [row("王豆豆", number=ALICE), row("李梅", number=BETTY)])  # empty cells: kept
    people = entries(batch)
    assert (people[ALICE].mobile, people[BETTY].mobile) == ("13800001111", "13700002222")


def test_importing_again_keeps_what_the_unit_settled(batch, account, year):
    # SPEC ROS-4 with ROS-5 and ROS-8: a confirmed name and 【设置在职】 survive a re-import of the same file.
    member(year.year, batch.code.code, ALICE, "王梅")
    import_rows(batch, account, [row("王梅晓", number=ALICE), row("李梅", number=BETTY, insured="否")])
    RosterEntry.objects.filter(batch=batch, id_hash=pii_hash(ALICE)).update(name="王梅", name_mismatch=False)
    RosterEntry.objects.filter(batch=batch, id_hash=pii_hash(BETTY)).update(work_status="在职", has_social_security=True)
    import_rows(batch, account, [row("王梅晓", number=ALICE), row("李梅", number=BETTY, insured="否")])
    people = entries(batch)
    assert (people[ALICE].name, people[ALICE].name_mismatch) == ("王梅", False)
    assert (people[BETTY].work_status, people[BETTY].has_social_security) == ("在职", True)


def test_running_an_import_twice_does_nothing_twice(batch, account):
    # STYLE.md §7: safe to run twice (a task delivered twice).
    result = import_rows(batch, account, [row(number=ALICE)])
    again = roster_import_run(roster_import=result)
    assert again.pk == result.pk and again.status == JobStatus.DONE
    assert RosterEntry.objects.filter(batch=batch).count() == 1
    assert RosterImport.objects.count() == 1


# --- refused files (SPEC ROS-10) ------------------------------------------------------------------------


def _nothing_changed(batch):
    assert RosterEntry.objects.filter(batch=batch).count() == 0
    assert Batch.objects.get(pk=batch.pk).roster_version == batch.roster_version


def test_a_missing_required_column_is_named(batch, account):
    header = [text for text in TEMPLATE_HEADER if "证件号码" not in text]
    result = roster_import_start(batch=batch, upload=upload(template_xlsx([["王豆豆", "身份证", "", "", "", "是"]], header)), acting_user=account)
    assert result.status == JobStatus.REFUSED
    assert "缺少必填列“证件号码”" in result.error
    _nothing_changed(batch)
    assert stored_path(result) is None or not stored_path(result).exists()


def test_columns_in_another_order_with_extra_columns_and_plain_names_are_accepted(batch, account):
    # SPEC ROS-2 [departure]: columns by leading name, any order, extra ones ignored.
    header = ["备注", "是否有社保", "证件号码（必填）", "* 姓名", "证件类型", "部门"]
    result = import_rows(batch, account, [["新员工", "是", ALICE, "王豆豆", "身份证", "财务部"]], header=header, text_columns=(3,))
    assert result.rows_imported == 1, (result.error, result.problems)
    assert entries(batch)[ALICE].name == "王豆豆"


def test_the_header_may_sit_under_a_title_and_row_numbers_stay_the_sheet_s(batch, account):
    result = import_rows(batch, account, [row(number=ALICE), row(number=wrong_check(BETTY))], above=[["2023年度参保名单"], []])
    assert result.rows_imported == 1
    assert result.problems[0]["row"] == 5  # title, blank, header, ALICE, then this one


@pytest.mark.parametrize(
    "sheets_before",
    [
        [("封面", [["某某公司2023年度职工互助保障参保名单"], ["制表：人事部"]])],
        [("填写说明", [["1. 带*的为必填项。"], ["2. 证件号码请填写为文本格式。"]])],  # the template's second sheet moved first
        [("Sheet1", []), ("统计", [["合计", 2]])],
    ],
    ids=["cover", "instructions-first", "empty-and-totals"],
)
def test_the_roster_is_the_first_sheet_with_the_header(batch, account, sheets_before):
    # SPEC ROS-2 [departure]: sheets before the roster are passed over; rows keep that sheet's numbers.
    result = import_rows(batch, account, [row(number=ALICE), row(number=wrong_check(BETTY))], sheets_before=sheets_before)
    assert (result.status, result.rows_imported, result.rows_failed) == (JobStatus.DONE, 1, 1), result.error
    assert result.problems[0]["row"] == 3
    assert set(entries(batch)) == {ALICE}


def test_a_first_sheet_with_a_header_missing_a_required_column_is_refused_though_another_sheet_is_whole(batch, account):
    # The first sheet with a header is the roster: its missing column is named, not passed over.
    content = template_xlsx([row(number=ALICE)], sheets_before=[("名单", [["姓名", "证件号码"], ["王豆豆", BETTY]])])
    result = roster_import_start(batch=batch, upload=upload(content), acting_user=account)
    assert result.status == JobStatus.REFUSED and "是否有社保" in result.error and "证件类型" in result.error
    _nothing_changed(batch)


def test_a_workbook_without_a_header_on_any_sheet_is_refused_for_its_first_sheet(batch, account):
    result = import_rows(batch, account, [[ALICE, "王豆豆"]], header=["编号", "名字"], sheets_before=[("封面", [["参保名单"]])])
    assert (result.status, result.error) == (JobStatus.REFUSED, importer.NO_HEADER)
    _nothing_changed(batch)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xe5\xa7\x93\xe5\x90\x8d,\xe8\xaf\x81\xe4\xbb\xb6\xe5\x8f\xb7\xe7\xa0\x81\n\xe7\x8e\x8b,310101\n", "不是Excel表格"),  # a CSV renamed .xlsx
        (b"just some text", "不是Excel表格"),
        (b"", "文件是空的"),
        ("ENCRYPTED", "设置了打开密码"),
        ("DOCX", "不是Excel表格"),
    ],
)
def test_files_that_are_no_spreadsheet_are_refused_before_anything_is_recorded(batch, account, content, message):
    if content == "ENCRYPTED":
        content = encrypted_office()
    elif content == "DOCX":
        import io
        import zipfile

        output = io.BytesIO()
        with zipfile.ZipFile(output, "w") as archive:
            archive.writestr("word/document.xml", "<document/>")
        content = output.getvalue()
    with pytest.raises(RosterError) as refused:
        roster_import_start(batch=batch, upload=upload(content), acting_user=account)
    assert message in refused.value.message
    assert RosterImport.objects.count() == 0
    _nothing_changed(batch)


@pytest.mark.parametrize("content", ["BOMB", "DECLARED"])
def test_a_zip_bomb_is_refused_from_its_directory_without_reading_the_sheet(batch, account, content):
    # SPEC ROS-10: decided from the zip directory before calamine (the sheet reader) ever runs.
    content = zip_bomb(40) if content == "BOMB" else zip_declaring(2 * 1024 * 1024 * 1024)
    with mock.patch.object(importer_reading, "CalamineWorkbook") as reader:
        with pytest.raises(RosterError) as refused:
            roster_import_start(batch=batch, upload=upload(content), acting_user=account)
    reader.from_path.assert_not_called()
    assert reader.mock_calls == []
    assert "压缩比例异常" in refused.value.message
    _nothing_changed(batch)


def test_a_file_over_the_size_limit_is_refused(batch, account, settings):
    settings.ROSTER_UPLOAD_MAX_BYTES = 1000
    with pytest.raises(RosterError) as refused:
        import_rows(batch, account, many_rows(100))
    assert "文件过大" in refused.value.message
    _nothing_changed(batch)


def test_a_header_without_data_rows_is_refused(batch, account):
    result = import_rows(batch, account, [[None] * 7, ["", "", "", "", "", "", ""]])
    assert (result.status, result.error) == (JobStatus.REFUSED, importer.NO_DATA)
    _nothing_changed(batch)


def test_a_sheet_without_a_recognisable_header_is_refused(batch, account):
    result = import_rows(batch, account, [[ALICE, "王豆豆"]], header=["编号", "名字", "号码"])
    assert (result.status, result.error) == (JobStatus.REFUSED, importer.NO_HEADER)
    _nothing_changed(batch)


def test_an_empty_workbook_is_refused(batch, account):
    result = import_rows(batch, account, [], header=[])
    assert (result.status, result.error) == (JobStatus.REFUSED, importer.EMPTY_FILE)


# --- state (SPEC BAT-3, BAT-8) ----------------------------------------------------------------------------


@pytest.mark.parametrize("state", [BatchState.IN_REVIEW, BatchState.ROSTER_APPROVED, BatchState.AWAITING_PAYMENT, BatchState.COMPLETED])
def test_a_roster_locked_by_its_state_refuses_every_source(account, year, state):
    batch = make_batch(account, year=year, state=state, code=IMPORT_CODE)
    previous(year.year - 1, batch.code.code, ALICE, "王豆豆")
    for start in (
        lambda: import_rows(batch, account, [row(number=ALICE)]),
        lambda: roster_import_previous(batch=batch, acting_user=account),
        lambda: roster_import_members(batch=batch, acting_user=account),
    ):
        with pytest.raises(RosterError) as refused:
            start()
        assert "参保清册不能修改" in refused.value.message
    assert RosterEntry.objects.filter(batch=batch).count() == 0


def test_a_queued_import_whose_batch_was_submitted_meanwhile_is_refused(batch, account, settings, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(importer_service, "INLINE_MAX_BYTES", 0)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = import_rows(batch, account, [row(number=ALICE)])
    assert queued.status == JobStatus.QUEUED
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.IN_REVIEW)
    for callback in callbacks:
        callback()
    queued.refresh_from_db()
    assert queued.status == JobStatus.REFUSED
    assert "职保会待审核" in queued.error
    assert RosterEntry.objects.filter(batch=batch).count() == 0


# --- large files: a Celery task with progress -------------------------------------------------------------


def test_a_large_file_runs_after_commit_as_a_task_and_records_its_progress(batch, account, monkeypatch, django_capture_on_commit_callbacks):
    # SPEC ROS-9, UI.md "Long work": started on commit, rows_done / rows_total for the page.
    monkeypatch.setattr(importer_service, "INLINE_MAX_BYTES", 0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        started = import_rows(batch, account, many_rows(300))
    assert len(callbacks) == 1
    started.refresh_from_db()
    assert started.status == JobStatus.DONE
    assert (started.rows_total, started.rows_done, started.rows_added) == (300, 300, 300)


def test_the_query_count_does_not_depend_on_the_number_of_rows(batch, account, year, django_assert_max_num_queries):
    # STYLE.md §6: set-based look-ups, bulk writes: a 2,000-row file costs what a 20-row one does.
    small, large = many_rows(20, bad_every=10), many_rows(2000, bad_every=10, birth_year=1970)
    for number in (small[0][2], large[0][2], large[1999][2]):
        suggest(year.year, number, "建议")
    other = make_batch(UserFactory(username="other-unit"), year=year, code="0A1B2C", state=BatchState.IN_REVIEW)
    hold(other, large[5][2])
    hold(other, small[5][2])
    with CaptureQueriesContext(connection) as first:
        result = import_rows(batch, account, small)
    assert result.rows_added == 17
    with django_assert_max_num_queries(len(first.captured_queries)) as second:
        result = import_rows(batch, account, large)
    assert result.rows_added == 1799
    with django_assert_max_num_queries(len(second.captured_queries) + 3):  # a second temp-table round for updates
        result = import_rows(batch, account, large)
    assert (result.rows_added, result.rows_updated) == (0, 1799)
    assert len(first.captured_queries) <= 40


# --- the other two sources ---------------------------------------------------------------------------------


def test_previous_year_list_of_this_code(batch, account, year):
    # SPEC ROS-1, REF-4: 【获取上年度参保名单】 — the people this code enrolled last year.
    code = batch.code.code
    previous(year.year - 1, code, ALICE, "王豆豆")
    previous(year.year - 1, code, BETTY, "李梅")
    previous(year.year - 1, "ZZZZZZ", CAROL, "别家的人")
    previous(year.year - 2, code, CAROL, "前年的人")
    previous(year.year - 1, code, "P1234567", "SMITH", id_type="非身份证")  # no birth date to be found
    suggest(year.year, BETTY, "李梅", work_status="退休", medical_active=False)  # SPEC ROS-12: in, marked 退休
    result = roster_import_previous(batch=batch, acting_user=account)
    assert result.status == JobStatus.DONE
    assert result.summary == "-----处理完成 数据读取：3人，成功导入：2条信息（新增加2人，修改0人），导入失败：1条信息。-----"
    people = entries(batch)
    assert set(people) == {ALICE, BETTY} and people[BETTY].work_status == "退休"
    [problem] = result.problems
    assert "非身份证人员的出生日期和性别" in problem["reason"]
    again = roster_import_previous(batch=batch, acting_user=account)
    assert (again.rows_added, again.rows_updated) == (0, 2)


def test_previous_year_other_ids_take_birth_date_and_sex_from_last_year_s_roster(batch, account, year):
    from enrollment.models import CoverageYear
    from tests.factories import CoverageYearFactory

    last_year = CoverageYear.objects.filter(year=year.year - 1).first() or CoverageYearFactory(year=year.year - 1)
    last_batch = make_batch(account, year=last_year, number=f"{last_year.year}J000009", state=BatchState.COMPLETED, code=IMPORT_CODE)
    import_rows_into = RosterEntry(batch=last_batch, id_type="非身份证", name="SMITH", birth_date=dt.date(1980, 5, 6), sex="男")
    import_rows_into.id_number = "P1234567"
    import_rows_into.save()
    previous(year.year - 1, batch.code.code, "P1234567", "SMITH", id_type="非身份证")
    result = roster_import_previous(batch=batch, acting_user=account)
    assert result.rows_imported == 1, result.problems
    entry = entries(batch)["P1234567"]
    assert (entry.id_type, entry.birth_date, entry.sex) == ("非身份证", dt.date(1980, 5, 6), "男")


def test_no_previous_year_list_is_refused_with_a_reason(batch, account):
    result = roster_import_previous(batch=batch, acting_user=account)
    assert result.status == JobStatus.REFUSED
    assert "未找到本参保编码" in result.error


def test_member_register_of_this_unit_by_code_or_uscc(batch, account, year):
    # SPEC ROS-1, REF-3: 【获取“会员库”本单位工会会员名单】.
    member(year.year, batch.code.code, ALICE, "王豆豆")
    member(year.year, USCC, BETTY, "李梅")
    member(year.year, batch.code.code, BETTY, "李梅")  # known both ways: once
    member(year.year, "ZZZZZZ", CAROL, "别家的人")
    previous(year.year - 1, batch.code.code, ALICE, "王豆")  # last year's name differs: flagged
    suggest(year.year, BETTY, "李梅", work_status="退休", medical_active=False)  # SPEC ROS-12: in, marked 退休
    result = roster_import_members(batch=batch, acting_user=account)
    assert (result.rows_read, result.rows_added, result.rows_failed) == (2, 2, 0)
    people = entries(batch)
    assert set(people) == {ALICE, BETTY}
    assert (people[ALICE].name_mismatch, people[ALICE].member_name, people[ALICE].previous_name) == (True, "王豆豆", "王豆")
    assert people[BETTY].work_status == "退休"


def test_no_members_is_refused_with_a_reason(batch, account):
    result = roster_import_members(batch=batch, acting_user=account)
    assert result.status == JobStatus.REFUSED
    assert "会员库中没有本单位" in result.error


# --- keeping the upload 7 days (SPEC X-1) --------------------------------------------------------------------


def test_an_upload_with_bad_rows_is_kept_and_purged_after_7_days_with_its_problems(batch, account):
    kept = import_rows(batch, account, [row(number=ALICE), row(number=wrong_check(BETTY))])
    clean = import_rows(batch, account, [row(number=CAROL)])
    assert stored_path(kept).exists()
    assert clean.stored_file == "" and not importer.upload_folder(clean).exists()  # nothing to mark
    assert roster_imports_purge() == 0
    with time_machine.travel(timezone.now() + dt.timedelta(days=7, minutes=1)):
        assert roster_imports_purge() == 1
    kept.refresh_from_db()
    assert (kept.stored_file, kept.problems, kept.rows_failed) == ("", [], 1)
    assert not importer.upload_folder(kept).exists()


def test_the_beat_schedule_purges_roster_uploads(settings):
    from rosters.tasks import purge_roster_uploads

    entry = settings.CELERY_BEAT_SCHEDULE["purge-roster-uploads"]
    assert entry["task"] == purge_roster_uploads.name
    assert purge_roster_uploads() == 0


# --- large files look up by scope instead of by hash (importer.SCOPE_INSTEAD_OF_HASHES) ---------------------


def test_look_ups_by_scope_find_the_same_as_by_hash(batch, account, year, monkeypatch):
    # With many people, last year's list, the 会员库 and the batch's entries are fetched for the unit or
    # batch as a whole; the rules must come out the same (SPEC ROS-4, ROS-5).
    monkeypatch.setattr(importer_lookups, "SCOPE_INSTEAD_OF_HASHES", 0)
    member(year.year, batch.code.code, ALICE, "王梅")
    member(year.year, batch.code.code, CAROL, "别人")  # in the unit, not in the file
    previous(year.year - 1, batch.code.code, BETTY, "李梅梅")
    first = import_rows(batch, account, [row("王梅晓", number=ALICE), row("李梅", number=BETTY)])
    people = entries(batch)
    assert (people[ALICE].name_mismatch, people[ALICE].member_name) == (True, "王梅")
    assert (people[BETTY].name_mismatch, people[BETTY].previous_name) == (True, "李梅梅")
    again = import_rows(batch, account, [row("王梅晓", number=ALICE), row("张三", number=CAROL)])
    assert (first.rows_added, again.rows_added, again.rows_updated) == (2, 1, 1)
    assert entries(batch)[CAROL].member_name == "别人"


# --- a worker that died (SPEC SEC-2) -------------------------------------------------------------------


def test_an_import_whose_worker_died_is_run_again_from_the_start_once(batch, account, monkeypatch, settings, django_capture_on_commit_callbacks):
    from mutualaid.jobs import jobs_sweep

    monkeypatch.setattr(importer_service, "INLINE_MAX_BYTES", 0)
    with django_capture_on_commit_callbacks(execute=False):
        started = roster_import_start(batch=batch, upload=upload(template_xlsx(many_rows(30))), acting_user=account)
    left_by_a_dead_worker(started, settings)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == {"requeued": 1, "failed": 0, "scratch_removed": 0}
    ended = RosterImport.objects.get(pk=started.pk)
    assert (ended.status, ended.attempts, ended.rows_added) == (JobStatus.DONE, 2, 30)
    assert RosterEntry.objects.filter(batch=batch).count() == 30


def test_an_import_that_died_on_its_last_attempt_says_so_and_changes_nothing(batch, account, monkeypatch, settings, client, django_capture_on_commit_callbacks):
    from django.urls import reverse

    from mutualaid.jobs import jobs_sweep

    monkeypatch.setattr(importer_service, "INLINE_MAX_BYTES", 0)
    with django_capture_on_commit_callbacks(execute=False):
        started = roster_import_start(batch=batch, upload=upload(template_xlsx(many_rows(30))), acting_user=account)
    stale = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    RosterImport.objects.filter(pk=started.pk).update(status=JobStatus.RUNNING, attempts=settings.JOB_MAX_ATTEMPTS, heartbeat_at=stale)
    assert jobs_sweep() == {"requeued": 0, "failed": 1, "scratch_removed": 0}
    assert RosterImport.objects.get(pk=started.pk).error == "处理中断，请重新导入。"
    assert not RosterEntry.objects.filter(batch=batch).exists()
    client.force_login(account)
    page = client.get(reverse("rosters:roster_import_result", kwargs={"number": batch.number, "import_id": started.pk}))
    assert "处理中断，请重新导入。" in page.content.decode() and "参保清册未改变" in page.content.decode()


# --- macro-enabled workbooks (SPEC SEC-5) ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["part", "content_type"])
def test_a_workbook_with_macros_is_refused_and_nothing_is_imported(batch, account, how):
    content = with_macros(template_xlsx([row(name="张三", number=ALICE)]), how=how)
    with pytest.raises(RosterError) as refused:
        roster_import_start(batch=batch, upload=upload(content, name="参保名单.xlsm"), acting_user=account)
    assert refused.value.message == importer.MACRO_WORKBOOK
    assert not RosterImport.objects.exists() and not RosterEntry.objects.filter(batch=batch).exists()


def test_an_xls_with_a_vba_project_is_refused(batch, account):
    with pytest.raises(RosterError) as refused:
        roster_import_start(batch=batch, upload=upload(xls_with_macros(), name="参保名单.xls"), acting_user=account)
    assert refused.value.message == importer.MACRO_WORKBOOK


def test_a_plain_workbook_has_no_macros():
    import io

    assert not importer.workbook_has_macros(io.BytesIO(template_xlsx([row(name="张三", number=ALICE)])))
    assert not importer.workbook_has_macros(io.BytesIO(encrypted_office()))


def test_an_upload_never_meets_a_folder_left_by_a_database_restored_without_its_media(batch, account, media_root, monkeypatch):
    # SPEC SEC-4: after a restore the next import may get an id an old import had; its folder is its own.
    monkeypatch.setattr(importer_service, "INLINE_MAX_BYTES", 10**9)
    first = import_rows(batch, account, [row(name="张三", number=wrong_check(ALICE))])
    leftover = media_root / importer.UPLOAD_DIR / str(first.pk + 1)
    leftover.mkdir(parents=True)
    (leftover / "upload.xlsx").write_bytes(b"old")
    second = import_rows(batch, account, [row(name="张三", number=ALICE)])
    assert second.pk == first.pk + 1 and second.status == JobStatus.DONE
    assert importer.upload_folder(second) != leftover and (leftover / "upload.xlsx").read_bytes() == b"old"


# --- progress of a run inside the request (OPS-3) ----------------------------------------------------------


def _running_import(batch, account) -> RosterImport:
    return RosterImport.objects.create(
        batch=batch, account=account, source=RosterImport.Source.FILE, status=JobStatus.RUNNING, attempts=1
    )


def test_a_task_run_writes_its_progress_for_the_page(batch, account):
    # SPEC ROS-9, UI.md "Long work": a queued import's page polls rows_done / rows_total.
    running = _running_import(batch, account)
    progress = importer_rows._Progress(running)
    progress.total(5000)
    progress.done(2000, force=True)
    running.refresh_from_db()
    assert (running.rows_total, running.rows_done) == (5000, 2000)


def test_a_run_inside_the_request_writes_no_progress_and_ends_with_its_counts(batch, account, django_assert_max_num_queries):
    # Nobody can poll an import that runs inside the request which started it: no progress write;
    # job_finish records rows_total and rows_done. Pinned: the whole inline import of a file.
    running = _running_import(batch, account)
    progress = importer_rows._Progress(running, watched=False)
    with django_assert_max_num_queries(0):
        progress.total(5000)
        progress.done(2000, force=True)
    running.refresh_from_db()
    assert (running.rows_total, running.rows_done) == (None, 0)
    with django_assert_max_num_queries(26):
        result = import_rows(batch, account, [row(number=ALICE), row("李梅", number=BETTY)])
    assert (result.status, result.rows_total, result.rows_done, result.rows_added) == (JobStatus.DONE, 2, 2, 2)
