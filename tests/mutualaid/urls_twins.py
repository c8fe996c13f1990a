"""A URLconf for tests/mutualaid/test_reversing.py: one app ("twin") included twice, as the admin's sites
are, so an address depends on the namespace in use (current_app)."""
from django.http import HttpResponse
from django.urls import include, path


def page(request, number=""):
    return HttpResponse(request.resolver_match.namespace)


twin_patterns = ([path("page/", page, name="page"), path("page/<str:number>/", page, name="numbered")], "twin")

urlpatterns = [path("one/", include(twin_patterns, namespace="one")), path("two/", include(twin_patterns, namespace="two"))]
