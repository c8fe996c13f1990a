"""What every page of the unit workspace needs: the left menu and the unit name in the top bar
(UI.md, "Frame"). It lives here, not in mutualaid, because what the menu offers depends on the
account's enrollment code (SPEC ACC-2: until it holds one, only 参保编码申请 and binding a code)."""
from mutualaid.reversing import reverse_remembered

from .models import Batch
from .selectors import account_first_code, batch_number_canonical

# SPEC ACC-5: 【互助保障管理】 → 参保编码申请, 经办人填报, 参保批次管理, 缴费凭证管理.
# (label, url name, icon, needs a code). 参保批次管理 stays open without a code: its dialog is
# where an imported code is bound (SPEC CODE-5).
UNIT_MENU = [
    (
        "互助保障管理",
        [
            ("参保编码申请", "enrollment:code_applications", "bi-file-earmark-text", False),
            ("经办人填报", "enrollment:handler", "bi-person-vcard", True),
            ("参保批次管理", "enrollment:batches", "bi-list-check", False),
            ("缴费凭证管理", "payments:vouchers", "bi-receipt", True),
            # SPEC API-1: the unit's tokens for the roster API (the api app; linked by URL name only).
            ("API令牌", "api:tokens", "bi-key", True),
        ],
    )
]
# Pages of another app that sit under a menu item: a batch's roster pages under 参保批次管理.
MENU_SECTIONS = {
    "rosters": "enrollment:batches",
    "plans": "enrollment:batches",
    "receipts": "enrollment:batches",
    "payments": "payments:vouchers",
}
NEEDS_CODE = "请先申请参保编码，审核通过后可用"


def _menu_for(request, *, has_code: bool):
    match = getattr(request, "resolver_match", None)
    current = f"{match.namespace}:{match.url_name}" if match else ""
    groups = []
    for title, items in UNIT_MENU:
        entries = []
        for label, url_name, icon, needs_code in items:
            url = reverse_remembered(url_name)
            disabled_reason = NEEDS_CODE if needs_code and not has_code else ""
            entries.append(
                {
                    "label": label,
                    "url": None if disabled_reason else url,
                    "disabled_reason": disabled_reason,
                    "icon": icon,
                    # A page below a menu item is named after it: enrollment:batches_detail.
                    "active": current == url_name
                    or current.startswith(url_name + "_")
                    or (match is not None and MENU_SECTIONS.get(match.namespace) == url_name),
                }
            )
        groups.append({"title": title, "items": entries})
    return groups


def portal(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_unit_admin:
        return {}
    # What the view read already (enrollment.views.access: code_required, account_batch) is not read again.
    # Otherwise the prepared look-up every unit page's decorators make (SPEC OPS-3), not another query.
    code = getattr(request, "enrollment_code", None) or account_first_code(account=user)
    first_unit_name = code.unit_name if code is not None else None
    return {
        "portal_menu": _menu_for(request, has_code=first_unit_name is not None),
        "portal_unit_name": _batch_unit_name(request, user) or first_unit_name or user.unit_name,
    }


def _batch_unit_name(request, user) -> str:
    """On a batch's pages (their URLs carry its `number`), the unit of that batch: an account with
    several codes (SPEC CODE-6) sees the unit it is working on, not its first code's. Another
    account's number finds nothing (the view answers 404, X-4)."""
    match = getattr(request, "resolver_match", None)
    # SEC-1: the number account_batch looked for (one that cannot be a batch's, a NUL say, is no query).
    number = batch_number_canonical(match.kwargs.get("number")) if match else ""
    if not number:
        return ""
    batch = getattr(request, "portal_batch", None)
    if batch is not None and batch.number == number and batch.account_id == user.pk:
        return batch.unit_name
    return Batch.objects.filter(account=user, number=number).values_list("unit_name", flat=True).first() or ""
