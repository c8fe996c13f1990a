"""专用收据审核 in the back office (SPEC RCP-1, RCP-2, BO-1).

One line per batch whose unit has sent its receipt lines for review (【提交审核】): batches with lines
待审核 first, the oldest submission first, then the batches reviewed before. The page shows the lines
(抬头, 金额, 备注), their sum against the batch premium (they must be equal, PREM-5), and the two buttons,
which call receipts.services.receipts_approve (issues the receipts: numbers and e-receipts; only for a
batch 参保已完成) and receipts_reject (a reason, required). Both lock the batch, so a double click or a
second reviewer issues nothing twice. Below, the issued receipts: the PDF to download (through the
configured issuer, receipt_issuer().document) and 【作废并重开】 with a reason and the corrected title and
remark (receipt_void_reissue, logged).

Reviewers hold receipts.view_receiptreview and receipts.change_receiptreview (accounts/roles.py); change
is the right to review, issue and void. Without the permission every URL answers 403; unit
administrators and strangers are sent to the login by the admin site.
"""
from decimal import Decimal
from urllib.parse import quote

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from enrollment.assignments import queue_figures
from enrollment.models import Batch
from enrollment.review_admin import (
    Decided,
    QueueLine,
    ReviewPageAdmin,
    batch_badge,
    local_text,
)
from enrollment.services import EnrollmentError
from enrollment.states import BatchState
from mutualaid.admin_pages import PAGE_CONTEXT, with_page_styles
from mutualaid.pdf import WEASYPRINT_PACKAGES
from plans.models import BatchPremium
from plans.premiums import yuan_text

from .models import Receipt, ReceiptReview
from .pdf import PdfUnavailable, receipt_issuer
from .services import receipt_void_reissue, receipts_approve, receipts_reject

RS = Receipt.Status
CENT = Decimal("0.01")
# The lines a reviewer has seen: everything but the unit's drafts.
REVIEWED_OR_PENDING = (RS.SUBMITTED, RS.ISSUED, RS.REJECTED, RS.VOIDED)
# The reviewed lines that count towards the premium (a rejected or voided one no longer does).
COUNTED = (RS.SUBMITTED, RS.ISSUED)
RECEIPT_BADGE_CLASSES = {RS.SUBMITTED: "progress", RS.ISSUED: "done", RS.REJECTED: "rejected", RS.VOIDED: "draft", RS.DRAFT: "draft"}


def _cents(amount) -> Decimal | None:
    """A database sum as yuan with two places (SQLite sums decimals with a long tail of zeros)."""
    return None if amount is None else Decimal(amount).quantize(CENT)


def _equality(total: Decimal, premium: Decimal) -> str:
    if total == premium:
        return format_html('<span class="passes">{}</span>', "一致")
    return format_html('<span class="fails">不一致（相差 {} 元）</span>', yuan_text(abs(premium - total)))


def _receipt_badge(receipt: Receipt) -> str:
    return format_html(
        '<span class="state-badge state-{}">{}</span>', RECEIPT_BADGE_CLASSES.get(receipt.status, "draft"), receipt.get_status_display()
    )


def _pending_batches():
    """Batches with receipt lines 待审核 (SPEC RCP-1 【提交审核】)."""
    return Batch.objects.filter(receipts__status=RS.SUBMITTED).distinct()


class ReceiptStatusFilter(admin.SimpleListFilter):
    title = "收据状态"
    parameter_name = "receipts"

    def lookups(self, request, model_admin):
        return [("pending", "待审核"), ("issued", "已开具")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(queue_rank=0)
        if self.value() == "issued":
            return queryset.filter(Exists(Receipt.objects.filter(batch=OuterRef("pk"), status=RS.ISSUED)))
        return queryset


@admin.register(ReceiptReview)
class ReceiptReviewAdmin(ReviewPageAdmin):
    """专用收据审核: read only; the decisions are the buttons of the page."""

    list_display = (
        "number",
        "unit_name",
        "code_column",
        "pending_count_column",
        "pending_total_column",
        "premium_column",
        "equal_column",
        "submitted_at_column",
        "state_badge",
    )
    list_display_links = ("number",)
    list_filter = (ReceiptStatusFilter, "coverage_year")
    search_fields = ("number", "unit_name", "code__code", "receipts__title", "receipts__number")
    search_help_text = "可按参保批次、单位名称、参保编码、收据抬头或收据号码搜索"
    change_form_template = "admin/receipts/receiptreview/change_form.html"
    change_list_template = "admin/receipts/receiptreview/change_list.html"
    pending_items = staticmethod(_pending_batches)  # enrollment.assignments: 处理人, 我的 / 未分配
    fieldsets = (
        ("参保批次", {"fields": ("number", "unit_name", "code_column", "kind", "coverage_year", "account_column")}),
    )
    readonly_fields = ("code_column", "account_column")


    # --- the list --------------------------------------------------------------------------------------

    def get_queryset(self, request):
        submitted = Receipt.objects.filter(batch=OuterRef("pk"), status=RS.SUBMITTED)
        first_submitted = submitted.order_by().values("batch").annotate(first=Min("submitted_at")).values("first")
        return (
            super()
            .get_queryset(request)
            .filter(Exists(Receipt.objects.filter(batch=OuterRef("pk"), status__in=REVIEWED_OR_PENDING)))
            .select_related("code", "coverage_year", "account", "premium")
            .annotate(
                queue_rank=Case(When(Exists(submitted), then=Value(0)), default=Value(1), output_field=IntegerField()),
                pending_since=Subquery(first_submitted[:1]),
            )
        )

    def get_ordering(self, request):
        return (F("queue_rank").asc(), F("pending_since").asc(nulls_last=True), F("updated_at").desc(), F("pk").desc())

    def get_list_note(self, request) -> str:
        return (
            "单位【提交审核】的专用收据，按参保批次列出：待审核的排在前面，先提交的在前。专用收据金额合计必须等于应缴保费；"
            "审核通过即开具电子专用收据（参保已完成的批次），开具后如需更正请在批次页面【作废并重开】。"
        )

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        batches = [batch.pk for batch in changelist.result_list]
        # One grouped query for the page: the lines waiting (how many, their sum) and the sum of the
        # lines that count towards the premium (waiting and issued: PREM-5, exact), per batch.
        sums = {
            row["batch_id"]: row
            for row in Receipt.objects.filter(batch_id__in=batches, status__in=COUNTED)
            .values("batch_id")
            .annotate(
                pending=Sum("amount", filter=Q(status=RS.SUBMITTED)),
                count=Count("pk", filter=Q(status=RS.SUBMITTED)),
                counted=Sum("amount"),
            )
            .order_by()
        }
        for batch in changelist.result_list:
            row = sums.get(batch.pk) or {}
            batch.pending_count = row.get("count") or 0
            batch.pending_total = _cents(row.get("pending"))
            batch.counted_total = _cents(row.get("counted"))
        return changelist

    @admin.display(description="参保编码", ordering="code__code")
    def code_column(self, obj):
        return obj.code.code

    @admin.display(description="待审核（张）")
    def pending_count_column(self, obj):
        return getattr(obj, "pending_count", 0) or "-"

    @admin.display(description="待审核金额（元）")
    def pending_total_column(self, obj):
        total = getattr(obj, "pending_total", None)
        return yuan_text(total) if total is not None else "-"

    @admin.display(description="应缴保费（元）", ordering="premium__total")
    def premium_column(self, obj):
        premium = getattr(obj, "premium", None)
        return yuan_text(premium.total) if premium else "-"

    @admin.display(description="收据合计与保费")
    def equal_column(self, obj):
        """SPEC RCP-1, PREM-5: the lines waiting and those issued must add up to the premium exactly."""
        total = getattr(obj, "counted_total", None)
        premium = getattr(obj, "premium", None)
        if total is None or premium is None:
            return "-"
        return _equality(total, premium.total)

    @admin.display(description="提交审核时间", ordering="pending_since")
    def submitted_at_column(self, obj):
        return local_text(obj.pending_since)

    @admin.display(description="批次状态", ordering="state")
    def state_badge(self, obj):
        return batch_badge(obj)

    @admin.display(description="平台账号")
    def account_column(self, obj):
        account = obj.account
        return f"{account.username}（{account.unit_name}）" if account.unit_name else account.username

    # --- the page -------------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        receipts = list(
            Receipt.objects.filter(batch=obj, status__in=REVIEWED_OR_PENDING)
            .select_related("reviewed_by", "replaces")
            .order_by("pk")
        )
        pending = [receipt for receipt in receipts if receipt.status == RS.SUBMITTED]
        issued = [receipt for receipt in receipts if receipt.status == RS.ISSUED]
        history = [receipt for receipt in receipts if receipt.status in (RS.VOIDED, RS.REJECTED)]
        premium = BatchPremium.objects.filter(batch=obj).first()
        pending_total = sum((receipt.amount for receipt in pending), Decimal("0.00"))
        counted_total = pending_total + sum((receipt.amount for receipt in issued), Decimal("0.00"))
        may_review = self.may_review(request) and bool(pending)
        context = {
            "title": f"审核专用收据（参保批次 {obj.number}）" if may_review else f"专用收据（参保批次 {obj.number}）",
            "state_badge": batch_badge(obj),
            "premium_text": yuan_text(premium.total) if premium else "-",
            "pending": [self._row(request, obj, receipt) for receipt in pending],
            "pending_total": yuan_text(pending_total),
            "issued_total": yuan_text(counted_total - pending_total),
            "counted_total": yuan_text(counted_total),
            "pending_since": local_text(min(receipt.submitted_at for receipt in pending)) if pending else "-",
            "equality": _equality(counted_total, premium.total) if premium else "-",
            "equal": premium is not None and counted_total == premium.total,
            "completed": obj.state == BatchState.COMPLETED,
            "issued": [self._row(request, obj, receipt) for receipt in issued],
            "history": [self._row(request, obj, receipt) for receipt in history],
            "may_review": may_review,
            "may_void": self.may_review(request),
            "approve_url": self._with_filters(request, self._url("approve", obj)),
            "reject_url": self._with_filters(request, self._url("reject", obj)),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def _row(self, request, batch, receipt: Receipt) -> dict:
        replaced_by = Receipt.objects.filter(replaces=receipt).only("number").first() if receipt.status == RS.VOIDED else None
        return {
            "receipt": receipt,
            "amount": yuan_text(receipt.amount),
            "badge": _receipt_badge(receipt),
            "issued_at": local_text(receipt.issued_at),
            "pdf_url": self._url("pdf", batch, receipt.pk) if receipt.status == RS.ISSUED else "",
            "void_url": self._with_filters(request, self._url("void", batch, receipt.pk)) if receipt.status == RS.ISSUED else "",
            "replaced_by": replaced_by.number if replaced_by else "",
        }

    # --- 【审核通过】, 【审核不通过】, the PDF and 【作废并重开】 ------------------------------------

    serves_attachments = False  # the lines are typed, not uploaded

    def page_paths(self, wrap) -> list:
        return [
            path("<path:object_id>/receipts/<int:receipt_id>/pdf/", wrap(self.pdf_view), name="receipts_receiptreview_pdf"),
            path("<path:object_id>/receipts/<int:receipt_id>/void/", wrap(self.void_view), name="receipts_receiptreview_void"),
        ]

    def _nothing_pending(self, request, obj):
        """The second click of a double click, or a second reviewer: the lines were decided already."""
        messages.warning(request, f"参保批次 {obj.number} 没有待审核的专用收据（已由审核人处理），无需重复审核。")
        return self._back_to_page(request, obj)

    def approve_decision(self, request, obj):
        issued = receipts_approve(batch=obj, acting_user=request.user)
        if not issued:
            return self._nothing_pending(request, obj)
        numbers = "、".join(receipt.number for receipt in issued)
        return Decided(f"参保批次 {obj.number} 的专用收据审核通过，已开具 {len(issued)} 张电子专用收据：{numbers}。")

    def reject_decision(self, request, obj, reason: str):
        rejected = receipts_reject(batch=obj, acting_user=request.user, reason=reason)
        if not rejected:
            return self._nothing_pending(request, obj)
        return Decided(f"参保批次 {obj.number} 的 {rejected} 张专用收据审核不通过，单位可重新填报：{reason.strip()}")

    def pdf_view(self, request, object_id, receipt_id):
        """The issued e-receipt as PDF (SPEC RCP-2), through the configured issuer."""
        obj = self.get_object(request, unquote(object_id))  # 403 without the view permission
        receipt = get_object_or_404(Receipt.objects.select_related("batch"), pk=receipt_id, batch=obj, status=RS.ISSUED)
        try:
            document = receipt_issuer().document(receipt)
        except PdfUnavailable:
            # ARCHITECTURE.md: without WeasyPrint's system libraries the page says what to install.
            context = {
                **self.admin_site.each_context(request),
                **PAGE_CONTEXT,
                "opts": self.opts,
                "title": "暂时无法生成PDF",
                "packages": WEASYPRINT_PACKAGES,
                "receipt": receipt,
                "back_url": self._change_url(obj),
            }
            return with_page_styles(
                TemplateResponse(request, "admin/receipts/pdf_unavailable.html", context, status=503)
            )
        response = HttpResponse(document, content_type="application/pdf")
        name = f"专用收据_{obj.number}_{receipt.number}.pdf"
        response["Content-Disposition"] = (
            f"attachment; filename=\"receipt-{receipt.number}.pdf\"; filename*=UTF-8''{quote(name)}"
        )
        response["Cache-Control"] = "private, no-store"
        return response

    def void_view(self, request, object_id, receipt_id):
        """【作废并重开】 (SPEC RCP-2): the receipt voided with the reason, a new one issued with the
        corrected title and remark and the same amount (receipt_void_reissue, logged)."""
        obj = self._reviewable(request, object_id)
        receipt = get_object_or_404(Receipt, pk=receipt_id, batch=obj)
        if request.method != "POST":
            return self._back_to_page(request, obj)
        try:
            replacement = receipt_void_reissue(
                receipt=receipt,
                acting_user=request.user,
                reason=request.POST.get("reason", ""),
                title=request.POST.get("title", ""),
                remark=request.POST.get("remark"),
            )
        except EnrollmentError as error:
            messages.error(request, f"收据 {receipt.number or receipt.title}：{error.message}")
            return self._back_to_page(request, obj)
        message = (
            f"收据 {receipt.number} 已作废，已重新开具收据 {replacement.number}"
            f"（抬头：{replacement.title}，金额 {yuan_text(replacement.amount)} 元）。"
        )
        self.log_change(request, obj, message)
        messages.success(request, message)
        return self._back_to_page(request, obj)


def receipt_review_queue(user) -> QueueLine | None:
    """专用收据审核 on the 待办 panel (SPEC RCP-1, BO-1): batches with lines 待审核; the handbook sets no
    deadline for it."""
    if not user.has_perm("receipts.view_receiptreview"):
        return None
    url = reverse("admin:receipts_receiptreview_changelist")
    return QueueLine(
        label="专用收据审核",
        url=f"{url}?receipts=pending",
        count=_pending_batches().count(),
        overdue=None,
        # Waiting since the first of its lines 待审核 was submitted.
        **queue_figures(
            pending=_pending_batches(),
            model=ReceiptReview,
            user=user,
            since=Min("receipts__submitted_at", filter=Q(receipts__status=RS.SUBMITTED)),
        ),
    )
