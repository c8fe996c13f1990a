"""The page of one export job (UI.md "Long work"): 已处理 N / M while it runs (htmx polls the block),
then the file to download. Only the job's owner sees any of it; another account's job answers 404
(SPEC X-4), whoever asks. Back-office jobs show in the back office's frame, unit jobs in the portal's.
"""
import re
from urllib.parse import quote

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from .exports import XLSX, ExportError, export_builder
from .models import ExportJob
from .jobs import JobStatus

app_name = "exports"


def _own_job(request, job_id: int) -> ExportJob:
    return get_object_or_404(ExportJob, pk=job_id, owner=request.user)


def _context(request, job: ExportJob) -> dict:
    try:
        builder = export_builder(job.kind)
    except ExportError:
        raise Http404 from None
    return {
        "job": job,
        "builder": builder,
        "progress_url": reverse("exports:job_progress", kwargs={"job_id": job.pk}),
        "download_url": reverse("exports:job_download", kwargs={"job_id": job.pk}),
        "back_url": builder.back_url(params=job.params),
    }


@require_GET
@login_required
def job_page(request, job_id: int):
    job = _own_job(request, job_id)
    context = _context(request, job)
    if context["builder"].back_office:
        context.update(admin.site.each_context(request), title=job.title, is_nav_sidebar_enabled=False)
        return render(request, "exports/job_admin.html", context)
    return render(request, "exports/job_portal.html", context)


@require_GET
@login_required
def job_progress(request, job_id: int):
    """The status block, polled every second while the job waits or runs; the finished block has no
    trigger, so polling stops there."""
    job = _own_job(request, job_id)
    return render(request, "exports/_job.html", _context(request, job))


def _content_disposition(job: ExportJob) -> str:
    """RFC 6266 with an RFC 5987 `filename*` for the Chinese name (UI.md "Files") and an ASCII
    `filename` for old clients: the kind with the name's ASCII part (roster_B2023000001_20230615.xlsx)."""
    ascii_part = re.sub(r"[^A-Za-z0-9._-]+", "", job.filename)
    fallback = f"{job.kind}{ascii_part if ascii_part.startswith('_') else '_' + ascii_part}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(job.filename)}"


@require_GET
@login_required
def job_download(request, job_id: int):
    job = _own_job(request, job_id)
    if job.status != JobStatus.DONE or not job.file:
        raise Http404
    try:
        handle = job.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=XLSX)
    response["Content-Disposition"] = _content_disposition(job)
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("<int:job_id>/", job_page, name="job"),
    path("<int:job_id>/progress/", job_progress, name="job_progress"),
    path("<int:job_id>/download/", job_download, name="job_download"),
]
