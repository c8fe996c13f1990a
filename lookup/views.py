"""参保查询 (SPEC LOOK-1, LOOK-2): public pages, no account. Thin: lookup.services decides.

The browser's session holds only the LookupRequest's random token between the steps. Every page that
shows personal data is never cached (SEC-4)."""
import datetime as dt
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from mutualaid.audit import client_ip
from mutualaid.pdf import WEASYPRINT_PACKAGES
from mutualaid.pii import pii_hash
from receipts import pdf

from . import services
from .forms import CodeForm, LookupForm
from .limits import lookup_limit_take
from .models import CoverageProof, LookupAudit
from .selectors import lookup_coverage

SESSION_KEY = "lookup_token"


def _limit_refusal(request, retry_after: int) -> HttpResponse:
    until = timezone.localtime(timezone.now() + dt.timedelta(seconds=retry_after))
    response = render(request, "lookup/429.html", {"until": until}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def lookup_start(request):
    """Step 1: 姓名 + 证件类型 + 证件号码 + captcha (SPEC LOOK-1)."""
    form = LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ip = client_ip(request)
        id_hash = pii_hash(data["id_number"])
        # SPEC SEC-3, LOOK-2: counted for every look-up before anything is read, so a refusal tells nothing.
        retry_after = lookup_limit_take(ip=ip, id_hash=id_hash)
        if retry_after:
            services.lookup_audit(id_hash=id_hash, ip=ip, outcome=LookupAudit.Outcome.LIMITED)
            return _limit_refusal(request, retry_after)
        looked_up = services.lookup_start(name=data["name"], id_type=data["id_type"], id_number=data["id_number"], ip=ip)
        request.session[SESSION_KEY] = looked_up.token
        return redirect("lookup:code")
    return render(request, "lookup/start.html", {"form": form})


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def lookup_code(request):
    """Step 2: the same page on every path (SPEC LOOK-2): the neutral sentence and the code field."""
    token = request.session.get(SESSION_KEY)
    if not token:
        return redirect("lookup:start")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        problem = services.lookup_verify(token=token, code=form.cleaned_data["code"], ip=client_ip(request))
        if problem is None:
            return redirect("lookup:result")
        form.add_error("code", problem)
    return render(request, "lookup/code.html", {"form": form, "neutral_message": services.NEUTRAL_MESSAGE})


def _verified_coverage(request):
    looked_up = services.lookup_verified(token=request.session.get(SESSION_KEY))
    if looked_up is None:
        return None, None
    return looked_up, lookup_coverage(entry_id=looked_up.entry_id)


@login_not_required
@never_cache
@require_GET
def lookup_result(request):
    """Step 3 (SPEC LOOK-1): year, unit, items with 生效日期 and 终保日期, the batch's state."""
    looked_up, coverage = _verified_coverage(request)
    if coverage is None:
        return redirect("lookup:start")
    return render(request, "lookup/result.html", {"coverage": coverage})


@login_not_required
@never_cache
@require_GET
def lookup_proof_pdf(request):
    """The one-page 参保证明 (SPEC LOOK-2) with a QR code of its public verification page."""
    looked_up, coverage = _verified_coverage(request)
    if coverage is None or not coverage.holding:
        return redirect("lookup:start")
    proof = services.coverage_proof_create(request=looked_up, batch_id=coverage.batch_id, ip=client_ip(request))
    url = settings.PORTAL_BASE_URL.rstrip("/") + reverse("lookup:proof", kwargs={"token": proof.token})
    html = render_to_string(
        "lookup/pdf/proof.html",
        {
            "coverage": coverage,
            "association": settings.ASSOCIATION_NAME,
            "verify_url": url,
            "qr": pdf.qr_svg(url),
            "issued_on": timezone.localdate(),
        },
    )
    try:
        content = pdf._html_to_pdf(html)
    except pdf.PdfUnavailable:
        return render(request, "lookup/pdf_unavailable.html", {"packages": WEASYPRINT_PACKAGES}, status=503)
    response = HttpResponse(content, content_type="application/pdf")
    filename = f"参保证明_{coverage.year}年度_{timezone.localdate():%Y%m%d}.pdf"
    response["Content-Disposition"] = (
        f"attachment; filename=\"coverage-proof-{coverage.year}.pdf\"; filename*=UTF-8''{quote(filename)}"
    )
    return response


@login_not_required
@never_cache
@require_GET
def proof_verify(request, token: str):
    """The 参保证明's public verification page (SPEC LOOK-2): year, unit, items, the masked name; never
    the ID number. An unknown token answers 404."""
    proof = CoverageProof.objects.filter(token=token).only("entry_id", "batch_id").first()
    if proof is None:
        raise Http404
    coverage = lookup_coverage(entry_id=proof.entry_id) if proof.entry_id else None
    valid = coverage is not None and coverage.holding and coverage.batch_id == proof.batch_id
    return render(request, "lookup/proof_verify.html", {"coverage": coverage if valid else None, "valid": valid})
