"""【保费详细】's 【导出】 as a background export (SPEC PREM-3, COV-2, X-1; UI.md "Long work").

Sheet 保费详细: one row per person (IDs masked), a 合计 row whose 费用 equals the 保费信息's 总计, the
header frozen. Sheet 保费信息: the handbook's table of PREM-3. Written with mutualaid.xlsx while the
rows stream from the database; the unit watches 已处理 N / M and downloads its own file (X-4).
"""
from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Batch
from mutualaid.exports import ExportBuilder, ExportError, ExportPlan, Progress
from mutualaid.xlsx import XlsxWriter

from .selectors import AMOUNT_COLUMN, PremiumBasis, premium_detail_basis, premium_export_columns, premium_export_rows

TABLE_COLUMNS = (
    ("参加项目", 14), ("费用标准", 10), ("优惠金额", 10), ("社保人员人数", 12), ("社保人员实际费用", 16),
    ("非社保人员人数", 14), ("非社保人员实际费用", 18), ("合计费用", 12),
)
CHUNK = 5000


def _basis(*, user, params: dict) -> PremiumBasis:
    batch = Batch.objects.select_related("coverage_year").filter(number=str(params.get("batch", "")), account=user).first()
    if batch is None:
        raise Http404
    basis = premium_detail_basis(batch=batch)
    if basis is None:
        raise ExportError("该批次尚未生成保费信息，暂无保费详细可导出。")
    return basis


class PremiumDetailExport(ExportBuilder):
    kind = "premium_detail"
    label = "保费详细"
    back_label = "保费详细"

    def check(self, *, user, params: dict) -> None:
        _basis(user=user, params=params)

    def plan(self, *, user, params: dict) -> ExportPlan:
        number = params["batch"]
        today = timezone.localdate().strftime("%Y%m%d")
        return ExportPlan(title=f"保费详细（{number}）", filename=f"保费详细_{number}_{today}.xlsx")

    def back_url(self, *, params: dict) -> str | None:
        return reverse("plans:premium_detail", kwargs={"number": params["batch"]})

    def write(self, *, user, params: dict, path: str, progress: Progress) -> int:
        basis = _basis(user=user, params=params)
        progress.total(basis.people)
        rows = 0
        with XlsxWriter(path) as book:
            columns = premium_export_columns(basis=basis)
            sheet = book.sheet("保费详细", [(column.header, column.width) for column in columns])
            for row in premium_export_rows(basis=basis, chunk_size=CHUNK):
                sheet.row(row)
                rows += 1
                if rows % 1000 == 0:
                    progress.done(rows)
            total = [""] * len(columns)
            total[0], total[3], total[AMOUNT_COLUMN] = "合计", f"{basis.people}人", basis.total
            sheet.row(total, bold=True)
            _table_sheet(book, basis)
        return rows


def _table_sheet(book: XlsxWriter, basis: PremiumBasis) -> None:
    """SPEC PREM-3: 参加项目, 费用标准, 优惠金额, 社保人员 / 非社保人员 人数 and 实际费用, 合计费用, 总计."""
    sheet = book.sheet("保费信息", TABLE_COLUMNS)
    table = basis.table
    lines = table.lines.all() if hasattr(table.lines, "all") else table.lines
    for line in lines:
        sheet.row(
            [
                line.label, line.standard, line.discount, line.social_security_people, line.social_security_amount,
                line.other_people, line.other_amount, line.amount,
            ]
        )
    sheet.row(["总计", "----", "----", "----", "----", "----", "----", table.total], bold=True)
