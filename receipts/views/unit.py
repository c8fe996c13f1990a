"""专用收据填报 of a batch and the unit's PDFs (SPEC RCP-1, RCP-2, RCP-3, X-4).

- `batch_receipts`: the lines of one batch (专用收据抬头, 金额, 备注, 状态, 收据号码) with 【新增专用收据】 (its
  dialog posts op=add), 【取消上传】 (op=cancel, after a confirmation) and 【提交审核】 (op=submit).
- `receipt_pdf`: an issued e-receipt, drawn by the configured issuer (RCP-2).
- `certificate_pdf`: the 保障单 of a batch 参保已完成 (RCP-3).

Unit accounts with 经办人填报 saved only (back-office roles get 403); another account's batch or
receipt answers 404 (X-4). A batch whose state has no 专用收据 / 保障单 (BAT-3) gets a message and goes
back to 参保批次管理, as the other batch pages do. The rules are receipts.services'; these views put
ReceiptError beside its field and keep what was typed.
"""
from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from enrollment.models import Batch
from enrollment.states import RECEIPT_STATES, BatchAction, BatchState
from enrollment.views.access import account_batch, unit_page
from mutualaid.errors import form_error_add
from mutualaid.pdf import WEASYPRINT_PACKAGES
from mutualaid.submissions import (
    submission_once,
    submission_token_new,
)
from plans.premiums import yuan_text

from .. import pdf
from ..forms import ReceiptLineForm
from ..models import Receipt
from ..selectors import certificate_context, receipts_of
from ..services import (
    ReceiptError,
    receipt_add,
    receipt_premium,
    receipts_counted_total,
    receipts_drafts_remove,
    receipts_submit,
)

OP_ADD, OP_CANCEL, OP_SUBMIT = "add", "cancel", "submit"
# The handbook's notes under the table (SPEC RCP-1).
NOTES = ("※专用收据金额合计必须等于应缴纳保费", "※专用收据可开具多张，参保单位与专用收据抬头可以不一致")
WARNING = "*信息录入错误, 请在收到电子发票后, 到职保会现场进行更改!"  # verbatim, in red in the dialog
# UI.md "Lists": the same colours as the batch states (draft grey, in progress blue, rejected red, done green).
STATUS_BADGES = {
    Receipt.Status.DRAFT: "badge-state-draft",
    Receipt.Status.SUBMITTED: "badge-state-progress",
    Receipt.Status.ISSUED: "badge-state-done",
    Receipt.Status.REJECTED: "badge-state-rejected",
    Receipt.Status.VOIDED: "badge-state-draft",
}
# The dialog's submission token → the receipt it added (the second request of a double click of
# 【确认提交】 finds it instead of adding the line twice: UI.md "Dialogs").
SUBMISSIONS_KEY = "receipt_add_submissions"


def _page_url(batch) -> str:
    return reverse("receipts:batch_receipts", kwargs={"number": batch.number})


def _not_allowed(request, batch, action_label: str):
    messages.warning(
        request, f"批次 {batch.number} 当前状态为“{batch.get_state_display()}”，不能进行【{action_label}】操作。"
    )
    return redirect("enrollment:batches")


# --- 专用收据填报 -------------------------------------------------------------------------------------------


def _new_form() -> ReceiptLineForm:
    return ReceiptLineForm(initial={"submission_token": submission_token_new()})


def _page(request, batch, *, form=None, show_add=False, show_cancel=False, submit_error="", status=200):
    """The page: the lines, their sum against the premium, the buttons the lines allow, the dialogs."""
    lines = list(receipts_of(batch=batch).select_related("replaced_by"))
    for line in lines:
        line.badge_class = STATUS_BADGES[line.status]
    premium = receipt_premium(batch=batch)
    counted = receipts_counted_total(batch=batch)
    drafts = [line for line in lines if line.status == Receipt.Status.DRAFT]
    submitted = [line for line in lines if line.status == Receipt.Status.SUBMITTED]
    rejected = [line for line in lines if line.status == Receipt.Status.REJECTED]
    remaining = premium - counted
    # UI.md: a disabled button says why; with every receipt issued there is nothing left to add.
    add_disabled_reason = ""
    if remaining <= 0 and drafts:
        add_disabled_reason = "专用收据金额合计已等于应缴纳保费。如需修改，请先点击【取消上传】后重新填写。"
    elif remaining <= 0 and submitted:
        add_disabled_reason = "专用收据已提交审核，金额合计已等于应缴纳保费。"
    context = {
        "batch": batch,
        "lines": lines,
        "premium": premium,
        "counted": counted,
        "remaining": remaining,
        "can_add": remaining > 0,
        "add_disabled_reason": add_disabled_reason,
        "all_issued": remaining <= 0 and not drafts and not submitted,
        "drafts": drafts,
        "submitted": submitted,
        # The latest refusal, if the unit has not yet added new lines after it.
        "rejected_reason": rejected[-1].reject_reason if rejected and rejected[-1].pk == lines[-1].pk else "",
        "issued_any": any(line.status == Receipt.Status.ISSUED for line in lines),
        "editable": batch.state in RECEIPT_STATES,
        "completed": batch.state == BatchState.COMPLETED,
        "certificate_url": reverse("receipts:certificate_pdf", kwargs={"number": batch.number})
        if batch.allows(BatchAction.CERTIFICATE) else None,
        "form": form or _new_form(),
        "show_add": show_add,
        "show_cancel": show_cancel,
        "submit_error": submit_error,
        "notes": NOTES,
        "warning": WARNING,
    }
    return render(request, "receipts/unit/batch_receipts.html", context, status=status)


@require_http_methods(["GET", "POST"])
@unit_page
def batch_receipts(request, number: str):
    """GET: the page. POST op=add (【确认提交】 of 【新增专用收据】): receipt_add, the dialog open again with
    the message at its field when refused. op=cancel with `confirmed` (【取消上传】): the lines not
    submitted are removed. op=submit (【提交审核】): receipts_submit, the exact-total message if off."""
    batch = account_batch(request, number)
    if not batch.allows(BatchAction.RECEIPTS):
        return _not_allowed(request, batch, "专用收据")
    if request.method == "GET":
        return _page(request, batch)
    op = request.POST.get("op")
    if op == OP_ADD:
        return _add(request, batch)
    if op == OP_CANCEL:
        return _cancel(request, batch)
    if op == OP_SUBMIT:
        return _submit(request, batch)
    return redirect(_page_url(batch))


def _add(request, batch):
    form = ReceiptLineForm(request.POST)
    if not form.is_valid():
        return _page(request, batch, form=form, show_add=True)
    data = form.cleaned_data
    token = data["submission_token"] or submission_token_new()
    try:
        # One 【确认提交】 at a time per batch: the second request of a double click waits on the
        # batch's row, then finds the token the first one stored (receipt_add locks the same row again).
        receipt, repeated = submission_once(
            request,
            SUBMISSIONS_KEY,
            token,
            make=lambda: receipt_add(
                batch=batch, title=data["title"], amount=data["amount"], remark=data["remark"], acting_user=request.user
            ),
            find=lambda pk: pk,
            lock=Batch.objects.filter(pk=batch.pk),
        )
    except ReceiptError as error:
        form_error_add(form, error)
        return _page(request, batch, form=form, show_add=True)
    if repeated:
        messages.info(request, "该专用收据已添加，无需重复提交。")
        return redirect(_page_url(batch))
    premium, counted = receipt_premium(batch=batch), receipts_counted_total(batch=batch)
    if counted == premium:
        next_step = "专用收据金额合计已等于应缴纳保费，请点击【提交审核】。"
    else:
        next_step = f"专用收据金额合计{yuan_text(counted)}元，应缴纳保费{yuan_text(premium)}元，还差{yuan_text(premium - counted)}元。"
    messages.success(request, f"已添加专用收据“{receipt.title}”{yuan_text(receipt.amount)}元。{next_step}")
    return redirect(_page_url(batch))


def _cancel(request, batch):
    """【取消上传】: without `confirmed` (a plain post) the page asks first, as the dialog does."""
    if not request.POST.get("confirmed"):
        return _page(request, batch, show_cancel=True)
    try:
        removed = receipts_drafts_remove(batch=batch, acting_user=request.user)
    except ReceiptError as error:
        messages.error(request, error.message)
        return redirect(_page_url(batch))
    if removed:
        messages.success(request, f"已取消上传{removed}张尚未提交审核的专用收据。")
    else:  # the second click, or nothing was left to remove
        messages.info(request, "没有尚未提交审核的专用收据，无需取消上传。")
    return redirect(_page_url(batch))


def _submit(request, batch):
    try:
        submitted = receipts_submit(batch=batch, acting_user=request.user)
    except ReceiptError as error:
        nothing_left = not receipts_of(batch=batch).filter(status=Receipt.Status.DRAFT).exists()
        if nothing_left and receipts_of(batch=batch).filter(status=Receipt.Status.SUBMITTED).exists():
            messages.info(request, "专用收据已提交审核，无需重复提交。")  # a double click
            return redirect(_page_url(batch))
        return _page(request, batch, submit_error=error.message)
    batch.refresh_from_db(fields=["state"])
    after = (
        "职保会审核通过后，可在本页下载电子专用收据。"
        if batch.state == BatchState.COMPLETED
        else "缴费凭证审核通过（参保已完成）后，职保会审核开具，届时可在本页下载电子专用收据。"
    )
    messages.success(request, f"已提交审核{submitted}张专用收据。{after}")
    return redirect(_page_url(batch))


# --- the PDFs ---------------------------------------------------------------------------------------------


def _pdf_response(data: bytes, *, filename: str, fallback: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    # RFC 6266: an ASCII name for old clients, then the Chinese one (RFC 5987); UI.md "Files".
    response["Content-Disposition"] = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return response


def _pdf_unavailable(request, batch, *, title: str):
    """WeasyPrint or its Debian libraries are missing (ARCHITECTURE.md): say what to install."""
    context = {"batch": batch, "title": title, "packages": WEASYPRINT_PACKAGES}
    return render(request, "receipts/unit/pdf_unavailable.html", context, status=503)


@require_GET
@unit_page
def receipt_pdf(request, pk: int):
    """【下载】 of an issued receipt (SPEC RCP-2): the issuer's document, named 专用收据_{number}_{date}.pdf."""
    receipt = get_object_or_404(
        Receipt.objects.select_related("batch__coverage_year", "batch__code"),
        pk=pk, batch__account=request.user, status=Receipt.Status.ISSUED,
    )
    try:
        data = pdf.receipt_issuer().document(receipt)
    except pdf.PdfUnavailable:
        return _pdf_unavailable(request, receipt.batch, title=f"专用收据 {receipt.number}")
    day = timezone.localtime(receipt.issued_at).strftime("%Y%m%d")
    return _pdf_response(
        data, filename=f"专用收据_{receipt.number}_{day}.pdf", fallback=f"receipt_{receipt.number}_{day}.pdf"
    )


@require_GET
@unit_page
def certificate_pdf(request, number: str):
    """【保障单】 of a batch 参保已完成 (SPEC RCP-3), named 保障单_{batch number}_{date}.pdf."""
    batch = account_batch(request, number)
    if not batch.allows(BatchAction.CERTIFICATE):
        return _not_allowed(request, batch, "保障单")
    try:
        data = pdf.certificate_pdf(batch=batch, context=certificate_context(batch=batch))
    except pdf.PdfUnavailable:
        return _pdf_unavailable(request, batch, title=f"保障单 {batch.number}")
    day = timezone.localdate().strftime("%Y%m%d")
    return _pdf_response(
        data, filename=f"保障单_{batch.number}_{day}.pdf", fallback=f"certificate_{batch.number}_{day}.pdf"
    )


urlpatterns = [
    path("batches/<str:number>/receipts/", batch_receipts, name="batch_receipts"),
    path("receipts/<int:pk>/pdf/", receipt_pdf, name="receipt_pdf"),
    path("batches/<str:number>/certificate/", certificate_pdf, name="certificate_pdf"),
]
