"""导入人员名单 (SPEC ROS-1, ROS-2, ROS-9, ROS-10, X-1): the three sources, the template, the progress of a
large file, the result with the bad rows, and the marked copy of the upload.

Thin views over rosters/importer/ and rosters/workbooks.py. Only the batch's own account sees these
pages (another account's batch answers 404, X-4; back-office roles 403); a batch whose state forbids
editing shows why instead of the forms, and its POSTs change nothing. Each form carries a one-time
token, so the second request of a double click shows the first one's import instead of starting another.
"""
import time

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from enrollment.views.access import account_batch, unit_page

from ..importer import (
    INLINE_MAX_BYTES,
    marked_copy_available,
    problem_message,
    roster_import_members,
    roster_import_previous,
    roster_import_start,
    state_message,
)
from ..models import RosterEntry, RosterImport
from ..errors import RosterError
from ..workbooks import TEMPLATE_FILE_NAME, marked_file_name, roster_marked_workbook, roster_template_workbook
from mutualaid.audit import client_ip
from mutualaid.quotas import quota_refusal
from mutualaid.reversing import url_filler
from mutualaid.jobs import JobStatus

PER_PAGE = 15  # UI.md "Lists"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACCEPTED = ".xlsx,.xls,.ods"
SUBMISSION_FIELD = "submission"
SUBMISSION_TTL = 3600
SUBMISSION_WAIT_SECONDS = 15  # how long a double click's second request waits for the first
RECENT_IMPORTS = 5


def _page_context(batch) -> dict:
    return {
        "batch": batch,
        "editable": batch.roster_editable,
        "roster_url": reverse("rosters:roster", kwargs={"number": batch.number}),
        "batches_url": reverse("enrollment:batches"),
    }


def _own_import(batch, import_id: int) -> RosterImport:
    roster_import = get_object_or_404(RosterImport, pk=import_id, batch=batch)
    roster_import.batch = batch  # the one account_batch read (no join to read it again)
    return roster_import


# The columns of 最近的导入 (not `problems`: up to PROBLEMS_KEPT bad rows as JSON, not shown there).
_RECENT_FIELDS = ("created_at", "source", "file_name", "status", "rows_imported", "rows_failed", "error")


def _result_url(roster_import: RosterImport) -> str:
    return reverse("rosters:roster_import_result", kwargs={"number": roster_import.batch.number, "import_id": roster_import.pk})


# --- 导入人员名单 -------------------------------------------------------------------------------------


@require_GET
@unit_page
def roster_import(request, number: str):
    """导入人员名单 (SPEC ROS-1): 【获取上年度参保名单】, 【获取“会员库”本单位工会会员名单】 and
    【上传本地参保名单文件】 with 【选择导入文件】 and 【点击下载参保名单导入模板】; the batch's last imports."""
    batch = account_batch(request, number)
    recent = list(
        RosterImport.objects.filter(batch=batch).only(*_RECENT_FIELDS).order_by("-created_at", "-pk")[:RECENT_IMPORTS]
    )
    result_url = url_filler("rosters:roster_import_result", "import_id", number=batch.number)  # 查看结果 of each
    for item in recent:
        item.result_url = result_url(item.pk)
    return render(
        request,
        "rosters/imports/page.html",
        {
            **_page_context(batch),
            "state_message": "" if batch.roster_editable else state_message(batch),
            "submission": get_random_string(24),
            "submission_field": SUBMISSION_FIELD,
            "accepted": ACCEPTED,
            "max_bytes": settings.ROSTER_UPLOAD_MAX_BYTES,
            "max_megabytes": settings.ROSTER_UPLOAD_MAX_BYTES // (1024 * 1024),
            "inline_kilobytes": INLINE_MAX_BYTES // 1024,
            "previous_year": batch.coverage_year.year - 1,
            "recent": recent,
        },
    )


def _once(request, batch, start) -> RosterImport | None:
    """Run `start()` once per form token (UI.md "Dialogs": a double click does nothing twice). The
    second request waits for the first one's import and returns it (None if it never came)."""
    token = request.POST.get(SUBMISSION_FIELD, "")[:64]
    if not token:
        return start()
    key = f"rosters:import-submission:{request.user.pk}:{batch.pk}:{token}"
    if cache.add(key, 0, SUBMISSION_TTL):
        try:
            roster_import = start()
        except BaseException:
            cache.delete(key)
            raise
        cache.set(key, roster_import.pk, SUBMISSION_TTL)
        return roster_import
    deadline = time.monotonic() + SUBMISSION_WAIT_SECONDS
    while time.monotonic() < deadline:
        import_id = cache.get(key)
        if import_id is None:  # the first request failed: nothing was started
            return None
        if import_id:
            return RosterImport.objects.filter(pk=import_id, batch=batch).select_related("batch").first()
        time.sleep(0.2)
    return None


def _after(request, batch, start):
    """Start an import from a POST and answer: its result (or progress) page, or the import page with
    the reason it was refused (nothing changed)."""
    if not batch.roster_editable:
        messages.error(request, state_message(batch))
        return redirect("rosters:roster_import", number=batch.number)
    try:
        roster_import = _once(request, batch, start)
    except RosterError as error:
        messages.error(request, error.message)
        return redirect("rosters:roster_import", number=batch.number)
    if roster_import is None:
        messages.info(request, "该导入已提交，请查看下方的导入记录。")
        return redirect("rosters:roster_import", number=batch.number)
    if roster_import.status in (JobStatus.REFUSED, JobStatus.FAILED):
        messages.error(request, roster_import.error)
        return redirect("rosters:roster_import", number=batch.number)
    return redirect(_result_url(roster_import))


@require_POST
@unit_page
def roster_import_upload(request, number: str):
    """【上传本地参保名单文件】 (SPEC ROS-1, ROS-9, ROS-10)."""
    batch = account_batch(request, number)
    if refused := quota_refusal(request, "roster_import"):  # SPEC SEC-3
        return refused
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "请点击【选择导入文件】选择要导入的参保名单文件。")
        return redirect("rosters:roster_import", number=batch.number)
    return _after(request, batch, lambda: roster_import_start(
        batch=batch, upload=upload, acting_user=request.user, remote_addr=client_ip(request)
    ))


@require_POST
@unit_page
def roster_import_from_previous(request, number: str):
    """【获取上年度参保名单】 (SPEC ROS-1, REF-4)."""
    batch = account_batch(request, number)
    if refused := quota_refusal(request, "roster_import"):  # SPEC SEC-3
        return refused
    return _after(request, batch, lambda: roster_import_previous(
        batch=batch, acting_user=request.user, remote_addr=client_ip(request)
    ))


@require_POST
@unit_page
def roster_import_from_members(request, number: str):
    """【获取“会员库”本单位工会会员名单】 (SPEC ROS-1, REF-3)."""
    batch = account_batch(request, number)
    if refused := quota_refusal(request, "roster_import"):  # SPEC SEC-3
        return refused
    return _after(request, batch, lambda: roster_import_members(
        batch=batch, acting_user=request.user, remote_addr=client_ip(request)
    ))


# --- progress and result ----------------------------------------------------------------------------


def _running(roster_import: RosterImport) -> bool:
    return roster_import.status in (JobStatus.QUEUED, JobStatus.RUNNING)


@require_GET
@unit_page
def roster_import_result(request, number: str, import_id: int):
    """The log of one import (SPEC ROS-1): `-----信息处理开始-----`, then the summary line, the bad rows
    (row, column, masked value — an invalid mobile as typed —, reason; 15 a page) and the marked copy (X-1); while a large file runs,
    the progress (UI.md "Long work"). 【返回】 goes back to the roster, which shows the new people."""
    batch = account_batch(request, number)
    roster_import = _own_import(batch, import_id)
    page = Paginator(roster_import.problems, PER_PAGE).get_page(request.GET.get("page"))
    rows = [{**problem, "message": problem_message(problem)} for problem in page.object_list]
    is_file = roster_import.source == RosterImport.Source.FILE
    expired = bool(is_file and roster_import.rows_failed and not roster_import.stored_file)
    return render(
        request,
        "rosters/imports/result.html",
        {
            **_page_context(batch),
            "roster_import": roster_import,
            "running": _running(roster_import),
            "progress_url": reverse("rosters:roster_import_progress", kwargs={"number": batch.number, "import_id": roster_import.pk}),
            "page": page,
            "rows": rows,
            "page_range": Paginator(roster_import.problems, PER_PAGE).get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            # SPEC API-2: JSON rows are numbered by their position in `rows`, a file by its row.
            "row_label": "行号" if roster_import.source in (RosterImport.Source.FILE, RosterImport.Source.ROWS) else "序号",
            "marked_url": (
                reverse("rosters:roster_import_marked", kwargs={"number": batch.number, "import_id": roster_import.pk})
                if roster_import.account_id == request.user.pk and marked_copy_available(roster_import)
                else None
            ),
            "marked_expired": expired,
            "name_mismatches": (
                RosterEntry.objects.filter(batch=batch, name_mismatch=True).count()
                if roster_import.status == JobStatus.DONE
                else 0
            ),
            "names_url": reverse("rosters:roster_names", kwargs={"number": batch.number}),
        },
    )


@require_GET
@unit_page
def roster_import_progress(request, number: str, import_id: int):
    """The progress block, polled by htmx every second; once the import has ended it asks the page to
    reload, which then shows the result."""
    batch = account_batch(request, number)
    roster_import = _own_import(batch, import_id)
    if not _running(roster_import):
        response = HttpResponse("<p>导入已结束，正在显示结果…</p>")
        response["HX-Refresh"] = "true"
        return response
    return render(
        request,
        "rosters/imports/_progress.html",
        {
            "batch": batch,
            "roster_import": roster_import,
            "progress_url": reverse("rosters:roster_import_progress", kwargs={"number": batch.number, "import_id": roster_import.pk}),
        },
    )


# --- downloads ------------------------------------------------------------------------------------------


def _xlsx_response(content: bytes, file_name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=file_name)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@unit_page
def roster_import_template(request, number: str):
    """【点击下载参保名单导入模板】 (SPEC ROS-2): 参保名单导入模板.xlsx."""
    account_batch(request, number)
    return _xlsx_response(roster_template_workbook(), TEMPLATE_FILE_NAME)


@require_GET
@unit_page
def roster_import_marked(request, number: str, import_id: int):
    """The upload with its bad cells red and a 错误原因 column (SPEC ROS-10), built now; only for the
    account that uploaded it and for 7 days (X-1): otherwise 404."""
    batch = account_batch(request, number)
    roster_import = _own_import(batch, import_id)
    if roster_import.account_id != request.user.pk or not marked_copy_available(roster_import):
        raise Http404
    try:
        content = roster_marked_workbook(roster_import=roster_import)
    except RosterError:
        raise Http404 from None
    return _xlsx_response(content, marked_file_name(roster_import, today=timezone.localdate()))


urlpatterns = [
    path("batches/<str:number>/roster/import/", roster_import, name="roster_import"),
    path("batches/<str:number>/roster/import/template/", roster_import_template, name="roster_import_template"),
    path("batches/<str:number>/roster/import/upload/", roster_import_upload, name="roster_import_upload"),
    path("batches/<str:number>/roster/import/previous/", roster_import_from_previous, name="roster_import_previous"),
    path("batches/<str:number>/roster/import/members/", roster_import_from_members, name="roster_import_members"),
    path("batches/<str:number>/roster/import/<int:import_id>/", roster_import_result, name="roster_import_result"),
    path(
        "batches/<str:number>/roster/import/<int:import_id>/progress/",
        roster_import_progress,
        name="roster_import_progress",
    ),
    path("batches/<str:number>/roster/import/<int:import_id>/marked/", roster_import_marked, name="roster_import_marked"),
]
