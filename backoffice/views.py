"""The back office's own pages (SPEC BO-1, BO-2, X-1): the 待办 panel of the index, 综合查询 and 本组织参保单位.

The site (backoffice/site.py) adds them to its URLs behind `admin_view`: staff only, CSRF-checked,
never cached; each page says itself who else it refuses (403).
"""
from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.template.response import TemplateResponse

from accounts.models import NO_UNION_LABEL, Role
from enrollment.admin import change_request_queue, code_application_queue
from enrollment.review_admin import QueueLine
from enrollment.selectors import union_units_in_scope
from enrollment.states import STATE_BADGES
from mutualaid.admin_pages import with_page_styles
from mutualaid.pii import mask_mobile
from payments.admin import overdue_batch_queue, voucher_review_queue
from receipts.admin import receipt_review_queue
from rosters.admin import batch_review_queue

from .search import LIMIT, SearchResult, backoffice_search, batch_queue_links, may_search

# --- the 待办 panel (UI.md: "the queues first on its index") --------------------------------------------

# Each app's queue selector, in the order a batch flows through them. A selector gives the queue's
# QueueLine (enrollment/review_admin.py), or None for a user who may not open the queue.
QUEUE_SOURCES = [
    code_application_queue,
    change_request_queue,
    batch_review_queue,
    voucher_review_queue,
    overdue_batch_queue,
    receipt_review_queue,
]


def backoffice_queues(user) -> list[QueueLine]:
    """The 待办 panel of `user`: one line per queue the user may open, in QUEUE_SOURCES order."""
    return [line for source in QUEUE_SOURCES if (line := source(user)) is not None]


# --- 综合查询, /backoffice/search/ (admin:backoffice_search) ---------------------------------------------


def search_view(request):
    """The page: the box, then 参保编码, 参保批次 and 参保编码申请 found (backoffice/search.py)."""
    if not may_search(request.user):
        raise PermissionDenied
    # The form posts, so a full ID number stays out of the address bar, the history and the access logs.
    query = request.POST.get("q", "") if request.method == "POST" else request.GET.get("q", "")
    result = backoffice_search(query=query, user=request.user) if query.strip() else SearchResult(query="")
    links = batch_queue_links(batches=result.batches, request=request, site=admin.site)
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,
        "title": "综合查询",
        "result": result,
        "searched": bool(query.strip()),
        "batch_rows": [
            {"batch": batch, "badge": STATE_BADGES[batch.state].removeprefix("badge-state-"), "queues": links.get(batch.pk, [])}
            for batch in result.batches
        ],
        "limit": LIMIT,
    }
    return with_page_styles(TemplateResponse(request, "admin/backoffice_search.html", context))


# --- 本组织参保单位, /backoffice/union-units/ (admin:union_units; SPEC BO-2, X-1) ----------------------------
#
# Union staff see the enrollment codes whose 经办人填报 names their organisation (a level-1 organisation
# includes its level-2 ones): unit name, code, platform account, handler with the mobile masked — and
# nothing else (no batches, no people). Read only. Superusers see every code with a union; reviewers
# and everyone else get 403 (reviewers have the 参保编码 list).

UNION_UNITS_PER_PAGE = 15  # UI.md "Lists"


def _may_see_union_units(user) -> bool:
    return user.is_superuser or (user.role == Role.UNION_STAFF and bool(user.union_organisation_id))


def union_units_view(request):
    if not _may_see_union_units(request.user):
        raise PermissionDenied
    query = (request.GET.get("q") or "").strip()
    rows = union_units_in_scope(acting_user=request.user)
    if query:
        rows = rows.filter(Q(code__unit_name__contains=query) | Q(code__code=query.upper()))
    page = Paginator(rows.order_by("code__code"), UNION_UNITS_PER_PAGE).get_page(request.GET.get("page"))
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
