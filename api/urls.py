"""/api/: the token pages (SPEC API-1) and the API itself under /api/v1/ (API-2).

The API's views need no portal login: they authenticate by token alone (api.api.BearerToken). Django's
LoginRequiredMiddleware would answer a request without a session with a redirect to the login page,
which an HR system cannot follow; `login_not_required` on every view of the API (its operations, the
OpenAPI document and the docs page) leaves the answer to the API: 401 problem+json (SPEC API-3).
"""
from django.contrib.auth.decorators import login_not_required
from django.urls import path

from . import views
from .api import api

app_name = "api"


def _without_login(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            _without_login(pattern.url_patterns)
        else:
            pattern.callback = login_not_required(pattern.callback)
    return patterns


api_patterns, api_app_name, api_namespace = api.urls
_without_login(api_patterns)

urlpatterns = [
    # 【API令牌】 (SPEC API-1): the unit's pages.
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/new/", views.tokens_new, name="tokens_new"),
    path("tokens/<int:token_id>/created/", views.tokens_created, name="tokens_created"),
    path("tokens/<int:token_id>/revoke/", views.tokens_revoke, name="tokens_revoke"),
]

# Included by mutualaid/urls.py beside this module's pages: path("api/v1/", include(api_urls)).
api_urls = (api_patterns, api_app_name, api_namespace)
