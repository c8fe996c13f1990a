"""【保费一览表】 (SPEC PLAN-1, PLAN-2, PREM-1, PREM-2): the year's twelve items with their benefits in the
handbook's layout (在职住院 / 特种重病 / 意外伤害; 基本保障层 / 加强保障层), the ※ note and the selection
rules, and the two price tiers of instant enrolment with the dates of the year; `?print=1` renders a
printable page without the menu.

Public information: any logged-in account may read it (unit accounts with or without a code, and the
back-office roles); visitors are sent to the login.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import path
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from enrollment.models import CoverageYear

from .. import premiums
from ..catalogue import ENHANCED_A_NOTE
from ..models import PlanItem, Series
from ..services import plan_items_of

LAYER_LABELS = {0: "基本保障层", 1: "加强保障层"}


def price_grid(items: list[PlanItem], *, prices: dict[str, Decimal] | None = None) -> list[dict]:
    """The PLAN-1 table as rows of the handbook: one row a layer (0 basic, 1–3 enhanced), one cell a
    series (A 在职住院, B 特种重病, C 意外伤害) with the code, the price (`prices` for a tier, else the
    item's full-year price) and the benefits one a line. The layer label spans the enhanced rows."""
    by_code = {item.code: item for item in items}
    rows = []
    for layer in range(4):
        cells = []
        for series in premiums.SERIES:
            item = by_code.get(f"{series}{layer}")
            if item is None:
                cells.append(None)
                continue
            cells.append(
                {
                    "code": item.code,
                    "price": (prices or {}).get(item.code, item.price),
                    "benefits": [line for line in item.benefits.splitlines() if line.strip()],
                }
            )
        rows.append(
            {
                "layer": layer,
                "label": LAYER_LABELS.get(layer, ""),
                "rowspan": 1 if layer == 0 else 3,
                "cells": cells,
            }
        )
    return rows


def bundle_prices(*, prices: dict[str, Decimal], bundle_discount: Decimal) -> tuple[Decimal, Decimal]:
    """SPEC PREM-1: (A0 + B0 + C0, what a person pays for the three together), e.g. (190, 180)."""
    standard = sum((Decimal(prices[code]) for code in premiums.BASIC), premiums.ZERO)
    return standard, standard - min(bundle_discount, standard)


def price_tiers(*, coverage_year: CoverageYear, items: list[PlanItem]) -> list[dict]:
    """SPEC PREM-2: instant enrolment's two tables: full-year prices for a start from the year's
    coverage start to the day before half_year_price_from (with the bundle, PREM-1), half-year prices
    (exactly half, no bundle) from it to the end of the year."""
    full_prices = {item.code: item.price for item in items}
    tiers = []
    for full_year in (True, False):
        prices = premiums.tier_prices(full_prices, full_year=full_year)
        if full_year:
            start, end = coverage_year.coverage_start, coverage_year.half_year_price_from - dt.timedelta(days=1)
        else:
            start, end = coverage_year.half_year_price_from, coverage_year.coverage_end
        tier = {
            "full_year": full_year,
            "label": "一年" if full_year else "半年",
            "start": start,
            "end": end,
            "grid": price_grid(items, prices=prices),
            "bundle": None,
        }
        if full_year:
            tier["bundle"] = bundle_prices(prices=prices, bundle_discount=coverage_year.bundle_discount)
        tiers.append(tier)
    return tiers


# The rendered body by everything it shows (below): the same table for every unit of a year, and most of
# the rendering of 保费一览表, 保障项目选择 and 【生成保费信息】 (SPEC OPS-3). Process-local: a changed
# price, benefit or date is another key, so no process ever shows an old table.
_BODIES: dict[tuple, str] = {}
_BODIES_MAX = 64


def price_table_body(*, coverage_year: CoverageYear, items: list[PlanItem]) -> str:
    """The HTML of plans/_price_table_body.html for this year and these items (PLAN-1, PREM-1, PREM-2)."""
    key = (
        get_language(), coverage_year.pk, coverage_year.year, coverage_year.coverage_start,
        coverage_year.coverage_end, coverage_year.half_year_price_from, coverage_year.bundle_discount,
        tuple((item.code, item.price, item.benefits) for item in items),
    )
    body = _BODIES.get(key)
    if body is None:
        prices = {item.code: item.price for item in items}
        standard, bundled = bundle_prices(prices=prices, bundle_discount=coverage_year.bundle_discount)
        body = render_to_string(
            "plans/_price_table_body.html",
            {
                "coverage_year": coverage_year,
                "series": [label for _, label in Series.choices],
                "grid": price_grid(items),
                "tiers": price_tiers(coverage_year=coverage_year, items=items),
                "note": ENHANCED_A_NOTE,
                "bundle_standard": standard,
                "bundle_price": bundled,
                "bundle_discount": coverage_year.bundle_discount,
            },
        )
        if len(_BODIES) >= _BODIES_MAX:
            _BODIES.clear()
        _BODIES[key] = body
    return body


def price_table_context(*, coverage_year: CoverageYear) -> dict:
    """What 【保费一览表】 shows, for this page and the 保障项目选择 page's dialog: its body rendered
    (`price_table_body`), and the bundle's figures that 选择规则 shows on 保障项目选择 too."""
    items = plan_items_of(coverage_year=coverage_year)
    standard, bundled = bundle_prices(
        prices={item.code: item.price for item in items}, bundle_discount=coverage_year.bundle_discount
    )
    return {
        "coverage_year": coverage_year,
        "price_table_body": price_table_body(coverage_year=coverage_year, items=items),
        "bundle_standard": standard,
        "bundle_price": bundled,
        "bundle_discount": coverage_year.bundle_discount,
    }


@require_GET
@login_required
def price_table(request, year: int):
    """【保费一览表】 of `year` (404 for a year that does not exist); `?print=1` the printable page."""
    coverage_year = get_object_or_404(CoverageYear, year=year)
    template = "plans/price_table_print.html" if request.GET.get("print") == "1" else "plans/price_table.html"
    return render(request, template, price_table_context(coverage_year=coverage_year))


urlpatterns = [
    path("plans/<int:year>/price-table/", price_table, name="price_table"),
]
