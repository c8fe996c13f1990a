"""The association's back office for enrollment (SPEC BO-1, CODE-4, HND-2, HND-3, YEAR-1).

- 参保编码申请 and 参保信息变更申请 are review queues: pending first, oldest first, read only. The review
  is two buttons on the change page, 【审核通过】 and 【审核不通过】 (with a reason), which call the services;
  the services lock the row, so a second click or a second reviewer gets their message and nothing
  happens twice. Attachments are served by a view of the queue that checks the permission and that
  the attachment belongs to that object (404 otherwise).
- 参保编码: read only for reviewers, with the 【单位名称变更】 action (HND-3); units, handler information and
  name changes are read-only lists for reviewers (mobiles masked), full for superusers.
- `code_application_queue` and `change_request_queue` give the two queues' lines of the 待办 panel on
  the back office's index (backoffice/site.py). The pieces every review page shares are in
  enrollment/review_admin.py.

Who may do what comes from accounts/roles.py: the model's view permission opens a queue, its change
permission is the right to review (the change form itself never edits: state moves only through the
services). Missing permission answers 403; an object that is not there answers 404.
"""

from auditlog.signals import accessed
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from mutualaid.admin_pages import PAGE_CONTEXT, with_page_styles
from mutualaid.forms import MobileField
from mutualaid.attachments import AttachmentError, attachment_response, attachment_store, attachments_of
from mutualaid.quotas import quota_refusal
from mutualaid.pii import mask_mobile

from .assignments import queue_figures
from .models import ChangeRequest, CodeApplication, CoverageYear, EnrollmentCode, HandlerInfo, Unit, UnitNameChange
from .review_admin import (
    BackOfficeAdmin,
    ReadOnlyAdmin,
    Decided,
    OverdueFilter,
    QueueLine,
    ReviewPageAdmin,
    deadline_text,
    local_text,
    overdue_cutoff,
)
from .selectors import code_review_deadline, code_review_working_days
from .services import (
    EnrollmentError,
    change_request_approve,
    change_request_reject,
    code_application_approve,
    code_application_reject,
    unit_name_change,
)


@admin.register(CoverageYear)
class CoverageYearAdmin(admin.ModelAdmin):
    list_display = ("year", "centralised_opens_at", "centralised_closes_at", "coverage_start", "coverage_end", "updated_at")
    fieldsets = (
        (None, {"fields": ("year",)}),
        ("参保时间", {"fields": ("centralised_opens_at", "centralised_closes_at", "instant_opens_at")}),
        ("保障期限", {"fields": ("coverage_start", "coverage_end", "half_year_price_from")}),
        (
            "清册校验规则",
            {
                "fields": (
                    "female_age_limit",
                    "male_age_limit",
                    "headcount_change_percent",
                    "ss_ratio_min_percent",
                    "ss_ratio_max_percent",
                    "small_unit_threshold",
                )
            },
        ),
        ("免责期", {"fields": ("waiting_days_a", "waiting_days_b", "waiting_days_c")}),
        ("保费", {"fields": ("bundle_discount",), "description": "各保障项目的费用标准在【保障项目】中维护（SPEC PLAN-1）。"}),
        (
            "期限",
            {
                "fields": (
                    "payment_deadline_days",
                    "code_review_working_days",
                    "batch_review_working_days",
                    "voucher_review_working_days",
                    "account_reset_working_days",
                )
            },
        ),
        ("收款账户", {"fields": ("bank_account_name", "bank_account_number", "bank_name")}),
    )


# --- this module's pieces (those every app's back office shares are in review_admin.py) --------------

# UI.md: the same colour for the same kind of state everywhere (the portal's badge-state-* colours).
STATUS_BADGE_CLASSES = {"pending": "progress", "approved": "done", "rejected": "rejected"}


def _status_badge(obj):
    return format_html(
        '<span class="state-badge state-{}">{}</span>', STATUS_BADGE_CLASSES.get(obj.status, "draft"), obj.get_status_display()
    )


def _account_text(account) -> str:
    if account is None:
        return "未绑定"
    return f"{account.username}（{account.unit_name}）" if account.unit_name else account.username


def _log_full_view(obj) -> None:
    """SPEC X-1: a page that shows personal data unmasked is recorded in the audit trail."""
    accessed.send(sender=obj.__class__, instance=obj)


class _MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One or more files in one control (Django's documented pattern); cleans to a list."""

    widget = _MultipleFileInput

    def clean(self, data, initial=None):
        files = list(data) if isinstance(data, (list, tuple)) else ([data] if data else [])
        if not files:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        return [super(MultipleFileField, self).clean(upload, initial) for upload in files]



class _ReadOnlyForReviewersAdmin(BackOfficeAdmin):
    """Units, handler information and codes: reviewers see them (view permission, so the admin shows
    them read only); superusers keep the full admin. Mobiles are masked unless the user is a superuser."""

    masked_fields: dict[str, str] = {}  # model field → the masked column shown instead

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if request.user.is_superuser:
            return fields
        # The masked column takes the field's place (it is also among the read-only fields).
        return list(dict.fromkeys(self.masked_fields.get(name, name) for name in fields))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += list(self.masked_fields.values())
        return readonly

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and request.user.is_superuser and self.masked_fields:
            _log_full_view(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- the review queues (SPEC BO-1) --------------------------------------------------------------------


class _QueueAdmin(ReviewPageAdmin):
    """A review queue: pending first (oldest first), then the reviewed ones (latest review first).

    Read only for everyone: the change page shows every field, the attachments and the two buttons,
    which need the model's change permission and call the queue's `approve` / `reject` (the services).
    """

    attachment_kind_label = "附件"

    def approve(self, *, obj, acting_user):  # pragma: no cover - each queue defines it
        raise NotImplementedError

    def reject(self, *, obj, acting_user, reason: str):  # pragma: no cover
        raise NotImplementedError

    def approved_message(self, obj, result) -> str:  # pragma: no cover
        raise NotImplementedError

    def rejected_message(self, obj) -> str:
        return f"已审核不通过，并已发邮件将原因通知单位：{obj}。"


    # --- the list ----------------------------------------------------------------------------------

    def get_queryset(self, request):
        pending = self.model.Status.PENDING
        return (
            super()
            .get_queryset(request)
            .annotate(
                queue_rank=Case(When(status=pending, then=Value(0)), default=Value(1), output_field=IntegerField()),
                pending_since=Case(When(status=pending, then=F("submitted_at"))),
            )
        )

    def get_ordering(self, request):
        return (
            F("queue_rank").asc(),
            F("pending_since").asc(nulls_last=True),
            F("reviewed_at").desc(nulls_last=True),
        )

    @admin.display(description="状态", ordering="status")
    def status_badge(self, obj):
        return _status_badge(obj)

    @admin.display(description="联系人手机")
    def masked_mobile(self, obj):
        return mask_mobile(obj.contact_mobile) if obj.contact_mobile else "-"

    @admin.display(description="申请账号")
    def account_column(self, obj):
        return _account_text(obj.account)

    @admin.display(description="审核人")
    def reviewed_by_column(self, obj):
        return obj.reviewed_by.username if obj.reviewed_by_id else "-"

    # --- the change page ---------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if request.method == "GET":
            _log_full_view(obj)  # SPEC X-1: the reviewer sees the contact's full mobile
        attachments = [
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
        may_review = self.may_review(request) and obj.status == self.model.Status.PENDING
        context = {
            # "查看…" is the admin's word for a read-only page; here the page is where the review happens.
            **({"title": f"审核{self.opts.verbose_name}"} if may_review else {}),
            "attachments": attachments,
            "attachment_kind_label": self.attachment_kind_label,
            "may_review": may_review,
            "approve_url": self._with_filters(request, self._url("approve", obj)),
            "reject_url": self._with_filters(request, self._url("reject", obj)),
            **self.review_context(request, obj),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def review_context(self, request, obj) -> dict:
        return {}

    # --- 【审核通过】, 【审核不通过】 and the attachments ------------------------------------------

    def approve_decision(self, request, obj) -> "Decided":
        result = self.approve(obj=obj, acting_user=request.user)
        obj.refresh_from_db()
        return Decided(self.approved_message(obj, result))

    def reject_decision(self, request, obj, reason: str) -> "Decided":
        self.reject(obj=obj, acting_user=request.user, reason=reason)
        obj.refresh_from_db()
        return Decided(self.rejected_message(obj), log=f"审核不通过：{obj.reject_reason}")



def _overdue_code_applications():
    """SPEC CODE-4: applications pending past the code review's working days."""
    cutoff = overdue_cutoff(working_days=code_review_working_days())
    return CodeApplication.objects.filter(status=CodeApplication.Status.PENDING, submitted_at__lt=cutoff)


class CodeApplicationOverdueFilter(OverdueFilter):
    overdue_items = staticmethod(_overdue_code_applications)


@admin.register(CodeApplication)
class CodeApplicationAdmin(_QueueAdmin):
    """参保编码申请 (SPEC CODE-4): review within the current year's working days."""

    list_display = (
        "unit_name",
        "committee_column",
        "contact_name",
        "masked_mobile",
        "submitted_at_column",
        "deadline_column",
        "status_badge",
    )
    list_display_links = ("unit_name",)
    list_filter = ("status", ("committee", admin.RelatedOnlyFieldListFilter), CodeApplicationOverdueFilter)
    list_select_related = ("committee",)
    search_fields = ("unit_name", "contact_name", "uscc")
    search_help_text = "可按单位名称、联系人或统一信用代码搜索"
    change_form_template = "admin/enrollment/codeapplication/change_form.html"
    pending_items = staticmethod(lambda: CodeApplication.objects.filter(status=CodeApplication.Status.PENDING))
    attachment_kind_label = "附件（社会保险费缴费申报表、单位参加城镇社会保险基本情况、法人登记证或营业执照）"
    fieldsets = (
        (
            "单位信息",
            {"fields": ("unit_name", "committee", "uscc", "nature", "address", "postcode", "headcount", "unit_phone")},
        ),
        ("联系人", {"fields": ("contact_name", "contact_mobile", "contact_email", "leader_name", "leader_mobile")}),
        # 状态, 提交时间 and 审核期限 head the page (the template's summary line).
        ("审核", {"fields": ("account_column", "code_column", "reject_reason", "reviewed_at_column", "reviewed_by_column")}),
    )
    readonly_fields = ("account_column", "code_column", "reviewed_at_column", "reviewed_by_column")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "reviewed_by", "code")

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # One deadline per day of submission, not one per row.
        working_days, now, by_day = code_review_working_days(), timezone.now(), {}
        for application in changelist.result_list:
            day = timezone.localdate(application.submitted_at)
            if day not in by_day:
                by_day[day] = code_review_deadline(application.submitted_at, working_days)
            application.review_deadline = by_day[day]
            application.review_now = now
        return changelist

    def get_list_note(self, request) -> str:
        days = code_review_working_days()
        return (
            f"申请中的排在前面，先提交的在前。审核时限为提交后 {days} 个工作日（至第 {days} 个工作日24时），"
            "超过期限仍未审核的标为“已超期”。"
        )

    def review_context(self, request, obj) -> dict:
        deadline = code_review_deadline(obj.submitted_at)
        return {
            "approve_account": _account_text(obj.account),
            "status_badge": _status_badge(obj),
            "deadline_text": deadline_text(deadline),
            "overdue": obj.status == CodeApplication.Status.PENDING and timezone.now() > deadline,
        }

    @admin.display(description="工委名称", ordering="committee__name")
    def committee_column(self, obj):
        return obj.committee.name

    @admin.display(description="提交时间", ordering="submitted_at")
    def submitted_at_column(self, obj):
        return local_text(obj.submitted_at)

    @admin.display(description="审核时间")
    def reviewed_at_column(self, obj):
        return local_text(obj.reviewed_at)

    @admin.display(description="审核期限", ordering="submitted_at")
    def deadline_column(self, obj):
        deadline = getattr(obj, "review_deadline", None) or code_review_deadline(obj.submitted_at)
        now = getattr(obj, "review_now", None) or timezone.now()
        text = deadline_text(deadline)
        if obj.status == CodeApplication.Status.PENDING and now > deadline:
            return format_html('{} <span class="state-badge state-overdue">已超期</span>', text)
        return text

    @admin.display(description="参保编码")
    def code_column(self, obj):
        if obj.code_id is None:
            return "-"
        url = reverse("admin:enrollment_enrollmentcode_change", args=[obj.code_id], current_app=self.admin_site.name)
        return format_html('<a href="{}">{}</a>', url, obj.code.code)

    def approve(self, *, obj, acting_user):
        return code_application_approve(application=obj, acting_user=acting_user)

    def reject(self, *, obj, acting_user, reason):
        return code_application_reject(application=obj, acting_user=acting_user, reason=reason)

    def approved_message(self, obj, result) -> str:
        return (
            f"“{obj.unit_name}”审核通过，参保编码为 {result.code}，已绑定至平台账号 {obj.account.username}，"
            f"并已发邮件通知单位（{obj.contact_email}）。"
        )

    def rejected_message(self, obj) -> str:
        return f"“{obj.unit_name}”审核不通过，已发邮件将原因通知单位（{obj.contact_email}）。"


@admin.register(ChangeRequest)
class ChangeRequestAdmin(_QueueAdmin):
    """参保信息变更申请 (SPEC HND-2 [departure]): the handbook's form online, with its stamped scan."""

    list_display = (
        "code_column",
        "unit_name_column",
        "items_column",
        "contact_name",
        "masked_mobile",
        "submitted_at_column",
        "status_badge",
    )
    list_display_links = ("code_column",)
    list_filter = ("status",)
    list_select_related = ("code",)
    search_fields = ("code__code", "code__unit_name", "contact_name")
    search_help_text = "可按参保编码、单位名称或单位联系人搜索"
    list_note = "单位在线提交的参保信息变更申请，附加盖单位公章的申请单扫描件：申请中的排在前面，先提交的在前。"
    change_form_template = "admin/enrollment/changerequest/change_form.html"
    pending_items = staticmethod(lambda: ChangeRequest.objects.filter(status=ChangeRequest.Status.PENDING))
    attachment_kind_label = "加盖单位公章的申请单扫描件"
    fieldsets = (
        (
            "申请单",
            {
                "fields": (
                    "unit_name_column",
                    "uscc_column",
                    "code_column",
                    "batch_number",
                    "contact_name",
                    "contact_mobile",
                    "submitted_at_column",
                    "account_column",
                )
            },
        ),
        # 状态 heads the page (the template's summary line).
        ("上海市职工保障互助会审核", {"fields": ("reject_reason", "reviewed_at_column", "reviewed_by_column")}),
    )
    readonly_fields = (
        "unit_name_column",
        "uscc_column",
        "code_column",
        "submitted_at_column",
        "account_column",
        "reviewed_at_column",
        "reviewed_by_column",
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "reviewed_by", "code")

    def review_context(self, request, obj) -> dict:
        labels = dict(ChangeRequest.Item.choices)
        rows = []
        for item in obj.items:
            original = obj.original_value(item)
            if item == ChangeRequest.Item.RESEND_EMAIL:
                new = f"重发参保通知邮件至 {original}" if original else "重发参保通知邮件"
                original = "-"
            else:
                new = obj.new_value(item)
            rows.append({"label": labels.get(item, item), "original": original or "-", "new": new or "-"})
        return {"change_rows": rows, "status_badge": _status_badge(obj)}

    @admin.display(description="参保编码", ordering="code__code")
    def code_column(self, obj):
        return obj.code.code

    @admin.display(description="单位名称", ordering="code__unit_name")
    def unit_name_column(self, obj):
        return obj.code.unit_name

    @admin.display(description="统一信用代码")
    def uscc_column(self, obj):
        return obj.code.uscc or "-"

    @admin.display(description="变更事项")
    def items_column(self, obj):
        return obj.items_display

    @admin.display(description="申请日期", ordering="submitted_at")
    def submitted_at_column(self, obj):
        return local_text(obj.submitted_at)

    @admin.display(description="审核时间")
    def reviewed_at_column(self, obj):
        return local_text(obj.reviewed_at)

    def approve(self, *, obj, acting_user):
        return change_request_approve(change_request=obj, acting_user=acting_user)

    def reject(self, *, obj, acting_user, reason):
        return change_request_reject(change_request=obj, acting_user=acting_user, reason=reason)

    def approved_message(self, obj, result) -> str:
        return f"参保编码 {obj.code.code} 的变更申请（{obj.items_display}）审核通过，变更已生效，并已发邮件通知单位。"

    def rejected_message(self, obj) -> str:
        return f"参保编码 {obj.code.code} 的变更申请审核不通过，已发邮件将原因通知单位。"


# --- codes, units, handler information, name changes (SPEC CODE-5, CODE-6, HND-1, HND-3) --------------


class UnitNameChangeForm(forms.Form):
    """单位名称变更 at the counter (SPEC HND-3): the new name and the stamped evidence."""

    required_css_class = "required"

    new_name = forms.CharField(label="新单位名称", max_length=200, widget=forms.TextInput(attrs={"size": 60}))
    note = forms.CharField(
        label="说明",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="变更证明材料，如：准予变更登记通知书",
    )
    evidence = MultipleFileField(
        label="变更证明材料",
        help_text="加盖公章的变更证明材料复印件，可选多个文件。格式：JPG/PNG/PDF，单个不超过 10MB",
        error_messages={"required": "请上传加盖公章的变更证明材料。"},
        widget=_MultipleFileInput(attrs={"accept": ".jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf"}),
    )


class UnitInline(admin.StackedInline):
    """The units enrolling under the code (SPEC CODE-6): the lead unit first. Stacked, so each field has
    its label (a tabular inline labels its fields only by the column headings: SPEC X-5)."""

    model = Unit
    fields = ("name", "is_lead", "committee", "nature", "address", "headcount")
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(EnrollmentCode)
class EnrollmentCodeAdmin(_ReadOnlyForReviewersAdmin):
    list_display = ("code", "unit_name", "account_column", "source", "created_at_column")
    list_display_links = ("code",)
    list_filter = ("source",)
    list_select_related = ("account",)
    search_fields = ("code", "unit_name")
    search_help_text = "可按参保编码或登记单位名称搜索"
    list_note = "单位名称变更请打开参保编码，点击【单位名称变更】并上传加盖公章的变更证明材料。"
    raw_id_fields = ("account",)
    inlines = (UnitInline,)
    change_form_template = "admin/enrollment/enrollmentcode/change_form.html"

    def get_fields(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fields(request, obj)
        return ("code", "unit_name", "uscc", "account_column", "bound_at", "source", "created_at_column")

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ()
        return ("account_column", "created_at_column")

    @admin.display(description="平台账号", ordering="account__username")
    def account_column(self, obj):
        return obj.account.username if obj.account_id else "未绑定"

    @admin.display(description="创建时间", ordering="created_at")
    def created_at_column(self, obj):
        return local_text(obj.created_at)

    def may_change_name(self, request) -> bool:
        return request.user.has_perm("enrollment.add_unitnamechange")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["name_change_url"] = self._name_change_url(obj) if self.may_change_name(request) else ""
            context["name_changes"] = self._name_changes(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/name-change/", wrap(self.name_change_view), name="enrollment_enrollmentcode_name_change"),
            path(
                "<path:object_id>/name-changes/<int:change_id>/attachments/<int:attachment_id>/",
                wrap(self.name_change_attachment_view),
                name="enrollment_enrollmentcode_name_change_attachment",
            ),
        ] + super().get_urls()

    def _name_change_url(self, code) -> str:
        return reverse("admin:enrollment_enrollmentcode_name_change", args=[code.pk], current_app=self.admin_site.name)

    def _name_changes(self, code) -> list[dict]:
        """Past name changes with their evidence, the latest first."""
        return [
            {
                "change": change,
                "changed_at": local_text(change.changed_at),
                "evidence": [
                    {
                        "name": attachment.original_name,
                        "is_image": attachment.is_image,
                        "url": reverse(
                            "admin:enrollment_enrollmentcode_name_change_attachment",
                            args=[code.pk, change.pk, attachment.pk],
                            current_app=self.admin_site.name,
                        ),
                    }
                    for attachment in attachments_of(change)
                ],
            }
            for change in code.name_changes.select_related("changed_by").order_by("-changed_at", "-pk")
        ]

    def name_change_view(self, request, object_id):
        """【单位名称变更】 (SPEC HND-3): the code's registered name, its lead unit and the account's
        unit name change together; the evidence is kept with the change."""
        if not self.may_change_name(request):
            raise PermissionDenied
        code = self.get_object(request, unquote(object_id))
        form = UnitNameChangeForm(request.POST, request.FILES) if request.method == "POST" else UnitNameChangeForm()
        if form.is_bound and form.is_valid():
            # SPEC SEC-3: the evidence files count against the account's attachment quota.
            if refused := quota_refusal(request, "attachment", amount=len(form.cleaned_data["evidence"])):
                return refused
            stored = []
            try:
                with transaction.atomic():
                    change = unit_name_change(
                        code=code,
                        new_name=form.cleaned_data["new_name"],
                        note=form.cleaned_data["note"],
                        acting_user=request.user,
                    )
                    for upload in form.cleaned_data["evidence"]:
                        stored.append(
                            attachment_store(upload=upload, uploaded_by=request.user, owner=change, kind="单位名称变更证明材料")
                        )
            except EnrollmentError as error:
                form.add_error("new_name", error.message)
            except AttachmentError as error:
                # The name change was rolled back with the rows; the files already written go too.
                for attachment in stored:
                    attachment.file.storage.delete(attachment.file.name)
                form.add_error("evidence", error.message)
            else:
                self.log_change(request, code, f"单位名称变更：{change.old_name} → {change.new_name}")
                messages.success(
                    request,
                    f"单位名称已由“{change.old_name}”变更为“{change.new_name}”（参保编码 {code.code}），"
                    f"证明材料 {len(stored)} 份已存档。",
                )
                return redirect(self._change_url(code))
        context = {
            **self.admin_site.each_context(request),
            **PAGE_CONTEXT,
            "opts": self.opts,
            "title": "单位名称变更",
            "code": code,
            "form": form,
            "lead_unit": code.units.filter(is_lead=True).first(),
            "name_changes": self._name_changes(code),
            "change_url": self._change_url(code),
        }
        return with_page_styles(TemplateResponse(request, "admin/enrollment/enrollmentcode/name_change.html", context))

    def name_change_attachment_view(self, request, object_id, change_id, attachment_id):
        if not request.user.has_perm("enrollment.view_unitnamechange"):
            raise PermissionDenied
        code = self.get_object(request, unquote(object_id))
        change = get_object_or_404(UnitNameChange, pk=change_id, code=code)
        attachment = get_object_or_404(attachments_of(change), pk=attachment_id)
        return attachment_response(attachment, download=request.GET.get("download") == "1")


@admin.register(Unit)
class UnitAdmin(_ReadOnlyForReviewersAdmin):
    list_display = ("name", "code_column", "is_lead", "committee", "nature", "headcount", "updated_at_column")
    list_display_links = ("name",)
    list_filter = ("is_lead", "nature")
    list_select_related = ("code", "committee")
    search_fields = ("name", "code__code", "uscc")
    search_help_text = "可按单位名称、参保编码或统一社会信用代码搜索"
    raw_id_fields = ("code",)

    @admin.display(description="参保编码", ordering="code__code")
    def code_column(self, obj):
        return obj.code.code

    @admin.display(description="最后更新时间", ordering="updated_at")
    def updated_at_column(self, obj):
        return local_text(obj.updated_at)


class HandlerInfoAdminForm(forms.ModelForm):
    """经办人信息 as superusers edit it: 经办人电话 is the mobile in clear, kept encrypted (SPEC SEC-4);
    reviewers see the masked column instead (masked_fields)."""

    handler_mobile = MobileField(label="经办人电话", help_text="手机号码，用于接收验证码")

    class Meta:
        model = HandlerInfo
        fields = (
            "code", "handler_name", "handler_mobile", "handler_phone", "handler_email", "economic_type", "union_level1",
            "union_level2", "address", "industry", "headcount", "saved_by",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault("handler_mobile", self.instance.handler_mobile)

    def _post_clean(self):
        mobile = self.cleaned_data.get("handler_mobile")
        if mobile and mobile != self.instance.handler_mobile:  # a new cipher only for a new number (audit trail)
            self.instance.handler_mobile = mobile
        super()._post_clean()


@admin.register(HandlerInfo)
class HandlerInfoAdmin(_ReadOnlyForReviewersAdmin):
    list_display = ("code_column", "unit_name_column", "handler_name", "mobile_column", "handler_email", "saved_at_column")
    list_display_links = ("code_column",)
    list_select_related = ("code",)
    search_fields = ("code__code", "code__unit_name", "handler_name")
    search_help_text = "可按参保编码、单位名称或经办人姓名搜索"
    raw_id_fields = ("code", "saved_by")
    form = HandlerInfoAdminForm
    masked_fields = {"handler_mobile": "masked_handler_mobile"}

    def get_list_display(self, request):
        if request.user.is_superuser:
            return self.list_display
        return [column if column != "mobile_column" else "masked_handler_mobile" for column in self.list_display]

    @admin.display(description="参保编码", ordering="code__code")
    def code_column(self, obj):
        return obj.code.code

    @admin.display(description="单位名称", ordering="code__unit_name")
    def unit_name_column(self, obj):
        return obj.code.unit_name

    @admin.display(description="经办人电话")
    def mobile_column(self, obj):
        return obj.handler_mobile

    @admin.display(description="经办人电话")
    def masked_handler_mobile(self, obj):
        return mask_mobile(obj.handler_mobile) if obj.handler_mobile else "-"

    @admin.display(description="保存时间", ordering="saved_at")
    def saved_at_column(self, obj):
        return local_text(obj.saved_at)


@admin.register(UnitNameChange)
class UnitNameChangeAdmin(ReadOnlyAdmin):
    """The record of name changes (SPEC HND-3). Read only: a change is made, with its evidence, only
    through 【单位名称变更】 on the code's page."""

    list_display = ("code_column", "old_name", "new_name", "changed_by_column", "changed_at_column")
    list_select_related = ("code", "changed_by")
    search_fields = ("code__code", "old_name", "new_name")
    search_help_text = "可按参保编码、原单位名称或新单位名称搜索"
    list_note = "在参保编码页面点击【单位名称变更】办理；此处只能查看。"
    fields = ("code_column", "old_name", "new_name", "note", "changed_by_column", "changed_at_column")
    readonly_fields = ("code_column", "changed_by_column", "changed_at_column")

    @admin.display(description="参保编码", ordering="code__code")
    def code_column(self, obj):
        url = reverse("admin:enrollment_enrollmentcode_change", args=[obj.code_id], current_app=self.admin_site.name)
        return format_html('<a href="{}">{}</a>', url, obj.code.code)

    @admin.display(description="办理人")
    def changed_by_column(self, obj):
        return obj.changed_by.username

    @admin.display(description="办理时间", ordering="changed_at")
    def changed_at_column(self, obj):
        return local_text(obj.changed_at)


# --- the queues' lines on the 待办 panel (the back office's index, backoffice/site.py) ---------------


def code_application_queue(user) -> QueueLine | None:
    """参保编码申请 waiting for review, and how many are past the deadline (SPEC CODE-4, YEAR-3)."""
    if not user.has_perm("enrollment.view_codeapplication"):
        return None
    pending = CodeApplication.objects.filter(status=CodeApplication.Status.PENDING)
    cutoff = overdue_cutoff(working_days=code_review_working_days())
    url = reverse("admin:enrollment_codeapplication_changelist")
    return QueueLine(
        label="参保编码申请",
        url=f"{url}?status__exact=pending",
        count=pending.count(),
        overdue=pending.filter(submitted_at__lt=cutoff).count(),
        overdue_url=f"{url}?overdue=yes&status__exact=pending",
        **queue_figures(pending=pending, model=CodeApplication, user=user, since="submitted_at"),
    )


def change_request_queue(user) -> QueueLine | None:
    """参保信息变更申请 waiting for review (SPEC HND-2)."""
    if not user.has_perm("enrollment.view_changerequest"):
        return None
    url = reverse("admin:enrollment_changerequest_changelist")
    pending = ChangeRequest.objects.filter(status=ChangeRequest.Status.PENDING)
    return QueueLine(
        label="参保信息变更申请",
        url=f"{url}?status__exact=pending",
        count=pending.count(),
        overdue=None,
        **queue_figures(pending=pending, model=ChangeRequest, user=user, since="submitted_at"),
    )
