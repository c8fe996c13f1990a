"""经办人填报 and 参保信息变更申请 (SPEC HND-1, HND-2 [departure]): unit accounts only; another
account's change request or attachment answers 404 (X-4), back-office accounts 403."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import UnionOrganisation
from mutualaid.attachments import (
    attachment_draft_token,
    attachment_response,
    attachments_of,
)
from mutualaid.errors import form_error_add
from mutualaid.pii import mask_mobile
from mutualaid.sms_views import sms_code_send_response
from mutualaid.submissions import submission_made, submission_remember

from ..forms import (
    CHANGE_VALUE_FIELDS,
    ChangeRequestForm,
    EnrollmentCodeChoiceForm,
    HandlerInfoForm,
    HandlerSmsForm,
    union_level2_choices,
    union_value,
)
from ..models import ChangeRequest, EnrollmentCode, HandlerInfo
from ..selectors import account_codes
from ..services import (
    SMS_PURPOSE_HANDLER,
    EnrollmentError,
    change_request_current_values,
    change_request_submit,
    handler_info_save,
)
from .access import code_required, unit_admin_required

PER_PAGE = 15  # UI.md, "Lists"
# UI.md: the same colour for the same kind of state everywhere (in progress blue, rejected red, done green).
STATUS_BADGES = {
    ChangeRequest.Status.PENDING: "badge-state-progress",
    ChangeRequest.Status.APPROVED: "badge-state-done",
    ChangeRequest.Status.REJECTED: "badge-state-rejected",
}
HND3_NOTE = "若单位名称有误，请至职保中心五楼营业大厅“信息修改”窗口办理更新！"
STAMPED_SCAN_HELP = "打印后加盖参保单位公章，扫描或拍照上传"
# draft token of a submitted change form → the request it made, so that the same form posted again
# (back button, a second click after the first finished) leads to it instead of an error.
SUBMISSIONS_KEY = "change_request_submissions"


# The code a page works on --------------------------------------------------------------------------


def _chosen_code(request) -> EnrollmentCode:
    """?code= (or the posted code) among this account's codes, else the first (code_required). A
    code of another account answers 404 (X-4)."""
    wanted = (request.POST.get("code") or request.GET.get("code") or "").strip().upper()
    if not wanted or wanted == request.enrollment_code.code:
        return request.enrollment_code
    code = account_codes(account=request.user).filter(code=wanted).first()
    if code is None:
        raise Http404
    return code


def _code_switch(request, code: EnrollmentCode):
    """The select of codes at the top of the page, for the rare account with several (SPEC CODE-6)."""
    codes = list(account_codes(account=request.user))
    if len(codes) < 2:
        return None
    return EnrollmentCodeChoiceForm(initial={"code": code.code}, codes=codes)


def _url_with_code(name: str, code: EnrollmentCode, request) -> str:
    url = reverse(name)
    return url if code == request.enrollment_code else f"{url}?code={code.code}"


# 经办人填报 (SPEC HND-1) ----------------------------------------------------------------------------


def _union_initial(organisation: UnionOrganisation | None) -> dict:
    if organisation is None:
        return {"union_level1": union_value(None), "union_level2": union_value(None)}
    if organisation.level == UnionOrganisation.Level.SECOND:
        return {"union_level1": str(organisation.parent_id), "union_level2": str(organisation.pk)}
    return {"union_level1": str(organisation.pk), "union_level2": ""}


def _handler_initial(code: EnrollmentCode, account, info: HandlerInfo | None) -> dict:
    """The form's values: the saved 经办人填报; before the first save, what the portal knows already —
    the code's lead unit, the code application, the account (registration or the legacy import)."""
    initial = {"unit_name": code.unit_name, "uscc": code.uscc}
    if info is not None:
        return {**initial, **HandlerInfoForm.initial_from(info)}
    lead = code.units.filter(is_lead=True).select_related("committee").first()
    application = code.applications.select_related("committee").order_by("-submitted_at").first()
    initial.update(
        handler_name=application.contact_name if application else account.first_name,
        handler_mobile=application.contact_mobile if application else account.mobile,
        handler_email=application.contact_email if application else account.email,
        address=(lead.address if lead else "") or (application.address if application else ""),
        headcount=(lead.headcount if lead else None) or (application.headcount if application else None),
    )
    union = (lead.committee if lead else None) or (application.committee if application else None)
    if union is None:
        # The account's 上级工会 from registration or the import; none there means 未建会.
        union = account.union_organisation
    if union is not None and not union.is_active:
        return initial
    return {**initial, **_union_initial(union)}


@require_http_methods(["GET", "POST"])
@login_required
@code_required
def handler_info(request):
    """【经办人填报】 (SPEC HND-1): fill in, 【获取验证码】, 【保存】. Until it is saved no batch
    operation is possible (views.access.handler_info_required). After the first save the contact
    fields change only through 【信息变更申请】 (SPEC SEC-7, HND-2)."""
    code = _chosen_code(request)
    info = HandlerInfo.objects.filter(code=code).first()
    initial = _handler_initial(code, request.user, info)
    # SPEC SEC-7: after the first save the contact fields are read only (HandlerInfoForm `saved`).
    form = HandlerInfoForm(request.POST if request.method == "POST" else None, initial=initial, saved=info is not None)
    if request.method == "POST" and form.is_valid():
        try:
            handler_info_save(
                code=code,
                account=request.user,
                fields=form.handler_fields(),
                sms_code=form.cleaned_data.get("sms_code", ""),
            )
        except EnrollmentError as error:
            form_error_add(form, error)
        else:
            messages.success(request, "保存成功，可以进行后续操作。")
            return redirect(_url_with_code("enrollment:handler", code, request))
    return render(
        request,
        "enrollment/handler/form.html",
        {
            "form": form,
            "code": code,
            "code_switch": _code_switch(request, code),
            "info": info,
            "hnd3_note": HND3_NOTE,
            "change_url": _url_with_code("enrollment:handler_changes_new", code, request),
        },
    )


@require_POST
@login_required
@code_required
def handler_sms(request):
    """【获取验证码】 (htmx): the code goes to 经办人电话; a line for beside *验证码 with the seconds
    before the button may be used again (mutualaid.sms: 60 s, 5 an hour per number)."""
    return sms_code_send_response(request=request, form=HandlerSmsForm(request.POST), mobile_field="handler_mobile", purpose=SMS_PURPOSE_HANDLER)


@require_GET
@login_required
@unit_admin_required
def handler_level2_options(request):
    """The <option>s of *二级工会组织名称 for the chosen *一级工会组织名称 (htmx)."""
    return render(
        request,
        "enrollment/handler/level2_options.html",
        {"choices": union_level2_choices(request.GET.get("union_level1", ""))},
    )


# 参保信息变更申请 (SPEC HND-2 [departure]) ----------------------------------------------------------


def _own_change_requests(request):
    return ChangeRequest.objects.filter(account=request.user)


def _shown(item: str, value: str) -> str:
    """A value as the pages show it: mobiles masked (SPEC X-1)."""
    if item == ChangeRequest.Item.HANDLER_MOBILE and value:
        return mask_mobile(value)
    return value


def _present(change: ChangeRequest) -> ChangeRequest:
    change.badge_class = STATUS_BADGES[change.status]
    change.contact_mobile_masked = mask_mobile(change.contact_mobile)
    change.rows = [
        {
            "label": ChangeRequest.Item(item).label if item in ChangeRequest.Item.values else item,
            "is_resend": item == ChangeRequest.Item.RESEND_EMAIL,
            "original": _shown(item, change.original_value(item)),
            "new": _shown(item, change.new_value(item)),
        }
        for item in change.items
    ]
    return change


@require_GET
@login_required
@unit_admin_required
def handler_changes(request):
    """参保信息变更申请: this account's requests, newest first, 15 a page."""
    changes = _own_change_requests(request).select_related("code").order_by("-submitted_at", "-pk")
    page = Paginator(changes, PER_PAGE).get_page(request.GET.get("page"))
    for change in page:
        _present(change)
    return render(
        request,
        "enrollment/handler/changes.html",
        {
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "query": "",
            "several_codes": account_codes(account=request.user).count() > 1,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@code_required
def handler_changes_new(request):
    """职工互助保障参保信息变更申请表（线上）: the printed form's header prefilled, the items ticked with
    their 原信息 and 新修改信息, the stamped scan attached, 【提交申请】."""
    code = _chosen_code(request)
    info = HandlerInfo.objects.filter(code=code).first()
    current = change_request_current_values(code=code, account=request.user)
    attachment_errors: list[str] = []
    if request.method == "POST":
        draft_token = attachment_draft_token(reuse=request.POST.get("draft_token", ""))
        done = _submitted_change(request, draft_token)
        if done is not None:
            messages.info(request, "该申请已提交，无需重复提交。")
            return redirect("enrollment:handler_changes_detail", pk=done.pk)
        form = ChangeRequestForm(request.POST, current_values=current)
        if form.is_valid():
            try:
                change = change_request_submit(
                    account=request.user,
                    code=code,
                    items=form.cleaned_data["items"],
                    new_values=form.new_values(),
                    contact_name=form.cleaned_data["contact_name"],
                    contact_mobile=form.cleaned_data["contact_mobile"],
                    batch_number=form.cleaned_data["batch_number"],
                    draft_token=draft_token,
                )
            except EnrollmentError as error:
                form_error_add(form, error, attachment_errors=attachment_errors, fields=CHANGE_VALUE_FIELDS)
            else:
                submission_remember(request, SUBMISSIONS_KEY, draft_token, change.pk)
                messages.success(request, "参保信息变更申请已提交，请等待上海市职工保障互助会审核。")
                return redirect("enrollment:handler_changes_detail", pk=change.pk)
    else:
        draft_token = attachment_draft_token()
        form = ChangeRequestForm(
            initial={
                "contact_name": info.handler_name if info else request.user.first_name,
                "contact_mobile": info.handler_mobile if info else request.user.mobile,
            },
            current_values=current,
        )
    rows = form.item_rows()
    for row in rows:
        row["original"] = _shown(row["item"], row["original"])
    return render(
        request,
        "enrollment/handler/change_form.html",
        {
            "form": form,
            "rows": rows,
            "any_value_ticked": any(row["ticked"] and row["field"] for row in rows),
            "code": code,
            "code_switch": _code_switch(request, code),
            "has_handler_info": info is not None,
            "draft_token": draft_token,
            "attachment_errors": attachment_errors,
            "scan_help": STAMPED_SCAN_HELP,
            "resend_to": current[ChangeRequest.Item.RESEND_EMAIL],
        },
    )


def _submitted_change(request, draft_token: str) -> ChangeRequest | None:
    pk = submission_made(request, SUBMISSIONS_KEY, draft_token)
    return _own_change_requests(request).filter(pk=pk).first() if pk else None


@require_GET
@login_required
@unit_admin_required
def handler_changes_detail(request, pk: int):
    """查看详情: the request as submitted, its state, the reason of 审核不通过, the stamped scan."""
    change = get_object_or_404(_own_change_requests(request).select_related("code"), pk=pk)
    return render(
        request,
        "enrollment/handler/change_detail.html",
        {"change": _present(change), "attachments": attachments_of(change)},
    )


@require_GET
@login_required
@unit_admin_required
def handler_changes_attachment(request, pk: int, attachment_pk: int):
    """An attachment of one of this account's change requests (X-4: anyone else's is 404)."""
    change = get_object_or_404(_own_change_requests(request), pk=pk)
    attachment = get_object_or_404(attachments_of(change), pk=attachment_pk)
    return attachment_response(attachment, download="download" in request.GET)
