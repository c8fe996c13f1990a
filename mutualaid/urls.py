from django.contrib import admin
from django.urls import include, path

from accounts.urls import captcha_urlpatterns

from . import views

admin.site.site_header = "上海市职工保障互助会 后台"
admin.site.site_title = "上海市职工保障互助会 后台"
admin.site.index_title = "工作台"

urlpatterns = [
    path("", include("mutualaid.portal_urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("enrollment.urls")),
    path("", include("rosters.urls")),
    path("", include("plans.urls")),
    path("", include("payments.urls")),
    path("", include("receipts.urls")),
    path("captcha/", include(captcha_urlpatterns)),
    # Export jobs (UI.md "Long work"): progress and download, for the job's owner only.
    path("exports/", include("mutualaid.export_views")),
    # One login for everyone: the back office uses the portal's (captcha, both lockouts).
    path("backoffice/login/", views.backoffice_login),
    path("backoffice/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
]

handler500 = "mutualaid.views.server_error"
