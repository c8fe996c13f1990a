"""What every portal page needs: the left menu of the unit workspace (UI.md, "Frame")."""
from django.urls import NoReverseMatch, reverse

# SPEC ACC-5: 【互助保障管理】 → 参保编码申请, 经办人填报, 参保批次管理, 缴费凭证管理.
# Items whose page is not built yet show greyed out with a tooltip instead of a dead link.
UNIT_MENU = [
    (
        "互助保障管理",
        [
            ("参保编码申请", "enrollment:code_applications", "bi-file-earmark-text"),
            ("经办人填报", "enrollment:handler", "bi-person-vcard"),
            ("参保批次管理", "enrollment:batches", "bi-list-check"),
            ("缴费凭证管理", "payments:vouchers", "bi-receipt"),
        ],
    )
]


def _menu_for(request):
    match = getattr(request, "resolver_match", None)
    current = f"{match.namespace}:{match.url_name}" if match else ""
    groups = []
    for title, items in UNIT_MENU:
        entries = []
        for label, url_name, icon in items:
            try:
                url = reverse(url_name)
            except NoReverseMatch:
                url = None
            entries.append(
                {
                    "label": label,
                    "url": url,
                    "icon": icon,
                    # A page below a menu item is named after it: enrollment:batches_detail.
                    "active": url is not None and (current == url_name or current.startswith(url_name + "_")),
                }
            )
        groups.append({"title": title, "items": entries})
    return groups


def portal(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"portal_menu": _menu_for(request)}
