from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token
from prometheus_client import CONTENT_TYPE_LATEST

from .health import health_checks
from .metrics import client_in_networks, metrics_page


@login_not_required
@never_cache
def healthz(request):
    """SPEC OPS-2: 200 {"status": "ok"} when every check passes, else 503 naming the failing ones.
    Cheap (one round trip to the database, one to Redis, a cache read per stamp) and open to anyone:
    it says what fails, never why (/healthz/detail does, to operators)."""
    failing = [check.name for check in health_checks() if not check.ok]
    if failing:
        return JsonResponse({"status": "fail", "failing": failing}, status=503)
    return JsonResponse({"status": "ok"})


def _operator(request) -> bool:
    return request.user.is_authenticated and request.user.is_staff or client_in_networks(request, settings.METRICS_ALLOWED_NETWORKS)


@login_not_required
@never_cache
def healthz_detail(request):
    """SPEC OPS-2: each check with its status and age, for staff or clients in METRICS_ALLOWED_NETWORKS
    (anyone else: 404, as if there were nothing here)."""
    if not _operator(request):
        raise Http404
    checks = health_checks()
    ok = all(check.ok for check in checks)
    return JsonResponse({"status": "ok" if ok else "fail", "checks": [check.as_dict() for check in checks]},
                        status=200 if ok else 503)


@login_not_required
@never_cache
def metrics(request):
    """SPEC OPS-2: Prometheus metrics, for clients in METRICS_ALLOWED_NETWORKS only (else 404)."""
    if not client_in_networks(request, settings.METRICS_ALLOWED_NETWORKS):
        raise Http404
    return HttpResponse(metrics_page(), content_type=CONTENT_TYPE_LATEST)


@login_not_required
def favicon(request):
    # Resolved per request: with the manifest storage the hashed name exists only after collectstatic.
    return redirect(static("img/favicon.svg"), permanent=True)


@requires_csrf_token
def server_error(request, template_name="500.html"):
    """The 500 page shows the request id to quote to the hotline, never a traceback.

    It renders without context processors: whatever failed may fail again inside them.
    """
    try:
        template = loader.get_template(template_name)
    except Exception:  # the template itself is broken: a plain line is better than nothing
        return HttpResponseServerError("系统繁忙，请稍后再试。", content_type="text/plain; charset=utf-8")
    content = template.render({"request_id": getattr(request, "request_id", "-")})
    return HttpResponse(content, status=500)
