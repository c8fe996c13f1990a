"""The shared factories build what the tests take them for: a batch in the state asked for, with its
code; make_batch's three ways to find a code; roster entries with valid resident IDs."""
import pytest

from enrollment.models import EnrollmentCode, HandlerInfo
from enrollment.states import BatchKind, BatchState
from mutualaid.validators import resident_id_check_character
from rosters.models import IdType, RosterEntry
from tests.factories import (
    IMPORT_CODE,
    USCC,
    BatchFactory,
    RosterEntryFactory,
    UserFactory,
    VoucherFactory,
    make_batch,
    make_entry,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("state", [BatchState.DRAFT, BatchState.AWAITING_PAYMENT, BatchState.COMPLETED])
def test_a_batch_factory_batch_is_in_its_state_with_its_codes_account(state):
    batch = BatchFactory(state=state, kind=BatchKind.INSTANT)

    batch.refresh_from_db()
    assert batch.state == state
    assert batch.account == batch.code.account and batch.account is not None
    assert batch.unit_name == batch.code.unit_name
    assert batch.number == f"{batch.coverage_year.year}S{batch.number[-6:]}" and int(batch.number[-6:]) > 900_000


def test_make_batch_without_a_code_reuses_the_accounts_code(handbook_year):
    first = make_batch(year=handbook_year)
    second = make_batch(year=handbook_year, account=first.account, kind=BatchKind.INSTANT, state=BatchState.INVALID)

    assert second.code == first.code and second.state == BatchState.INVALID
    assert HandlerInfo.objects.get(code=first.code).handler_name == "王经办"
    assert not first.code.units.exists()


def test_make_batch_with_a_codes_text_binds_it_with_its_lead_unit_and_handler(handbook_year):
    account = UserFactory()

    batch = make_batch(account, year=handbook_year, code=IMPORT_CODE)

    code = EnrollmentCode.objects.get(code=IMPORT_CODE)
    assert batch.code == code and code.account == account and code.bound_at is not None and code.uscc == USCC
    assert code.units.get().is_lead
    assert HandlerInfo.objects.get(code=code).handler_name == "丁一"
    again = make_batch(account, year=handbook_year, code=IMPORT_CODE, kind=BatchKind.INSTANT)
    assert again.code == code and EnrollmentCode.objects.count() == 1  # found, not created again


def test_make_batch_with_a_code_uses_it_as_it_is(handbook_year):
    code = BatchFactory().code

    batch = make_batch(code=code, year=handbook_year, kind=BatchKind.INSTANT)

    assert batch.code == code and batch.account == code.account and batch.kind == BatchKind.INSTANT
    assert not HandlerInfo.objects.filter(code=code).exists()


def test_entries_get_valid_distinct_resident_ids():
    batch = BatchFactory()

    entries = [make_entry(batch) for _ in range(3)] + [RosterEntryFactory(batch=batch, id_type=IdType.OTHER)]

    numbers = [RosterEntry.objects.get(pk=entry.pk).id_number for entry in entries]
    assert len(set(numbers)) == 4
    for number in numbers[:3]:
        assert number[17] == resident_id_check_character(number[:17])
    assert numbers[3].startswith("E")


def test_a_voucher_row_owes_nothing_back_at_the_premium():
    voucher = VoucherFactory()

    assert voucher.refund_amount == 0 and voucher.status == voucher.Status.SUBMITTED
