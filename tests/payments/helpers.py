"""Shared helpers of the payments tests: a batch waiting for its voucher (SPEC PREM-3 → 缴费凭证待上传),
a proof uploaded as a draft of the voucher form, and a voucher submitted with it (SPEC PAY-2 【缴费凭证上传】)."""
import datetime as dt

import time_machine

from enrollment.states import BatchKind
from mutualaid.attachments import attachment_draft_token, attachment_store
from payments.services import voucher_submit
from plans.services import premium_confirm
from tests.enrollment.helpers import png_upload
from tests.factories import SHANGHAI
from tests.plans.helpers import approved_batch

# Inside the 2023 centralised window (SPEC YEAR-1).
CONFIRMED_AT = dt.datetime(2023, 6, 10, 10, 0, tzinfo=SHANGHAI)


def awaiting_payment_batch(*, year, account=None, people=4, codes=("A0", "B0", "C0"), kind=BatchKind.CENTRALISED, at=CONFIRMED_AT):
    """A batch in 缴费凭证待上传 whose premium was confirmed at `at`: `people` with 社保 and the bundle
    A0 B0 C0 cost 180 each at full-year prices (SPEC PREM-1), so 4 people → 720.00."""
    batch = approved_batch(year=year, account=account, kind=kind, social_security=people)
    with time_machine.travel(at, tick=False):
        premium_confirm(batch=batch, codes=list(codes), acting_user=batch.account)
    batch.refresh_from_db()
    return batch


def proof_draft(account) -> str:
    """A draft token holding one uploaded PNG proof of `account`."""
    token = attachment_draft_token()
    attachment_store(upload=png_upload("转账回单.png"), uploaded_by=account, draft_token=token)
    return token


def paid(year, *, amount="720.00", at=dt.datetime(2023, 6, 12, 10, 0, tzinfo=SHANGHAI), refund=None,
         payer="上海长风示范科技有限公司", batches=None):
    """A voucher submitted at `at` for a new batch (720.00) or for `batches` of one account."""
    batches = batches or [awaiting_payment_batch(year=year)]
    account = batches[0].account
    return voucher_submit(
        account=account, batch_numbers=[batch.number for batch in batches], payer=payer, method="online",
        amount=amount, draft_token=proof_draft(account), refund=refund, at=at,
    )
