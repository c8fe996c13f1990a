"""参保批次人员管理's 【导出】 as a background export (SPEC ROS-6, X-1; UI.md "Long work").

A roster of 50,000–95,000 people took 13 s to write in the request; now it is an ExportJob
(mutualaid.exports): the unit sees 已处理 N / M and downloads its own file. IDs and mobiles stay
masked (rosters.selectors.roster_export_rows). Only the batch's own account may export it (X-4).
"""
from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Batch
from enrollment.states import BatchAction
from mutualaid.exports import ExportBuilder, ExportError, ExportPlan, Progress
from mutualaid.xlsx import XlsxWriter

from .models import RosterEntry
from .selectors import EXPORT_COLUMNS, roster_export_rows

CHUNK = 5000


def _batch(*, user, params: dict) -> Batch:
    batch = Batch.objects.filter(number=str(params.get("batch", "")), account=user).first()
    if batch is None:
        raise Http404
    return batch


class RosterExport(ExportBuilder):
    kind = "roster"
    label = "参保清册"
    back_label = "参保批次人员管理"

    def check(self, *, user, params: dict) -> None:
        batch = _batch(user=user, params=params)
        if not batch.allows(BatchAction.ROSTER):
            raise ExportError("该批次正在清册校验，暂不能导出，请校验结束后再试。")

    def plan(self, *, user, params: dict) -> ExportPlan:
        number = params["batch"]
        today = timezone.localdate().strftime("%Y%m%d")
        return ExportPlan(title=f"参保清册（{number}）", filename=f"参保清册_{number}_{today}.xlsx")

    def back_url(self, *, params: dict) -> str | None:
        return reverse("rosters:roster", kwargs={"number": params["batch"]})

    def write(self, *, user, params: dict, path: str, progress: Progress) -> int:
        batch = _batch(user=user, params=params)
        progress.total(RosterEntry.objects.filter(batch=batch).count())
        rows = 0
        with XlsxWriter(path) as book:
            sheet = book.sheet("参保清册", [(column.header, column.width) for column in EXPORT_COLUMNS])
            for row in roster_export_rows(batch=batch, chunk_size=CHUNK):
                sheet.row(row)
                rows += 1
                if rows % 1000 == 0:
                    progress.done(rows)
        return rows
