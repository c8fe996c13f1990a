from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.shortcuts import redirect
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import requires_csrf_token


@login_not_required
@never_cache
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


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
