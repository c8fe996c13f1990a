"""What 参保查询 shows (SPEC LOOK-1): the coverage of one roster entry, and nothing else — no other
person, no amounts, no handler, no ID number. The items and their 生效日期 come from the selector
【保费详细】 uses for one person (plans.selectors.premium_person_row), so the dates agree (COV-2)."""
import datetime as dt
from dataclasses import dataclass

from enrollment.states import HOLDING_STATES, BatchState
from mutualaid.pii import mask_mobile
from plans.models import Series
from plans.selectors import premium_detail_basis, premium_person_row
from rosters.models import RosterEntry

SERIES_LABELS = dict(Series.choices)
COMPLETED_LABEL = "参保已完成"
IN_PROGRESS_LABEL = "参保办理中（单位缴费后生效）"


def mask_name(name: str) -> str:
    """SPEC LOOK-2 [interpretation]: the surname's first character and one * per other character
    (张*, 欧**), as Chinese public notices print names; a one-character name becomes *."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*" if name else ""
    return name[0] + "*" * (len(name) - 1)


@dataclass(frozen=True)
class CoveredItem:
    code: str
    series: str
    basic: bool
    effective: dt.date | None  # 生效日期: coverage start plus the waiting period (COV-2)
    end: dt.date | None  # 终保日期

    @property
    def never(self) -> bool:
        """SPEC COV-2: the waiting period outlasts the coverage (a late instant start): 不生效."""
        return bool(self.effective and self.end and self.effective > self.end)


@dataclass(frozen=True)
class Coverage:
    year: int
    unit_name: str
    masked_name: str
    masked_mobile: str
    kind_label: str
    coverage_start: dt.date | None
    coverage_end: dt.date | None
    items: tuple[CoveredItem, ...]
    completed: bool
    batch_id: int
    holding: bool  # the batch still holds the person (submitted, not withdrawn or cancelled)

    @property
    def state_label(self) -> str:
        return COMPLETED_LABEL if self.completed else IN_PROGRESS_LABEL


def lookup_coverage(*, entry_id: int) -> Coverage | None:
    """The coverage of roster entry `entry_id` (SPEC LOOK-1), or None when it no longer exists. Items
    are empty while the unit has not chosen them (the batch's 保费信息 not yet generated)."""
    entry = RosterEntry.objects.select_related("batch", "batch__coverage_year").filter(pk=entry_id).first()
    if entry is None:
        return None
    batch = entry.batch
    start = entry.coverage_start or batch.coverage_start
    end = entry.coverage_end or batch.coverage_end
    items: list[CoveredItem] = []
    basis = premium_detail_basis(batch=batch) if batch.state in HOLDING_STATES else None
    if basis is not None:
        row = premium_person_row(basis=basis, entry=entry)
        effective = dict(row.effective)
        items = [
            CoveredItem(
                code=code,
                series=SERIES_LABELS.get(code[0], ""),
                basic=code.endswith("0"),
                effective=effective.get(code, start),  # centralised: every item from 起保日期 (COV-1)
                end=end,
            )
            for code in row.items
        ]
    return Coverage(
        year=batch.coverage_year.year,
        unit_name=batch.unit_name,
        masked_name=mask_name(entry.name),
        masked_mobile=mask_mobile(entry.mobile) if entry.mobile else "",
        kind_label=batch.get_kind_display(),
        coverage_start=start,
        coverage_end=end,
        items=tuple(items),
        completed=batch.state == BatchState.COMPLETED,
        batch_id=batch.pk,
        holding=batch.state in HOLDING_STATES,
    )
