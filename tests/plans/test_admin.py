"""Plan items and confirmed premiums in the back office (SPEC PLAN-1, YEAR-1, PREM-3; plans/admin.py):
reviewers change 保障费 and 待遇 until a batch of the year confirms its premium, then the price is locked
(shown read only, refused on save, also from a page opened before); a year without items gets them
when the list is first opened; union staff and unit administrators have no access (STYLE.md §10)."""
import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from plans.models import BatchPremium, PlanItem, PremiumLine
from plans.services import plan_item_price_locked, premium_confirm
from tests.factories import SHANGHAI, CoverageYearFactory, UserFactory
from tests.plans.helpers import approved_batch

pytestmark = pytest.mark.django_db

AT = dt.datetime(2023, 6, 15, 10, 0, tzinfo=SHANGHAI)
LOCKED = "本保障年度已有参保批次提交确认保费，保障费已锁定，不能再修改"


def changelist(**query) -> str:
    address = reverse("admin:plans_planitem_changelist")
    return address + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")


def change_page(item) -> str:
    return reverse("admin:plans_planitem_change", args=[item.pk])


def item_of(year, code) -> PlanItem:
    return PlanItem.objects.get(coverage_year=year, code=code)


def confirm_a_batch(year):
    batch = approved_batch(year=year, social_security=2)
    return premium_confirm(batch=batch, codes=["A0", "B0", "C0"], acting_user=batch.account, at=AT)


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- the list ----------------------------------------------------------------------------------------


def test_list_shows_a_years_twelve_items_with_their_columns(reviewer_client, handbook_year):
    response = reviewer_client.get(changelist(year=2023))

    assert response.status_code == 200
    text = text_of(response)
    for header in ("编号", "保障类别", "档次", "保障费（元/人/年）", "待遇"):
        assert header in text
    codes = re.findall(r'<th class="field-code"><a href="[^"]+">([A-C][0-3])</a></th>', response.content.decode())
    assert codes == ["A0", "B0", "C0", "A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3", "C3"]
    assert "在职住院" in text and "330.00" in text
    assert "2023年度" in text  # the year filter


def test_a_year_without_items_gets_them_when_the_list_is_opened(reviewer_client, handbook_year):
    # SPEC YEAR-1: a new year starts from the closest earlier year's items (reviewers then edit them).
    item = item_of(handbook_year, "A3")
    item.price = Decimal("345.00")
    item.save()
    new_year = CoverageYearFactory(year=2024)
    assert not PlanItem.objects.filter(coverage_year=new_year).exists()

    response = reviewer_client.get(changelist(year=2024))

    assert response.status_code == 200
    assert PlanItem.objects.filter(coverage_year=new_year).count() == 12
    assert item_of(new_year, "A3").price == Decimal("345.00")
    assert item_of(new_year, "C0").price == Decimal("15.00")


def test_the_list_opens_on_the_current_year(reviewer_client, handbook_year, time_machine):
    CoverageYearFactory(year=2024)
    time_machine.move_to(dt.datetime(2024, 6, 10, tzinfo=SHANGHAI), tick=False)  # 2024's window has opened

    response = reviewer_client.get(changelist())

    shown = {item.coverage_year.year for item in response.context["cl"].result_list}
    assert shown == {2024}


# --- changing an item before and after the first confirmation ---------------------------------------------


def test_price_lock_service(handbook_year):
    assert plan_item_price_locked(coverage_year=handbook_year) is False
    confirm_a_batch(handbook_year)
    assert plan_item_price_locked(coverage_year=handbook_year) is True
    # another year is not locked by it
    assert plan_item_price_locked(coverage_year=CoverageYearFactory(year=2024)) is False


def test_reviewer_changes_price_and_benefits_before_any_confirmation(reviewer_client, handbook_year):
    item = item_of(handbook_year, "A3")

    form = reviewer_client.get(change_page(item))
    response = reviewer_client.post(change_page(item), {"price": "340.00", "benefits": "1. 300元/天\n2. 起付线 ≤ 1500元"})

    assert 'name="price"' in form.content.decode()
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.price == Decimal("340.00")
    assert item.benefits == "1. 300元/天\n2. 起付线 ≤ 1500元"


def test_code_series_and_layer_cannot_be_changed(reviewer_client, handbook_year):
    item = item_of(handbook_year, "A3")

    reviewer_client.post(change_page(item), {"price": "330.00", "benefits": item.benefits, "code": "B1", "layer": 1, "series": "B"})

    item.refresh_from_db()
    assert (item.code, item.series, item.layer) == ("A3", "A", 3)


def test_price_is_read_only_after_a_confirmation_with_a_note(reviewer_client, handbook_year):
    confirm_a_batch(handbook_year)
    item = item_of(handbook_year, "A3")

    response = reviewer_client.get(change_page(item))

    html = response.content.decode()
    assert 'name="price"' not in html and 'name="benefits"' in html
    assert LOCKED in text_of(response)


def test_price_change_after_a_confirmation_is_refused_benefits_still_saved(reviewer_client, handbook_year):
    confirm_a_batch(handbook_year)
    item = item_of(handbook_year, "A3")

    # a hand-made POST (or a page opened before the confirmation) carrying a new price
    response = reviewer_client.post(change_page(item), {"price": "999.00", "benefits": item.benefits})

    assert response.status_code == 200
    assert LOCKED in text_of(response)
    item.refresh_from_db()
    assert item.price == Decimal("330.00")
    # the same price with new benefits is fine
    ok = reviewer_client.post(change_page(item), {"price": "330.00", "benefits": "1. 新的待遇说明"})
    assert ok.status_code == 302
    item.refresh_from_db()
    assert (item.price, item.benefits) == (Decimal("330.00"), "1. 新的待遇说明")


def test_page_opened_before_the_confirmation_cannot_change_the_price_after(reviewer_client, handbook_year):
    item = item_of(handbook_year, "B3")
    assert 'name="price"' in reviewer_client.get(change_page(item)).content.decode()
    premium = confirm_a_batch(handbook_year)  # meanwhile a unit confirms

    response = reviewer_client.post(change_page(item), {"price": "470.00", "benefits": item.benefits})

    assert response.status_code == 200 and LOCKED in text_of(response)
    item.refresh_from_db()
    assert item.price == Decimal("460.00")
    assert premium.prices["B3"] == "460.00"  # the confirmed premium's snapshot is what it was


def test_form_level_lock_check(handbook_year):
    from plans.admin import PlanItemForm

    item = item_of(handbook_year, "C3")
    assert PlanItemForm({"price": "230.00", "benefits": item.benefits}, instance=item).is_valid()
    confirm_a_batch(handbook_year)
    form = PlanItemForm({"price": "230.00", "benefits": item.benefits}, instance=item_of(handbook_year, "C3"))
    assert not form.is_valid()
    assert LOCKED in " ".join(form.non_field_errors())


def test_items_cannot_be_added_or_deleted(reviewer_client, handbook_year):
    item = item_of(handbook_year, "A0")

    assert reviewer_client.get(reverse("admin:plans_planitem_add")).status_code == 403
    assert reviewer_client.post(reverse("admin:plans_planitem_delete", args=[item.pk]), {"post": "yes"}).status_code == 403
    assert PlanItem.objects.filter(pk=item.pk).exists()


# --- 保费信息, read only ------------------------------------------------------------------------------------


def test_reviewer_sees_confirmed_premiums_read_only(reviewer_client, handbook_year):
    premium = confirm_a_batch(handbook_year)

    listing = reviewer_client.get(reverse("admin:plans_batchpremium_changelist"))
    page = reviewer_client.get(reverse("admin:plans_batchpremium_change", args=[premium.pk]))

    assert listing.status_code == 200 and premium.batch.number in text_of(listing)
    assert page.status_code == 200
    text = text_of(page)
    assert "A0 B0 C0" in text and "360.00" in text  # 2 × 180
    assert 'name="total"' not in page.content.decode()
    assert reviewer_client.post(
        reverse("admin:plans_batchpremium_change", args=[premium.pk]), {"total": "1.00"}
    ).status_code == 403
    premium.refresh_from_db()
    assert premium.total == Decimal("360.00")


# --- access (STYLE.md §10) ------------------------------------------------------------------------------


def test_premium_amounts_are_written_as_on_every_other_page(reviewer_client, handbook_year):
    # One way to write yuan (plans.premiums.yuan_text), 12,000.00, not ¥12000.00.
    premium = confirm_a_batch(handbook_year)
    BatchPremium.objects.filter(pk=premium.pk).update(total=Decimal("12000.00"))
    PremiumLine.objects.filter(premium=premium).update(amount=Decimal("12000.00"))
    premium.refresh_from_db()

    listing = text_of(reviewer_client.get(reverse("admin:plans_batchpremium_changelist")))
    page = text_of(reviewer_client.get(reverse("admin:plans_batchpremium_change", args=[premium.pk])))

    assert str(premium) == f"{premium.batch.number} 12,000.00元"
    assert "12,000.00" in listing and "12,000.00" in page
    for text in (listing, page):
        assert "¥" not in text and "12000.00" not in text


def _addresses(handbook_year):
    premium = confirm_a_batch(handbook_year)
    item = item_of(handbook_year, "A0")
    return [
        changelist(),
        change_page(item),
        reverse("admin:plans_batchpremium_changelist"),
        reverse("admin:plans_batchpremium_change", args=[premium.pk]),
    ]


def test_union_staff_gets_403(client, union_staff, handbook_year):
    client.force_login(union_staff)
    for address in _addresses(handbook_year):
        assert client.get(address).status_code == 403, address
    item = item_of(handbook_year, "A0")
    assert client.post(change_page(item), {"price": "1.00", "benefits": "x"}).status_code == 403
    item.refresh_from_db()
    assert item.price == Decimal("120.00")


def test_unit_admin_and_anonymous_are_sent_to_the_login(client, unit_admin, handbook_year):
    addresses = _addresses(handbook_year)
    for address in addresses:
        assert client.get(address).status_code == 302, address
    client.force_login(unit_admin)
    for address in addresses:
        response = client.get(address)
        assert response.status_code == 302, address
        assert "login" in response["Location"], address


@pytest.mark.parametrize(
    ("role", "granted"),
    [("reviewer", True), ("union_staff", False), ("unit_admin", False)],
)
def test_plan_permissions_by_role(role, granted):
    user = UserFactory(role=role)
    for permission in ("plans.view_planitem", "plans.change_planitem", "plans.view_batchpremium"):
        assert user.has_perm(permission) is granted, permission
    # nobody adds or deletes items, or changes a confirmed premium, through a role
    for permission in ("plans.add_planitem", "plans.delete_planitem", "plans.change_batchpremium"):
        assert not user.has_perm(permission), permission
