"""参保编码申请 (SPEC CODE-1…4): the account's applications, the form 申请参保编码, its detail and
【编辑】 after 审核不通过. Unit accounts only; another account's application answers 404 (X-4)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mutualaid.attachments import (
    attachment_delete,
    attachment_draft_token,
    attachment_response,
    attachments_of,
)
from mutualaid.errors import form_error_add
from mutualaid.pii import mask_mobile
from mutualaid.sms_views import sms_code_send_response
from mutualaid.submissions import submission_made, submission_once
from mutualaid.submissions import submission_token as posted_token

from ..forms import (
    ATTACHMENT_HELP,
    CodeApplicationFilterForm,
    CodeApplicationForm,
    CodeApplicationSmsForm,
)
from ..models import CodeApplication
from ..selectors import account_has_code
from ..services import (
    SMS_PURPOSE_CODE_APPLICATION,
    DuplicateUnitError,
    EnrollmentError,
    code_application_submit,
)
from .access import unit_admin_required

PER_PAGE = 15  # UI.md, "Lists"
# UI.md: the same colour for the same kind of state everywhere (in progress blue, rejected red, done green).
STATUS_BADGES = {
    CodeApplication.Status.PENDING: "badge-state-progress",
    CodeApplication.Status.APPROVED: "badge-state-done",
    CodeApplication.Status.REJECTED: "badge-state-rejected",
}
# submission token → application pk, of the forms this session submitted (the newest last).
SUBMISSIONS_KEY = "code_application_submissions"


def _own_applications(request):
    return CodeApplication.objects.filter(account=request.user)


def _present(application: CodeApplication) -> CodeApplication:
    """What the pages show besides the fields: masks (SPEC X-1) and the state's badge."""
    application.contact_mobile_masked = mask_mobile(application.contact_mobile)
    application.leader_mobile_masked = mask_mobile(application.leader_mobile) if application.leader_mobile else ""
    application.badge_class = STATUS_BADGES[application.status]
    application.is_rejected = application.status == CodeApplication.Status.REJECTED
    return application


@require_GET
@login_required
@unit_admin_required
def code_applications(request):
    """在线申请参保编码 (SPEC CODE-1): this account's applications, filtered, 15 a page."""
    filters = CodeApplicationFilterForm(request.GET or None)
    applications = filters.filter(_own_applications(request).select_related("code")).order_by("-updated_at", "-pk")
    page = Paginator(applications, PER_PAGE).get_page(request.GET.get("page"))
    for application in page:
        _present(application)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "enrollment/codes/list.html",
        {
            "filters": filters,
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "query": query.urlencode(),
            "has_code": account_has_code(account=request.user),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
@unit_admin_required
def code_applications_new(request):
    """申请参保编码 (SPEC CODE-2, CODE-3). Units that already hold a code need not apply (CODE-1)."""
    repeated = _repeated_submission(request)
    if repeated is not None:
        return repeated
    if account_has_code(account=request.user):
        messages.info(request, "本账号已有参保编码，已有参保编码的单位无需申请。")
        return redirect("enrollment:code_applications")
    return _application_form(request, application=None)


@require_GET
@login_required
@unit_admin_required
def code_applications_detail(request, pk: int):
    """查看详情 (SPEC CODE-4): every field (mobiles masked), the state, the code or the reason."""
    application = get_object_or_404(_own_applications(request).select_related("code", "committee"), pk=pk)
    return render(
        request,
        "enrollment/codes/detail.html",
        {"application": _present(application), "attachments": attachments_of(application)},
    )


@require_http_methods(["GET", "POST"])
@login_required
@unit_admin_required
def code_applications_edit(request, pk: int):
    """【编辑】 of an application 审核不通过 (SPEC CODE-4): the reason on top, the form filled in, the
    kept attachments; resubmission brings it back to 申请中. Other states answer 404."""
    repeated = _repeated_submission(request)
    if repeated is not None:
        return repeated
    application = get_object_or_404(
        _own_applications(request).select_related("committee"), pk=pk, status=CodeApplication.Status.REJECTED
    )
    return _application_form(request, application=application)


@require_POST
@login_required
@unit_admin_required
def code_applications_sms(request):
    """【获取验证码】 (htmx): a line for beside *验证码 with the seconds before the button may be used
    again (mutualaid.sms: 60 s, 5 an hour per number)."""
    return sms_code_send_response(request=request, form=CodeApplicationSmsForm(request.POST), mobile_field="contact_mobile", purpose=SMS_PURPOSE_CODE_APPLICATION)


@require_GET
@login_required
@unit_admin_required
def code_applications_attachment(request, pk: int, attachment_pk: int):
    """An attachment of one of this account's applications (X-4: anyone else's is 404)."""
    application = get_object_or_404(_own_applications(request), pk=pk)
    attachment = get_object_or_404(attachments_of(application), pk=attachment_pk)
    return attachment_response(attachment, download="download" in request.GET)


@require_POST
@login_required
@unit_admin_required
def code_applications_attachment_delete(request, pk: int, attachment_pk: int):
    """【X】 on a kept attachment while editing a rejected application (SPEC CODE-4). Answers the
    kept list for htmx, else goes back to the form."""
    application = get_object_or_404(_own_applications(request), pk=pk, status=CodeApplication.Status.REJECTED)
    with transaction.atomic():
        # Locked with its application, so a resubmission cannot claim while the row goes.
        application = CodeApplication.objects.select_for_update().get(pk=application.pk)
        if application.status != CodeApplication.Status.REJECTED:
            return redirect("enrollment:code_applications_detail", pk=application.pk)
        attachment = attachments_of(application).filter(pk=attachment_pk).first()
        if attachment is not None:  # a second click on a removed one does nothing
            attachment_delete(attachment=attachment)
    if request.htmx:
        return render(
            request,
            "enrollment/codes/_kept_attachments.html",
            {"application": application, "kept_attachments": attachments_of(application)},
        )
    return redirect("enrollment:code_applications_edit", pk=application.pk)


# The form, new or edited ------------------------------------------------------------------------------


def _application_form(request, *, application: CodeApplication | None):
    """GET: the form filled with the account's registration (or the rejected application's values). POST: code_application_submit;
    on an error the page comes back with everything typed and uploaded (X-3), the duplicate name
    with the handbook's dialog (CODE-3)."""
    duplicate_message = ""
    attachment_errors: list[str] = []
    if request.method == "POST":
        draft_token = attachment_draft_token(reuse=request.POST.get("draft_token", ""))
        submission_token = posted_token(request.POST.get("submission_token", ""))
        form = CodeApplicationForm(request.POST)
        if form.is_valid():
            try:
                submitted, repeated = _submit(
                    request, form, draft_token=draft_token, submission_token=submission_token, application=application
                )
            except DuplicateUnitError as error:
                duplicate_message = error.message
            except EnrollmentError as error:
                form_error_add(form, error, attachment_errors=attachment_errors)
            else:
                if repeated:
                    messages.info(request, "该申请已提交，无需重复提交。")
                    return redirect("enrollment:code_applications_detail", pk=submitted.pk)
                if application is None:
                    messages.success(request, "申请已提交，状态为“申请中”，审核时间为提交申请后1个工作日。")
                else:
                    messages.success(request, "已修改并重新提交，状态为“申请中”，审核时间为提交申请后1个工作日。")
                return redirect("enrollment:code_applications")
    else:
        draft_token = attachment_draft_token()
        submission_token = posted_token("")
        if application is not None:
            initial = CodeApplicationForm.initial_from(application)
        else:
            initial = CodeApplicationForm.initial_from_account(request.user)  # what 企业注册 knows (ACC-2)
        form = CodeApplicationForm(initial=initial)
    return render(
        request,
        "enrollment/codes/form.html",
        {
            "form": form,
            "application": application,
            "kept_attachments": attachments_of(application) if application else [],
            "draft_token": draft_token,
            "submission_token": submission_token,
            "attachment_help": ATTACHMENT_HELP,
            "attachment_errors": attachment_errors,
            "duplicate_message": duplicate_message,
        },
    )


def _submit(request, form, *, draft_token: str, submission_token: str, application) -> tuple[CodeApplication, bool]:
    """(the application, whether this form had been submitted already), once per token with the
    account's row locked (mutualaid.submissions.submission_once; UI.md, "Dialogs"; the service and
    the unique constraint stay the last word). A refusal is raised after the transaction commits:
    a wrong SMS code's count must be kept."""
    return submission_once(
        request,
        SUBMISSIONS_KEY,
        submission_token,
        make=lambda: code_application_submit(
            account=request.user,
            fields=form.application_fields(),
            sms_code=form.cleaned_data["sms_code"],
            draft_token=draft_token,
            application=application,
        ),
        find=lambda pk: _own_applications(request).filter(pk=pk).first(),
        refusals_commit=EnrollmentError,
    )


def _submitted_application(request, submission_token: str) -> CodeApplication | None:
    pk = submission_made(request, SUBMISSIONS_KEY, submission_token)
    return _own_applications(request).filter(pk=pk).first() if pk else None


def _repeated_submission(request):
    """A POST of a form that was already submitted goes to the application it made."""
    if request.method != "POST":
        return None
    done = _submitted_application(request, request.POST.get("submission_token", ""))
    if done is None:
        return None
    messages.info(request, "该申请已提交，无需重复提交。")
    return redirect("enrollment:code_applications_detail", pk=done.pk)
