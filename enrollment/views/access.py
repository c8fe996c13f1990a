"""Who may open the unit workspace's pages (SPEC X-4, ACC-2, HND-1)."""
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from ..selectors import account_batch_of, account_first_code, batch_number_canonical


def unit_admin_required(view):
    """Unit pages are for unit accounts; back-office accounts get 403 (they have the back office)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_unit_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def code_required(view):
    """Pages that need an enrollment code of this account (SPEC ACC-2): without one, the account is
    sent to 参保编码申请 with a message saying why. The view gets `request.enrollment_code`."""

    @wraps(view)
    @unit_admin_required
    def wrapper(request, *args, **kwargs):
        code = account_first_code(account=request.user)
        if code is None:
            messages.warning(request, "请先申请参保编码（已有参保编码的单位请在【参保批次管理】中办理时填写参保编码）。")
            return redirect("enrollment:code_applications")
        request.enrollment_code = code
        return view(request, *args, **kwargs)

    return wrapper


def handler_info_required(view):
    """Batch pages need 经办人填报 saved first (SPEC HND-1): a clear message leads there."""

    @wraps(view)
    @code_required
    def wrapper(request, *args, **kwargs):
        if not request.enrollment_code.handler_complete:
            messages.warning(request, "请先完成【经办人填报】并保存，才可以进行后续操作。")
            return redirect("enrollment:handler")
        return view(request, *args, **kwargs)

    return wrapper


def unit_page(view):
    """login → a unit administrator with a code and 经办人填报 saved (HND-1); back-office roles get
    403. A batch page looks its batch up itself (account_batch: another account's batch is a 404, X-4)."""
    return login_required(handler_info_required(view))


def unit_admin_page(view):
    """login → a unit administrator, with or without a code; back-office roles get 403."""
    return login_required(unit_admin_required(view))


def account_batch(request, number: str, *, action: str = ""):
    """The batch `number` of this account, or 404 (SPEC X-4: another account's batch does not exist
    for this one). With `action`, a batch whose state does not allow it answers 404 as well; pages
    that should explain instead check `batch.allows(action)` themselves."""
    from django.http import Http404

    batch = account_batch_of(account=request.user, number=batch_number_canonical(number))
    if batch is None:
        raise Http404
    if action and not batch.allows(action):
        raise Http404
    request.portal_batch = batch  # the top bar names its unit (enrollment.context_processors.portal)
    return batch
