from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", include("mutualaid.portal_urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("enrollment.urls")),
    path("", include("rosters.urls")),
    path("", include("plans.urls")),
    path("", include("payments.urls")),
    path("", include("receipts.urls")),
    path("captcha/", include("accounts.captcha_urls")),
    # 参保查询 (SPEC LOOK-1): public pages for insured people.
    path("lookup/", include("lookup.urls")),
    # The roster API for group HR systems (SPEC API-1 … API-3): 【API令牌】 and /api/v1/.
    path("api/", include("api.urls")),
    path("api/v1/", include("api.urls_v1")),
    # Export jobs (UI.md "Long work"): progress and download, for the job's owner only.
    path("exports/", include("mutualaid.export_views")),
    # The back office: the default admin site, which backoffice/apps.py makes backoffice.site.BackOfficeSite
    # (its login is the portal's: captcha, both lockouts).
    path("backoffice/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/detail", views.healthz_detail, name="healthz-detail"),
    path("metrics", views.metrics, name="metrics"),
    path("favicon.ico", views.favicon),
]

handler500 = "mutualaid.views.server_error"
