"""【技术支持】, 【下载中心】 and the FAQ (SPEC ACC-6): public pages, so a unit that cannot log in
finds help, the handbook and the request forms (SPEC ACC-3, HND-2)."""
import hashlib
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from mutualaid.pdf import WEASYPRINT_PACKAGES

from ..faq import FAQ, MAX_QUERY_LENGTH, faq_search, search_terms
from ..models import SupportContact

HELP_FILES = Path(__file__).resolve().parent.parent / "help_files"
HANDBOOK_PATH = HELP_FILES / "上海职工互助保障项目参保手册.txt"
HANDBOOK_TITLE = "上海职工互助保障项目2020参保手册（2023年6月16日修订）"

# Where the paper forms go, as the handbook says (SPEC ACC-3, HND-2).
ACCOUNT_RESET_EMAIL = "shzgh@gobestsoft.com"
CHANGE_REQUEST_FAX = "63619921"
CHANGE_REQUEST_EMAIL = "kefubu@shzbh.org.cn"

# The printable forms: template, title (also the Chinese file name) and an ASCII fallback name for
# clients that ignore filename*.
FORMS = {
    "account_reset": (
        "accounts/help/pdf/account_reset_form.html",
        "申工通账号找回或密码重置申请表",
        "account-reset-request-form.pdf",
    ),
    "change_request": (
        "accounts/help/pdf/change_request_form.html",
        "在职职工互助保障参保单位邮件重发或信息变更申请单",
        "change-request-form.pdf",
    ),
}
# Anyone may download the forms and they are the same for everyone, so each is drawn once and
# cached (WeasyPrint takes a noticeable fraction of a second per page) rather than per request.
PDF_CACHE_SECONDS = 24 * 3600


SEND_TO = {
    "account_reset_email": ACCOUNT_RESET_EMAIL,
    "change_request_fax": CHANGE_REQUEST_FAX,
    "change_request_email": CHANGE_REQUEST_EMAIL,
}


def _attachment(response, *, filename: str, ascii_filename: str):
    # RFC 6266: a plain ASCII name first for old clients, then the Chinese one (RFC 5987).
    response["Content-Disposition"] = f"attachment; filename=\"{ascii_filename}\"; filename*=UTF-8''{quote(filename)}"
    return response


@login_not_required
def support(request):
    """【技术支持】: the contacts reviewers maintain, grouped by kind, in their sort order."""
    groups: dict[str, list[SupportContact]] = {}
    for contact in SupportContact.objects.filter(is_active=True):
        groups.setdefault(contact.role, []).append(contact)
    context = {
        "help_tab": "support",
        "contact_groups": groups.items(),
        # SPEC ACC-4, as configured for django-axes.
        "lockout_failures": settings.AXES_FAILURE_LIMIT,
        "lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        **SEND_TO,
    }
    return render(request, "accounts/help/support.html", context)


@login_not_required
def downloads(request):
    """【下载中心】: the handbook and the two request forms, with how to send the forms."""
    context = {
        "help_tab": "downloads",
        "handbook_title": HANDBOOK_TITLE,
        "handbook_size": HANDBOOK_PATH.stat().st_size,
        "account_reset_title": FORMS["account_reset"][1],
        "change_request_title": FORMS["change_request"][1],
        **SEND_TO,
    }
    return render(request, "accounts/help/downloads.html", context)


@login_not_required
def download_handbook(request):
    # A UTF-8 byte-order mark first: without it, older Windows Notepad shows the text as mojibake.
    response = HttpResponse(b"\xef\xbb\xbf" + HANDBOOK_PATH.read_bytes(), content_type="text/plain; charset=utf-8")
    return _attachment(response, filename=f"{HANDBOOK_TITLE}.txt", ascii_filename="handbook.txt")


def _form_pdf(request, form: str):
    template, title, ascii_filename = FORMS[form]
    html = render_to_string(template, {"title": title, **SEND_TO})
    # Keyed by the page drawn, so a changed template is never answered with an old PDF.
    cache_key = "accounts:help:pdf:" + hashlib.sha256(html.encode()).hexdigest()
    pdf = cache.get(cache_key)
    if pdf is None:
        try:
            # Imported here: WeasyPrint loads Pango on import, and every other page must work
            # on a machine without it (ARCHITECTURE.md, "Libraries and why").
            import weasyprint
        except (ImportError, OSError):
            context = {"help_tab": "downloads", "packages": WEASYPRINT_PACKAGES, "title": title}
            return render(request, "accounts/help/pdf_unavailable.html", context, status=503)
        pdf = weasyprint.HTML(string=html).write_pdf()
        cache.set(cache_key, pdf, PDF_CACHE_SECONDS)
    response = HttpResponse(pdf, content_type="application/pdf")
    return _attachment(response, filename=f"{title}.pdf", ascii_filename=ascii_filename)


@login_not_required
def download_account_reset_form(request):
    """申工通账号找回或密码重置申请表 (SPEC ACC-3), for units without a union."""
    return _form_pdf(request, "account_reset")


@login_not_required
def download_change_form(request):
    """在职职工互助保障参保单位邮件重发或信息变更申请单 (SPEC HND-2)."""
    return _form_pdf(request, "change_request")


@login_not_required
def faq(request):
    """The handbook's 其他事项, searchable by `q` (every word must match; case and width ignored)."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    context = {
        "help_tab": "faq",
        "query": query,
        "searching": bool(search_terms(query)),
        "results": faq_search(query),
        "total": len(FAQ),
        "max_query_length": MAX_QUERY_LENGTH,
    }
    return render(request, "accounts/help/faq.html", context)
