"""Reference-data loads and 清册审核 in the back office (SPEC REF-1..REF-4, BO-1, BO-3, VAL-7, X-2).

- 参考数据导入: the list of loads (who loaded what, when, with which counts), 15 a page.
- 【上传参考数据】 (the admin's add page): kind, coverage year and the file (CSV, gzip-compressed CSV or
  XLSX, up to REFERENCE_UPLOAD_MAX_BYTES). Django streams an upload that size to a temporary file; the
  page copies it in chunks to MEDIA_ROOT/private/reference/, records a queued ReferenceLoad and starts
  `rosters.tasks.load_reference_file` once that commits, then shows the load's progress page.
- The progress page (the admin's change page, read only): state, a <progress> bar polled by htmx every
  2 s while the load waits or runs, then the result (读取 / 导入 / 错误 rows), the failure reason, or
  the rejected lines as a CSV to download.

Reviewers hold view and add on ReferenceLoad (accounts/roles.py); nobody changes or deletes a load,
which is the audit record of a bulk write (SPEC X-2). Without the permission every URL answers 403;
unit administrators and strangers are sent to the login by the admin site.

清册审核 (the batches 职保会待审核) is at the end of the file: see the comment there.
"""
import datetime as dt
import uuid
from pathlib import Path

from auditlog.signals import accessed
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Value, When
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from enrollment.assignments import queue_figures
from enrollment.models import BatchLog, CoverageYear, HandlerInfo
from enrollment.review_admin import (
    BackOfficeAdmin,
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
from enrollment.states import REVIEW_STATES, BatchState
from mutualaid.admin_pages import PAGE_CONTEXT, with_page_styles
from mutualaid.attachments import attachments_of
from mutualaid.sealed import open_sealed, seal_stream
from mutualaid.pii import mask_mobile
from mutualaid.tasks import enqueue_on_commit

from .importer import MACRO_WORKBOOK, workbook_has_macros
from .models import BatchReview, ReferenceLoad, ValidationRun
from .reference import SPECS
from .rules import ValidationOutcome
from .selectors import batch_review_deadline
from .submission import batch_review_approve, batch_review_reject
from .tasks import load_reference_file, progress_total
from .validation import validation_outcome
from mutualaid.jobs import JobStatus

Kind = ReferenceLoad.Kind
Status = JobStatus

# What a reviewer must know about each kind's values beyond the column names (rosters/reference/
# checks them row by row and reports the rows that break them).
KIND_VALUE_NOTES = {
    Kind.SUGGESTED: "职退状态填 在职、退休 或 -；医保享受在职待遇填 是 或 否",
    Kind.SS_UNITS: "社保在职人数为不小于 0 的整数",
    Kind.MEMBERS: "参保编码和统一社会信用代码两列至少有一列，每行至少填一项",
    Kind.PREVIOUS: "证件类型填 身份证 或 非身份证（空为身份证）",
}


def kind_columns(kind: str) -> str:
    """The columns of `kind` as its loader reads them (SPEC REF-1..REF-4), written next to the
    control so the reviewer can check a file before a long upload: "证件号码、社保姓名、…"."""
    spec = SPECS[Kind(kind)]
    parts = []
    for name in spec.fields:
        if name in spec.one_of:
            alternatives = "或".join(spec.one_of)
            if alternatives not in parts:
                parts.append(alternatives)
        else:
            parts.append(name if name in spec.required else f"{name}（可无此列）")
    return "、".join(parts)


# The file types the loaders read, by how the name ends (longest first), and how such a file begins.
EXTENSIONS = (".csv.gz", ".csv", ".xlsx")
_GZIP_MAGIC, _ZIP_MAGIC = b"\x1f\x8b", b"PK\x03\x04"

REFERENCE_UPLOAD_DIR = "private/reference"
COPY_CHUNK_BYTES = 8 * 1024 * 1024

# UI.md: the same colour for the same kind of state (grey waiting, blue in progress, green, red).
STATUS_BADGE_CLASSES = {Status.QUEUED: "draft", Status.RUNNING: "progress", Status.DONE: "done", Status.FAILED: "rejected"}
POLL_WHILE = {Status.QUEUED, Status.RUNNING}


def size_text(size: int) -> str:
    """1073741824 → "1GB", 52428800 → "50MB", 1536 → "1.5KB": for limits and file sizes on the page."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{size}字节"


def upload_extension(name: str) -> str | None:
    lower = name.lower()
    return next((extension for extension in EXTENSIONS if lower.endswith(extension)), None)


def reference_upload_store(*, upload, extension: str) -> str:
    """Copy an upload to MEDIA_ROOT/private/reference/<uuid><extension>, sealed (SPEC SEC-4), chunk
    by chunk (a 1 GB file never sits in memory), and return its name relative to MEDIA_ROOT. Raises
    OSError when the disk refuses (the partial copy is removed)."""
    relative = f"{REFERENCE_UPLOAD_DIR}/{uuid.uuid4().hex}{extension}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    seal_stream(upload.chunks(COPY_CHUNK_BYTES), target)  # SPEC SEC-4: sealed at rest
    return relative


class ReferenceUploadForm(forms.Form):
    """【上传参考数据】: checks the input only; the view stores the file and starts the load."""

    required_css_class = "required"

    kind = forms.ChoiceField(
        label="数据类型",
        choices=Kind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "请选择数据类型。", "invalid_choice": "请选择数据类型。"},
    )
    year = forms.TypedChoiceField(
        label="保障年度",
        coerce=int,
        help_text="上年度参保名单请选名单所属的年度：如供 2025 年度校验使用，选 2024年度。",
        error_messages={"required": "请选择保障年度。", "invalid_choice": "请选择已设置的保障年度。"},
    )
    file = forms.FileField(
        label="数据文件",
        widget=forms.FileInput(attrs={"accept": ".csv,.gz,.xlsx"}),
        error_messages={
            "required": "请选择要上传的文件。",
            "empty": "上传的文件是空的，请检查后重新选择。",
            "invalid": "没有收到文件，请重新选择后上传。",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.years = set(CoverageYear.objects.values_list("year", flat=True))
        # 上年度参保名单 is stored under the year it lists (the year before the one that uses it,
        # SPEC REF-4), which for the first year of the portal is no configured coverage year.
        choices = sorted(self.years | {year - 1 for year in self.years}, reverse=True)
        self.fields["year"].choices = [("", "请选择")] + [(year, f"{year}年度") for year in choices]
        self.limit = settings.REFERENCE_UPLOAD_MAX_BYTES
        self.fields["file"].help_text = f"格式：CSV、CSV.GZ（gzip 压缩的 CSV）或 XLSX，单个不超过 {size_text(self.limit)}"
        self.fields["file"].widget.attrs["data-max-bytes"] = self.limit

    def clean(self):
        cleaned = super().clean()
        kind, year = cleaned.get("kind"), cleaned.get("year")
        if kind and year and kind != Kind.PREVIOUS and year not in self.years:
            self.add_error("year", f"{year}年度尚未设置，请选择已设置的保障年度（上年度参保名单才可选上一年度）。")
        return cleaned

    def clean_file(self):
        upload = self.cleaned_data["file"]
        extension = upload_extension(upload.name)
        if extension is None:
            raise forms.ValidationError(
                "文件格式不正确：请上传 CSV、CSV.GZ 或 XLSX 文件（“%(name)s”不是）。", params={"name": upload.name}
            )
        if upload.size > self.limit:
            raise forms.ValidationError(
                "文件过大（%(size)s）：单个文件不能超过 %(limit)s。更大的文件请拆分后分别上传，或请技术支持用命令导入。",
                params={"size": size_text(upload.size), "limit": size_text(self.limit)},
            )
        upload.seek(0)
        head = upload.read(4)
        upload.seek(0)
        expected = {".csv.gz": _GZIP_MAGIC, ".xlsx": _ZIP_MAGIC}.get(extension)
        looks_packed = head.startswith(_GZIP_MAGIC) or head.startswith(_ZIP_MAGIC)
        if (expected and not head.startswith(expected)) or (expected is None and looks_packed):
            raise forms.ValidationError(
                "文件内容与扩展名（%(extension)s）不符，请确认文件格式后重新上传。", params={"extension": extension}
            )
        if extension == ".xlsx" and workbook_has_macros(upload):
            raise forms.ValidationError(MACRO_WORKBOOK)  # SPEC SEC-5
        upload.extension = extension
        return upload


def _duration_text(load: ReferenceLoad) -> str:
    if not (load.started_at and load.finished_at):
        return ""
    seconds = max(0, round((load.finished_at - load.started_at).total_seconds()))
    if seconds < 1:
        return "不到1秒"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}小时{minutes}分"
    return f"{minutes}分{seconds}秒" if minutes else f"{seconds}秒"


@admin.register(ReferenceLoad)
class ReferenceLoadAdmin(BackOfficeAdmin):
    list_display = (
        "kind",
        "year",
        "file_name",
        "status_badge",
        "read_column",
        "loaded_column",
        "rejected_column",
        "started_by_column",
        "created_at_column",
        "finished_at_column",
    )
    list_display_links = ("file_name",)
    list_filter = ("kind", "year", "status")
    list_select_related = ("started_by",)
    search_fields = ("file_name",)
    search_help_text = "可按文件名搜索"
    actions = None
    change_list_template = "admin/rosters/referenceload/change_list.html"
    list_note = "建议清册、单位社保编码、会员库和上年度参保名单按保障年度整批导入，新导入的数据整体替换该年度原有数据。点击文件名查看导入进度和结果。"

    # --- permissions: a load is the record of a bulk write (SPEC X-2), never edited or deleted ------

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- the list ------------------------------------------------------------------------------------

    @admin.display(description="状态", ordering="status")
    def status_badge(self, obj):
        css_class = STATUS_BADGE_CLASSES.get(obj.status, "draft")
        return format_html('<span class="state-badge state-{}">{}</span>', css_class, obj.get_status_display())

    @admin.display(description="读取行数", ordering="rows_read")
    def read_column(self, obj):
        return f"{obj.rows_read:,}"

    @admin.display(description="导入行数", ordering="rows_loaded")
    def loaded_column(self, obj):
        return f"{obj.rows_loaded:,}"

    @admin.display(description="错误行数", ordering="rows_rejected")
    def rejected_column(self, obj):
        if obj.status == Status.DONE and obj.rows_rejected and obj.rejected_report:
            url = self._url("rejected", obj)
            return format_html('{} <a href="{}" class="rejected-download">下载</a>', f"{obj.rows_rejected:,}", url)
        return f"{obj.rows_rejected:,}"

    @admin.display(description="操作人", ordering="started_by__username")
    def started_by_column(self, obj):
        return obj.started_by.username if obj.started_by_id else "-"

    @admin.display(description="提交时间", ordering="created_at")
    def created_at_column(self, obj):
        return local_text(obj.created_at)

    @admin.display(description="完成时间", ordering="finished_at")
    def finished_at_column(self, obj):
        return local_text(obj.finished_at)

    # --- URLs ------------------------------------------------------------------------------------------

    def get_urls(self):
        # admin_view: staff only (others go to the login), CSRF-checked, never cached.
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/progress/", wrap(self.progress_view), name="rosters_referenceload_progress"),
            path("<path:object_id>/rejected/", wrap(self.rejected_view), name="rosters_referenceload_rejected"),
        ] + super().get_urls()

    def _url(self, name: str, load: ReferenceLoad) -> str:
        return reverse(f"admin:rosters_referenceload_{name}", args=[load.pk], current_app=self.admin_site.name)

    def _render(self, request, template: str, context: dict):
        context = {**self.admin_site.each_context(request), **PAGE_CONTEXT, "opts": self.opts, **context}
        return with_page_styles(TemplateResponse(request, template, context))

    # --- 【上传参考数据】 -------------------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ReferenceUploadForm(request.POST, request.FILES)
            if form.is_valid():
                load = self._start_load(request, form)
                if load is not None:
                    return redirect(self._change_url(load))
        else:
            current = coverage_year_current()
            form = ReferenceUploadForm(initial={"year": current.year if current else None})
        kinds = [
            {"radio": radio, "columns": kind_columns(radio.data["value"]), "notes": KIND_VALUE_NOTES[radio.data["value"]]}
            for radio in form["kind"]
        ]
        return self._render(
            request,
            "admin/rosters/referenceload/upload.html",
            {"title": "上传参考数据", "form": form, "kinds": kinds, "changelist_url": self._changelist_url(request)},
        )

    def _start_load(self, request, form) -> ReferenceLoad | None:
        """Store the file, record the queued load and start the task after the commit; None (with the
        error on the form) when the disk refuses the file."""
        upload = form.cleaned_data["file"]
        try:
            stored = reference_upload_store(upload=upload, extension=upload.extension)
        except OSError:
            form.add_error("file", "服务器保存文件失败（磁盘空间不足或没有写入权限），请联系技术支持。")
            return None
        try:
            with transaction.atomic():
                load = ReferenceLoad.objects.create(
                    kind=form.cleaned_data["kind"],
                    year=form.cleaned_data["year"],
                    file_name=Path(upload.name).name[:255],
                    stored_file=stored,
                    started_by=request.user,
                )
                self.log_addition(request, load, f"上传参考数据：{load}（{size_text(upload.size)}）")
                enqueue_on_commit(load_reference_file, load.pk)
        except Exception:
            (Path(settings.MEDIA_ROOT) / stored).unlink(missing_ok=True)
            raise
        return load

    # --- the progress page and its partial -----------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        load = self.get_object(request, unquote(object_id))  # 403 without view, 404 if missing
        return self._render(
            request,
            "admin/rosters/referenceload/progress.html",
            {
                "title": f"参考数据导入：{load.year}年度{load.get_kind_display()}",
                "load": load,
                "changelist_url": self._changelist_url(request),
                "add_url": reverse("admin:rosters_referenceload_add", current_app=self.admin_site.name)
                if self.has_add_permission(request)
                else "",
                **self._progress_context(load),
            },
        )

    def progress_view(self, request, object_id):
        """The status block alone, for htmx polling; it stops polling once the load has finished."""
        load = self.get_object(request, unquote(object_id))
        return TemplateResponse(request, "admin/rosters/referenceload/_progress.html", self._progress_context(load))

    def _progress_context(self, load: ReferenceLoad) -> dict:
        total = progress_total(load.pk) if load.status == Status.RUNNING else None
        return {
            "load": load,
            "badge_class": STATUS_BADGE_CLASSES.get(load.status, "draft"),
            "polling": load.status in POLL_WHILE,
            "progress_url": self._url("progress", load),
            "rows_total": total,
            # Grouped by thousands as clerks write them (zh-hans formats print 1250000 bare).
            "counts": {
                "read": f"{load.rows_read:,}",
                "loaded": f"{load.rows_loaded:,}",
                "rejected": f"{load.rows_rejected:,}",
                "total": f"{total:,}" if total else "",
            },
            "rejected_url": self._url("rejected", load) if self._rejected_path(load) else "",
            "duration": _duration_text(load),
            "finished_at": local_text(load.finished_at),
        }

    # --- the rejected lines ----------------------------------------------------------------------------

    @staticmethod
    def _rejected_path(load: ReferenceLoad) -> Path | None:
        if load.status != Status.DONE or not load.rows_rejected or not load.rejected_report:
            return None
        report = Path(load.rejected_report)
        report = report if report.is_absolute() else Path(settings.MEDIA_ROOT) / report
        return report if report.is_file() else None

    def rejected_view(self, request, object_id):
        """The rejected lines as CSV, for reviewers only. They hold ID numbers in clear, so the
        download is recorded in the audit trail (SPEC X-1: a full export is logged)."""
        load = self.get_object(request, unquote(object_id))
        report = self._rejected_path(load)
        if report is None:
            raise Http404("这次导入没有错误行可下载。")
        accessed.send(sender=ReferenceLoad, instance=load)
        day = timezone.localdate(load.finished_at) if load.finished_at else dt.date.today()
        file_name = f"{load.year}年度{load.get_kind_display()}导入错误行_{day:%Y%m%d}.csv"
        return FileResponse(
            open_sealed(report), as_attachment=True, filename=file_name, content_type="text/csv; charset=utf-8"
        )



# --- 清册审核 (SPEC VAL-7, BO-1, BAT-4) ---------------------------------------------------------------
#
# The batches 职保会待审核 (attachments were required at 清册提交: VAL-4 outside the band, or a new unit),
# oldest submission first, with the 2-working-day deadline of the batch's coverage year (YEAR-1,
# YEAR-3) and 已超期 in red; below them the batches reviewed before (latest first). The page shows
# the validation result stored at submission (VAL-3 numbers, the VAL-4 table, counts) beside the
# attachments, the 操作日志, and the two buttons, which call rosters.submission's services: they lock
# the batch and expect 职保会待审核, so a double click or a second reviewer changes nothing twice.
# Reviewers hold rosters.view_batchreview and rosters.change_batchreview (the right to review).


def _pending_review():
    return BatchReview.objects.filter(state=BatchState.IN_REVIEW, submitted_at__isnull=False)


def _overdue_pending():
    """Batches 职保会待审核 past their deadline: one cutoff per working-day setting in use (usually one)."""
    pending = _pending_review()
    overdue = pending.none()
    for days in pending.values_list("coverage_year__batch_review_working_days", flat=True).distinct().order_by():
        cutoff = overdue_cutoff(working_days=days)
        overdue = overdue | pending.filter(coverage_year__batch_review_working_days=days, submitted_at__lt=cutoff)
    return overdue


class BatchReviewStateFilter(admin.SimpleListFilter):
    title = "状态"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(state.value, state.label) for state in REVIEW_STATES]

    def queryset(self, request, queryset):
        return queryset.filter(state=self.value()) if self.value() else queryset


class BatchReviewOverdueFilter(OverdueFilter):
    """审核期限: the batches 职保会待审核 past their deadline (SPEC BO-1, YEAR-3)."""

    overdue_items = staticmethod(_overdue_pending)


@admin.register(BatchReview)
class BatchReviewAdmin(ReviewPageAdmin):
    """清册审核 (SPEC VAL-7, BO-1): read only; the decision is the two buttons of the page."""

    list_display = (
        "number",
        "code_column",
        "unit_name",
        "kind_column",
        "submitted_at_column",
        "deadline_column",
        "state_badge",
    )
    list_display_links = ("number",)
    list_filter = (BatchReviewStateFilter, "kind", BatchReviewOverdueFilter)
    list_select_related = ("code", "coverage_year")
    search_fields = ("number", "code__code", "unit_name")
    search_help_text = "可按参保批次、参保编码或单位名称搜索"
    change_form_template = "admin/rosters/batchreview/change_form.html"
    change_list_template = "admin/rosters/batchreview/change_list.html"
    pending_items = staticmethod(_pending_review)  # enrollment.assignments: 处理人, 我的 / 未分配
    fieldsets = (
        (
            "参保批次",
            {
                "fields": (
                    "number",
                    "code_column",
                    "unit_name",
                    "kind_column",
                    "year_column",
                    "headcount_column",
                    "coverage_column",
                    "account_column",
                )
            },
        ),
        ("经办人", {"fields": ("handler_name_column", "handler_mobile_column", "handler_email_column")}),
    )
    readonly_fields = (
        "code_column",
        "kind_column",
        "year_column",
        "headcount_column",
        "coverage_column",
        "account_column",
        "handler_name_column",
        "handler_mobile_column",
        "handler_email_column",
    )


    # --- the list -------------------------------------------------------------------------------------

    def get_queryset(self, request):
        """Batches ever submitted for review: 职保会待审核 first (oldest submission first), then the
        others, latest change first."""
        sent_to_review = BatchLog.objects.filter(batch=OuterRef("pk"), to_state=BatchState.IN_REVIEW)
        return (
            super()
            .get_queryset(request)
            .filter(Q(state__in=REVIEW_STATES) | Q(Exists(sent_to_review)))
            .select_related("code", "coverage_year", "account")
            .annotate(
                queue_rank=Case(When(state=BatchState.IN_REVIEW, then=Value(0)), default=Value(1), output_field=IntegerField()),
                pending_since=Case(When(state=BatchState.IN_REVIEW, then=F("submitted_at"))),
            )
        )

    def get_ordering(self, request):
        return (F("queue_rank").asc(), F("pending_since").asc(nulls_last=True), F("updated_at").desc(), F("pk").desc())

    def get_list_note(self, request) -> str:
        year = coverage_year_current()
        days = year.batch_review_working_days if year else 2
        return (
            f"清册提交时需上传附件的参保批次（社保比例不在范围内或新参保单位）。职保会待审核的排在前面，先提交的在前；"
            f"审核时限为提交后 {days} 个工作日（至第 {days} 个工作日24时），超过期限仍未审核的标为“已超期”。"
        )

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        now, by_day = timezone.now(), {}
        for batch in changelist.result_list:
            if batch.submitted_at is None:
                continue
            key = (timezone.localdate(batch.submitted_at), batch.coverage_year.batch_review_working_days)
            if key not in by_day:
                by_day[key] = batch_review_deadline(batch)
            batch.review_deadline, batch.review_now = by_day[key], now
        return changelist

    @admin.display(description="参保编码", ordering="code__code")
    def code_column(self, obj):
        return obj.code.code

    @admin.display(description="参保类型", ordering="kind")
    def kind_column(self, obj):
        return obj.get_kind_display()

    @admin.display(description="提交时间", ordering="submitted_at")
    def submitted_at_column(self, obj):
        return local_text(obj.submitted_at)

    @admin.display(description="审核期限", ordering="submitted_at")
    def deadline_column(self, obj):
        if obj.submitted_at is None:
            return "-"
        deadline = getattr(obj, "review_deadline", None) or batch_review_deadline(obj)
        now = getattr(obj, "review_now", None) or timezone.now()
        text = deadline_text(deadline)
        if obj.state == BatchState.IN_REVIEW and now > deadline:
            return format_html('<span class="overdue-text">{}</span> <span class="state-badge state-overdue">已超期</span>', text)
        return text

    @admin.display(description="状态", ordering="state")
    def state_badge(self, obj):
        return batch_badge(obj)

    # --- the page -------------------------------------------------------------------------------------

    @admin.display(description="保障年度")
    def year_column(self, obj):
        return str(obj.coverage_year)

    @admin.display(description="参保人数")
    def headcount_column(self, obj):
        return f"{obj.entries.count()} 人"

    @admin.display(description="保障期限")
    def coverage_column(self, obj):
        if not obj.coverage_start:
            return "-"
        return f"{obj.coverage_start:%Y-%m-%d} 至 {obj.coverage_end:%Y-%m-%d}"

    @admin.display(description="平台账号")
    def account_column(self, obj):
        account = obj.account
        return f"{account.username}（{account.unit_name}）" if account.unit_name else account.username

    def _handler(self, obj):
        if not hasattr(obj, "_handler_cache"):
            obj._handler_cache = HandlerInfo.objects.filter(code_id=obj.code_id).first()
        return obj._handler_cache

    @admin.display(description="经办人姓名")
    def handler_name_column(self, obj):
        handler = self._handler(obj)
        return handler.handler_name if handler else "-"

    @admin.display(description="经办人电话")
    def handler_mobile_column(self, obj):
        handler = self._handler(obj)
        return mask_mobile(handler.handler_mobile) if handler and handler.handler_mobile else "-"

    @admin.display(description="经办人邮箱")
    def handler_email_column(self, obj):
        handler = self._handler(obj)
        return handler.handler_email if handler else "-"

    def _outcome(self, obj) -> tuple[ValidationRun | None, ValidationOutcome | None]:
        """The latest finished validation of the batch: at 清册提交 the rules ran again and were
        stored (rosters.submission), so this is what the unit submitted."""
        run = ValidationRun.objects.filter(batch=obj, status=JobStatus.DONE).order_by("-created_at", "-pk").first()
        return run, (validation_outcome(run=run) if run is not None else None)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        run, outcome = self._outcome(obj)
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
        may_review = self.may_review(request) and obj.state == BatchState.IN_REVIEW
        deadline = batch_review_deadline(obj) if obj.submitted_at else None
        context = {
            **({"title": f"审核参保批次 {obj.number}"} if may_review else {"title": f"参保批次 {obj.number}"}),
            "state_badge": batch_badge(obj),
            "submitted_at_text": local_text(obj.submitted_at),
            "deadline_text": deadline_text(deadline) if deadline else "-",
            "overdue": bool(deadline and obj.state == BatchState.IN_REVIEW and timezone.now() > deadline),
            "run": run,
            "outcome": outcome,
            "attachments": attachments,
            "attachment_kind_label": "附件",
            "log": list(obj.log.select_related("actor").order_by("at", "pk")),
            "may_review": may_review,
            "approve_url": self._with_filters(request, self._url("approve", obj)),
            "reject_url": self._with_filters(request, self._url("reject", obj)),
            "handler": self._handler(obj),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    # --- 【审核通过】, 【审核不通过】 and the attachments ----------------------------------------------

    decision_errors = (EnrollmentError,)  # RosterError is one

    def approve_decision(self, request, obj) -> Decided:
        batch = batch_review_approve(batch=obj, acting_user=request.user)
        return Decided(f"参保批次 {batch.number}（{batch.unit_name}）职保会审核通过，已发邮件通知经办人。")

    def reject_decision(self, request, obj, reason: str) -> Decided:
        batch = batch_review_reject(batch=obj, acting_user=request.user, reason=reason)
        return Decided(
            f"参保批次 {batch.number}（{batch.unit_name}）职保会审核不通过，已发邮件将原因通知经办人：{reason.strip()}"
        )


def batch_review_queue(user) -> QueueLine | None:
    """清册审核 on the 待办 panel (SPEC BO-1): batches 职保会待审核, and how many are past the deadline."""
    if not user.has_perm("rosters.view_batchreview"):
        return None
    url = reverse("admin:rosters_batchreview_changelist")
    return QueueLine(
        label="清册审核",
        url=f"{url}?state={BatchState.IN_REVIEW.value}",
        count=_pending_review().count(),
        overdue=_overdue_pending().count(),
        overdue_url=f"{url}?overdue=yes&state={BatchState.IN_REVIEW.value}",
        **queue_figures(pending=_pending_review(), model=BatchReview, user=user, since="submitted_at"),
    )
