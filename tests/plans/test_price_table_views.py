"""【保费一览表】 (SPEC PLAN-1, PLAN-2, PREM-1, PREM-2): the year's table with benefits in the handbook's
layout, the ※ note, the rules, instant enrolment's two tiers with the year's dates, and `?print=1`.
Public information: every logged-in account may read it."""
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from plans.catalogue import ENHANCED_A_NOTE
from plans.models import PlanItem
from plans.views.price_table import price_grid
from tests.factories import UserFactory, make_batch

pytestmark = pytest.mark.django_db


def url(year=2023, **query) -> str:
    address = reverse("plans:price_table", kwargs={"year": year})
    return address + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def tier_prices(page: str, tier: str) -> dict[str, str]:
    """code → 缴费标准 of one instant tier table ("full" or "half")."""
    block = re.search(rf'data-tier="{tier}">(.*?)</table>', page, re.S).group(1)
    return dict(re.findall(r'data-code="(\w\d)">([\d.]+)<', block))


def test_anonymous_goes_to_login(client, handbook_year):
    response = client.get(url())
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


@pytest.mark.parametrize("role", ["unit_admin", "reviewer", "union_staff"])
def test_every_logged_in_account_may_read_it(client, handbook_year, role):
    """Public information: a unit account (even one without an enrollment code) and the back office."""
    client.force_login(UserFactory(role=role))
    response = client.get(url())
    assert response.status_code == 200
    assert "上海职工互助保障项目2023一览表" in text(response)


def test_unknown_year_is_404(client, handbook_year):
    client.force_login(UserFactory(role="unit_admin"))
    assert client.get(url(1999)).status_code == 404


def test_table_in_the_handbook_layout(client, handbook_year):
    """SPEC PLAN-1: 在职住院 / 特种重病 / 意外伤害 with 编号, 保障费, 待遇; 基本保障层 / 加强保障层."""
    client.force_login(make_batch(year=handbook_year).account)
    page = text(client.get(url()))
    for word in ("在职住院", "特种重病", "意外伤害", "编号", "保障费", "待遇", "基本保障层", "加强保障层"):
        assert word in page
    year_table = re.search(r'id="price-grid-year">(.*?)</table>', page, re.S).group(1)
    assert dict(re.findall(r'data-code="(\w\d)">([\d.]+)元/人<', year_table)) == {
        "A0": "120", "B0": "55", "C0": "15", "A1": "135", "B1": "100", "C1": "40",
        "A2": "230", "B2": "235", "C2": "75", "A3": "330", "B3": "460", "C3": "225",
    }
    assert "<div>1. 天数：300元/天（最高5.4万元）</div><div>2. 起付线：≤1500元</div>" in year_table.replace("> <", "><")
    assert 'rowspan="3"' in year_table  # 加强保障层 spans A1–A3
    assert f"※{ENHANCED_A_NOTE}" in page
    # 选择规则 (SPEC PLAN-2, PREM-1)
    assert "至少选1种" in page and "至多选1种" in page and "每个保障项目只能参保一份" in page
    assert "总费用从<strong>190元/年/人</strong>优惠至<strong>180元/年/人</strong>" in page


def test_instant_tiers_with_the_dates_of_the_year(client, handbook_year):
    """SPEC PREM-2: full year for a start 2023-07-01 – 2023-12-31 (with the bundle), half (exactly half,
    no bundle) for 2024-01-01 – 2024-06-30."""
    client.force_login(UserFactory(role="unit_admin"))
    page = text(client.get(url()))
    assert "起保日在<strong>2023年7月1日至2023年12月31日</strong>之间的，按<strong>一年</strong>缴费标准" in page
    assert "起保日在<strong>2024年1月1日至2024年6月30日</strong>之间的，按<strong>半年</strong>缴费标准" in page
    assert tier_prices(page, "full")["A1"] == "135"
    assert tier_prices(page, "half") == {
        "A0": "60", "B0": "27.50", "C0": "7.50", "A1": "67.50", "B1": "50", "C1": "20",
        "A2": "115", "B2": "117.50", "C2": "37.50", "A3": "165", "B3": "230", "C3": "112.50",
    }
    assert "总费用从<strong>190元/人</strong>优惠至<strong>180元/人</strong>" in page
    assert "按半年缴费标准缴费的，同时参保A<sub>0</sub>、B<sub>0</sub>、C<sub>0</sub>不享受优惠" in page


def test_prices_follow_the_year_items(client, handbook_year):
    PlanItem.objects.filter(coverage_year=handbook_year, code="C3").update(price=Decimal("230"))
    client.force_login(UserFactory(role="reviewer"))
    page = text(client.get(url()))
    assert tier_prices(page, "half")["C3"] == "115"


def test_print_view_has_no_menu(client, handbook_year):
    client.force_login(make_batch(year=handbook_year).account)
    screen = text(client.get(url()))
    assert 'id="sidebar"' in screen and "?print=1" in screen
    printed = text(client.get(url(print=1)))
    assert 'id="sidebar"' not in printed and "topbar" not in printed
    assert "上海职工互助保障项目2023一览表" in printed and "d-print-none" in printed
    assert 'id="price-grid-year"' in printed


def test_price_grid_rows():
    items = [
        PlanItem(code=code, series=code[0], layer=int(code[1]), price=Decimal(price), benefits="一\n二")
        for code, price in (("A0", "120"), ("B0", "55"), ("C0", "15"), ("A1", "135"))
    ]
    grid = price_grid(items)
    assert [row["label"] for row in grid] == ["基本保障层", "加强保障层", "", ""]
    assert [cell["code"] for cell in grid[0]["cells"]] == ["A0", "B0", "C0"]
    assert grid[1]["cells"][0] == {"code": "A1", "price": Decimal("135"), "benefits": ["一", "二"]}
    assert grid[1]["cells"][1] is None


def test_body_rendered_once_per_year_and_prices(client, handbook_year, monkeypatch):
    """SPEC OPS-3: the table's body is rendered once and kept for the next pages (保费一览表, its print
    view, 保障项目选择's dialog); a changed price, benefit or date shows at once (another key)."""
    from plans.views import price_table as module

    monkeypatch.setattr(module, "_BODIES", {})
    renders = []
    real = module.render_to_string
    monkeypatch.setattr(module, "render_to_string", lambda *args, **kwargs: renders.append(args[0]) or real(*args, **kwargs))
    client.force_login(make_batch(year=handbook_year).account)
    def body(response) -> str:
        page = text(response)
        return page[page.index('<section class="price-table-section'):page.rindex("</section>")]

    first = body(client.get(url()))
    assert body(client.get(url())) == first and 'data-code="A0">120元/人' in first
    assert "上海职工互助保障项目2023一览表" in text(client.get(url(print=1)))
    assert renders == ["plans/_price_table_body.html"]

    PlanItem.objects.filter(coverage_year=handbook_year, code="A0").update(price=Decimal("125"))
    changed = body(client.get(url()))
    assert "125元/人" in changed and 'data-code="A0">120元/人' not in changed
    PlanItem.objects.filter(coverage_year=handbook_year, code="B0").update(benefits="新的待遇说明")
    assert "1. 新的待遇说明" in text(client.get(url()))
    handbook_year.half_year_price_from = handbook_year.half_year_price_from.replace(day=2)
    handbook_year.save()
    assert f"{handbook_year.half_year_price_from:%Y年%-m月%-d日}" in text(client.get(url()))
    assert len(renders) == 4
