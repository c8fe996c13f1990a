"""The back office's statistics page, /backoffice/statistics/ (`admin:statistics`; SPEC BO-3).

The figures come from payments.statistics (four queries over per-batch totals, whatever the year's
size); this module only picks the year, lays the charts out and renders them. Charts are inline
SVG drawn here on the server (no JavaScript, no CDN, nothing for the content security policy to allow
but the page's own style block): bars for items and union organisations, stacked bars for states
(centralised and instant), an area chart for the running total by day and columns for each day.

The page is not a model's: it is added to the default admin site by wrapping `admin.site.get_urls`
(imported once from payments/admin.py). Who may see it: `enrollment.view_batchtotals` (reviewers,
accounts/roles.py); other staff get 403, anyone else the login (the admin site's admin_view).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from enrollment.admin import _with_page_styles
from enrollment.models import CoverageYear
from enrollment.selectors import coverage_year_current
from enrollment.states import BatchKind

from .statistics import REFUNDS_NOTE, DayRow, StateRow, YearStatistics, statistics_of_year

PERMISSION = "enrollment.view_batchtotals"

# One accent colour for bars (UI.md "Look"), a second for instant enrolment in the stacked bars.
ACCENT = "#0d6efd"
SECOND = "#fd7e14"
KIND_COLOURS = {BatchKind.CENTRALISED: ACCENT, BatchKind.INSTANT: SECOND}


# --- chart geometry ------------------------------------------------------------------------------------


def _number(value) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return f"{value:,}"


def _nice_step(maximum: float, ticks: int = 4) -> float:
    """1, 2 or 5 times a power of ten, so that about `ticks` steps cover `maximum`."""
    if maximum <= 0:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


@dataclass
class Bar:
    y: float
    label: str
    x: float
    width: float
    text: str
    text_x: float
    text_inside: bool
    colour: str = ACCENT


@dataclass
class BarChart:
    width: int
    height: int
    label_width: int
    bars: list[Bar]
    row_height: int = 28
    title: str = ""


def bar_chart(rows: list[tuple[str, float, str]], *, title: str, width: int = 720, label_width: int = 220) -> BarChart:
    """Horizontal bars, one per (label, value, value text), the number at the end of each bar (inside
    it when the bar is long enough)."""
    row_height, top = 28, 8
    area = width - label_width - 16
    maximum = max([value for _, value, _ in rows] + [0]) or 1
    bars = []
    for index, (label, value, text) in enumerate(rows):
        length = max(area * value / maximum, 1 if value else 0)
        inside = length > len(text) * 8 + 12
        bars.append(
            Bar(
                y=top + index * row_height, label=label, x=label_width, width=round(length, 1), text=text,
                text_x=round(label_width + (length - 6 if inside else length + 6), 1), text_inside=inside,
            )
        )
    return BarChart(width=width, height=top * 2 + row_height * max(len(rows), 1), label_width=label_width, bars=bars, title=title)


@dataclass
class StackedRow:
    y: float
    label: str
    segments: list[Bar]
    total_text: str
    total_x: float


@dataclass
class StackedChart:
    width: int
    height: int
    label_width: int
    rows: list[StackedRow]
    legend: list[tuple[str, str]]
    legend_y: int
    title: str = ""


def stacked_chart(states: list[StateRow], *, title: str, width: int = 720, label_width: int = 140) -> StackedChart:
    """One bar per state (every state of the batch state machine), centralised and instant stacked;
    the count on each segment that has room, the total after the bar."""
    row_height, top = 28, 34
    area = width - label_width - 70
    maximum = max([row.total_batches for row in states] + [0]) or 1
    rows = []
    for index, row in enumerate(states):
        y, x, segments = top + index * row_height, float(label_width), []
        for kind in BatchKind:
            value = row.batches[kind.value]
            if not value:
                continue
            length = max(area * value / maximum, 1)
            text = _number(value)
            inside = length > len(text) * 8 + 8
            segments.append(
                Bar(
                    y=y, label=kind.label, x=round(x, 1), width=round(length, 1), text=text if inside else "",
                    text_x=round(x + length / 2, 1), text_inside=inside, colour=KIND_COLOURS[kind],
                )
            )
            x += length
        rows.append(StackedRow(y=y, label=row.label, segments=segments, total_text=_number(row.total_batches), total_x=round(x + 6, 1)))
    legend = [(kind.label, KIND_COLOURS[kind]) for kind in BatchKind]
    return StackedChart(
        width=width, height=top + row_height * len(rows) + 8, label_width=label_width, rows=rows, legend=legend,
        legend_y=14, title=title,
    )


@dataclass
class Tick:
    position: float
    text: str


@dataclass
class TimeChart:
    width: int
    height: int
    left: int
    top: int
    bottom: float
    right: float
    area_path: str
    line_points: str
    columns: list[tuple[float, float, float, float]]  # x, y, width, height
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    last_text: str
    last_x: float
    last_y: float
    title: str = ""


def time_chart(days: list[DayRow], values: list[int], *, title: str, columns: bool, width: int = 900, height: int = 240) -> TimeChart:
    """Values by day: an area with its line (`columns` False; for running totals) or one column a day;
    month starts (or weeks, for a short range) on the x axis, 4–5 round numbers on the y axis."""
    left, top, right_margin, bottom_margin = 78, 14, 70, 28
    right, bottom = width - right_margin, height - bottom_margin
    count = max(len(values), 1)
    step = _nice_step(max(values + [0]))
    top_value = step * max(math.ceil(max(values + [0]) / step), 1)
    slot = (right - left) / count

    def x_of(index: int) -> float:
        return left + slot * (index + 0.5)

    def y_of(value: float) -> float:
        return bottom - (bottom - top) * value / top_value

    points = [(round(x_of(i), 1), round(y_of(v), 1)) for i, v in enumerate(values)]
    line = " ".join(f"{x},{y}" for x, y in points)
    area = ""
    if points:
        area = f"M{points[0][0]},{bottom} " + " ".join(f"L{x},{y}" for x, y in points) + f" L{points[-1][0]},{bottom} Z"
    bars = []
    if columns:
        bar_width = max(slot * 0.7, 0.8)
        bars = [
            (round(x_of(i) - bar_width / 2, 1), round(y_of(v), 1), round(bar_width, 1), round(bottom - y_of(v), 1))
            for i, v in enumerate(values) if v
        ]
    x_ticks = []
    short = len(days) <= 62
    for index, row in enumerate(days):
        if (short and (index % 7 == 0)) or (not short and row.day.day == 1):
            x_ticks.append(Tick(round(x_of(index), 1), f"{row.day.month}月{row.day.day}日"))
    y_ticks = [Tick(round(y_of(step * i), 1), _number(int(step * i))) for i in range(int(top_value / step) + 1)]
    last_value = values[-1] if values else 0
    return TimeChart(
        width=width, height=height, left=left, top=top, bottom=bottom, right=right, area_path="" if columns else area,
        line_points="" if columns else line, columns=bars, x_ticks=x_ticks, y_ticks=y_ticks,
        last_text=_number(last_value) if not columns else "", last_x=points[-1][0] + 4 if points else 0,
        last_y=points[-1][1] + 4 if points else 0, title=title,
    )


# --- the page ------------------------------------------------------------------------------------------


class _Shown:
    """The figures as the page writes them: counts with thousands separators, yuan with two places
    too, None as "-". (The zh-hans locale has no thousands separator, so humanize's intcomma writes
    21884727.50; the handbook's tables write 21,884,727.50.) Wraps dataclasses, lists, tuples and
    dicts on the way down; dates, strings and booleans pass through."""

    def __init__(self, value):
        self._value = value

    def __getattr__(self, name):
        return _shown(getattr(self._value, name))

    def __getitem__(self, key):
        return _shown(self._value[key])

    def __iter__(self):
        return (_shown(value) for value in self._value)

    def __len__(self):
        return len(self._value)

    def __bool__(self):
        return bool(self._value)


def _shown(value):
    if value is None:
        return "-"
    if isinstance(value, bool) or isinstance(value, (str, dt.date)):
        return value
    if isinstance(value, (int, Decimal)):
        return _number(value)
    if isinstance(value, (list, tuple, dict)) or hasattr(value, "__dataclass_fields__"):
        return _Shown(value)
    return value



def _charts(figures: YearStatistics) -> dict:
    items = [item for item in figures.items if not item.is_discount]
    level1 = [row for row in figures.unions]
    return {
        "day_total_chart": time_chart(
            figures.days, [row.cumulative_people for row in figures.days], title="累计参保人数", columns=False
        ),
        "day_chart": time_chart(figures.days, [row.people for row in figures.days], title="每日参保人数", columns=True),
        "state_chart": stacked_chart(figures.states, title="各状态批次数"),
        "item_chart": bar_chart([(item.label, item.people, _number(item.people)) for item in items], title="各保障项目参保人数"),
        "union_chart": bar_chart(
            [(row.name, row.people, _number(row.people)) for row in level1], title="各一级工会组织参保人数", label_width=240
        ),
    }


def _year_of(request) -> CoverageYear | None:
    asked = request.GET.get("year", "")
    if asked.isdigit():
        found = CoverageYear.objects.filter(year=int(asked)).first()
        if found is not None:
            return found
    return coverage_year_current() or CoverageYear.objects.order_by("-year").first()


def statistics_view(request):
    """参保统计 of one coverage year (?year=2023; default the current year)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    coverage_year = _year_of(request)
    context = {
        **admin.site.each_context(request),
        "title": "参保统计",
        "is_nav_sidebar_enabled": False,
        "years": list(CoverageYear.objects.order_by("-year").values_list("year", flat=True)),
        "coverage_year": coverage_year,
        "refunds_note": REFUNDS_NOTE,
    }
    if coverage_year is not None:
        figures = statistics_of_year(coverage_year=coverage_year)
        context.update(
            {
                "statistics": figures,
                "figures": _Shown(figures),
                "item_totals": _shown(
                    (sum(i.people for i in figures.items if not i.is_discount), sum((i.premium for i in figures.items), Decimal("0.00")))
                ),
                "union_totals": _shown(
                    (
                        sum(row.units for row in figures.unions), sum(row.people for row in figures.unions),
                        sum((row.premium for row in figures.unions), Decimal("0.00")),
                    )
                ),
                "state_totals": _shown(
                    {
                        "batches": {kind.value: sum(row.batches[kind.value] for row in figures.states) for kind in BatchKind},
                        "all": sum(row.total_batches for row in figures.states),
                    }
                ),
                "active_days": _shown([row for row in figures.days if row.batches]),
                "today": dt.date.today(),
                **_charts(figures),
            }
        )
    return _with_page_styles(TemplateResponse(request, "admin/statistics.html", context))


_site_get_urls = admin.site.get_urls


def _get_urls_with_statistics():
    return [path("statistics/", admin.site.admin_view(statistics_view), name="statistics"), *_site_get_urls()]


admin.site.get_urls = _get_urls_with_statistics
