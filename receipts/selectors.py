"""Reads for receipts and the coverage certificate (SPEC RCP-1, RCP-3)."""
from __future__ import annotations

from django.db.models import QuerySet

from enrollment.models import Batch
from enrollment.states import BatchKind
from plans import premiums
from plans.models import BatchPremium, PlanItem, Series

from .models import Receipt


def receipts_of(*, batch: Batch) -> QuerySet[Receipt]:
    """The batch's receipt lines in the order they were added."""
    return Receipt.objects.filter(batch=batch).order_by("pk")


def certificate_context(*, batch: Batch) -> dict:
    """What the 保障单 shows (SPEC RCP-3): unit, code, batch, year, the items with their names, the
    headcounts and premium lines, the coverage period and, for an instant batch, each item's
    effective date after its waiting period (COV-2)."""
    premium = BatchPremium.objects.prefetch_related("lines").get(batch=batch)
    year = batch.coverage_year
    codes = premium.code_list
    names = {
        item.code: f"{Series(item.series).label}{item.code}"
        for item in PlanItem.objects.filter(coverage_year=year, code__in=codes)
    }
    start = batch.coverage_start or year.coverage_start
    instant = batch.kind == BatchKind.INSTANT
    effective = premiums.effective_dates(
        codes, start=start, instant=instant,
        waiting_days={"A": year.waiting_days_a, "B": year.waiting_days_b, "C": year.waiting_days_c},
    )
    return {
        "premium": premium,
        "lines": list(premium.lines.all()),
        "items": [
            {"code": code, "name": names.get(code, code), "effective": effective[code], "waits": effective[code] != start}
            for code in codes
        ],
        "start": start,
        "end": batch.coverage_end or year.coverage_end,
        "instant": instant,
    }
