"""The payments back office (SPEC PAY-4, PAY-5, BAT-11, BO-1, X-1).

- 缴费凭证审核: the vouchers, 待审核 first (oldest first), then the reviewed ones (latest review first),
  with the review deadline of 10 working days (CoverageYear.voucher_review_working_days of the
  batches' year; the shortest when a voucher pays batches of several years) and 已超期 in red. The page
  shows the proofs (images inline, PDFs as links), the amounts, the refund data and the batches, and
  the two buttons, which call payments.services.voucher_approve / voucher_reject: they lock the
  voucher and re-check its status, so a double click or a second reviewer decides nothing twice.
  The refund account number is masked; the reviewer who pays the refund opens it in full with
  【显示完整帐号】, and that view is written to the audit trail (X-1).
- 逾期未缴费批次 (BAT-11): batches still 缴费凭证待上传 after their payment deadline, the oldest deadline
  first, with 【作废】 (reason required, a confirmation dialog) calling payments.services.batch_cancel.

Reviewers hold payments.view/change_voucher and payments.view/change_overduebatch (accounts/roles.py);
change is the right to decide (the forms themselves never edit). Without the permission every URL
answers 403; unit administrators and strangers are sent to the login by the admin site.
"""

from auditlog.signals import accessed
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Subquery,
    Value,
    When,
)
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from enrollment.assignments import AssignmentAdminMixin, queue_figures
from enrollment.models import HandlerInfo
from enrollment.review_admin import (
    ReadOnlyAdmin,
    Decided,
    OverdueFilter,
    QueueLine,
    ReviewPageAdmin,
    batch_badge,
    deadline_text,
    local_text,
    overdue_cutoff,
)
from enrollment.selectors import coverage_year_current
from enrollment.services import EnrollmentError
from enrollment.states import BatchState
from mutualaid.attachments import attachments_of
from mutualaid.pii import mask_mobile
from plans.premiums import yuan_text

from .models import OverdueBatch, Voucher, VoucherBatch
from .selectors import DEFAULT_VOUCHER_REVIEW_WORKING_DAYS, overdue_batches, voucher_review_deadline, voucher_review_days
from .services import batch_cancel, voucher_approve, voucher_reject

Status = Voucher.Status

# SPEC PAY-2: 审核时间为提交申请后10个工作日内 — the handbook's number, for a voucher without batches
# (never saved by voucher_submit, but the page must not break on one made by hand).

# UI.md: the same colour for the same kind of state (blue waiting for review, green, red).
VOUCHER_BADGE_CLASSES = {Status.SUBMITTED: "progress", Status.APPROVED: "done", Status.REJECTED: "rejected"}

# The query parameter of 【显示完整帐号】 on the voucher's page.
FULL_ACCOUNT_PARAMETER = "refund_account"


# --- shared pieces -----------------------------------------------------------------------------------


def _voucher_badge(voucher: Voucher) -> str:
    return format_html(
        '<span class="state-badge state-{}">{}</span>',
        VOUCHER_BADGE_CLASSES.get(voucher.status, "draft"),
        voucher.get_status_display(),
    )


def _review_days_subquery():
    """SPEC PAY-2, YEAR-1: the review time of the voucher's batches' coverage year, the shortest when
    they are of several years (the strictest deadline wins)."""
    field = "batch__coverage_year__voucher_review_working_days"
    return Subquery(VoucherBatch.objects.filter(voucher=OuterRef("pk")).order_by(field).values(field)[:1])


def _pending_vouchers():
    return Voucher.objects.filter(status=Status.SUBMITTED).annotate(review_days=_review_days_subquery())


def _overdue_vouchers():
    """Vouchers 待审核 past their deadline: one cutoff per working-day setting in use (usually one)."""
    pending = _pending_vouchers()
    overdue = Voucher.objects.none()
    for days in pending.values_list("review_days", flat=True).distinct().order_by():
        cutoff = overdue_cutoff(working_days=days or DEFAULT_VOUCHER_REVIEW_WORKING_DAYS)
        if days is None:
            late = pending.filter(review_days__isnull=True, submitted_at__lt=cutoff)
        else:
            late = pending.filter(review_days=days, submitted_at__lt=cutoff)
        overdue = overdue | Voucher.objects.filter(pk__in=late.values("pk"))
    return overdue


class VoucherOverdueFilter(OverdueFilter):
    """审核期限: the vouchers 待审核 past their deadline (SPEC PAY-2, BO-1, YEAR-3)."""

    overdue_items = staticmethod(_overdue_vouchers)


# --- 缴费凭证审核 (SPEC PAY-4, BO-1) ------------------------------------------------------------------


@admin.register(Voucher)
class VoucherAdmin(ReviewPageAdmin):
    """缴费凭证审核: read only; the decision is the two buttons of the page."""

    list_display = (
        "payer_column",
        "batches_column",
        "amount_column",
        "premiums_column",
        "refund_column",
        "submitted_at_column",
        "deadline_column",
        "status_badge",
    )
    list_display_links = ("payer_column",)
    list_filter = ("status", VoucherOverdueFilter)
    list_select_related = ("account", "reviewed_by")
    search_fields = ("payer", "batches__number", "account__username", "account__unit_name")
    search_help_text = "可按付款单位、参保批次或平台账号搜索"
    change_form_template = "admin/payments/voucher/change_form.html"
    change_list_template = "admin/payments/voucher/change_list.html"
    # enrollment.assignments: 处理人, 我的 / 未分配, 【领取】/【释放】
    pending_items = staticmethod(lambda: Voucher.objects.filter(status=Status.SUBMITTED))
    queue_label_text = "缴费凭证审核"

    def pending_for_batches(self, batch_ids) -> dict[int, list]:
        """The vouchers 待审核 that pay these batches (the back-office search links them)."""
        found: dict[int, list] = {}
        lines = VoucherBatch.objects.filter(batch_id__in=batch_ids, voucher__status=Status.SUBMITTED).select_related("voucher")
        for line in lines:
            found.setdefault(line.batch_id, []).append(line.voucher)
        return found
    fieldsets = (
        ("凭证信息", {"fields": ("payer", "method", "account_kind", "account_column", "submitted_at_column")}),
        ("审核", {"fields": ("status", "reviewed_at_column", "reviewed_by_column", "reject_reason")}),
    )
    readonly_fields = ("account_column", "submitted_at_column", "reviewed_at_column", "reviewed_by_column")


    # --- the list ----------------------------------------------------------------------------------------

    def get_queryset(self, request):
        lines = VoucherBatch.objects.select_related("batch").order_by("batch__number")
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("lines", queryset=lines))
            .annotate(
                review_days=_review_days_subquery(),
                queue_rank=Case(When(status=Status.SUBMITTED, then=Value(0)), default=Value(1), output_field=IntegerField()),
                pending_since=Case(When(status=Status.SUBMITTED, then=F("submitted_at"))),
            )
        )

    def get_ordering(self, request):
        return (
            F("queue_rank").asc(),
            F("pending_since").asc(nulls_last=True),
            F("reviewed_at").desc(nulls_last=True),
            F("pk").desc(),
        )

    def get_list_note(self, request) -> str:
        year = coverage_year_current()
        days = year.voucher_review_working_days if year else DEFAULT_VOUCHER_REVIEW_WORKING_DAYS
        return (
            f"单位上传的缴费凭证：待审核的排在前面，先提交的在前；审核时限为提交后 {days} 个工作日"
            f"（至第 {days} 个工作日24时，以参保批次所属保障年度的设置为准），超过期限仍未审核的标为“已超期”。"
            "审核通过后参保批次变为“参保已完成”。"
        )

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # One deadline per (day of submission, working days), not one per row.
        now, by_day = timezone.now(), {}
        for voucher in changelist.result_list:
            key = (timezone.localdate(voucher.submitted_at), voucher.review_days)
            if key not in by_day:
                by_day[key] = voucher_review_deadline(voucher)
            voucher.review_deadline, voucher.review_now = by_day[key], now
        return changelist

    @admin.display(description="付款单位", ordering="payer")
    def payer_column(self, obj):
        return obj.payer

    @admin.display(description="参保批次")
    def batches_column(self, obj):
        return "、".join(line.batch.number for line in obj.lines.all())

    @admin.display(description="缴费金额（元）", ordering="amount")
    def amount_column(self, obj):
        return yuan_text(obj.amount)

    @admin.display(description="应缴保费（元）", ordering="premiums")
    def premiums_column(self, obj):
        return yuan_text(obj.premiums)

    @admin.display(description="退款金额（元）", ordering="refund_amount")
    def refund_column(self, obj):
        return yuan_text(obj.refund_amount) if obj.refund_amount else "-"

    @admin.display(description="提交时间", ordering="submitted_at")
    def submitted_at_column(self, obj):
        return local_text(obj.submitted_at)

    @admin.display(description="审核期限", ordering="submitted_at")
    def deadline_column(self, obj):
        deadline = getattr(obj, "review_deadline", None) or voucher_review_deadline(obj)
        now = getattr(obj, "review_now", None) or timezone.now()
        text = deadline_text(deadline)
        if obj.status == Status.SUBMITTED and now > deadline:
            return format_html('<span class="overdue-text">{}</span> <span class="state-badge state-overdue">已超期</span>', text)
        return text

    @admin.display(description="审核状态", ordering="status")
    def status_badge(self, obj):
        return _voucher_badge(obj)

    # --- the page ----------------------------------------------------------------------------------------

    @admin.display(description="平台账号")
    def account_column(self, obj):
        account = obj.account
        return f"{account.username}（{account.unit_name}）" if account.unit_name else account.username

    @admin.display(description="审核时间")
    def reviewed_at_column(self, obj):
        return local_text(obj.reviewed_at)

    @admin.display(description="审核人")
    def reviewed_by_column(self, obj):
        return obj.reviewed_by.username if obj.reviewed_by_id else "-"

    def may_see_refund_account(self, request) -> bool:
        """The reviewer who pays the refund (the right to review) may open the full account number."""
        return self.may_review(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        full_account = ""
        if obj.refund_account_cipher and request.GET.get(FULL_ACCOUNT_PARAMETER) == "full":
            if not self.may_see_refund_account(request):
                raise PermissionDenied
            full_account = obj.refund_account_number
            # SPEC X-1: a full view is recorded in the audit trail (who, when, which voucher).
            accessed.send(sender=Voucher, instance=obj)
        may_review = self.may_review(request) and obj.status == Status.SUBMITTED
        deadline = voucher_review_deadline(obj)
        lines = list(obj.lines.select_related("batch__coverage_year", "batch__premium").order_by("batch__number"))
        context = {
            "title": f"审核缴费凭证（{obj.payer}）" if may_review else f"缴费凭证（{obj.payer}）",
            "status_badge": _voucher_badge(obj),
            "submitted_at_text": local_text(obj.submitted_at),
            "deadline_text": deadline_text(deadline),
            "review_days": voucher_review_days(obj),
            "overdue": obj.status == Status.SUBMITTED and timezone.now() > deadline,
            "amounts": {
                "amount": yuan_text(obj.amount),
                "premiums": yuan_text(obj.premiums),
                "refund": yuan_text(obj.refund_amount),
            },
            "batch_rows": [self._batch_row(request, line) for line in lines],
            "batch_numbers": "、".join(line.batch.number for line in lines),
            "refund_account_full": full_account,
            "refund_account_url": (
                f"{self._with_filters(request, self._change_url(obj))}"
                f"{'&' if self.get_preserved_filters(request) else '?'}{FULL_ACCOUNT_PARAMETER}=full"
                if obj.refund_account_cipher and not full_account and self.may_see_refund_account(request)
                else ""
            ),
            "attachments": self._attachments(obj),
            "attachment_kind_label": "缴费凭证（转账回单、支票存根等，图片或PDF）",
            "may_review": may_review,
            "approve_url": self._with_filters(request, self._url("approve", obj)),
            "reject_url": self._with_filters(request, self._url("reject", obj)),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def _batch_row(self, request, line: VoucherBatch) -> dict:
        batch = line.batch
        premium = getattr(batch, "premium", None)
        url = ""
        if premium is not None and request.user.has_perm("plans.view_batchpremium"):
            url = reverse("admin:plans_batchpremium_change", args=[premium.pk], current_app=self.admin_site.name)
        return {
            "number": batch.number,
            "url": url,
            "unit_name": batch.unit_name,
            "kind": batch.get_kind_display(),
            "year": batch.coverage_year.year,
            "premium": yuan_text(line.premium),
            "state_badge": batch_badge(batch),
        }

    def _attachments(self, obj) -> list[dict]:
        return [
            {
                "name": attachment.original_name,
                "kind": attachment.kind,
                "size_kb": max(1, round(attachment.size / 1024)),
                "is_image": attachment.is_image,
                "url": self._url("attachment", obj, attachment.pk),
                "download_url": self._url("attachment", obj, attachment.pk) + "?download=1",
            }
            for attachment in attachments_of(obj)
        ]

    # --- 【审核通过】, 【审核不通过】 and the proofs --------------------------------------------------

    def _decided_before(self, request, obj, decided: Voucher):
        """The second click of a double click, or a second reviewer: the voucher was decided already."""
        who = decided.reviewed_by.username if decided.reviewed_by_id else "其他审核人"
        messages.warning(
            request,
            f"该缴费凭证已由 {who} 于 {local_text(decided.reviewed_at)} {decided.get_status_display()}，无需重复审核。",
        )
        return self._back_to_page(request, obj)

    def _batch_numbers(self, voucher: Voucher) -> str:
        return "、".join(voucher.lines.order_by("batch__number").values_list("batch__number", flat=True))

    def approve_decision(self, request, obj):
        now = timezone.now()
        voucher = voucher_approve(voucher=obj, acting_user=request.user, at=now)
        if voucher.reviewed_at != now:  # the service found it approved and changed nothing
            return self._decided_before(request, obj, voucher)
        message = (
            f"缴费凭证（{voucher.payer}，{yuan_text(voucher.amount)}元）审核通过：参保批次 {self._batch_numbers(voucher)} "
            "已变为“参保已完成”，已发邮件通知经办人。"
        )
        if voucher.refund_amount:
            message += f"请按退款信息向“{voucher.refund_account_name}”（{voucher.refund_bank}）退款 {yuan_text(voucher.refund_amount)} 元。"
        return Decided(message)

    def reject_decision(self, request, obj, reason: str):
        now = timezone.now()
        voucher = voucher_reject(voucher=obj, acting_user=request.user, reason=reason, at=now)
        if voucher.reviewed_at != now:
            return self._decided_before(request, obj, voucher)
        return Decided(
            f"缴费凭证（{voucher.payer}，{yuan_text(voucher.amount)}元）审核不通过：参保批次 {self._batch_numbers(voucher)} "
            f"已变为“缴费凭证审核不通过”，已发邮件将原因通知经办人：{voucher.reject_reason}"
        )


def voucher_review_queue(user) -> QueueLine | None:
    """缴费凭证审核 on the 待办 panel (SPEC PAY-4, BO-1): vouchers 待审核 and how many are past the deadline."""
    if not user.has_perm("payments.view_voucher"):
        return None
    url = reverse("admin:payments_voucher_changelist")
    pending = Voucher.objects.filter(status=Status.SUBMITTED)
    return QueueLine(
        label="缴费凭证审核",
        url=f"{url}?status__exact={Status.SUBMITTED.value}",
        count=pending.count(),
        overdue=_overdue_vouchers().count(),
        overdue_url=f"{url}?overdue=yes&status__exact={Status.SUBMITTED.value}",
        **queue_figures(pending=pending, model=Voucher, user=user, since="submitted_at"),
    )




# --- 逾期未缴费批次 (SPEC BAT-11, PAY-5) -----------------------------------------------------------------


@admin.register(OverdueBatch)
class OverdueBatchAdmin(AssignmentAdminMixin, ReadOnlyAdmin):
    """Batches left unpaid past their deadline (payments.selectors.overdue_batches), with 【作废】."""

    list_display = (
        "number",
        "unit_name",
        "code_column",
        "premium_column",
        "due_column",
        "days_overdue_column",
        "handler_column",
    )
    list_display_links = ("number",)
    list_filter = ("coverage_year", "kind")
    search_fields = ("number", "unit_name", "code__code")
    search_help_text = "可按参保批次、单位名称或参保编码搜索"
    change_form_template = "admin/payments/overduebatch/change_form.html"
    change_list_template = "admin/payments/overduebatch/change_list.html"
    actions = None
    # enrollment.assignments: 处理人, 我的 / 未分配, 【领取】/【释放】; the page's decision is 【作废】
    pending_items = staticmethod(lambda: overdue_batches(today=timezone.localdate()))
    decision_flag = "may_cancel"
    fieldsets = (
        (
            "参保批次",
            {"fields": ("number", "unit_name", "code_column", "kind", "coverage_year", "account_column")},
        ),
        ("保费", {"fields": ("premium_column", "confirmed_at_column", "due_column", "days_overdue_column")}),
        ("经办人", {"fields": ("handler_column", "handler_email_column")}),
    )
    readonly_fields = (
        "code_column",
        "account_column",
        "premium_column",
        "confirmed_at_column",
        "due_column",
        "days_overdue_column",
        "handler_column",
        "handler_email_column",
    )

    # --- permissions: the list is read only (ReadOnlyAdmin); 【作废】 needs the change permission ---------

    def may_cancel(self, request) -> bool:
        return request.user.has_perm("payments.change_overduebatch")

    # --- the list ----------------------------------------------------------------------------------------

    def get_queryset(self, request):
        # The service says which batches are overdue (one rule for the list, the panel and 作废).
        overdue = overdue_batches(today=timezone.localdate())
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=overdue.values("pk"))
            .select_related("premium", "code", "coverage_year", "account")
        )

    def get_ordering(self, request):
        return (F("premium__payment_due").asc(), F("pk").asc())

    def get_list_note(self, request) -> str:
        return (
            "提交确认保费后超过缴费期限仍未上传缴费凭证的参保批次（状态仍为“缴费凭证待上传”），截止日期最早的在前。"
            "作废后批次状态变为“已作废”，批次人员在本年度的参保登记随之释放，并发邮件通知经办人。"
        )

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        codes = {batch.code_id for batch in changelist.result_list}
        handlers = {handler.code_id: handler for handler in HandlerInfo.objects.filter(code_id__in=codes)}
        today = timezone.localdate()
        for batch in changelist.result_list:
            batch._handler_cache = handlers.get(batch.code_id)
            batch.today = today
        return changelist

    @admin.display(description="参保编码", ordering="code__code")
    def code_column(self, obj):
        return obj.code.code

    @admin.display(description="保费（元）", ordering="premium__total")
    def premium_column(self, obj):
        return yuan_text(obj.premium.total)

    @admin.display(description="缴费截止日期", ordering="premium__payment_due")
    def due_column(self, obj):
        return f"{obj.premium.payment_due:%Y-%m-%d}"

    @admin.display(description="逾期天数", ordering="premium__payment_due")
    def days_overdue_column(self, obj):
        today = getattr(obj, "today", None) or timezone.localdate()
        days = (today - obj.premium.payment_due).days
        return format_html('<span class="overdue-text">{} 天</span>', days)

    @admin.display(description="确认保费时间")
    def confirmed_at_column(self, obj):
        return local_text(obj.premium.confirmed_at)

    @admin.display(description="平台账号")
    def account_column(self, obj):
        account = obj.account
        return f"{account.username}（{account.unit_name}）" if account.unit_name else account.username

    def _handler(self, obj):
        if not hasattr(obj, "_handler_cache"):
            obj._handler_cache = HandlerInfo.objects.filter(code_id=obj.code_id).first()
        return obj._handler_cache

    @admin.display(description="经办人")
    def handler_column(self, obj):
        handler = self._handler(obj)
        if handler is None:
            return "-"
        # SPEC X-1: the mobile masked on the list and the page.
        mobile = mask_mobile(handler.handler_mobile) if handler.handler_mobile else ""
        return f"{handler.handler_name} {mobile}".strip()

    @admin.display(description="经办人邮箱")
    def handler_email_column(self, obj):
        handler = self._handler(obj)
        return handler.handler_email if handler and handler.handler_email else "-"

    # --- the page and 【作废】 --------------------------------------------------------------------------

    def get_object(self, request, object_id, from_field=None):
        # A batch paid or cancelled meanwhile is no longer overdue: say so instead of a bare 404.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        obj = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if obj is None:
            batch = OverdueBatch.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
            if batch is None:
                raise Http404("没有找到该参保批次。")
            raise Http404(f"参保批次 {batch.number} 当前状态为“{batch.get_state_display()}”，不在逾期未缴费批次中。")
        return obj

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        context = {
            "title": f"逾期未缴费批次 {obj.number}",
            "state_badge": batch_badge(obj),
            "may_cancel": self.may_cancel(request),
            "cancel_url": self._with_filters(request, self._cancel_url(obj)),
            "handler": self._handler(obj),
            "days_overdue": (timezone.localdate() - obj.premium.payment_due).days,
            "premium_text": yuan_text(obj.premium.total),
            "log": list(obj.log.select_related("actor").order_by("at", "pk")),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/cancel/", wrap(self.cancel_view), name="payments_overduebatch_cancel"),
        ] + super().get_urls()

    def _cancel_url(self, obj) -> str:
        return reverse("admin:payments_overduebatch_cancel", args=[obj.pk], current_app=self.admin_site.name)

    def cancel_view(self, request, object_id):
        """【作废】 (SPEC BAT-11): reason required; batch_cancel locks the batch and re-checks it, so a
        second click or a second reviewer finds it 已作废 and nothing happens twice."""
        if not self.may_cancel(request):
            raise PermissionDenied
        object_id = unquote(object_id)
        batch = OverdueBatch.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if batch is None:
            raise Http404("没有找到该参保批次。")
        if request.method != "POST":  # the confirmation is the dialog on the page
            return redirect(self._with_filters(request, self._change_url(batch)))
        if batch.state == BatchState.CANCELLED:
            messages.warning(request, f"参保批次 {batch.number} 已作废，无需重复操作。")
            return redirect(self._changelist_url(request))
        if refusal := self.assignment_refusal(request, batch):  # another reviewer holds it
            messages.error(request, refusal)
            return redirect(self._with_filters(request, self._change_url(batch)))
        reason = request.POST.get("reason", "")
        try:
            cancelled = batch_cancel(batch=batch, acting_user=request.user, reason=reason, today=timezone.localdate())
        except EnrollmentError as error:
            messages.error(request, error.message)
            if batch.state == BatchState.AWAITING_PAYMENT and self.get_queryset(request).filter(pk=batch.pk).exists():
                return redirect(self._with_filters(request, self._change_url(batch)))
            return redirect(self._changelist_url(request))
        self.assignment_decided(batch)
        message = f"参保批次 {cancelled.number}（{cancelled.unit_name}）已作废，人员参保登记已释放，已发邮件通知经办人：{reason.strip()}"
        self.log_change(request, cancelled, message)
        messages.success(request, message)
        return redirect(self._changelist_url(request))


def overdue_batch_queue(user) -> QueueLine | None:
    """逾期未缴费批次 on the 待办 panel (SPEC BAT-11, BO-1): every line is past its payment deadline, so
    the count is the work; there is no review deadline of its own."""
    if not user.has_perm("payments.view_overduebatch"):
        return None
    pending = overdue_batches(today=timezone.localdate())
    return QueueLine(
        label="逾期未缴费批次",
        url=reverse("admin:payments_overduebatch_changelist"),
        count=pending.count(),
        overdue=None,
        # Its age is how long past the payment deadline the oldest batch is.
        **queue_figures(pending=pending, model=OverdueBatch, user=user, since="premium__payment_due"),
    )
