"""The association's back office as one admin site (SPEC BO-1, BO-2, BO-3, SEC-6).

backoffice/apps.py makes `BackOfficeSite` the default site, so every app's `@admin.register` lands here
without importing this module. Beside the apps' model pages the site has its own: the 待办 panel on its
index, 综合查询, 参保统计, 导出中心 and 本组织参保单位, and a login that is the portal's.
"""
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from mutualaid.admin_pages import with_page_styles


class BackOfficeSite(admin.AdminSite):
    site_header = "上海市职工保障互助会 后台"
    site_title = "上海市职工保障互助会 后台"
    index_title = "工作台"

    # The pages are imported inside the methods: they use every app's admin module, and the site is
    # built by the first `@admin.register` of those modules, before they have finished loading.

    def get_urls(self):
        from . import exports, statistics, views

        return [
            path("search/", self.admin_view(views.search_view), name="backoffice_search"),
            path("statistics/", self.admin_view(statistics.statistics_view), name="statistics"),
            path("exports/", self.admin_view(exports.exports_view), name="exports"),
            path("union-units/", self.admin_view(views.union_units_view), name="union_units"),
            *super().get_urls(),
        ]

    def has_permission(self, request):
        """Staff, and (SPEC SEC-8) only once this session passed the second factor. The portal's
        middleware already logs out an unverified staff session; this keeps the site closed should
        it ever be mounted without that middleware."""
        user = request.user
        return super().has_permission(request) and getattr(user, "is_verified", lambda: False)()

    def index(self, request, extra_context=None):
        """The index starts with the 待办 panel (UI.md: "the queues first"), its styles allowed by the
        content security policy with the response's nonce."""
        from .views import backoffice_queues

        context = {"backoffice_queues": backoffice_queues(request.user), **(extra_context or {})}
        return with_page_styles(super().index(request, context))

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        """The admin's own login has no captcha and no account-wide lock: send everyone to the portal's.

        SPEC SEC-6: `admin_view` sends a logged-in account without back-office access here; sending it
        on to the portal's login (which sends a logged-in user back to `next`) was an endless loop. It
        gets a 403 page with the way home.
        """
        if request.user.is_authenticated:
            if self.has_permission(request):
                return redirect("admin:index")
            return render(request, "403_backoffice.html", status=403)
        query = request.META.get("QUERY_STRING", "")
        return redirect(reverse("accounts:login") + (f"?{query}" if query else ""))
