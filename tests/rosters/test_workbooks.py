"""The import template (SPEC ROS-2) and the marked copy of an upload (SPEC ROS-10, X-1): rosters/workbooks.py."""
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from rosters.importer import NO_DATA, roster_import_start
from rosters.models import RosterEntry
from rosters.workbooks import (
    INSTRUCTIONS_SHEET,
    RED_FILL,
    REASON_HEADER,
    TEMPLATE_HEADER,
    marked_file_name,
    roster_marked_workbook,
    roster_template_workbook,
)
from tests.factories import IMPORT_CODE, UserFactory, make_batch
from tests.rosters.importfiles import resident_id, row, template_xlsx, upload, wrong_check
from mutualaid.jobs import JobStatus

pytestmark = pytest.mark.django_db

ALICE = resident_id("19900101", 101)
BETTY = resident_id("19850615", 202)


@pytest.fixture
def template():
    return load_workbook(io.BytesIO(roster_template_workbook()))


@pytest.fixture
def account(db):
    return UserFactory(username="cf-unit")


@pytest.fixture
def batch(account, handbook_year):
    return make_batch(account, year=handbook_year, code=IMPORT_CODE)


# --- the template (SPEC ROS-2) ---------------------------------------------------------------------------


def test_the_template_has_the_handbook_header_verbatim_and_in_order(template):
    sheet = template.worksheets[0]
    assert [cell.value for cell in sheet[1]] == [
        "*姓名",
        "*证件类型 (身份证、非身份证)",
        "*证件号码",
        "出生日期(非身份证类型为必填) 格式例如(1990-01-01)",
        "性别 (非身份证类型为必填)",
        "手机号",
        "*是否有社保",
    ]
    assert tuple(cell.value for cell in sheet[1]) == TEMPLATE_HEADER
    assert sheet.max_row == 1  # no example rows to be imported by mistake


def test_the_template_keeps_ids_and_mobiles_as_text_freezes_the_header_and_sets_widths(template):
    sheet = template.worksheets[0]
    assert sheet.column_dimensions["C"].number_format == "@"  # 证件号码 (SPEC ROS-3: never a float)
    assert sheet.column_dimensions["F"].number_format == "@"  # 手机号
    assert sheet.freeze_panes == "A2"
    assert all(sheet.column_dimensions[letter].width >= 12 for letter in "ABCDEFG")
    assert sheet.column_dimensions["D"].width > sheet.column_dimensions["A"].width


def test_the_template_offers_the_three_drop_downs(template):
    sheet = template.worksheets[0]
    found = {str(validation.sqref): validation.formula1 for validation in sheet.data_validations.dataValidation}
    assert found == {
        "B2:B100001": '"身份证,非身份证"',
        "E2:E100001": '"男,女"',
        "G2:G100001": '"是,否"',
    }
    assert all(validation.type == "list" and validation.showErrorMessage for validation in sheet.data_validations.dataValidation)


def test_the_template_explains_the_rules_on_a_second_sheet(template):
    assert template.sheetnames[1] == INSTRUCTIONS_SHEET == "填写说明"
    text = "\n".join(str(cell.value) for cell in template[INSTRUCTIONS_SHEET]["A"] if cell.value)
    for rule in ("带 * 的列为必填项", "非身份证", "出生日期和性别必须填写", "1990-01-01", "文本格式", "是否有社保"):
        assert rule in text


def test_the_template_filled_in_imports(batch, account, template):
    sheet = template.worksheets[0]
    sheet.append(["王豆豆", "身份证", ALICE, None, None, "13912345678", "是"])
    sheet.append(["王豆", "非身份证", "E12345678", "1998-12-09", "男", None, "是"])
    output = io.BytesIO()
    template.save(output)
    result = roster_import_start(batch=batch, upload=upload(output.getvalue()), acting_user=account)
    assert (result.rows_imported, result.rows_failed) == (2, 0), result.problems
    assert RosterEntry.objects.filter(batch=batch).count() == 2


def test_the_template_left_empty_is_refused_as_having_no_data(batch, account):
    result = roster_import_start(batch=batch, upload=upload(roster_template_workbook()), acting_user=account)
    assert (result.status, result.error) == (JobStatus.REFUSED, NO_DATA)


# --- the marked copy (SPEC ROS-10, X-1) ------------------------------------------------------------------


def test_the_marked_copy_fills_bad_cells_red_and_adds_the_reasons(batch, account):
    bad = wrong_check(BETTY)
    content = template_xlsx(
        [
            row("王豆豆", number=ALICE),
            row("李梅", number=bad, mobile="123"),
            row("SMITH", "非身份证", "AB1234", dt.datetime(1990, 1, 1), "男", insured="有"),
        ],
        above=[["2023年度参保名单"]],
    )
    result = roster_import_start(batch=batch, upload=upload(content), acting_user=account)
    assert result.rows_failed == 2
    sheet = load_workbook(io.BytesIO(roster_marked_workbook(roster_import=result))).active

    assert sheet["A1"].value == "2023年度参保名单"  # rows where they were: row numbers match the page
    assert [sheet.cell(row=2, column=column).value for column in range(1, 9)] == [*TEMPLATE_HEADER, REASON_HEADER]
    assert sheet["C3"].value == ALICE and sheet["H3"].value is None  # a good row: untouched, no reason
    assert sheet["C3"].fill.fgColor.rgb != RED_FILL.fgColor.rgb
    assert sheet["C4"].value == bad  # the unit's own value, unmasked
    for cell in ("C4", "F4", "G5"):
        assert sheet[cell].fill.fill_type == "solid" and sheet[cell].fill.fgColor.rgb == RED_FILL.fgColor.rgb, cell
    assert sheet["A4"].fill.fgColor.rgb != RED_FILL.fgColor.rgb
    assert "证件号码：证件号码校验位错误" in sheet["H4"].value and "手机号：" in sheet["H4"].value
    assert "是否有社保" in sheet["H5"].value
    assert sheet["D5"].value == dt.datetime(1990, 1, 1)  # a date stays a date
    assert sheet["C4"].number_format == "@"
    assert sheet.column_dimensions["C"].number_format == "@"  # IDs typed in while fixing stay text


def test_the_marked_copy_of_a_roster_on_a_later_sheet_is_that_sheet_marked(batch, account):
    # SPEC ROS-2: the roster was read from the first sheet with the header; the copy marks that sheet.
    content = template_xlsx([row(number=ALICE), row(number=wrong_check(BETTY))], sheets_before=[("封面", [["参保名单"]])])
    result = roster_import_start(batch=batch, upload=upload(content), acting_user=account)
    sheet = load_workbook(io.BytesIO(roster_marked_workbook(roster_import=result))).active
    assert sheet["A1"].value == TEMPLATE_HEADER[0] and sheet["C2"].value == ALICE
    assert sheet["C3"].fill.fgColor.rgb == RED_FILL.fgColor.rgb and "校验位" in sheet["H3"].value


def test_the_marked_copy_keeps_a_float_id_as_it_was_uploaded(batch, account):
    result = roster_import_start(batch=batch, upload=upload(template_xlsx([row(number=float(ALICE))])), acting_user=account)
    sheet = load_workbook(io.BytesIO(roster_marked_workbook(roster_import=result))).active
    assert isinstance(sheet["C2"].value, float)
    assert "文本格式" in sheet["H2"].value


def test_the_marked_copy_s_name_has_the_batch_number_and_date(batch, account):
    result = roster_import_start(batch=batch, upload=upload(template_xlsx([row(number=wrong_check(ALICE))])), acting_user=account)
    assert marked_file_name(result, today=dt.date(2023, 6, 12)) == f"参保名单导入错误标注_{batch.number}_20230612.xlsx"
