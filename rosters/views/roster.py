"""参保批次人员管理 (SPEC ROS-5…ROS-8, X-1, X-4): a batch's roster with its search, filters and row
actions, the 姓名匹配异常 confirmation and the 【导出】 workbook.

Unit accounts only (back-office roles get 403); a batch or entry of another account answers 404 (X-4).
Every change goes through a rosters.services function, which checks the batch's state itself (BAT-3,
BAT-8): the pages hide what the state does not allow, the services refuse it anyway.
"""
from functools import wraps
from html import escape
from urllib.parse import quote

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from enrollment.states import BatchAction
from enrollment.views.access import account_batch, unit_page
from mutualaid.exports import ExportError, export_start
from mutualaid.quotas import quota_refusal
from mutualaid.reversing import url_filler
from mutualaid.audit import client_ip

from ..forms import RosterEntryForm, RosterEntryMobileForm, RosterFilterForm
from ..models import IdType, RosterEntry, WorkStatus
from ..errors import RosterError
from ..selectors import (
    LIST_COLUMNS,
    roster_birth_date_display,
    roster_has_name_mismatch,
    roster_list_counts,
    roster_masked_id,
    roster_masked_mobile,
    roster_name_mismatches,
    roster_reference_date,
    roster_search_q,
    yes_no,
)
from ..services import (
    roster_entries_delete,
    roster_entries_set_active,
    roster_entry_update,
    roster_names_confirm,
)

PER_PAGE = 15  # UI.md, "Lists"
NAMES_PER_PAGE = 50  # 姓名匹配异常: a long import can leave hundreds; 15 at a time would be tedious
RETURN_FIELD = "return_query"  # the list's query string, posted back so an action returns to the same page


def _roster_batch(request, number: str):
    """The account's batch whose roster may be looked at (SPEC BAT-3 参保清册), or 404 (X-4). In 清册校验中
    the roster is not shown (progress only): the unit is sent back to the batch list with a word why."""
    batch = account_batch(request, number)
    if not batch.allows(BatchAction.ROSTER):
        raise _NotNow(batch)
    return batch


class _NotNow(Exception):
    def __init__(self, batch):
        self.batch = batch


def _state_guard(view):
    """Turn _NotNow into a message and a way back (the batch list), instead of an error page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _NotNow as refused:
            messages.info(request, f"批次当前状态为“{refused.batch.get_state_display()}”，暂不能查看参保清册，请稍后再试。")
            return redirect("enrollment:batches")

    return wrapper


def unit_roster_view(view):
    """login → unit administrator with a code and 经办人填报 saved (HND-1) → a batch state that shows the roster."""
    return unit_page(_state_guard(view))


def _roster_url(batch, query: str = "") -> str:
    url = reverse("rosters:roster", kwargs={"number": batch.number})
    return f"{url}?{query}" if query else url


LIST_PARAMETERS = ("name", "id_number", "ss_unit_code", "work_status", "over_age", "page")


def _clean_query(raw: str) -> str:
    """The list page's query carried through an action (posted, or in a 查看 / 编辑 link), re-encoded
    with only the list's own parameters: never a URL, so it cannot redirect anywhere else."""
    parsed = QueryDict(raw.lstrip("?"))
    kept = QueryDict(mutable=True)
    for key in LIST_PARAMETERS:
        if parsed.get(key):
            kept[key] = parsed[key]
    return kept.urlencode()


def _back_to_roster(request, batch):
    return redirect(_roster_url(batch, _clean_query(request.POST.get(RETURN_FIELD, ""))))


def _breadcrumb_context() -> dict:
    return {"batches_url": reverse("enrollment:batches")}


# --- 参保批次人员管理 ---------------------------------------------------------------------------------


def _row_actions(batch, entry: RosterEntry) -> dict:
    """SPEC ROS-6, ROS-7, ROS-8: 查看 always; while the state allows editing, 【编辑】 of a 非身份证 entry or
    【修改手机号】 of a 身份证 one (the same page, its 手机号 only: ROS-7 [departure], for 参保查询 LOOK-1),
    设置在职 unless already 在职 with 社保 (and not for 退休: ROS-12, they are removed), 删除."""
    editable = batch.roster_editable
    return {
        "edit": editable,
        "edit_label": "编辑" if entry.id_type == IdType.OTHER else "修改手机号",
        "set_active": editable
        and entry.work_status != WorkStatus.RETIRED
        and not (entry.work_status == WorkStatus.ACTIVE and entry.has_social_security),
        "delete": editable,
    }


def _list_rows(batch, entries, *, return_query: str) -> list[str]:
    """The table rows of 参保批次人员管理 (SPEC ROS-6) as HTML, one string per row, made here rather
    than in the template: 15 rows of ten cells and up to four actions were most of the page's
    rendering time as template variables and {% url %} tags. Every value is escaped as the template
    would (html.escape, which django.utils.html.escape calls).
    查看 always; 【编辑】/【修改手机号】, 设置在职 and 删除 as _row_actions allows; 查看 and 【编辑】
    carry the list's query back (_clean_query); IDs masked (X-1); dates as 2026-07-01, "-" unset."""
    editable = batch.roster_editable
    view_url = url_filler("rosters:roster_entry", "entry_id", number=batch.number)
    edit_url = url_filler("rosters:roster_entry_edit", "entry_id", number=batch.number)
    set_active_url = url_filler("rosters:roster_entry_set_active", "entry_id", number=batch.number)
    delete_url = url_filler("rosters:roster_entry_delete", "entry_id", number=batch.number)
    back = escape(f"?{RETURN_FIELD}={quote(return_query, safe='/')}") if return_query else ""
    rows = []
    for entry in entries:
        pk = entry.pk
        name = escape(entry.name)
        actions = _row_actions(batch, entry)
        check = (
            f' data-label="选择"><input class="form-check-input roster-check" type="checkbox" name="entry_ids" value="{pk}"'
            f' form="roster-bulk-form" aria-label="选择 {name}">'
            if editable
            else ">"
        )
        edit = (
            f'<a class="btn btn-link btn-sm px-1" href="{escape(edit_url(pk))}{back}">{escape(actions["edit_label"])}</a>'
            if actions["edit"]
            else ""
        )
        set_active = (
            f'<button type="button" class="btn btn-link btn-sm px-1" data-row-action="{escape(set_active_url(pk))}"'
            ' data-confirm="确认该职工在职且正常缴纳社保?">设置在职</button>'
            if actions["set_active"]
            else ""
        )
        delete = (
            f'<button type="button" class="btn btn-link btn-sm px-1 text-danger" data-row-action="{escape(delete_url(pk))}"'
            f' data-confirm="确认删除“{name}”?">删除</button>'
            if actions["delete"]
            else ""
        )
        start = entry.coverage_start.isoformat() if entry.coverage_start else "-"
        end = entry.coverage_end.isoformat() if entry.coverage_end else "-"
        rows.append(
            mark_safe(  # every value above is escaped
                "\n          <tr>\n"
                f'            <td class="cell-check"{check}</td>\n'
                f'            <td class="cell-name" data-label="姓名">{name}</td>\n'
                f'            <td class="cell-id" data-label="证件号码">{escape(roster_masked_id(entry))}</td>\n'
                f'            <td data-label="证件类型">{escape(entry.id_type)}</td>\n'
                f'            <td data-label="是否建议名单">{yes_no(entry.is_suggested)}</td>\n'
                f'            <td class="cell-work-status" data-label="职退状态">{escape(entry.work_status)}</td>\n'
                f'            <td class="cell-social-security" data-label="是否有社保">{yes_no(entry.has_social_security)}</td>\n'
                f'            <td data-label="起保日期">{start}</td>\n'
                f'            <td data-label="终保日期">{end}</td>\n'
                '            <td class="cell-actions" data-label="操作">\n'
                f'              <a class="btn btn-link btn-sm px-1" href="{escape(view_url(pk))}{back}">查看</a>\n'
                f"              {edit}\n"
                f"              {set_active}\n"
                f"              {delete}\n"
                "            </td>\n"
                "          </tr>\n"
                "          "
            )
        )
    return rows


@require_GET
@unit_roster_view
def roster(request, number: str):
    """参保批次人员管理 (SPEC ROS-6): the batch's people, 15 a page, searched and filtered from the URL."""
    batch = _roster_batch(request, number)
    counts = roster_list_counts(batch=batch)
    filters = RosterFilterForm(request.GET or None)
    search = filters.search_arguments()
    condition = roster_search_q(batch=batch, **search)
    entries = RosterEntry.objects.filter(batch=batch).filter(condition).order_by("pk").only(*LIST_COLUMNS)
    paginator = Paginator(entries, PER_PAGE)
    if not condition:
        # Unfiltered, the footer counts what the heading counts: not counted twice. A filter's
        # count is the paginator's own query, which the filter's index answers.
        paginator.count = counts["people"]
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return_query = _clean_query(request.GET.urlencode())
    editable = batch.roster_editable
    return render(
        request,
        "rosters/roster/list.html",
        {
            "batch": batch,
            "filters": filters,
            "page": page,
            "rows": _list_rows(batch, page.object_list, return_query=return_query),
            "people": counts["people"],
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "query": query.urlencode(),
            "return_query": return_query,
            "return_field": RETURN_FIELD,
            "editable": editable,
            "has_name_mismatch": counts["has_name_mismatch"],
            "missing_mobiles": counts["missing_mobiles"],
            "import_url": reverse("rosters:roster_import", kwargs={"number": batch.number}) if editable else None,
            "reference_date": roster_reference_date(batch=batch),
            **_breadcrumb_context(),
        },
    )


def _own_entry(batch, entry_id: int) -> RosterEntry:
    """An entry of this batch, or 404 (SPEC X-4: another batch's entry id under this URL)."""
    entry = get_object_or_404(RosterEntry, batch=batch, pk=entry_id)
    entry.batch = batch  # the services lock it; no second look-up
    return entry


@require_GET
@unit_roster_view
def roster_entry(request, number: str, entry_id: int):
    """查看 (SPEC ROS-6): every field of one entry, ID and mobile masked (X-1)."""
    batch = _roster_batch(request, number)
    entry = _own_entry(batch, entry_id)
    return_query = _clean_query(request.GET.get(RETURN_FIELD, ""))
    return render(
        request,
        "rosters/roster/entry.html",
        {
            "batch": batch,
            "entry": entry,
            "masked_id": roster_masked_id(entry),
            "masked_mobile": roster_masked_mobile(entry),
            "birth_date_display": roster_birth_date_display(entry),
            "actions": _row_actions(batch, entry),
            "back_url": _roster_url(batch, return_query),
            "return_query": return_query,
            "return_field": RETURN_FIELD,
            **_breadcrumb_context(),
        },
    )


@require_http_methods(["GET", "POST"])
@unit_roster_view
def roster_entry_edit(request, number: str, entry_id: int):
    """【编辑】 (SPEC ROS-7), while the state allows it: a 非身份证 entry's 姓名, 出生日期, 性别, 手机号 and
    是否有社保; a 身份证 entry's 手机号 only (ROS-7 [departure], for 参保查询 LOOK-1)."""
    batch = _roster_batch(request, number)
    entry = _own_entry(batch, entry_id)
    mobile_only = entry.id_type != IdType.OTHER
    return_query = _clean_query(request.POST.get(RETURN_FIELD) or request.GET.get(RETURN_FIELD, ""))
    if not batch.roster_editable:
        messages.error(request, f"批次当前状态为“{batch.get_state_display()}”，参保清册不能修改。")
        return redirect(_roster_url(batch, return_query))
    masked_mobile = roster_masked_mobile(entry)
    form_class = RosterEntryMobileForm if mobile_only else RosterEntryForm
    if request.method == "POST":
        form = form_class(request.POST, current_mobile_masked=masked_mobile)
        if form.is_valid():
            fields = form.changed_fields()
            try:
                roster_entry_update(entry=entry, fields=fields, acting_user=request.user)
            except RosterError as error:
                messages.error(request, error.message)
            else:
                if fields:
                    messages.success(request, f"已保存“{form.cleaned_data.get('name', entry.name)}”的人员信息。")
                else:
                    messages.info(request, f"未填写新的手机号，“{entry.name}”的人员信息未修改。")
            return redirect(_roster_url(batch, return_query))
    elif mobile_only:
        form = form_class(current_mobile_masked=masked_mobile)
    else:
        form = form_class(
            initial={
                "name": entry.name,
                "birth_date": entry.birth_date,
                "sex": entry.sex,
                "has_social_security": entry.has_social_security,
            },
            current_mobile_masked=masked_mobile,
        )
    return render(
        request,
        "rosters/roster/edit.html",
        {
            "batch": batch,
            "entry": entry,
            "form": form,
            "mobile_only": mobile_only,
            "masked_id": roster_masked_id(entry),
            "birth_date_display": roster_birth_date_display(entry),
            "return_query": return_query,
            "return_field": RETURN_FIELD,
            "back_url": _roster_url(batch, return_query),
            **_breadcrumb_context(),
        },
    )


@require_POST
@unit_roster_view
def roster_entry_set_active(request, number: str, entry_id: int):
    """【设置在职】 after `确认该职工在职且正常缴纳社保?` (SPEC ROS-8)."""
    batch = _roster_batch(request, number)
    entry = _own_entry(batch, entry_id)
    if entry.work_status == WorkStatus.RETIRED:
        messages.error(request, f"“{entry.name}”的职退状态为退休，不能参保，请删除该人员。")
        return _back_to_roster(request, batch)
    try:
        changed = roster_entries_set_active(batch=batch, entry_ids=[entry.pk], acting_user=request.user)
    except RosterError as error:
        messages.error(request, error.message)
    else:
        if changed:
            messages.success(request, f"已将“{entry.name}”设置为在职（有社保）。")
        else:
            messages.info(request, f"“{entry.name}”已是在职（有社保），无需设置。")
    return _back_to_roster(request, batch)


@require_POST
@unit_roster_view
def roster_entry_delete(request, number: str, entry_id: int):
    """【删除】 after a confirmation (SPEC ROS-7). A second click finds nothing to delete and says so."""
    batch = _roster_batch(request, number)
    entry = RosterEntry.objects.filter(batch=batch, pk=entry_id).only("pk", "name").first()
    if entry is None:
        # Already deleted (a double click) or another batch's id: the same answer, nothing done.
        messages.info(request, "该人员已不在参保清册中。")
        return _back_to_roster(request, batch)
    try:
        roster_entries_delete(batch=batch, entry_ids=[entry.pk], acting_user=request.user)
    except RosterError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"已删除“{entry.name}”。")
    return _back_to_roster(request, batch)


def _posted_ids(request) -> list[int]:
    ids = []
    for value in request.POST.getlist("entry_ids"):
        if value.isdigit():
            ids.append(int(value))
    return ids


@require_POST
@unit_roster_view
def roster_bulk_delete(request, number: str):
    """【批量删除】 of the ticked rows after `确认删除选中的N位人员?` (SPEC ROS-6); ids of other batches are ignored."""
    batch = _roster_batch(request, number)
    ids = _posted_ids(request)
    if not ids:
        messages.warning(request, "请先勾选要删除的人员。")
        return _back_to_roster(request, batch)
    try:
        deleted = roster_entries_delete(batch=batch, entry_ids=ids, acting_user=request.user)
    except RosterError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"已删除{deleted}位人员。")
    return _back_to_roster(request, batch)


@require_POST
@unit_roster_view
def roster_bulk_set_active(request, number: str):
    """【批量设置为在职】 after `确认批量设置在职?` (SPEC ROS-8); ids of other batches are ignored."""
    batch = _roster_batch(request, number)
    ids = _posted_ids(request)
    if not ids:
        messages.warning(request, "请先勾选要设置在职的人员。")
        return _back_to_roster(request, batch)
    try:
        changed = roster_entries_set_active(batch=batch, entry_ids=ids, acting_user=request.user)
    except RosterError as error:
        messages.error(request, error.message)
    else:
        skipped = len(ids) - changed
        text = f"已将{changed}位人员设置为在职（有社保）。"
        if skipped:
            text += f"另有{skipped}位已是在职、为退休人员或不在本批次，未作修改。"
        messages.success(request, text)
    return _back_to_roster(request, batch)


# --- 姓名匹配异常，请人工确认 (SPEC ROS-5) ---------------------------------------------------------------


NAME_NOT_CHOSEN = "请选择该人员的正确姓名"


def _name_rows(entries, *, chosen: dict[int, str], missing: set[int]) -> list[dict]:
    """The rows of 姓名匹配异常 (SPEC ROS-5). Nothing is preselected: which name is right is the unit's
    to say, and a preselected one would be taken without a reason. `chosen` keeps the choices of a
    refused 【确认】, `missing` the rows that had none (their message is shown at the row, X-3)."""
    rows = []
    for entry in entries:
        choice = chosen.get(entry.pk)
        cells = [
            {"column": column, "name": value, "checked": bool(value) and value == choice}
            for column, value in (("previous", entry.previous_name), ("member", entry.member_name), ("imported", entry.imported_name))
        ]
        in_columns = any(cell["name"] == entry.name for cell in cells)
        rows.append(
            {
                "entry": entry,
                "masked_id": roster_masked_id(entry),
                "cells": cells,
                # The current name when none of the three columns holds it (an edit since): still a choice.
                "current_only": "" if in_columns else entry.name,
                "current_checked": not in_columns and entry.name == choice,
                "error": NAME_NOT_CHOSEN if entry.pk in missing else "",
            }
        )
    return rows


def _names_page(request, batch, *, chosen: dict[int, str] | None = None, missing: set[int] | None = None):
    missing = missing or set()
    paginator = Paginator(roster_name_mismatches(batch=batch), NAMES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "rosters/roster/names.html",
        {
            "batch": batch,
            "page": page,
            "rows": _name_rows(page.object_list, chosen=chosen or {}, missing=missing),
            "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "query": "",
            "editable": batch.roster_editable,
            **_breadcrumb_context(),
        },
    )


@require_http_methods(["GET", "POST"])
@unit_roster_view
def roster_names(request, number: str):
    """【姓名匹配异常，请人工确认】 (SPEC ROS-5): one choice per row among its names, none preselected;
    【确认】 saves the shown rows' choices and closes their mismatches. A row left without a choice
    refuses the whole page (nothing saved) with the message at that row and the choices kept."""
    batch = _roster_batch(request, number)
    if request.method == "GET":
        return _names_page(request, batch)
    choices = {}
    for key, value in request.POST.items():
        if key.startswith("name_") and key[5:].isdigit() and value.strip():
            choices[int(key[5:])] = value
    shown = {int(value) for value in request.POST.getlist("shown") if value.isdigit()}
    still_open = set(roster_name_mismatches(batch=batch).filter(pk__in=shown).values_list("pk", flat=True))
    missing = still_open - set(choices)
    if missing and batch.roster_editable:  # a state that forbids editing is refused by the service below
        messages.error(
            request, f"还有{len(missing)}位人员未选择姓名：请在每行点击正确姓名前的圆圈，全部选择后再点击【确认】。"
        )
        return _names_page(request, batch, chosen=choices, missing=missing)
    try:
        confirmed = roster_names_confirm(batch=batch, choices=choices, acting_user=request.user)
    except RosterError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"已确认{confirmed}位人员的姓名。")
        if not roster_has_name_mismatch(batch=batch):
            return redirect(_roster_url(batch))
    return redirect(reverse("rosters:roster_names", kwargs={"number": batch.number}))


# --- 【导出】 (SPEC ROS-6, X-1) ---------------------------------------------------------------------------


@require_GET
@unit_roster_view
def roster_export(request, number: str):
    """【导出】: the whole roster as .xlsx for the unit's own records, IDs and mobiles masked (SPEC X-1).
    A 95,000-person roster takes seconds to write, so it is a background export (rosters.export_jobs,
    UI.md "Long work"): this starts it (or finds the one already running) and shows its progress page,
    which ends on the download."""
    batch = _roster_batch(request, number)
    if refused := quota_refusal(request, "export"):  # SPEC SEC-3
        return refused
    try:
        job = export_start(kind="roster", params={"batch": batch.number}, user=request.user, ip_address=client_ip(request))
    except ExportError as error:
        messages.error(request, error.message)
        return redirect("rosters:roster", number=batch.number)
    return redirect("exports:job", job_id=job.pk)


urlpatterns = [
    path("batches/<str:number>/roster/", roster, name="roster"),
    path("batches/<str:number>/roster/names/", roster_names, name="roster_names"),
    path("batches/<str:number>/roster/export/", roster_export, name="roster_export"),
    path("batches/<str:number>/roster/bulk-delete/", roster_bulk_delete, name="roster_bulk_delete"),
    path("batches/<str:number>/roster/bulk-set-active/", roster_bulk_set_active, name="roster_bulk_set_active"),
    path("batches/<str:number>/roster/<int:entry_id>/", roster_entry, name="roster_entry"),
    path("batches/<str:number>/roster/<int:entry_id>/edit/", roster_entry_edit, name="roster_entry_edit"),
    path("batches/<str:number>/roster/<int:entry_id>/set-active/", roster_entry_set_active, name="roster_entry_set_active"),
    path("batches/<str:number>/roster/<int:entry_id>/delete/", roster_entry_delete, name="roster_entry_delete"),
]
