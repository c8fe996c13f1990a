"""The back office's 导出中心, /backoffice/exports/ (`admin:exports`; SPEC BO-3, X-1).

Three exports (payments/exports.py) started as background jobs (mutualaid.exports), and the user's
recent jobs with their state and file. The page says whether ID and account numbers will be masked or
full (`mutualaid.export_full_id`, granted to no role by default). Who may use it:
`enrollment.view_batchtotals` (reviewers); other staff (union staff) get 403, anyone else the login.

Added to the default admin site by wrapping `admin.site.get_urls` (imported once from payments/admin.py),
as payments/statistics_admin.py does for 参保统计.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from accounts.models import UnionOrganisation
from enrollment.models import CoverageYear
from enrollment.selectors import coverage_year_current
from mutualaid.exports import FULL_ID_PERMISSION, ExportError, export_jobs_recent, export_start
from mutualaid.quotas import quota_refusal
from mutualaid.audit import client_ip

from .exports import PERMISSION, EnrolledPeopleExport, PremiumsPaymentsExport, RefundsExport

KINDS = {
    builder.kind: builder.label for builder in (EnrolledPeopleExport, PremiumsPaymentsExport, RefundsExport)
}


def _params(kind: str, data) -> dict:
    """The job's filter from the posted form, normalised (numbers as numbers, empty fields left
    out), so the same request twice finds the job already running."""
    params: dict = {}
    batch = (data.get("batch") or "").strip().upper()
    if kind == "enrolled_people" and batch:
        return {"batch": batch}
    year = (data.get("year") or "").strip()
    if year.isdigit():
        params["year"] = int(year)
    elif kind != "refunds":
        raise ExportError("请选择保障年度。")
    union = (data.get("union") or "").strip()
    if union.isdigit() and kind != "refunds":
        params["union"] = int(union)
    return params


@require_http_methods(["GET", "POST"])
def exports_view(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        if kind not in KINDS:
            messages.error(request, "请选择要导出的内容。")
            return redirect("admin:exports")
        if refused := quota_refusal(request, "export"):  # SPEC SEC-3
            return refused
        try:
            job = export_start(kind=kind, params=_params(kind, request.POST), user=request.user, ip_address=client_ip(request))
        except ExportError as error:
            messages.error(request, error.message)
            return redirect("admin:exports")
        return redirect("exports:job", job_id=job.pk)
    current = coverage_year_current()
    context = {
        **admin.site.each_context(request),
        "title": "导出中心",
        "is_nav_sidebar_enabled": False,
        "kinds": KINDS,
        "years": list(CoverageYear.objects.order_by("-year").values_list("year", flat=True)),
        "current_year": current.year if current else None,
        "unions": UnionOrganisation.objects.filter(is_active=True).order_by("level", "sort_order", "name"),
        "full_ids": request.user.has_perm(FULL_ID_PERMISSION),
        "jobs": [
            {
                "job": job,
                "label": KINDS.get(job.kind, job.kind),
                "url": reverse("exports:job", kwargs={"job_id": job.pk}),
                "download_url": reverse("exports:job_download", kwargs={"job_id": job.pk}) if job.status == "done" else None,
            }
            for job in export_jobs_recent(user=request.user, kinds=KINDS)
        ],
    }
    return TemplateResponse(request, "admin/exports.html", context)


_site_get_urls = admin.site.get_urls


def _get_urls_with_exports():
    return [path("exports/", admin.site.admin_view(exports_view), name="exports"), *_site_get_urls()]


admin.site.get_urls = _get_urls_with_exports
