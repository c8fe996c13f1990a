"""Shared helpers of the receipts tests (SPEC RCP-1, RCP-2, RCP-3): a paid batch, lines sent for review,
an issued receipt, and the text of a PDF."""
import shutil
import subprocess

import pytest

from payments.services import voucher_approve, voucher_submit
from receipts.models import Receipt
from receipts.services import receipt_add, receipts_approve, receipts_submit
from tests.payments.helpers import proof_draft

def paid(batch, reviewer=None):
    """`batch` with its voucher submitted for its premium and, if `reviewer` is given, approved (参保已完成)."""
    voucher = voucher_submit(
        account=batch.account, batch_numbers=[batch.number], payer=batch.unit_name, method="online",
        amount=batch.premium.total, draft_token=proof_draft(batch.account),
    )
    if reviewer is not None:
        voucher_approve(voucher=voucher, acting_user=reviewer)
    batch.refresh_from_db()
    return batch


def pdf_text(data: bytes, tmp_path) -> str:
    """The text of a PDF, laid out, as pdftotext reads it."""
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


needs_pdf_tools = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is missing")


def submitted(batch, lines=(("上海YYYY公司", "450", ""), ("上海XXX公司", "270", "发票备注：2023年度互助保障")), at=None):
    """The unit's lines sent for review (【提交审核】); premium 720.00."""
    for title, amount, remark in lines:
        receipt_add(batch=batch, title=title, amount=amount, remark=remark, acting_user=batch.account)
    receipts_submit(batch=batch, acting_user=batch.account, at=at)
    return batch


def issued_receipt(batch, reviewer, *, title="上海长风示范科技有限公司") -> Receipt:
    """One line for the whole premium, submitted and approved by `reviewer`: the issued 专用收据."""
    receipt_add(batch=batch, title=title, amount=batch.premium.total, acting_user=batch.account)
    receipts_submit(batch=batch, acting_user=batch.account)
    [receipt] = receipts_approve(batch=batch, acting_user=reviewer)
    return receipt
