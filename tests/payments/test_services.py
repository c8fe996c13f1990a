"""缴费凭证, refunds, review, reminders and cancellation as services (SPEC PAY-2…PAY-5, BAT-8, BAT-11)."""
import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from enrollment.models import BatchLog
from enrollment.services import EnrollmentError
from enrollment.states import BatchState
from mutualaid.attachments import attachments_of
from payments.models import PaymentReminder, Voucher
from payments.selectors import overdue_batches, payable_batches
from payments.services import (
    PaymentError,
    RefundDetails,
    batch_cancel,
    money_parse,
    payment_reminders_send,
    voucher_approve,
    voucher_refund,
    voucher_reject,
    voucher_submit,
)
from plans.services import batch_withdraw
from rosters.models import EnrolmentRegistry, RosterEntry
from rosters.errors import RosterError
from rosters.services import roster_entries_delete
from rosters.submission import _registry_insert
from tests.factories import UserFactory
from tests.payments.helpers import CONFIRMED_AT, awaiting_payment_batch, proof_draft

pytestmark = pytest.mark.django_db

REFUND = RefundDetails(account_number="6222 0210 0112 3456 789", account_name="上海长风示范科技有限公司", bank="中国工商银行")


@pytest.fixture
def batch(handbook_year):
    return awaiting_payment_batch(year=handbook_year)  # 4 × 180 = 720.00


def submit(batch, amount, *, refund=None, batches=None, account=None):
    account = account or batch.account
    return voucher_submit(
        account=account, batch_numbers=[b.number for b in (batches or [batch])], payer="上海长风示范科技有限公司",
        method="online", amount=amount, draft_token=proof_draft(account), refund=refund,
    )


# --- PAY-3: equal, over, under ----------------------------------------------------------------------


def test_pay3_equal_amount_needs_no_refund_and_moves_the_batch_to_review(batch):
    voucher = submit(batch, "720.00")

    assert (voucher.premiums, voucher.refund_amount, voucher.refund_account_cipher) == (Decimal("720.00"), 0, "")
    batch.refresh_from_db()
    assert batch.state == BatchState.PAYMENT_REVIEW
    assert attachments_of(voucher).count() == 1
    assert BatchLog.objects.filter(batch=batch, to_state=BatchState.PAYMENT_REVIEW, action="上传缴费凭证").exists()


def test_pay3_over_amount_computes_the_refund_and_requires_the_refund_fields(batch):
    with pytest.raises(PaymentError) as refused:
        submit(batch, "2,000.00")
    assert refused.value.field == "refund_account_number"
    batch.refresh_from_db()
    assert batch.state == BatchState.AWAITING_PAYMENT  # nothing saved on a refusal
    assert not Voucher.objects.exists()

    voucher = submit(batch, "2,000.00", refund=REFUND)

    assert voucher.refund_amount == Decimal("1280.00")
    assert voucher.refund_account_number == "6222021001123456789"  # spaces dropped, decrypted
    assert "6222021001123456789" not in voucher.refund_account_cipher  # encrypted at rest
    assert voucher.refund_account_masked == "6222***********6789"


def test_pay3_under_amount_is_refused_with_the_shortfall(batch):
    with pytest.raises(PaymentError) as refused:
        submit(batch, "719.99")
    assert "还差0.01元" in refused.value.message and refused.value.field == "amount"


def test_refund_bank_must_come_from_the_list(batch):
    with pytest.raises(PaymentError) as refused:
        submit(batch, "800", refund=RefundDetails(account_number="62220210011234", account_name="某公司", bank="火星银行"))
    assert refused.value.field == "refund_bank"


@pytest.mark.parametrize("text", ["abc", "0", "-5", "1.005", ""])
def test_amounts_that_are_not_money_are_refused(text):
    with pytest.raises(PaymentError):
        money_parse(text)


def test_voucher_refund_is_exact_decimal():
    assert voucher_refund(amount=Decimal("0.30"), premiums=Decimal("0.10")) == Decimal("0.20")


def test_a_proof_is_required(batch):
    with pytest.raises(PaymentError) as refused:
        voucher_submit(
            account=batch.account, batch_numbers=[batch.number], payer="某公司", method="online", amount="720",
            draft_token="",
        )
    assert refused.value.field == "attachments"


# --- PAY-2: one voucher over two batches; only this account's payable batches ---------------------------


def test_one_voucher_pays_two_batches_of_the_account(handbook_year):
    first = awaiting_payment_batch(year=handbook_year)
    second = awaiting_payment_batch(year=handbook_year, account=first.account, people=2, kind="instant")

    assert list(payable_batches(account=first.account)) == [first, second]
    voucher = submit(first, "1080.00", batches=[first, second])  # 720 + 360

    assert voucher.refund_amount == 0
    assert sorted(voucher.lines.values_list("premium", flat=True)) == [Decimal("360.00"), Decimal("720.00")]
    for batch in (first, second):
        batch.refresh_from_db()
        assert batch.state == BatchState.PAYMENT_REVIEW
    assert not payable_batches(account=first.account).exists()


def test_another_accounts_batch_cannot_be_paid(batch):
    stranger = UserFactory(role="unit_admin")
    with pytest.raises(PaymentError):
        voucher_submit(
            account=stranger, batch_numbers=[batch.number], payer="某公司", method="online", amount="720",
            draft_token=proof_draft(stranger),
        )


def test_a_batch_in_review_cannot_be_paid_twice(batch):
    submit(batch, "720")
    with pytest.raises(PaymentError) as refused:
        submit(batch, "720")
    assert "缴费凭证待审核" in refused.value.message


# --- BAT-8: the roster is locked once a voucher is uploaded -------------------------------------------------


def test_bat8_roster_services_and_withdrawal_refuse_after_the_voucher(batch):
    submit(batch, "720")
    entry = RosterEntry.objects.filter(batch=batch).first()

    with pytest.raises(RosterError):
        roster_entries_delete(batch=batch, entry_ids=[entry.pk], acting_user=batch.account)
    with pytest.raises(EnrollmentError) as refused:
        batch_withdraw(batch=batch, target="plans", reason="改选", acting_user=batch.account, at=CONFIRMED_AT)
    assert "批次撤回" in refused.value.message
    assert RosterEntry.objects.filter(pk=entry.pk).exists()


# --- PAY-4: review, idempotent --------------------------------------------------------------------------------


def test_pay4_approve_completes_the_batches_and_twice_changes_nothing(batch, reviewer, django_capture_on_commit_callbacks):
    voucher = submit(batch, "720")
    with django_capture_on_commit_callbacks(execute=True):
        voucher_approve(voucher=voucher, acting_user=reviewer)
    voucher_approve(voucher=voucher, acting_user=reviewer)  # the second click

    voucher.refresh_from_db()
    batch.refresh_from_db()
    assert (voucher.status, batch.state) == (Voucher.Status.APPROVED, BatchState.COMPLETED)
    assert BatchLog.objects.filter(batch=batch, to_state=BatchState.COMPLETED).count() == 1
    assert len(mail.outbox) == 1 and batch.number in mail.outbox[0].subject
    with pytest.raises(PaymentError):
        voucher_reject(voucher=voucher, acting_user=reviewer, reason="晚了")


def test_pay4_reject_needs_a_reason_and_the_unit_submits_a_new_voucher(batch, reviewer, django_capture_on_commit_callbacks):
    voucher = submit(batch, "720")
    with pytest.raises(PaymentError):
        voucher_reject(voucher=voucher, acting_user=reviewer, reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        voucher_reject(voucher=voucher, acting_user=reviewer, reason="凭证模糊不清")

    batch.refresh_from_db()
    assert batch.state == BatchState.PAYMENT_REJECTED
    assert BatchLog.objects.get(batch=batch, to_state=BatchState.PAYMENT_REJECTED).reason == "凭证模糊不清"
    assert "凭证模糊不清" in mail.outbox[0].body
    assert list(payable_batches(account=batch.account)) == [batch]

    second = submit(batch, "720")
    batch.refresh_from_db()
    assert batch.state == BatchState.PAYMENT_REVIEW and second.pk != voucher.pk


# --- PAY-5: reminders at 10 and 14 days, never twice --------------------------------------------------------


def test_pay5_reminders_on_day_10_and_14_are_sent_once(batch, django_capture_on_commit_callbacks):
    confirmed = CONFIRMED_AT.date()
    with django_capture_on_commit_callbacks(execute=True):
        assert payment_reminders_send(today=confirmed + dt.timedelta(days=9)) == 0
        assert payment_reminders_send(today=confirmed + dt.timedelta(days=10)) == 1
        assert payment_reminders_send(today=confirmed + dt.timedelta(days=10)) == 0  # the schedule runs twice
        assert payment_reminders_send(today=confirmed + dt.timedelta(days=13)) == 0
        assert payment_reminders_send(today=confirmed + dt.timedelta(days=14)) == 1
        assert payment_reminders_send(today=confirmed + dt.timedelta(days=15)) == 0
    assert sorted(PaymentReminder.objects.filter(batch=batch).values_list("day", flat=True)) == [10, 14]
    assert len(mail.outbox) == 2 and "2023年6月25日" in mail.outbox[0].body


def test_pay5_a_missed_day_sends_only_the_latest_reminder(batch):
    assert payment_reminders_send(today=CONFIRMED_AT.date() + dt.timedelta(days=14)) == 1
    assert list(PaymentReminder.objects.values_list("day", flat=True)) == [14]


def test_pay5_paid_batches_get_no_reminder(batch):
    submit(batch, "720")
    assert payment_reminders_send(today=CONFIRMED_AT.date() + dt.timedelta(days=10)) == 0


# --- BAT-11: overdue batches and their cancellation ---------------------------------------------------------


def test_bat11_overdue_batches_are_listed_and_cancelling_releases_the_registry(batch, reviewer):
    due = batch.premium.payment_due
    assert due == dt.date(2023, 6, 25)  # SPEC PAY-1: 15 days after 提交确认保费
    with time_machine.travel(CONFIRMED_AT, tick=False):
        _registry_insert(batch=batch, at=CONFIRMED_AT)
    assert not overdue_batches(today=due).exists()
    with pytest.raises(PaymentError):
        batch_cancel(batch=batch, acting_user=reviewer, reason="逾期", today=due)

    assert list(overdue_batches(today=due + dt.timedelta(days=1))) == [batch]
    with pytest.raises(PaymentError) as refused:
        batch_cancel(batch=batch, acting_user=reviewer, reason="", today=due + dt.timedelta(days=1))
    assert refused.value.field == "reason"
    batch_cancel(batch=batch, acting_user=reviewer, reason="逾期未缴费", today=due + dt.timedelta(days=1))

    batch.refresh_from_db()
    assert batch.state == BatchState.CANCELLED
    assert not EnrolmentRegistry.objects.filter(batch=batch).exists()
    assert BatchLog.objects.get(batch=batch, to_state=BatchState.CANCELLED).reason == "逾期未缴费"
    assert not overdue_batches(today=due + dt.timedelta(days=1)).exists()



def test_pay3_a_refund_account_with_a_digit_of_another_script_is_refused(batch):
    # SPEC SEC-1: "٠" passed str.isdigit(); the number is encrypted only in its canonical form.
    disguised = RefundDetails(REFUND.account_kind, "6222021001123456789".replace("0", "\u0660", 1), REFUND.account_name, REFUND.bank, REFUND.method)
    with pytest.raises(PaymentError) as refused:
        submit(batch, "2,000.00", refund=disguised)
    assert (refused.value.field, refused.value.message) == ("refund_account_number", "退款帐号含有非标准字符“\u0660”，请使用半角数字和字母")
    assert not Voucher.objects.exists()
