"""The instant-enrolment demo (payments/demo.py): `make run` gives the account demo-instant a unit in the
coverage year whose 即时参保 window is open today, with its centralised batch 参保已完成 and an instant batch
ready for 【保障项目选择】, so half-year prices (SPEC PREM-2), the fixed selection (PREM-4) and waiting
periods (COV-2) can be tried without changing the clock; seed_demo run twice changes nothing."""
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from enrollment.models import Batch, BatchLog
from enrollment.states import BatchKind, BatchState
from payments.demo import (
    CENTRALISED_CODES,
    CENTRALISED_PEOPLE,
    INSTANT_PEOPLE,
    INSTANT_UNIT_NAME,
    INSTANT_USERNAME,
    LOOKUP_MOBILES,
    instant_year,
)
from payments.models import Voucher
from plans.services import premium_confirm, premium_generate
from mutualaid.pii import pii_decrypt
from rosters.models import EnrolmentRegistry, IdType, RosterEntry

pytestmark = pytest.mark.django_db

PASSWORD = "Instant#2026"  # accounts/demo.py, README


def _seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _batches():
    return {batch.kind: batch for batch in Batch.objects.filter(account__username=INSTANT_USERNAME)}


def test_the_instant_demo_account_logs_in_with_its_published_password(demo_data):
    account = User.objects.get(username=INSTANT_USERNAME)
    assert account.check_password(PASSWORD) and account.is_unit_admin and account.is_active
    assert account.unit_name == INSTANT_UNIT_NAME


def test_its_unit_is_in_the_year_whose_instant_window_is_open_today(demo_data):
    year = instant_year()
    batches = _batches()

    assert year is not None and year.instant_window_open()
    assert set(batches) == {BatchKind.CENTRALISED, BatchKind.INSTANT}
    assert {batch.coverage_year for batch in batches.values()} == {year}
    assert {batch.unit_name for batch in batches.values()} == {INSTANT_UNIT_NAME}


def test_its_centralised_batch_is_completed_with_a_confirmed_selection(demo_data):
    centralised = _batches()[BatchKind.CENTRALISED]

    assert centralised.state == BatchState.COMPLETED
    assert centralised.premium.code_list == CENTRALISED_CODES
    assert centralised.entries.count() == len(CENTRALISED_PEOPLE)
    assert Voucher.objects.get(batches=centralised).status == Voucher.Status.APPROVED
    assert list(BatchLog.objects.filter(batch=centralised).values_list("to_state", flat=True)) == [
        BatchState.DRAFT, BatchState.ROSTER_APPROVED, BatchState.AWAITING_PAYMENT, BatchState.PAYMENT_REVIEW,
        BatchState.COMPLETED,
    ]


def test_three_people_of_the_completed_batch_have_known_mobiles_and_are_printed(handbook_year, union_organisations):
    """SPEC ROS-7 [departure], LOOK-1: 【参保查询】 can be tried with people of a 参保已完成 batch whose
    roster entries hold a mobile (encrypted, SEC-4); seed_demo prints them (name, masked ID, mobile)
    every time, as the README says."""
    first = _seed()
    centralised = _batches()[BatchKind.CENTRALISED]
    assert centralised.state == BatchState.COMPLETED
    with_mobile = {entry.name: entry for entry in centralised.entries.exclude(mobile_cipher="")}
    assert {name: entry.mobile for name, entry in with_mobile.items()} == LOOKUP_MOBILES
    assert all(entry.id_type == IdType.RESIDENT and pii_decrypt(entry.mobile_cipher) for entry in with_mobile.values())
    assert EnrolmentRegistry.objects.filter(batch=centralised, id_hash__in=[e.id_hash for e in with_mobile.values()]).count() == 3
    for name, entry in with_mobile.items():
        line = f"{name} {entry.id_number[:4]}*****{entry.id_number[-4:]} 手机号 {LOOKUP_MOBILES[name]}"
        assert line in first and entry.id_number not in first

    # A demo database seeded before the people had mobiles gets them on the next run; nothing else changes.
    RosterEntry.objects.filter(batch=centralised).update(mobile_cipher="")
    second = _seed()
    assert {entry.name: entry.mobile for entry in centralised.entries.exclude(mobile_cipher="")} == LOOKUP_MOBILES
    assert f"参保查询演示（{INSTANT_UNIT_NAME} 集中参保批次 {centralised.number}，参保已完成）" in second


def test_its_instant_batch_starts_in_the_half_year_and_ends_with_the_year(demo_data):
    year = instant_year()
    instant = _batches()[BatchKind.INSTANT]

    assert instant.state == BatchState.ROSTER_APPROVED
    assert instant.entries.count() == len(INSTANT_PEOPLE) == 3
    # SPEC COV-1: the day after 清册提交, to the end of the year; PREM-2: inside the half-year prices.
    assert instant.coverage_start == timezone.localtime(instant.submitted_at).date() + dt.timedelta(days=1)
    assert instant.coverage_end == year.coverage_end
    assert year.half_year_price_from <= instant.coverage_start <= timezone.localdate()
    # SPEC COV-2: every waiting period (60 days at most) ends before the year does.
    assert instant.coverage_start + dt.timedelta(days=year.waiting_days_b) <= year.coverage_end
    assert EnrolmentRegistry.objects.filter(batch=instant).count() == 3


def test_the_instant_batch_has_the_fixed_selection_at_half_year_prices(demo_data, client):
    """SPEC PREM-4: the centralised selection, read only; PREM-2: exactly half, no bundle; PLAN-3: the
    person without 社保 gets every item but A0."""
    instant = _batches()[BatchKind.INSTANT]
    account = User.objects.get(username=INSTANT_USERNAME)
    client.force_login(account)

    response = client.get(reverse("plans:selection", kwargs={"number": instant.number}))

    assert response.status_code == 200
    assert response.context["source"] == _batches()[BatchKind.CENTRALISED]
    assert response.context["checkboxes_disabled"] and response.context["full_year"] is False
    assert "保障项目即为参加集中参保时选择的保障项目，不可更改" in response.content.decode()

    codes, table = premium_generate(batch=instant, codes=["C3"], acting_user=account)  # the ticks are ignored
    assert codes == CENTRALISED_CODES and table.full_year is False
    # 2 with 社保 × (60 + 27.5 + 7.5 + 67.5), 1 without × (27.5 + 7.5 + 67.5)
    assert table.total == Decimal("2") * Decimal("162.50") + Decimal("102.50") == Decimal("427.50")

    premium_confirm(batch=instant, codes=codes, acting_user=account)
    detail = client.get(reverse("plans:premium_detail", kwargs={"number": instant.number}))
    year = instant.coverage_year
    page = detail.content.decode()
    assert detail.status_code == 200 and "427.50" in page
    for days in (year.waiting_days_a, year.waiting_days_b):  # SPEC COV-2: 生效日期 after the waiting period
        assert f"{instant.coverage_start + dt.timedelta(days=days):%Y-%m-%d}" in page


def test_another_account_gets_404_for_the_demo_batches(demo_data, client):
    client.force_login(User.objects.get(username="demo"))
    for batch in _batches().values():
        assert client.get(reverse("enrollment:batches_detail", kwargs={"number": batch.number})).status_code == 404


def test_seed_demo_twice_changes_nothing_and_lists_the_account(handbook_year, union_organisations):
    first = _seed()
    before = (Batch.objects.count(), EnrolmentRegistry.objects.count(), Voucher.objects.count())

    second = _seed()

    assert (Batch.objects.count(), EnrolmentRegistry.objects.count(), Voucher.objects.count()) == before
    instant = _batches()[BatchKind.INSTANT]
    assert f"演示账号 {INSTANT_USERNAME} / {PASSWORD}" in first and f"演示账号 {INSTANT_USERNAME} / {PASSWORD}" in second
    assert f"即时参保批次 {instant.number}（清册校验通过，3 人" in first
    assert "即时参保批次" not in second  # printed only when created


def test_seed_demo_at_a_fixed_moment_makes_the_same_demo(handbook_year, union_organisations):
    """With the clock of the coverage-year tests: the year before the demo year, still running."""
    with time_machine.travel(dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))), tick=False):
        _seed()
        instant = _batches()[BatchKind.INSTANT]
        assert instant.coverage_year.year == 2025
        assert instant.coverage_start == dt.date(2026, 1, 30)  # submitted 45 days before 2026-03-15
        assert _batches()[BatchKind.CENTRALISED].state == BatchState.COMPLETED
