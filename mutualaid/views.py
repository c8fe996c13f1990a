from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token

from enrollment.selectors import coverage_year_current


def home(request):
    """The unit's workspace 在职职工互助保障 (SPEC ACC-5); back-office accounts go to the back office."""
    if not request.user.is_unit_admin:
        return redirect("admin:index")
    return render(request, "portal/home.html", {"coverage_year": coverage_year_current()})


@login_not_required
@never_cache
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_not_required
def backoffice_login(request):
    """The admin's own login has no captcha and no account-wide lock: send everyone to ours.

    SPEC SEC-6: the admin sends a logged-in account without back-office access here; sending it on
    to our login (which sends a logged-in user back to `next`) was an endless loop. It gets a 403.
    """
    if request.user.is_authenticated:
        if admin.site.has_permission(request):
            return redirect("admin:index")
        return render(request, "403_backoffice.html", status=403)
    query = request.META.get("QUERY_STRING", "")
    return redirect(reverse("accounts:login") + (f"?{query}" if query else ""))


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
