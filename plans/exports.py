"""【保费详细】's 【导出】 (SPEC PREM-3, X-1): the batch's people with their items and amounts as .xlsx.

Sheet 保费详细: one row per person (IDs masked), a 合计 row whose 费用 equals the 保费信息's 总计, the
header frozen. Sheet 保费信息: the handbook's table of PREM-3. Written by openpyxl's write-only
workbook into a temporary file while the rows stream from the database (as the roster's 【导出】 in
rosters/views/roster.py), so a 100,000-person batch never sits in memory as cells.
"""
from __future__ import annotations

import tempfile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from .selectors import AMOUNT_COLUMN, PremiumBasis, premium_export_columns, premium_export_rows

MONEY_FORMAT = "0.00"
TABLE_HEADERS = ("参加项目", "费用标准", "优惠金额", "社保人员人数", "社保人员实际费用", "非社保人员人数", "非社保人员实际费用", "合计费用")


def _bold_row(sheet, values) -> list:
    bold = Font(bold=True)
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = bold
        cells.append(cell)
    return cells


def _money(sheet, value, *, bold: bool = False):
    cell = WriteOnlyCell(sheet, value=value)
    cell.number_format = MONEY_FORMAT
    if bold:
        cell.font = Font(bold=True)
    return cell


def premium_workbook(*, basis: PremiumBasis):
    """The workbook of `basis`'s batch in a temporary file, positioned at its start (the caller
    streams it and closes it)."""
    workbook = Workbook(write_only=True)
    _people_sheet(workbook, basis)
    _table_sheet(workbook, basis)
    output = tempfile.TemporaryFile(suffix=".xlsx")
    workbook.save(output)
    output.seek(0)
    return output


def _people_sheet(workbook, basis: PremiumBasis) -> None:
    sheet = workbook.create_sheet("保费详细")
    columns = premium_export_columns(basis=basis)
    for index, column in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.append(_bold_row(sheet, [column.header for column in columns]))
    for row in premium_export_rows(basis=basis):
        cells = list(row)
        cells[AMOUNT_COLUMN] = _money(sheet, cells[AMOUNT_COLUMN])
        sheet.append(cells)
    total = [""] * len(columns)
    total[0], total[3] = "合计", f"{basis.people}人"
    total_cells = _bold_row(sheet, total)
    total_cells[AMOUNT_COLUMN] = _money(sheet, basis.total, bold=True)
    sheet.append(total_cells)


def _table_sheet(workbook, basis: PremiumBasis) -> None:
    """SPEC PREM-3: 参加项目, 费用标准, 优惠金额, 社保人员 / 非社保人员 人数 and 实际费用, 合计费用, 总计."""
    sheet = workbook.create_sheet("保费信息")
    for index, width in enumerate((14, 10, 10, 12, 16, 14, 18, 12), 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append(_bold_row(sheet, TABLE_HEADERS))
    table = basis.table
    lines = table.lines.all() if hasattr(table.lines, "all") else table.lines
    for line in lines:
        sheet.append(
            [
                line.label,
                _money(sheet, line.standard),
                _money(sheet, line.discount),
                line.social_security_people,
                _money(sheet, line.social_security_amount),
                line.other_people,
                _money(sheet, line.other_amount),
                _money(sheet, line.amount),
            ]
        )
    total = _bold_row(sheet, ["总计", "----", "----", "----", "----", "----", "----"])
    total.append(_money(sheet, table.total, bold=True))
    sheet.append(total)
