"""【缴费凭证管理】, 【新增缴费信息】 and a voucher's 查看 (SPEC PAY-2, PAY-3, BAT-8, X-1, X-4).

Unit accounts only (back-office roles get 403); another account's voucher, or its proofs, answer 404
(X-4). The rules are payments.services.voucher_submit's; these views show and ask. A refused
submission comes back with everything typed, ticked and uploaded (the same draft token, X-3).
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from enrollment.selectors import account_codes
from enrollment.views.access import unit_admin_page
from mutualaid.attachments import (
    attachment_draft_token,
    attachment_response,
    attachments_of,
)
from mutualaid.errors import form_error_add
from mutualaid.submissions import submission_made, submission_once
from mutualaid.submissions import submission_token as posted_token

from ..forms import VoucherFilterForm, VoucherForm
from ..models import Voucher
from ..selectors import account_vouchers, payable_batches, voucher_refund_preview
from ..services import PaymentError, voucher_submit

PER_PAGE = 15  # UI.md, "Lists"
# UI.md: the same colour for the same kind of state everywhere (in progress blue, rejected red, done green).
STATUS_BADGES = {
    Voucher.Status.SUBMITTED: "badge-state-progress",
    Voucher.Status.APPROVED: "badge-state-done",
    Voucher.Status.REJECTED: "badge-state-rejected",
}
NOTHING_PAYABLE = "当前没有待缴费的参保批次：批次【提交确认保费】后（缴费凭证待上传），或缴费凭证审核不通过后，才可新增缴费信息。"
REVIEW_DAYS_DEFAULT = 10  # SPEC PAY-2; each coverage year sets its own (voucher_review_working_days)
ROSTER_LOCK_NOTE = "缴费凭证上传后，参保清册不能再进行修改"  # SPEC BAT-8, the handbook's 【注意】
ATTACHMENT_HELP = "银行回单、转账支票存根等缴费凭证，可上传多张（如分两笔汇款）。"
# submission token → voucher pk, of the forms this session submitted (the newest last): the second
# request of a double click, or the form posted again with the back button, finds the voucher the
# first one made instead of being refused for batches already in 缴费凭证待审核 (UI.md, "Dialogs").
SUBMISSIONS_KEY = "voucher_submissions"
ALREADY_SUBMITTED = "该缴费信息已提交，无需重复提交。"


def _own_vouchers(request):
    return Voucher.objects.filter(account=request.user)


def _review_days(batches) -> int:
    """The review time of a voucher for these batches: their coverage years' (the longest)."""
    days = {batch.coverage_year.voucher_review_working_days for batch in batches}
    return max(days) if days else REVIEW_DAYS_DEFAULT


def _review_note(days: int) -> str:
    return f"※审核时间为提交申请后{days}个工作日内"


def _present(voucher: Voucher) -> Voucher:
    voucher.badge_class = STATUS_BADGES[voucher.status]
    voucher.is_rejected = voucher.status == Voucher.Status.REJECTED
    return voucher


# 缴费凭证管理 ----------------------------------------------------------------------------------------------


@require_GET
@unit_admin_page
def vouchers(request):
    """【缴费凭证管理】 (SPEC PAY-2): this account's vouchers, newest first, searched by 提交时间 and 付款单位,
    15 a page; 【新增缴费信息】 when a batch is waiting for its voucher."""
    filters = VoucherFilterForm(request.GET or None)
    page = Paginator(account_vouchers(account=request.user, **filters.search()), PER_PAGE).get_page(request.GET.get("page"))
    for voucher in page:
        _present(voucher)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "payments/vouchers/list.html",
        {
            "filters": filters,
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "query": query.urlencode(),
            "can_add": payable_batches(account=request.user).exists(),
            "nothing_payable": NOTHING_PAYABLE,
        },
    )


# 查看 ----------------------------------------------------------------------------------------------------


@require_GET
@unit_admin_page
def voucher_detail(request, pk: int):
    """A voucher (SPEC PAY-2, PAY-3, PAY-4): its fields, the refund with the account masked (X-1), its
    batches with their premiums, its proofs, the review status and the reason of a rejection."""
    voucher = get_object_or_404(account_vouchers(account=request.user), pk=pk)
    lines = list(voucher.lines.all())
    return render(
        request,
        "payments/vouchers/detail.html",
        {
            "voucher": _present(voucher),
            "lines": lines,
            "attachments": attachments_of(voucher),
            # After 审核不通过 the unit submits a new voucher (PAY-4): the way there, if still payable.
            "can_add": voucher.is_rejected and payable_batches(account=request.user).exists(),
            "review_note": _review_note(_review_days(line.batch for line in lines)),
        },
    )


@require_GET
@unit_admin_page
def voucher_attachment(request, pk: int, attachment_pk: int):
    """A proof of one of this account's vouchers; anyone else's voucher answers 404 (X-4)."""
    voucher = get_object_or_404(_own_vouchers(request), pk=pk)
    attachment = get_object_or_404(attachments_of(voucher), pk=attachment_pk)
    return attachment_response(attachment, download=request.GET.get("download") == "1")


# 新增缴费信息 --------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@unit_admin_page
def voucher_new(request):
    """【新增缴费信息】 (SPEC PAY-2, PAY-3): GET shows the form (`?batch=<number>` ticks that batch);
    POST submits through voucher_submit behind the confirmation dialog, then 缴费凭证管理 with a
    message. A refusal comes back at its field with everything kept."""
    if request.method == "POST" and _submitted_voucher(request, request.POST.get("submission_token", ""), fresh=True):
        messages.info(request, ALREADY_SUBMITTED)
        return redirect("payments:vouchers")
    batches = list(payable_batches(account=request.user))
    if request.method == "GET" and not batches:
        messages.info(request, NOTHING_PAYABLE)
        return redirect("payments:vouchers")
    numbers = [batch.number for batch in batches]
    attachment_errors: list[str] = []
    if request.method == "POST":
        draft_token = attachment_draft_token(reuse=request.POST.get("draft_token", ""))
        submission_token = posted_token(request.POST.get("submission_token", ""))
        form = VoucherForm(request.POST, batch_numbers=numbers)
        if form.is_valid():
            try:
                voucher, repeated = _submit(request, form, draft_token=draft_token, submission_token=submission_token)
            except PaymentError as error:
                form_error_add(form, error, attachment_errors=attachment_errors)
            else:
                if repeated:
                    messages.info(request, ALREADY_SUBMITTED)
                else:
                    paid = [line.batch for line in voucher.lines.select_related("batch__coverage_year").order_by("batch__number")]
                    refund = f"，退款金额{voucher.refund_amount}元" if voucher.refund_amount else ""
                    messages.success(
                        request,
                        f"缴费信息已提交（缴费金额{voucher.amount}元{refund}），参保批次 "
                        f"{'、'.join(batch.number for batch in paid)} 状态为“缴费凭证待审核”。"
                        f"审核时间为提交申请后{_review_days(paid)}个工作日内。",
                    )
                return redirect("payments:vouchers")
        # A refusal may be the second click of a double click that lost the race to the first
        # (its batches are no longer payable): then the first one's voucher is the answer.
        if _submitted_voucher(request, submission_token, fresh=True):
            messages.info(request, ALREADY_SUBMITTED)
            return redirect("payments:vouchers")
        selected = [number for number in request.POST.getlist("batches") if number in numbers]
    else:
        draft_token = attachment_draft_token()
        submission_token = posted_token("")
        wanted = request.GET.get("batch", "")
        selected = [wanted] if wanted in numbers else numbers[:1] if len(numbers) == 1 else []
        form = VoucherForm(initial={"batches": selected, "payer": _unit_name(request, batches)}, batch_numbers=numbers)
    preview = voucher_refund_preview(
        account=request.user, batch_numbers=selected, amount_text=form["amount"].value() or ""
    )
    return render(
        request,
        "payments/vouchers/form.html",
        {
            "form": form,
            "batches": batches,
            "selected": selected,
            "preview": preview,
            "draft_token": draft_token,
            "submission_token": submission_token,
            "attachment_errors": attachment_errors,
            "attachment_help": ATTACHMENT_HELP,
            "review_note": _review_note(_review_days(batches)),
            "roster_lock_note": ROSTER_LOCK_NOTE,
        },
    )


@require_POST
@unit_admin_page
def voucher_refund_preview_fragment(request):
    """htmx: 应缴保费合计 and 退款金额 (or the shortfall) of the ticked batches and the typed amount, as
    新增缴费信息 shows them under the amount (SPEC PAY-3). Reads only."""
    preview = voucher_refund_preview(
        account=request.user, batch_numbers=request.POST.getlist("batches"), amount_text=request.POST.get("amount", "")
    )
    return render(request, "payments/vouchers/_refund_preview.html", {"preview": preview, "oob": True})


def _unit_name(request, batches) -> str:
    """付款单位 prefilled with the unit's registered name (SPEC CODE-6), else the batch's."""
    code = account_codes(account=request.user).first()
    if code is not None and code.unit_name:
        return code.unit_name
    return batches[0].unit_name if batches else ""


def _submit(request, form: VoucherForm, *, draft_token: str, submission_token: str) -> tuple[Voucher, bool]:
    """(the voucher, whether this form had been submitted already), once per token with the
    account's row locked (mutualaid.submissions.submission_once; voucher_submit's batch locks stay
    the last word, e.g. for two browser windows). A refusal rolls everything back."""
    data = form.cleaned_data
    return submission_once(
        request,
        SUBMISSIONS_KEY,
        submission_token,
        make=lambda: voucher_submit(
            account=request.user,
            batch_numbers=data["batches"],
            payer=data["payer"],
            method=data["method"],
            amount=data["amount"],
            account_kind=data["account_kind"],
            draft_token=draft_token,
            refund=form.refund_details(),
        ),
        find=lambda pk: _own_vouchers(request).filter(pk=pk).first(),
    )


def _submitted_voucher(request, token: str, *, fresh: bool = False) -> Voucher | None:
    pk = submission_made(request, SUBMISSIONS_KEY, token, fresh=fresh)
    return _own_vouchers(request).filter(pk=pk).first() if pk else None


urlpatterns = [
    path("vouchers/", vouchers, name="vouchers"),
    path("vouchers/new/", voucher_new, name="voucher_new"),
    path("vouchers/new/refund/", voucher_refund_preview_fragment, name="voucher_refund_preview"),
    path("vouchers/<int:pk>/", voucher_detail, name="voucher_detail"),
    path("vouchers/<int:pk>/attachments/<int:attachment_pk>/", voucher_attachment, name="voucher_attachment"),
]
