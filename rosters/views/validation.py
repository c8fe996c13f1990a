"""清册校验 for the unit (SPEC BAT-4, VAL-1…VAL-6, ROS-5, X-1, X-4): 【清册校验】, its progress while the
batch is 清册校验中, and 清册校验结果 with its actions: 【移除】, the 社保尚在缴金 ticks, 【人员确认】 with its
承诺书, 【上传附件】 and 【清册提交】's 承诺书 (posted to "rosters:submit", another view's).

The stored result (ValidationRun.findings, read through rosters.validation.ValidationOutcome) gives the
counts and the VAL-3 / VAL-4 tables; the people are listed with live queries of the rules' own
querysets, so a removed person disappears and a tick shows at once. Whether 【清册提交】 is offered is
decided live as well (validation_live_blocking); the submission service checks everything again.

Unit accounts only (back-office roles get 403); another account's batch answers 404 (X-4). Every
change goes through a service that checks the batch's state itself.
"""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from enrollment.services import EnrollmentError
from enrollment.states import BatchAction, BatchState
from enrollment.views.access import account_batch, unit_page
from mutualaid.attachments import AttachmentError, attachment_response, attachments_of

from ..models import RosterEntry
from ..errors import RosterError
from ..rules import (
    ATTACHMENT_KINDS,
    KIND_SITUATION,
    KIND_SS_FORM,
    ValidationOutcome,
    over_age_entries,
    retired_entries,
    unmatched_entries,
)
from ..selectors import roster_masked_id, roster_submit_offered, yes_no
from ..services import (
    batch_attachment_add,
    batch_attachment_remove,
    roster_entries_delete,
    roster_still_contributing_set,
    roster_unmatched_confirm,
)
from ..validation import validation_is_current, validation_latest, validation_live_outcome, validation_start
from mutualaid.jobs import JobStatus
from mutualaid.quotas import quota_refusal

PER_PAGE = 15  # UI.md "Lists"
TABS = ("over_age", "headcount", "unmatched", "ratio")  # the four tabs of 清册校验结果 (SPEC VAL preamble)
STALE_MESSAGE = "参保清册已变动，请重新进行清册校验"
# SPEC BAT-4 [interpretation]: the handbook does not print the letter.
SUBMIT_LETTER = (
    "本单位承诺：本次提交的参保清册人员均为本单位在职职工，所填信息真实、准确、完整；保留参保的在职超龄人员社保尚在缴金。"
    "如有不实，由本单位承担相应责任，误参保人员不予给付保障金且不退还保费。"
)
# SPEC VAL-5, verbatim.
UNMATCHED_LETTER = "本单位承诺：以上建议清册未能匹配到的人员为本单位在职职工，如误参保，不予给付保障金且不退还保费。"


def _result_url(batch, tab: str = "") -> str:
    url = reverse("rosters:validation_result", kwargs={"number": batch.number})
    return f"{url}?tab={tab}" if tab in TABS else url


def _progress_url(batch) -> str:
    return reverse("rosters:validation_progress", kwargs={"number": batch.number})


def _frame_context(batch, *, step: str, people: int | None = None) -> dict:
    """The heading shared by the three pages: breadcrumbs and the handbook's tabs 参保批次人员管理 /
    校验参保清册 / 清册校验结果 (`step` is the active one)."""
    return {
        "batch": batch,
        "step": step,
        "batches_url": reverse("enrollment:batches"),
        "roster_url": reverse("rosters:roster", kwargs={"number": batch.number}),
        "validate_url": reverse("rosters:validate", kwargs={"number": batch.number}),
        "result_url": _result_url(batch),
        "people": RosterEntry.objects.filter(batch=batch).count() if people is None else people,
        "previous_year": batch.coverage_year.year - 1,
    }


# --- 【清册校验】 and its progress (SPEC BAT-4; UI.md "Long work") -----------------------------------------


@require_http_methods(["GET", "POST"])
@unit_page
def validate(request, number: str):
    """【清册校验】. POST: rosters.validation.validation_start, then the progress page; a second click
    while it runs goes to the same progress. GET (the batch list's link, the tab 校验参保清册): the
    rules and the button, or the progress while it runs."""
    batch = account_batch(request, number)
    if batch.state == BatchState.VALIDATING:
        return redirect(_progress_url(batch))
    if request.method == "POST":
        try:
            validation_start(batch=batch, acting_user=request.user)
        except EnrollmentError as error:  # a RosterError too
            batch.refresh_from_db(fields=["state"])
            if batch.state == BatchState.VALIDATING:  # a double click: the first one started it
                return redirect(_progress_url(batch))
            messages.error(request, error.message)
            return redirect(reverse("rosters:validate", kwargs={"number": batch.number}))
        return redirect(_progress_url(batch))
    latest = validation_latest(batch=batch)
    return render(
        request,
        "rosters/validation/validate.html",
        {
            **_frame_context(batch, step="validate"),
            "can_validate": batch.allows(BatchAction.VALIDATE),
            "latest": latest,
        },
    )


@require_GET
@unit_page
def validation_progress(request, number: str):
    """While the batch is 清册校验中: the run's steps as a progress bar (已完成 N / M 项), polled by htmx
    every second; once the run has ended the poll answers HX-Redirect to 清册校验结果 (and a plain GET
    goes there at once). The unit may leave and come back."""
    batch = account_batch(request, number)
    run = validation_latest(batch=batch)
    running = batch.state == BatchState.VALIDATING and run is not None and run.status in (
        JobStatus.QUEUED,
        JobStatus.RUNNING,
    )
    if not running:
        if request.htmx:
            response = HttpResponse("<p>清册校验已完成，正在显示结果…</p>")
            response["HX-Redirect"] = _result_url(batch)
            return response
        return redirect(_result_url(batch))
    if request.htmx:  # the poll answers the progress block alone: no heading, no count of the roster
        return render(request, "rosters/validation/_progress.html", {"run": run, "progress_url": _progress_url(batch)})
    context = {**_frame_context(batch, step="validate"), "run": run, "progress_url": _progress_url(batch)}
    return render(request, "rosters/validation/progress.html", context)


# --- 清册校验结果 (SPEC VAL) ---------------------------------------------------------------------------------


def _page(queryset, request, parameter: str, *, count: int):
    """One page of a live list, 15 rows; `count` is the rule's own count of the same queryset (already
    known from the live outcome), so the paginator does not count the batch's rows again."""
    paginator = Paginator(queryset, PER_PAGE)
    paginator.count = count  # a cached_property: set, it is not queried
    page = paginator.get_page(request.GET.get(parameter))
    return page, paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)


def _person_rows(page) -> list[dict]:
    return [{"entry": entry, "masked_id": roster_masked_id(entry)} for entry in page.object_list]


# The rows of the 在职超龄 and 无单位社保编码 tables, written here rather than in their templates (each
# row was a dozen template variables, a URL reversed and an if or two, 15 rows a table on the page the
# simulated visit opens most): the same HTML as the loops of _over_age.html and _unmatched.html had,
# each row with the line breaks and indentation its loop gave it.


def _over_age_row(entry, *, editable: bool, remove_url: str) -> str:
    """One row of the 在职超龄 table (SPEC VAL-2): the 社保尚在缴金 tick for a person with 社保, 【移除】."""
    pk, name = entry.pk, escape(entry.name)
    if entry.has_social_security:
        checked = " checked" if entry.still_contributing else ""
        disabled = "" if editable else " disabled"
        tick = (
            f'\n              <input type="hidden" name="shown" value="{pk}">'
            f'\n              <input class="form-check-input" type="checkbox" name="ticked" value="{pk}" '
            f'id="still-contributing-{pk}"{checked}{disabled} aria-label="{name} 社保尚在缴金">\n              '
        )
    else:
        tick = '\n              <span class="small text-danger">无社保，须移除</span>\n              '
    remove = (
        f'<button type="button" class="btn btn-link btn-sm px-1 text-danger" data-row-action="{remove_url}?entry={pk}'
        f'&amp;tab=over_age" data-confirm="确认移除“{name}”?">移除</button>'
        if editable
        else ""
    )
    return (
        "\n          <tr>"
        f'\n            <td class="cell-name">{name}</td>'
        f'\n            <td class="cell-id">{escape(roster_masked_id(entry))}</td>'
        f"\n            <td>{escape(entry.id_type)}</td>"
        f'\n            <td>{escape(entry.personal_ss_number or "-")}</td>'
        '\n            <td class="text-danger">否(超龄)</td>'
        f'\n            <td class="cell-tick">\n              {tick}\n            </td>'
        f"\n            <td>{remove}</td>"
        "\n          </tr>\n          "
    )


def _unmatched_row(entry) -> str:
    """One row of the 无单位社保编码人员明细 table (SPEC VAL-5)."""
    return (
        "\n        <tr>"
        f'\n          <td class="cell-name">{escape(entry.name)}</td>'
        f'\n          <td class="cell-id">{escape(roster_masked_id(entry))}</td>'
        f"\n          <td>{escape(entry.id_type)}</td>"
        f"\n          <td>{escape(entry.sex)}</td>"
        f"\n          <td>{yes_no(entry.has_social_security)}</td>"
        f'\n          <td>{"已确认" if entry.unmatched_confirmed else "未确认"}</td>'
        "\n        </tr>\n        "
    )


_PERSON_COLUMNS = (
    "pk", "name", "id_type", "id_cipher", "sex", "personal_ss_number", "has_social_security", "still_contributing",
    "unmatched_confirmed",
)


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _result_context(request, batch) -> dict:
    run = validation_latest(batch=batch)
    outcome = ValidationOutcome.from_json(run.findings) if run is not None and run.status == JobStatus.DONE else None
    # Read once: the 上传附件 grid lists them and the live VAL-6 check reads their kinds.
    attachments = list(attachments_of(batch)) if outcome is not None else []
    live = validation_live_outcome(batch=batch, outcome=outcome, attachments=attachments) if outcome is not None else None
    context = {
        **_frame_context(batch, step="result", people=live.total if live is not None else None),
        "run": run,
        "editable": batch.roster_editable,
        "can_validate": batch.allows(BatchAction.VALIDATE),
        "submit_letter": SUBMIT_LETTER,
        "unmatched_letter": UNMATCHED_LETTER,
    }
    if outcome is None:
        return context
    current = validation_is_current(batch=batch, run=run)
    on = outcome.reference_date
    retired_page, retired_range = _page(
        retired_entries(batch).only(*_PERSON_COLUMNS), request, "retired_page", count=live.retired.count
    )
    over_age_page, over_age_range = _page(
        over_age_entries(batch, on).only(*_PERSON_COLUMNS), request, "over_age_page", count=live.over_age.total
    )
    show_unmatched = request.GET.get("unmatched") == "1"
    unmatched_page = unmatched_range = None
    if show_unmatched:
        unmatched_page, unmatched_range = _page(
            unmatched_entries(batch).only(*_PERSON_COLUMNS), request, "unmatched_page", count=live.unmatched.total
        )
    tab = request.GET.get("tab", "")
    submit_url = reverse("rosters:submit", kwargs={"number": batch.number})
    remove_url = reverse("rosters:validation_remove", kwargs={"number": batch.number})
    submit_offered = roster_submit_offered(batch=batch, current=current)
    required = live.attachments.required
    verdict = _verdict(batch, current=current, submit_offered=submit_offered, live=live)
    context.update(
        outcome=outcome,
        live=live,
        current=current,
        verdict=verdict,
        tab=tab if tab in TABS else _first_tab(live),
        retired_page=retired_page,
        retired_rows=_person_rows(retired_page),
        retired_range=retired_range,
        retired_query=_query_without(request, "retired_page"),
        over_age_page=over_age_page,
        over_age_rows=[
            mark_safe(_over_age_row(entry, editable=batch.roster_editable, remove_url=remove_url))
            for entry in over_age_page.object_list
        ],
        over_age_range=over_age_range,
        over_age_query=_query_without(request, "over_age_page"),
        show_unmatched=show_unmatched,
        unmatched_page=unmatched_page,
        unmatched_rows=[mark_safe(_unmatched_row(entry)) for entry in unmatched_page.object_list] if unmatched_page else [],
        unmatched_range=unmatched_range,
        unmatched_query=_query_without(request, "unmatched_page"),
        attachments=attachments,
        attachment_kinds=_kinds_first(required),
        attachment_prompt=_attachment_prompt(required),
        submit_url=submit_url,
        submit_offered=submit_offered,
        # SPEC BAT-4: 【清册提交】 once the blocking findings are all dealt with now (the service checks again).
        can_submit=submit_offered and not live.blocking,
        review_days=batch.coverage_year.batch_review_working_days,
        submit_note=(
            f"提交后由职保会审核附件，审核时间为提交申请后{batch.coverage_year.batch_review_working_days}个工作日。"
            if live.needs_review
            else ""
        ),
    )
    return context


def _verdict(batch, *, current: bool, submit_offered: bool, live: ValidationOutcome) -> str:
    """What the result page's status line says (SPEC BAT-3, BAT-4), decided here once from the batch's
    state and the live outcome, so that it never contradicts the state badge beside it:
    "stale" — the roster changed since, validate again; "stale_resubmit" — changed, and 【清册提交】 (which
    re-runs the rules) is the way on (职保会审核不通过 has no 【清册校验】); "blocking" — something must still
    be done; "" — nothing to add (no 【清册提交】 here); "passed" — 清册待校验 with a result that found
    nothing (参保清册符合校验规则); "fixed" — the validation did not pass (清册校验不通过, or a rejected
    batch) and everything it found has been dealt with since: 【清册提交】 checks the current roster again."""
    if not current:
        return "stale_resubmit" if submit_offered else "stale"
    if live.blocking:
        return "blocking"
    if not submit_offered:  # submitted (read only), or 清册提交 not open to this result: nothing to add
        return ""
    return "passed" if batch.state == BatchState.DRAFT else "fixed"


def _kinds_first(required: list[str]) -> list:
    """The drop-down's types, the required one first (it is preselected, SPEC VAL-6)."""
    return sorted(ATTACHMENT_KINDS, key=lambda kind: kind.value not in required)


def _attachment_prompt(required: list[str]) -> str:
    """The dialog's first line, as the handbook words it for a new unit and for a continuing one."""
    if KIND_SS_FORM.value in required:
        return "请上传《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》"
    if KIND_SITUATION.value in required:
        return "请上传情况说明（加盖公章）"
    return ""


def _first_tab(live: ValidationOutcome) -> str:
    """The tab that opens: the first one that still asks something of the unit."""
    if live.over_age.without_social_security or live.over_age.unticked:
        return "over_age"
    if live.unmatched.unconfirmed:
        return "unmatched"
    if live.attachments.missing or live.ratio.applies:
        return "ratio"
    return "over_age"


@require_GET
@unit_page
def validation_result(request, number: str):
    """清册校验结果 (SPEC VAL): the retired people to remove in the handbook's dialog (open on load while
    any is left, VAL-1), the four tabs, the attachments and 【清册提交】; a stale result says so and offers
    【清册校验】 instead."""
    batch = account_batch(request, number)
    if batch.state == BatchState.VALIDATING:
        return redirect(_progress_url(batch))
    return render(request, "rosters/validation/result.html", _result_context(request, batch))


def _status_response(request, batch, *, message: str = "", error: str = ""):
    """After an htmx tick: the "已保存" note, the tab's count, the blocking status and the top action,
    out of band (the tick boxes stay as they are on the page)."""
    context = _result_context(request, batch)
    context.update(flash_message=message, flash_error=error)
    return render(request, "rosters/validation/_over_age_response.html", context)


def _posted_ids(request, name: str) -> list[int]:
    return [int(value) for value in request.POST.getlist(name) if value.isdigit()]


@require_POST
@unit_page
def validation_still_contributing(request, number: str):
    """The 社保尚在缴金 tick boxes (SPEC VAL-2): the page posts the ids it shows (`shown`) and those ticked
    (`ticked`), so every change of the page is saved, whichever request arrives last. htmx answers
    the refreshed table; a plain POST (【保存】) goes back to the tab."""
    batch = account_batch(request, number)
    shown = _posted_ids(request, "shown")
    ticked = set(_posted_ids(request, "ticked")) & set(shown)
    message = error = ""
    try:
        roster_still_contributing_set(batch=batch, entry_ids=sorted(ticked), value=True, acting_user=request.user)
        roster_still_contributing_set(
            batch=batch, entry_ids=sorted(set(shown) - ticked), value=False, acting_user=request.user
        )
    except RosterError as refused:
        error = refused.message
    else:
        message = "已保存"
    if request.htmx:
        return _status_response(request, batch, message=message, error=error)
    if error:
        messages.error(request, error)
    elif message:
        messages.success(request, "已保存【社保尚在缴金】的勾选。")
    return redirect(_result_url(batch, "over_age"))


@require_POST
@unit_page
def validation_remove(request, number: str):
    """【移除】 of one person, or of every retired person (`all_retired`), after a confirmation (SPEC
    VAL-1, VAL-2): rosters.services.roster_entries_delete. Removing the people the result lists keeps
    it current, so the unit goes on to 【清册提交】 (which re-runs the rules) or deals with what is left."""
    batch = account_batch(request, number)
    tab = request.GET.get("tab", "")
    if request.GET.get("all_retired") == "1" or request.POST.get("all_retired") == "1":
        ids = list(retired_entries(batch).values_list("pk", flat=True))
    else:
        ids = [int(value) for value in [request.GET.get("entry", "")] if value.isdigit()] or _posted_ids(request, "entry_ids")
    names = list(RosterEntry.objects.filter(batch=batch, pk__in=ids).values_list("name", flat=True)[:2])
    if not names:
        messages.info(request, "该人员已不在参保清册中。")
        return redirect(_result_url(batch, tab))
    try:
        removed = roster_entries_delete(batch=batch, entry_ids=ids, acting_user=request.user)
    except RosterError as error:
        messages.error(request, error.message)
    else:
        who = f"“{names[0]}”" if removed == 1 else f"{removed}位人员"
        batch.refresh_from_db(fields=["roster_version"])
        run = validation_latest(batch=batch)
        still_current = run is not None and validation_is_current(run=run, batch=batch)
        messages.success(request, f"已移除{who}。" if still_current else f"已移除{who}。{STALE_MESSAGE}。")
    return redirect(_result_url(batch, tab))


@require_POST
@unit_page
def validation_confirm_unmatched(request, number: str):
    """【人员确认】 → 人员确认承诺书 → 【我已阅读并同意】 → 【确认提交】 (SPEC VAL-5)."""
    batch = account_batch(request, number)
    if request.POST.get("agreed") != "1":
        messages.error(request, "请先阅读人员确认承诺书，并勾选【我已阅读并同意】。")
        return redirect(_result_url(batch, "unmatched"))
    try:
        confirmed = roster_unmatched_confirm(batch=batch, acting_user=request.user)
    except RosterError as error:
        messages.error(request, error.message)
    else:
        if confirmed:
            messages.success(request, f"已确认{confirmed}位无单位社保编码人员。")
        else:
            messages.info(request, "无单位社保编码人员均已确认，无需重复确认。")
    return redirect(_result_url(batch, "unmatched"))


# --- 【上传附件】 (SPEC VAL-6) ---------------------------------------------------------------------------------


def _attachment_grid(request, batch, errors: list[tuple[str, str]]):
    return render(
        request,
        "rosters/validation/_attachment_grid.html",
        {"batch": batch, "attachments": list(attachments_of(batch)), "upload_errors": errors, "editable": batch.roster_editable},
    )


@require_POST
@unit_page
def validation_attachment_upload(request, number: str):
    """【选择上传】 in the 上传附件 dialog: the posted `file`s with the chosen `kind` become attachments of
    the batch at once (they are the batch's, not a form's drafts). Answers the dialog's grid."""
    batch = account_batch(request, number)
    uploads = request.FILES.getlist("file")
    if refused := quota_refusal(request, "attachment", amount=len(uploads)):  # SPEC SEC-3: each file counts
        return refused
    errors = [] if uploads else [("", "请选择要上传的文件")]
    for upload in uploads:
        try:
            batch_attachment_add(batch=batch, upload=upload, kind=request.POST.get("kind", ""), acting_user=request.user)
        except (AttachmentError, RosterError) as error:
            errors.append((upload.name, error.message))
    if request.htmx:
        return _attachment_grid(request, batch, errors)
    for name, message in errors:
        messages.error(request, f"{name}：{message}" if name else message)
    return redirect(_result_url(batch, "ratio"))


@require_POST
@unit_page
def validation_attachment_delete(request, number: str, attachment_pk: int):
    """【X】 on an attachment of the batch (a second click finds nothing and does nothing)."""
    batch = account_batch(request, number)
    errors = []
    try:
        batch_attachment_remove(batch=batch, attachment_id=attachment_pk, acting_user=request.user)
    except RosterError as error:
        errors.append(("", error.message))
    if request.htmx:
        return _attachment_grid(request, batch, errors)
    for _, message in errors:
        messages.error(request, message)
    return redirect(_result_url(batch, "ratio"))


@require_GET
@unit_page
def validation_attachment(request, number: str, attachment_pk: int):
    """An attachment of this account's batch (X-4: anyone else's batch is 404)."""
    batch = account_batch(request, number)
    attachment = get_object_or_404(attachments_of(batch), pk=attachment_pk)
    return attachment_response(attachment, download=request.GET.get("download") == "1")


urlpatterns = [
    path("batches/<str:number>/validate/", validate, name="validate"),
    path("batches/<str:number>/validation/", validation_result, name="validation_result"),
    path("batches/<str:number>/validation/progress/", validation_progress, name="validation_progress"),
    path("batches/<str:number>/validation/remove/", validation_remove, name="validation_remove"),
    path(
        "batches/<str:number>/validation/still-contributing/",
        validation_still_contributing,
        name="validation_still_contributing",
    ),
    path(
        "batches/<str:number>/validation/confirm-unmatched/",
        validation_confirm_unmatched,
        name="validation_confirm_unmatched",
    ),
    path("batches/<str:number>/validation/attachments/", validation_attachment_upload, name="validation_attachment_upload"),
    path("batches/<str:number>/validation/attachments/<int:attachment_pk>/", validation_attachment, name="validation_attachment"),
    path(
        "batches/<str:number>/validation/attachments/<int:attachment_pk>/delete/",
        validation_attachment_delete,
        name="validation_attachment_delete",
    ),
]
