"""专用收据 lines, their review and issue, void and reissue; amounts in capitals; the PDFs and the
public verification page (SPEC RCP-1, RCP-2, RCP-3, PREM-5, X-1)."""
from decimal import Decimal

import pytest

from enrollment.states import BatchState
from receipts.models import Receipt
from rosters.models import RosterEntry
from receipts.pdf import amount_in_chinese, certificate_pdf, receipt_pdf
from receipts.selectors import certificate_context
from receipts.services import (
    ReceiptError,
    receipt_add,
    receipt_void_reissue,
    receipts_approve,
    receipts_drafts_remove,
    receipts_reject,
    receipts_submit,
)
from tests.payments.helpers import awaiting_payment_batch
from tests.receipts.helpers import needs_pdf_tools, paid, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(handbook_year, reviewer):
    return paid(awaiting_payment_batch(year=handbook_year), reviewer)  # premium 720.00


# --- amounts in capitals (the issue's tricky numbers) ---------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("3920", "人民币叁仟玖佰贰拾元整"),
        ("0.05", "人民币伍分"),
        ("10.00", "人民币壹拾元整"),
        ("100000.10", "人民币壹拾万元零壹角整"),
        ("1000001.00", "人民币壹佰万零壹元整"),
        ("1010", "人民币壹仟零壹拾元整"),
        ("100010000", "人民币壹亿零壹万元整"),
        ("1.05", "人民币壹元零伍分"),
        ("4780", "人民币肆仟柒佰捌拾元整"),
    ],
)
def test_amount_in_chinese_capitals(amount, text):
    assert amount_in_chinese(Decimal(amount)) == text


# --- RCP-1: lines, 提交审核 with an exact total ----------------------------------------------------------


def test_rcp1_lines_must_add_up_exactly_to_the_premium(completed):
    account = completed.account
    receipt_add(batch=completed, title="上海YYYY公司", amount="450", acting_user=account)
    receipt_add(batch=completed, title="上海XXX公司", amount="269.99", remark="发票备注", acting_user=account)

    with pytest.raises(ReceiptError) as refused:
        receipts_submit(batch=completed, acting_user=account)
    assert "还差0.01元" in refused.value.message  # one fen off is refused
    with pytest.raises(ReceiptError) as too_much:
        receipt_add(batch=completed, title="上海ZZZ公司", amount="0.02", acting_user=account)
    assert too_much.value.field == "amount" and "还可填0.01元" in too_much.value.message

    receipt_add(batch=completed, title="上海ZZZ公司", amount="0.01", acting_user=account)
    assert receipts_submit(batch=completed, acting_user=account) == 3
    assert set(Receipt.objects.values_list("status", flat=True)) == {Receipt.Status.SUBMITTED}


def test_rcp1_title_and_amount_are_checked_at_their_field(completed):
    with pytest.raises(ReceiptError) as no_title:
        receipt_add(batch=completed, title=" ", amount="720", acting_user=completed.account)
    assert no_title.value.field == "title"
    with pytest.raises(ReceiptError) as bad_amount:
        receipt_add(batch=completed, title="某公司", amount="七百", acting_user=completed.account)
    assert bad_amount.value.field == "amount"


def test_rcp1_cancel_removes_only_the_drafts(completed):
    account = completed.account
    receipt_add(batch=completed, title="甲公司", amount="720", acting_user=account)
    receipts_submit(batch=completed, acting_user=account)
    assert receipts_drafts_remove(batch=completed, acting_user=account) == 0
    assert Receipt.objects.filter(status=Receipt.Status.SUBMITTED).count() == 1


def test_receipts_wait_for_the_voucher(handbook_year):
    batch = awaiting_payment_batch(year=handbook_year)
    with pytest.raises(ReceiptError):
        receipt_add(batch=batch, title="甲公司", amount="720", acting_user=batch.account)


# --- review: issue, reject, idempotent ---------------------------------------------------------------------


def test_approval_issues_numbered_receipts_once(completed, reviewer):
    receipt_add(batch=completed, title="甲公司", amount="700", acting_user=completed.account)
    receipt_add(batch=completed, title="乙公司", amount="20", acting_user=completed.account)
    receipts_submit(batch=completed, acting_user=completed.account)

    issued = receipts_approve(batch=completed, acting_user=reviewer)
    again = receipts_approve(batch=completed, acting_user=reviewer)  # the second click

    assert again == []
    numbers = sorted(receipt.number for receipt in issued)
    assert len(numbers) == 2 and numbers[0] != numbers[1] and all(len(number) == 12 for number in numbers)
    assert set(Receipt.objects.values_list("status", flat=True)) == {Receipt.Status.ISSUED}


def test_receipts_of_an_unpaid_batch_are_not_issued(handbook_year, reviewer):
    batch = paid(awaiting_payment_batch(year=handbook_year))  # voucher submitted, not approved
    assert batch.state == BatchState.PAYMENT_REVIEW
    receipt_add(batch=batch, title="甲公司", amount="720", acting_user=batch.account)
    receipts_submit(batch=batch, acting_user=batch.account)
    with pytest.raises(ReceiptError):
        receipts_approve(batch=batch, acting_user=reviewer)


def test_rejection_frees_the_amount_for_new_lines(completed, reviewer):
    receipt_add(batch=completed, title="甲公司", amount="720", acting_user=completed.account)
    receipts_submit(batch=completed, acting_user=completed.account)
    with pytest.raises(ReceiptError):
        receipts_reject(batch=completed, acting_user=reviewer, reason="")
    assert receipts_reject(batch=completed, acting_user=reviewer, reason="抬头有误") == 1

    receipt_add(batch=completed, title="甲有限公司", amount="720", acting_user=completed.account)
    assert receipts_submit(batch=completed, acting_user=completed.account) == 1


def test_rcp2_void_and_reissue_keeps_the_amount_and_links_the_two(completed, reviewer):
    receipt_add(batch=completed, title="甲公司", amount="720", acting_user=completed.account)
    receipts_submit(batch=completed, acting_user=completed.account)
    [first] = receipts_approve(batch=completed, acting_user=reviewer)

    second = receipt_void_reissue(receipt=first, acting_user=reviewer, reason="抬头更正", title="甲有限公司")

    first.refresh_from_db()
    assert (first.status, first.void_reason) == (Receipt.Status.VOIDED, "抬头更正")
    assert (second.status, second.title, second.amount, second.replaces) == (
        Receipt.Status.ISSUED, "甲有限公司", Decimal("720.00"), first,
    )
    assert second.number != first.number
    with pytest.raises(ReceiptError):
        receipt_void_reissue(receipt=first, acting_user=reviewer, reason="再来")


# --- RCP-2, RCP-3: the PDFs and the verification page ---------------------------------------------------------


@needs_pdf_tools
def test_rcp2_receipt_pdf_holds_the_chinese_title_and_amount(completed, reviewer, tmp_path):
    receipt_add(batch=completed, title="上海长风示范科技有限公司", amount="720", acting_user=completed.account)
    receipts_submit(batch=completed, acting_user=completed.account)
    [receipt] = receipts_approve(batch=completed, acting_user=reviewer)

    text = pdf_text(receipt_pdf(receipt), tmp_path)

    assert "专用收据" in text and "上海长风示范科技有限公司" in text
    assert "人民币柒佰贰拾元整" in text and "720.00" in text and receipt.number in text


@needs_pdf_tools
def test_rcp3_certificate_pdf_shows_unit_items_and_period(completed, tmp_path):
    text = pdf_text(certificate_pdf(batch=completed, context=certificate_context(batch=completed)), tmp_path)

    assert "保障单" in text and completed.number in text and completed.unit_name in text
    assert "2023年7月1日" in text and "2024年6月30日" in text
    assert "720.00" in text and "A0" in text


def test_verification_page_writes_the_amount_as_the_portal_does(client, completed, reviewer):
    # 12,000.00 元 as on every other page (plans_tags.yuan), not ¥12000.00.
    receipt_add(batch=completed, title="甲公司", amount="720", acting_user=completed.account)
    receipts_submit(batch=completed, acting_user=completed.account)
    [receipt] = receipts_approve(batch=completed, acting_user=reviewer)
    Receipt.objects.filter(pk=receipt.pk).update(amount=Decimal("12000.00"))

    text = client.get(f"/receipts/verify/{receipt.verification}/").content.decode()

    assert "12,000.00 元" in text and "¥" not in text and "12000.00" not in text


def test_verification_page_shows_the_receipt_and_no_personal_data(client, completed, reviewer):
    receipt_add(batch=completed, title="甲公司", amount="720", acting_user=completed.account)
    receipts_submit(batch=completed, acting_user=completed.account)
    [receipt] = receipts_approve(batch=completed, acting_user=reviewer)

    page = client.get(f"/receipts/verify/{receipt.verification}/")

    text = page.content.decode()
    assert page.status_code == 200 and receipt.number in text and "甲公司" in text and "720.00" in text
    assert "真实有效" in text
    names = list(RosterEntry.objects.filter(batch=completed).values_list("name", flat=True))
    assert names and not any(name in text for name in names)  # nothing about the people enrolled
    assert client.get("/receipts/verify/not-a-token/").status_code == 404
