"""The two workbooks of 导入人员名单: the import template (SPEC ROS-2) and the marked copy of an upload
(SPEC ROS-10, X-1), both written with openpyxl.

The marked copy is built when it is downloaded, never during the import: most uploads are never
marked, and the import stays as fast as its reading. It is the uploaded file's roster sheet as
calamine read it, rows and columns where they were (so "第 12 行" is row 12 in both), the bad cells
filled red and a 错误原因 column after the last one.
"""
import datetime as dt
import io
from collections import defaultdict

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .importer import read_stored_sheet, stored_path
from .models import RosterImport

# SPEC ROS-2: the handbook's header, verbatim and in this order.
TEMPLATE_HEADER = (
    "*姓名",
    "*证件类型 (身份证、非身份证)",
    "*证件号码",
    "出生日期(非身份证类型为必填) 格式例如(1990-01-01)",
    "性别 (非身份证类型为必填)",
    "手机号",
    "*是否有社保",
)
TEMPLATE_WIDTHS = (14, 26, 24, 34, 22, 16, 14)
TEMPLATE_FILE_NAME = "参保名单导入模板.xlsx"
TEMPLATE_SHEET = "参保名单"
INSTRUCTIONS_SHEET = "填写说明"
VALIDATED_ROWS = 100_000  # SPEC ROS-9: the drop-downs reach as far as a file may go in one import
TEXT = "@"  # Excel's text format: IDs and mobiles keep every digit (SPEC ROS-3)

INSTRUCTIONS = (
    ("参保名单导入模板填写说明", None),
    ("1. 带 * 的列为必填项：*姓名、*证件类型、*证件号码、*是否有社保。", None),
    ("2. 请保留第1行标题行，不要修改列名；列的顺序可以调整，多余的列会被忽略。", None),
    ("3. 证件类型从下拉列表中选择“身份证”或“非身份证”。", None),
    ("4. 身份证请填写18位居民身份证号码（最后一位可以是X），出生日期和性别由号码自动识别，可以不填；不接受15位旧身份证号码。", None),
    ("5. 非身份证（护照、港澳台居民居住证、外国人永久居留身份证等）：证件号码为4–30位字母、数字或“-”，出生日期和性别必须填写。", None),
    ("6. 出生日期格式例如 1990-01-01（也可填写 1990/1/1、19900101 或 1990年1月1日）。", None),
    ("7. 证件号码和手机号两列已设为文本格式，请勿改成数字格式，否则Excel会把证件号码变成 3.10101E+17，导致导入失败。", None),
    ("8. 手机号选填，填写时应为11位手机号码；未登记手机号的人员无法通过【参保查询】查看本人参保情况。已在本批次清册中的人员，再次导入时填写的手机号会更新原手机号，留空则保留原手机号。", None),  # SPEC ROS-7 [departure]
    ("9. 是否有社保从下拉列表中选择“是”或“否”：选“是”的人员导入后职退状态为“在职”，可以参加A0。", None),
    ("10. 同一人在文件中只能出现一次；已在本批次清册中的人员再次导入时更新其信息，不会重复。", None),
    ("11. 建议清册中有此人时，姓名以建议清册中的社保姓名为准。", None),
    ("12. 一个文件可以导入10万人以上；文件不能设置密码，单个文件不超过 50MB。", None),
    ("13. 导入后，有错误的行不导入，其余行正常导入；可下载标注了错误原因的文件，修改后重新导入。", None),
)

RED_FILL = PatternFill(fill_type="solid", start_color="FFFFC7CE", end_color="FFFFC7CE")  # Excel's "light red fill"
RED_FONT = Font(color="FF9C0006")
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
HEADER_FONT = Font(bold=True)
REQUIRED_FONT = Font(bold=True, color="FFC00000")
THIN = Side(style="thin", color="FFBFBFBF")
HEADER_BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
REASON_HEADER = "错误原因"


def _list_validation(options: str, prompt: str, column: str) -> DataValidation:
    validation = DataValidation(
        type="list",
        formula1=f'"{options}"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="输入有误",
        error=f"请从下拉列表中选择：{options.replace(',', '、')}",
        showInputMessage=True,
        promptTitle="请选择",
        prompt=prompt,
    )
    validation.add(f"{column}2:{column}{VALIDATED_ROWS + 1}")
    return validation


def roster_template_workbook() -> bytes:
    """SPEC ROS-2: the import template (.xlsx bytes): the handbook's header in order, ID and mobile
    columns as text, drop-downs for 证件类型 / 性别 / 是否有社保, a frozen header, column widths, and a
    second sheet 填写说明 with the filling rules."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = TEMPLATE_SHEET
    for index, (text, width) in enumerate(zip(TEMPLATE_HEADER, TEMPLATE_WIDTHS), start=1):
        cell = sheet.cell(row=1, column=index, value=text)
        cell.font = REQUIRED_FONT if text.startswith("*") else HEADER_FONT
        cell.fill = HEADER_FILL
        cell.border = HEADER_BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        if text.startswith(("*证件号码", "手机号", "出生日期")):
            # A column style: cells typed into these columns are text from the start.
            sheet.column_dimensions[letter].number_format = TEXT
    sheet.row_dimensions[1].height = 36
    sheet.freeze_panes = "A2"
    sheet["C1"].comment = Comment("身份证请填写18位号码；本列为文本格式，请勿改为数字格式。", "职保会")
    for validation in (
        _list_validation("身份证,非身份证", "身份证 或 非身份证", "B"),
        _list_validation("男,女", "非身份证人员必填：男 或 女", "E"),
        _list_validation("是,否", "是：在职且有社保（职保）", "G"),
    ):
        sheet.add_data_validation(validation)

    notes = workbook.create_sheet(INSTRUCTIONS_SHEET)
    notes.column_dimensions["A"].width = 120
    for row, (text, _style) in enumerate(INSTRUCTIONS, start=1):
        cell = notes.cell(row=row, column=1, value=text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if row == 1:
            cell.font = Font(bold=True, size=14)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def marked_file_name(roster_import: RosterImport, *, today: dt.date) -> str:
    """UI.md "Files": a Chinese name with the batch number and the date."""
    return f"参保名单导入错误标注_{roster_import.batch.number}_{today:%Y%m%d}.xlsx"


def roster_marked_workbook(*, roster_import: RosterImport) -> bytes:
    """SPEC ROS-10, X-1: the upload of `roster_import` re-written with its bad cells filled red and a
    错误原因 column (.xlsx bytes). The caller checks who may have it (the uploading account, within 7
    days: rosters.importer.marked_copy_available). Raises RosterError if the file cannot be read."""
    sheet = read_stored_sheet(stored_path(roster_import))
    reasons: dict[int, list[str]] = defaultdict(list)
    bad_cells: dict[int, set[int]] = defaultdict(set)
    for problem in roster_import.problems:
        reasons[problem["row"]].append(f"{problem['column']}：{problem['reason']}")
        position = sheet.positions.get(problem["column"])
        if position is not None:
            bad_cells[problem["row"]].add(position)
    text_positions = {position for name, position in sheet.positions.items() if name in ("证件号码", "手机号")}
    width = max((len(row) for row in sheet.rows), default=0)
    reason_position = width  # right of the last column of the sheet's data

    workbook = Workbook(write_only=True)
    out = workbook.create_sheet(TEMPLATE_SHEET)
    lead = [None] * sheet.first_column  # keep columns where they were
    for position in text_positions:
        # A column style: IDs and mobiles typed in while fixing the file stay text (the values read
        # are strings already and are written as such).
        column = out.column_dimensions[get_column_letter(sheet.first_column + position + 1)]
        column.width = 22
        column.number_format = TEXT
    out.column_dimensions[get_column_letter(sheet.first_column + reason_position + 1)].width = 60
    for index, values in enumerate(sheet.rows):
        row_number = sheet.row_number(index)
        marked = bad_cells.get(row_number, ())
        cells = []
        for position, value in enumerate(values):
            if value == "":
                value = None
            if isinstance(value, (dt.date, dt.datetime)):
                cell = WriteOnlyCell(out, value=value)
                cell.number_format = "yyyy-mm-dd"
            elif position in marked or index == sheet.header_index:
                cell = WriteOnlyCell(out, value=value)
            else:
                cells.append(value)
                continue
            if position in marked:
                cell.fill = RED_FILL
                cell.font = RED_FONT
                if position in text_positions:
                    cell.number_format = TEXT
            if index == sheet.header_index:
                cell.font = HEADER_FONT
            cells.append(cell)
        cells.extend([None] * (reason_position - len(values)))
        if index == sheet.header_index:
            header = WriteOnlyCell(out, value=REASON_HEADER)
            header.font = Font(bold=True, color="FF9C0006")
            cells.append(header)
        elif row_number in reasons:
            reason = WriteOnlyCell(out, value="；".join(reasons[row_number]))
            reason.font = RED_FONT
            cells.append(reason)
        out.append(lead + cells)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
