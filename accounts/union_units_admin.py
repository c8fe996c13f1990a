"""本组织参保单位, /backoffice/union-units/ (`admin:union_units`; SPEC BO-2, X-1).

Union staff see the enrollment codes whose 经办人填报 names their organisation (a level-1 organisation
includes its level-2 ones): unit name, code, platform account, handler with the mobile masked — and
nothing else (no batches, no people). Read only. Superusers see every code with a union; reviewers and
everyone else get 403 (reviewers have the 参保编码 list).

The page reads enrollment's tables, which accounts may not import (ARCHITECTURE.md: enrollment comes
after accounts): the model is looked up by name when the page is asked for, so no import runs back up
the chain and the accounts app still loads without enrollment. Added to the default admin site by
wrapping `admin.site.get_urls`, as payments/statistics_admin.py does; imported from accounts/admin.py.
"""
from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import path

from mutualaid.pii import mask_mobile

from .models import NO_UNION_LABEL, Role

PER_PAGE = 15  # UI.md "Lists"


def union_units_in_scope(*, acting_user):
    """The 经办人填报 rows (with code and account) under `acting_user`'s organisation: union staff
    their organisation and, for a level-1 one, its level-2 ones; superusers every code with a union;
    anyone else none."""
    handler_info = apps.get_model("enrollment", "HandlerInfo")
    rows = handler_info.objects.select_related("code__account", "union_level1", "union_level2")
    if acting_user.is_superuser:
        return rows.filter(union_level1__isnull=False)
    if acting_user.role == Role.UNION_STAFF and acting_user.union_organisation_id:
        scope = acting_user.union_organisation.scope_ids()
        return rows.filter(Q(union_level1_id__in=scope) | Q(union_level2_id__in=scope))
    return rows.none()


def _may_see(user) -> bool:
    return user.is_superuser or (user.role == Role.UNION_STAFF and bool(user.union_organisation_id))


def union_units_view(request):
    if not _may_see(request.user):
        raise PermissionDenied
    query = (request.GET.get("q") or "").strip()
    rows = union_units_in_scope(acting_user=request.user)
    if query:
        rows = rows.filter(Q(code__unit_name__contains=query) | Q(code__code=query.upper()))
    page = Paginator(rows.order_by("code__code"), PER_PAGE).get_page(request.GET.get("page"))
    organisation = request.user.union_organisation
    context = {
        **admin.site.each_context(request),
        "title": "本组织参保单位",
        "is_nav_sidebar_enabled": False,
        "scope_label": (
            f"{organisation.name}" + ("及其下属二级工会组织" if organisation.level == 1 else "")
            if organisation and not request.user.is_superuser
            else "全部已建会单位"
        ),
        "query": query,
        "page": page,
        "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "rows": [
            {
                "unit_name": info.code.unit_name,
                "code": info.code.code,
                "account": info.code.account.get_username() if info.code.account_id else "-",
                "handler": info.handler_name,
                "mobile": mask_mobile(info.handler_mobile) if info.handler_mobile else "",
                "union": " / ".join(str(o) for o in (info.union_level1, info.union_level2) if o) or NO_UNION_LABEL,
            }
            for info in page.object_list
        ],
    }
    return TemplateResponse(request, "admin/accounts/union_units.html", context)


_site_get_urls = admin.site.get_urls


def _get_urls_with_union_units():
    return [path("union-units/", admin.site.admin_view(union_units_view), name="union_units"), *_site_get_urls()]


admin.site.get_urls = _get_urls_with_union_units
