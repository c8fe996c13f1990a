"""A URLconf for the 500-page tests: the project's URLs plus one view that fails, and the project's
own handler500, so the page a clerk sees after a real crash is what is tested."""
from django.urls import path

from mutualaid import urls as project_urls

RAISING_PATH = "/__tests__/raise/"


def raising_view(request):
    raise RuntimeError("simulated failure inside a view (Traceback must not reach the page)")


urlpatterns = [path(RAISING_PATH.strip("/") + "/", raising_view), *project_urls.urlpatterns]

handler500 = project_urls.handler500
