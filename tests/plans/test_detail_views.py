"""【保费详细】 and one person's items on the roster's 查看 page (SPEC PREM-3, PLAN-3, PREM-1, PREM-2, COV-2,
X-1, X-4): the page, its filters and pagination, totals equal to the confirmed 保费信息, masked IDs, the
preview before confirmation, waiting periods of instant batches and the access rules."""
import datetime as dt
import re
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from enrollment.states import BatchKind, BatchState
from plans.models import BatchPremium
from plans.services import WithdrawTarget, batch_premium_table, batch_withdraw, premium_confirm, premium_generate
from rosters.models import RosterEntry
from tests.factories import SHANGHAI, UserFactory, make_batch, make_entry, resident_id
from tests.plans.helpers import approved_batch

pytestmark = pytest.mark.django_db

CODES = ["A0", "B0", "C0", "A3", "B3", "C3"]
IN_WINDOW = dt.datetime(2023, 6, 15, 10, 0, tzinfo=SHANGHAI)  # inside the 2023 centralised window
FOOTER = "显示第 {start} 到第 {end} 条记录，总共 {total} 条记录 每页显示 15 条记录"


def detail_url(batch, **query) -> str:
    address = reverse("plans:premium_detail", kwargs={"number": batch.number})
    if query:
        address += "?" + "&".join(f"{key}={quote(str(value))}" for key, value in query.items())
    return address


def items_url(batch, entry) -> str:
    return reverse("plans:entry_items", kwargs={"number": batch.number, "entry_id": entry.pk})


def export_url(batch) -> str:
    return reverse("plans:premium_export", kwargs={"number": batch.number})


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def shown_names(response) -> list[str]:
    return re.findall(r'<td class="cell-name">([^<]*)</td>', response.content.decode())


def shown_amounts(response) -> list[Decimal]:
    cells = re.findall(r'<td class="cell-amount text-end">([^<]*)</td>', response.content.decode())
    return [Decimal(value.replace(",", "")) for value in cells]


def shown_total(response) -> Decimal:
    shown = re.search(r'<strong class="premium-total-amount">([^<]*)</strong>', response.content.decode()).group(1)
    return Decimal(shown.replace(",", ""))


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def confirmed(batch, codes=CODES, at=IN_WINDOW) -> BatchPremium:
    return premium_confirm(batch=batch, codes=codes, acting_user=batch.account, at=at)


@pytest.fixture
def batch(handbook_year):
    """A centralised batch: 4 people with 社保, 2 without (SPEC PLAN-3), confirmed with A0 B0 C0 A3 B3 C3."""
    batch = approved_batch(year=handbook_year, social_security=4, without_social_security=2)
    confirmed(batch)
    return batch


@pytest.fixture
def client_of(client, batch):
    client.force_login(batch.account)
    return client


# --- the page (SPEC PREM-3, PLAN-3, PREM-1) ---------------------------------------------------------------


def test_confirmed_page_lists_each_person_with_items_and_amount(client_of, batch):
    response = client_of.get(detail_url(batch))

    assert response.status_code == 200
    html = response.content.decode()
    text = page_text(response)
    for header in ("姓名", "证件号码", "社保", "参加项目", "费用（元）", "起保日期", "终保日期"):
        assert f">{header}</th>" in html
    assert "生效日期</th>" not in html  # SPEC COV-2: a centralised batch has no waiting period
    # The 保费信息 table on top (the shared template), then the people.
    assert 'id="premium-table"' in html and "保费信息" in text
    assert "已确认" in text and "预览，尚未确认" not in text
    # SPEC PLAN-3: with 社保 every item (A0 B0 C0 bundled at 180, PREM-1); without 社保 all but A0.
    assert "社保0 " in text
    assert re.search(r"社保0 \S+ 是 A0 B0 C0 A3 B3 C3 1,195\.00 2023-07-01 2024-06-30", text)
    assert re.search(r"非社保0 \S+ 否 B0 C0 A3 B3 C3 1,085\.00 2023-07-01 2024-06-30", text)
    assert shown_amounts(response) == [Decimal("1195.00")] * 4 + [Decimal("1085.00")] * 2


def test_totals_equal_the_confirmed_premium(client_of, batch):
    premium = BatchPremium.objects.get(batch=batch)
    response = client_of.get(detail_url(batch))

    # 4 × (180 + 330 + 460 + 225) + 2 × (55 + 15 + 330 + 460 + 225)
    assert premium.total == Decimal("6950.00")
    assert shown_total(response) == premium.total
    assert sum(shown_amounts(response)) == premium.total
    assert "全批次： 6 人，保费总计 6,950.00 元" in page_text(response)
    assert 'class="premium-total">6,950.00<' in response.content.decode()  # the 保费信息 table's 总计


def test_worked_example_of_the_handbook(client, handbook_year):
    # SPEC PREM-3: 4 people with 社保, A0 B0 C0 A3 B3 C3 → 4,780.00.
    batch = approved_batch(year=handbook_year, social_security=4)
    premium = confirmed(batch)
    client.force_login(batch.account)

    response = client.get(detail_url(batch))

    assert premium.total == Decimal("4780.00") == shown_total(response)
    assert shown_amounts(response) == [Decimal("1195.00")] * 4


def test_ids_are_masked(client_of, batch):
    number = resident_id(dt.date(1976, 5, 20), 427)  # not the helpers' default birth date
    entry = make_entry(batch, name="胡庆庆", id_number=number, has_social_security=True)
    passport = make_entry(batch, name="张贺", id_type="非身份证", id_number="31AB99917X", birth_date=dt.date(1990, 1, 1))

    html = client_of.get(detail_url(batch)).content.decode()

    assert entry.pk and passport.pk
    assert number not in html and "31AB99917X" not in html  # SPEC X-1
    assert f"{number[:4]}*****{number[-4:]}" in html
    assert "31*****17X" in html


def test_pagination_15_a_page_with_the_shared_footer(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=20, without_social_security=3)
    premium = confirmed(batch)
    client.force_login(batch.account)

    first = client.get(detail_url(batch))
    second = client.get(detail_url(batch, page=2))

    assert len(shown_names(first)) == 15
    assert FOOTER.format(start=1, end=15, total=23) in page_text(first)
    assert shown_names(second) == ["社保15", "社保16", "社保17", "社保18", "社保19", "非社保0", "非社保1", "非社保2"]
    assert FOOTER.format(start=16, end=23, total=23) in page_text(second)
    # The totals are the batch's on every page, not the page's.
    assert shown_total(first) == shown_total(second) == premium.total
    assert sum(shown_amounts(first)) + sum(shown_amounts(second)) == premium.total


def test_filters_by_name_full_id_and_social_security(client_of, batch):
    number = resident_id(dt.date(1979, 11, 2), 333)
    RosterEntry.objects.filter(batch=batch, name="社保1").delete()  # room for one with a known number
    make_entry(batch, name="王小梅", id_number=number, has_social_security=True)

    assert shown_names(client_of.get(detail_url(batch, name="小梅"))) == ["王小梅"]
    # 证件号: the full number, exact, through the hash; lower case and spaces still match.
    assert shown_names(client_of.get(detail_url(batch, id_number=f" {number.lower()} "))) == ["王小梅"]
    assert shown_names(client_of.get(detail_url(batch, id_number=number[:14]))) == []
    without = client_of.get(detail_url(batch, social_security="no"))
    assert shown_names(without) == ["非社保0", "非社保1"]
    assert "筛选结果： 2 人，费用合计 2,170.00 元" in page_text(without)
    with_ss = client_of.get(detail_url(batch, social_security="yes"))
    assert shown_names(with_ss) == ["社保0", "社保2", "社保3", "王小梅"]
    assert "筛选结果： 4 人，费用合计 4,780.00 元" in page_text(with_ss)
    # the filters stay in the form and in the footer's links; a hand-edited value counts as 全部
    assert 'value="小梅"' in client_of.get(detail_url(batch, name="小梅")).content.decode()
    assert len(shown_names(client_of.get(detail_url(batch, social_security="bogus")))) == 6


def test_filters_are_kept_by_the_page_links(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=20)
    confirmed(batch)
    client.force_login(batch.account)

    html = client.get(detail_url(batch, social_security="yes")).content.decode()

    assert "?social_security=yes&amp;page=2" in html


def test_query_count_does_not_grow_with_the_batch(client, handbook_year):
    small = approved_batch(year=handbook_year, social_security=3, without_social_security=1)
    large = approved_batch(year=handbook_year, social_security=30, without_social_security=12)
    confirmed(small)
    confirmed(large)

    counts = []
    for batch in (small, large):
        client.force_login(batch.account)
        client.get(detail_url(batch))  # the session's first request writes its own rows
        with CaptureQueriesContext(connection) as queries:
            assert client.get(detail_url(batch, social_security="no")).status_code == 200
        counts.append(len(queries))

    assert counts[0] == counts[1]


# --- before confirmation: a preview (SPEC PREM-3) -------------------------------------------------------


def test_preview_after_generate_is_marked_and_priced_now(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=4, without_social_security=1)
    client.force_login(batch.account)
    premium_generate(batch=batch, codes=["A0", "B0", "C0", "A3"], acting_user=batch.account)

    response = client.get(detail_url(batch))

    assert response.status_code == 200
    text = page_text(response)
    assert "预览，尚未确认" in text
    expected = batch_premium_table(batch=batch, codes=["A0", "B0", "C0", "A3"]).total
    assert expected == Decimal("4") * (180 + 330) + (55 + 15 + 330)
    assert shown_total(response) == expected == sum(shown_amounts(response))


def test_no_selection_yet_leads_to_the_selection(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=2)
    client.force_login(batch.account)

    response = client.get(detail_url(batch))

    assert response.status_code == 302
    assert "尚未生成保费信息，请先在【保障项目选择】中勾选保障项目并点击【生成保费信息】。" in flash(response)
    assert client.get(export_url(batch)).status_code == 302


def test_no_detail_in_a_draft_batch(client, handbook_year):
    batch = make_batch(year=handbook_year)
    make_entry(batch)
    client.force_login(batch.account)

    response = client.get(detail_url(batch))

    assert response.status_code == 302
    assert response["Location"] == reverse("enrollment:batches")
    assert "批次当前状态为“清册待校验”，尚无保费详细。" in flash(response)


def test_withdrawn_to_the_roster_has_no_detail(client_of, batch):
    with_window = IN_WINDOW + dt.timedelta(days=1)
    batch_withdraw(batch=batch, target=WithdrawTarget.ROSTER, reason="人员有误", acting_user=batch.account, at=with_window)

    assert client_of.get(detail_url(batch)).status_code == 302
    assert client_of.get(items_url(batch, batch.entries.first())).content == b""


@pytest.mark.parametrize("state", [BatchState.PAYMENT_REVIEW, BatchState.COMPLETED, BatchState.CANCELLED])
def test_later_states_still_show_the_confirmed_detail(client_of, batch, state):
    type(batch).objects.filter(pk=batch.pk).update(state=state)

    response = client_of.get(detail_url(batch))

    assert response.status_code == 200
    assert shown_total(response) == BatchPremium.objects.get(batch=batch).total


# --- instant batches: waiting periods (SPEC COV-2, PREM-2) ------------------------------------------------


def test_instant_batch_shows_each_items_effective_date(client, handbook_year):
    start = dt.date(2023, 9, 15)
    batch = approved_batch(
        year=handbook_year, kind=BatchKind.INSTANT, social_security=1, without_social_security=1, start=start
    )
    confirmed(batch, at=dt.datetime(2023, 9, 14, 10, 0, tzinfo=SHANGHAI))
    client.force_login(batch.account)

    response = client.get(detail_url(batch))

    html = response.content.decode()
    text = page_text(response)
    assert re.search(r'colspan="3"[^>]*>生效日期</th>', html)
    # one column per series, whose items share the waiting period: A 30 days, B 60, C none (2023)
    assert "A0 A3 B0 B3 C0 C3 社保0" in text
    assert re.search(r"社保0 \S+ 是 A0 B0 C0 A3 B3 C3 1,195\.00 2023-09-15 2024-06-30 2023-10-15 2023-11-14 2023-09-15", text)
    assert re.search(r"非社保0 \S+ 否 B0 C0 A3 B3 C3 1,085\.00 2023-09-15 2024-06-30 2023-10-15 2023-11-14 2023-09-15", text)
    assert "即时参保设免责期" in text


def test_instant_person_without_an_item_of_a_series_has_no_date_for_it(client, handbook_year):
    # SPEC PLAN-3: without 社保 no A0; with A0 as the only A item, nothing of series A takes effect.
    batch = approved_batch(
        year=handbook_year, kind=BatchKind.INSTANT, social_security=1, without_social_security=1,
        start=dt.date(2023, 9, 15),
    )
    confirmed(batch, codes=["A0", "B0", "C0"], at=dt.datetime(2023, 9, 14, 10, 0, tzinfo=SHANGHAI))
    client.force_login(batch.account)

    text = page_text(client.get(detail_url(batch)))

    assert re.search(r"社保0 \S+ 是 A0 B0 C0 180\.00 2023-09-15 2024-06-30 2023-10-15 2023-11-14 2023-09-15", text)
    assert re.search(r"非社保0 \S+ 否 B0 C0 70\.00 2023-09-15 2024-06-30 - 2023-11-14 2023-09-15", text)


def test_instant_half_year_prices(client, handbook_year):
    # SPEC PREM-2: a start from 2024-01-01 pays exactly half, with no bundle.
    batch = approved_batch(year=handbook_year, kind=BatchKind.INSTANT, social_security=2, start=dt.date(2024, 1, 1))
    premium = confirmed(batch, at=dt.datetime(2023, 12, 31, 10, 0, tzinfo=SHANGHAI))
    client.force_login(batch.account)

    response = client.get(detail_url(batch))

    assert shown_amounts(response) == [Decimal("602.50")] * 2  # (120 + 55 + 15 + 330 + 460 + 225) / 2
    assert shown_total(response) == premium.total == Decimal("1205.00")
    assert "半年缴费标准" in page_text(response)


# --- one person's items on the roster's 查看 page (SPEC PLAN-3, COV-2) -------------------------------------


def test_roster_entry_page_loads_the_items_fragment(client_of, batch):
    entry = batch.entries.order_by("pk").first()

    html = client_of.get(reverse("rosters:roster_entry", kwargs={"number": batch.number, "entry_id": entry.pk})).content.decode()

    assert f'data-hx-get="{items_url(batch, entry)}"' in html
    assert 'data-hx-trigger="load"' in html


def test_entry_items_fragment(client_of, batch):
    with_ss = batch.entries.get(name="社保0")
    without_ss = batch.entries.get(name="非社保0")

    text = page_text(client_of.get(items_url(batch, with_ss)))
    other = page_text(client_of.get(items_url(batch, without_ss)))

    assert "参加项目 A0 B0 C0 A3 B3 C3" in text and "费用 1,195.00 元" in text
    assert "集中参保无免责期" in text and "预览" not in text
    assert "参加项目 B0 C0 A3 B3 C3" in other and "费用 1,085.00 元" in other
    assert "非社保人员不能参加A0" in other


def test_entry_items_fragment_instant_dates(client, handbook_year):
    batch = approved_batch(year=handbook_year, kind=BatchKind.INSTANT, social_security=1, start=dt.date(2023, 9, 15))
    premium_generate(batch=batch, codes=["A0", "B1", "C0"], acting_user=batch.account)
    client.force_login(batch.account)

    text = page_text(client.get(items_url(batch, batch.entries.get())))

    assert "预览，尚未确认" in text
    assert "A0 在职住院（基本保障） 30天 2023-10-15" in text
    assert "B1 特种重病（加强保障） 60天 2023-11-14" in text
    assert "C0 意外伤害（基本保障） 无 2023-09-15" in text


def test_entry_items_fragment_is_empty_without_a_selection(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=1)
    client.force_login(batch.account)

    response = client.get(items_url(batch, batch.entries.get()))

    assert response.status_code == 200
    assert response.content == b""


# --- access (SPEC X-4; STYLE.md §10) ---------------------------------------------------------------------


def _addresses(batch):
    entry = batch.entries.order_by("pk").first()
    return [detail_url(batch), export_url(batch), items_url(batch, entry)]


def test_anonymous_goes_to_login(client, batch):
    for address in _addresses(batch):
        response = client.get(address)
        assert response.status_code == 302, address
        assert response["Location"].startswith(reverse("accounts:login")), address


def test_another_accounts_batch_is_404(client, batch, handbook_year):
    stranger = make_batch(year=handbook_year, unit_name="别的单位").account
    client.force_login(stranger)
    for address in _addresses(batch):
        assert client.get(address).status_code == 404, address


def test_another_batchs_entry_under_my_batch_is_404(client_of, batch, handbook_year):
    foreign = approved_batch(year=handbook_year, social_security=1)
    confirmed(foreign)

    assert client_of.get(items_url(batch, foreign.entries.get())).status_code == 404


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_back_office_roles_get_403(client, batch, role):
    client.force_login(UserFactory(role=role))
    for address in _addresses(batch):
        assert client.get(address).status_code == 403, address


def test_post_is_not_allowed(client_of, batch):
    for address in _addresses(batch):
        assert client_of.post(address).status_code == 405, address


def test_an_item_whose_waiting_period_outlasts_the_coverage_says_it_never_takes_effect(client, handbook_year):
    # SPEC COV-2: an instant start on 2024-06-01 — A waits 30 days (2024-07-01), B 60: both after 终保日期
    # 2024-06-30; C has no waiting period and covers from the start.
    batch = approved_batch(year=handbook_year, kind=BatchKind.INSTANT, social_security=1, start=dt.date(2024, 6, 1))
    confirmed(batch, codes=["A0", "B0", "C0"], at=dt.datetime(2024, 5, 31, 10, 0, tzinfo=SHANGHAI))
    client.force_login(batch.account)

    text = page_text(client.get(detail_url(batch)))

    assert re.search(r"社保0 \S+ 是 A0 B0 C0 \S+ 2024-06-01 2024-06-30 不生效 不生效 2024-06-01", text)
