"""Per-batch figures the statistics add up (SPEC BO-3, issue 10): written by 清册提交, 提交确认保费 and
批次撤回, never counted from people when read."""
import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from enrollment.models import BatchItemTotal, BatchTotals
from plans import premiums
from plans.catalogue import HANDBOOK_ITEMS
from plans.services import batch_withdraw, premium_confirm
from rosters.submission import batch_submit
from tests.factories import SHANGHAI
from tests.plans.helpers import approved_batch
from tests.rosters.helpers import IN_CENTRALISED_WINDOW, ready_batch

pytestmark = pytest.mark.django_db
PRICES = {code: price for code, price, _ in HANDBOOK_ITEMS}
CONFIRMED_AT = dt.datetime(2023, 6, 10, 10, 0, tzinfo=SHANGHAI)


def test_submission_records_people_day_and_union(handbook_year):
    batch = ready_batch(handbook_year, people=4)
    with time_machine.travel(IN_CENTRALISED_WINDOW, tick=False):
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    totals = BatchTotals.objects.get(batch=batch)
    assert (totals.people, totals.social_security_people) == (4, 4)
    assert totals.submitted_on == IN_CENTRALISED_WINDOW.astimezone(SHANGHAI).date()


def test_confirmation_records_the_premium_by_item_and_withdrawal_clears_it(handbook_year):
    # SPEC PREM-3 worked example shape: 4 with 社保 and 1 without, A0 B0 C0 A3.
    batch = approved_batch(year=handbook_year, social_security=4, without_social_security=1)
    with time_machine.travel(CONFIRMED_AT, tick=False):
        premium = premium_confirm(batch=batch, codes=["A0", "B0", "C0", "A3"], acting_user=batch.account)

    items = {row.code: (row.people, row.premium) for row in BatchItemTotal.objects.filter(batch=batch)}
    assert items == {
        "A0": (4, Decimal("480.00")),  # SPEC PLAN-3: the person without 社保 has no A0
        "B0": (5, Decimal("275.00")),
        "C0": (5, Decimal("75.00")),
        "A3": (5, Decimal("1650.00")),
        premiums.DISCOUNT_CODE: (4, Decimal("-40.00")),  # SPEC PREM-1: the bundle for the four only
    }
    assert sum(amount for _, amount in items.values()) == premium.total == BatchTotals.objects.get(batch=batch).premium

    with time_machine.travel(CONFIRMED_AT, tick=False):
        batch_withdraw(batch=batch, target="plans", reason="改选", acting_user=batch.account)
    assert BatchTotals.objects.get(batch=batch).premium == 0
    assert not BatchItemTotal.objects.filter(batch=batch).exists()


codes = st.sets(st.sampled_from(premiums.ALL_CODES), min_size=1).filter(lambda chosen: not premiums.selection_errors(chosen))


@given(chosen=codes, with_ss=st.integers(0, 500), without_ss=st.integers(0, 500), full_year=st.booleans())
def test_item_totals_add_up_to_the_table(chosen, with_ss, without_ss, full_year):
    table = premiums.premium_table(
        chosen, prices=PRICES, full_year=full_year, bundle_discount=Decimal("10"),
        social_security_people=with_ss, other_people=without_ss,
    )
    totals = premiums.item_totals(table, prices=PRICES)
    assert sum((amount for _, amount in totals.values()), Decimal("0")) == table.total
