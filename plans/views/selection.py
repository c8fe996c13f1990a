"""【保障项目选择】 with 【生成保费信息】 / 【提交确认保费】 (SPEC PLAN-2, PLAN-3, PREM-1…PREM-4, PAY-1) and
【批次撤回】 (SPEC BAT-6, BAT-10).

Unit accounts with 经办人填报 saved only (back-office roles get 403); another account's batch answers 404
(X-4). A state without the action (BAT-3) gets a message and goes back to 参保批次管理, as 清册提交 does.
The rules are plans.services'; these views turn PlanError into a message beside its field.

【提交确认保费】 prices exactly what the unit saw: the form carries the codes and the total the table on
screen was generated for; changed ticks, another browser's newer 生成, or prices changed in between are
refused with "please generate again" (PREM-3).
"""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.template.defaultfilters import floatformat
from django.urls import path, reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from enrollment.services import EnrollmentError
from enrollment.states import SELECTING_STATES, BatchAction, BatchKind, BatchState
from enrollment.views.access import account_batch, unit_page
from mutualaid.errors import form_error_add

from .. import premiums
from ..forms import OP_GENERATE, REGENERATE_MESSAGE, PlanSelectionForm, WithdrawForm
from ..models import BatchPremium, Series
from ..services import (
    PlanError,
    WithdrawTarget,
    batch_people_counts,
    batch_premium_table,
    batch_withdraw,
    batch_withdraw_check,
    plan_prices,
    plan_selection_codes,
    plan_selection_source,
    premium_confirm,
    premium_generate,
)
from .price_table import price_table_context

LOCKED_NOTE = "保障项目即为参加集中参保时选择的保障项目，不可更改"  # the handbook's words (SPEC PREM-4)
PRICES_CHANGED_MESSAGE = "保费标准已调整，请重新点击【生成保费信息】，核对后再提交确认保费。"


def _selection_url(batch) -> str:
    return reverse("plans:selection", kwargs={"number": batch.number})


def _not_allowed(request, batch, action_label: str):
    messages.warning(
        request, f"批次 {batch.number} 当前状态为“{batch.get_state_display()}”，不能进行【{action_label}】操作。"
    )
    return redirect("enrollment:batches")


# --- 【保障项目选择】 --------------------------------------------------------------------------------------


def _boxes(codes, *, selected, prices, disabled: bool) -> list[str]:
    """The check boxes of one line (基本保障 A0 B0 C0, or one line of 加强保障) as HTML, one string a box,
    with the price that applies to this batch as their tooltip; read only when `disabled`. Made here
    rather than by an include per box (SPEC OPS-3: twelve includes, each with a price filter, were a
    fifth of the page's rendering); every value escaped as the template would."""
    series = dict(Series.choices)
    boxes = []
    for code in codes:
        code_text = escape(code)
        title = escape(f"{series[code[0]]} {code}：{floatformat(prices.get(code), '-2')}元/人")
        flags = (" checked" if code in selected else "") + (" disabled" if disabled else "")
        boxes.append(
            mark_safe(  # every value is escaped
                '\n<div class="form-check plan-code">\n'
                f'  <input class="form-check-input" type="checkbox" name="codes" value="{code_text}" id="code-{code_text}"{flags}>\n'
                f'  <label class="form-check-label fw-semibold" for="code-{code_text}" title="{title}">{code_text}</label>\n'
                "</div>\n"
            )
        )
    return boxes


def _selection_page(request, batch, *, form=None, selected=None, table=None, status=200):
    """The page: the check boxes (read only under PREM-4 or once confirmed), 【保费一览表】, 选择规则, the
    generated or confirmed 保费信息 and, once confirmed, 【保费详细】 and the payment instructions."""
    year = batch.coverage_year
    premium = BatchPremium.objects.filter(batch=batch).first()
    source = None if premium else plan_selection_source(batch=batch)
    editable = batch.state in SELECTING_STATES
    if selected is None:
        selected = premium.code_list if premium else plan_selection_codes(batch=batch)
    social_security_people, other_people = batch_people_counts(batch=batch)
    start = batch.coverage_start or year.coverage_start
    full_year = premium.full_year if premium else premiums.is_full_year(start=start, half_year_from=year.half_year_price_from)
    prices = premiums.tier_prices(plan_prices(coverage_year=year), full_year=full_year)
    checkboxes_disabled = not editable or source is not None
    context = {
        **price_table_context(coverage_year=year),
        "batch": batch,
        "people": social_security_people + other_people,
        "social_security_people": social_security_people,
        "other_people": other_people,
        "form": form or PlanSelectionForm(),
        "selected": selected,
        "basic_boxes": _boxes(premiums.BASIC, selected=selected, prices=prices, disabled=checkboxes_disabled),
        "enhanced_rows": [
            _boxes([f"{series}{layer}" for series in premiums.SERIES], selected=selected, prices=prices, disabled=checkboxes_disabled)
            for layer in (1, 2, 3)
        ],
        "editable": editable,
        "checkboxes_disabled": checkboxes_disabled,
        "source": source,
        "locked_note": LOCKED_NOTE,
        "premium": premium,
        "table": premium if premium else table,
        "generated": " ".join(selected) if table is not None else "",
        "start": start,
        "full_year": full_year,
        "is_instant": batch.kind == BatchKind.INSTANT,
        "detail_url": reverse("plans:premium_detail", kwargs={"number": batch.number}) if premium else None,
        "withdraw_url": reverse("plans:withdraw", kwargs={"number": batch.number})
        if batch.allows(BatchAction.WITHDRAW) else None,
        "price_table_url": reverse("plans:price_table", kwargs={"year": year.year}),
    }
    return render(request, "plans/selection.html", context, status=status)


@require_http_methods(["GET", "POST"])
@unit_page
def selection(request, number: str):
    """GET: the page. POST op=generate (【生成保费信息】): plans.services.premium_generate, the page with
    the table (a refused selection keeps the ticks and shows why at the check boxes). POST op=confirm
    (【提交确认保费】, after the dialog): plans.services.premium_confirm, then the page, now read only."""
    batch = account_batch(request, number)
    if not batch.allows(BatchAction.SELECT_PLANS):
        return _not_allowed(request, batch, "保障项目选择")
    if request.method == "GET":
        return _selection_page(request, batch)
    if batch.state not in SELECTING_STATES:  # confirmed already: a double click, another browser
        messages.info(request, f"批次 {batch.number} 的保费已确认，无需重复提交。")
        return redirect(_selection_url(batch))
    source = plan_selection_source(batch=batch)
    form = PlanSelectionForm(request.POST, locked_codes=source.premium.code_list if source else None)
    posted = premiums.codes_normalise(request.POST.getlist("codes"))
    if not form.is_valid():
        return _selection_page(request, batch, form=form, selected=form.cleaned_data.get("codes", posted))
    codes = form.cleaned_data["codes"]
    if form.cleaned_data["op"] == OP_GENERATE:
        try:
            codes, table = premium_generate(batch=batch, codes=codes, acting_user=request.user)
        except PlanError as error:
            form_error_add(form, error)
            return _selection_page(request, batch, form=form, selected=codes)
        return _selection_page(request, batch, form=PlanSelectionForm(), selected=codes, table=table)
    return _confirm(request, batch, form=form, codes=codes)


def _confirm(request, batch, *, form, codes):
    """【提交确认保费】: refuse when the ticks, the saved selection (a newer 生成 in another browser) or the
    prices differ from what the table on screen was generated for; else confirm (the service locks the
    batch, so the second click of a double click gets its "已确认" message)."""
    if plan_selection_codes(batch=batch) != codes:
        form.add_error("codes", REGENERATE_MESSAGE)
        return _selection_page(request, batch, form=form, selected=codes)
    if batch_premium_table(batch=batch, codes=codes).total != form.cleaned_data["generated_total"]:
        form.add_error("codes", PRICES_CHANGED_MESSAGE)
        return _selection_page(request, batch, form=form, selected=codes)
    try:
        premium = premium_confirm(batch=batch, codes=codes, acting_user=request.user)
    except (PlanError, EnrollmentError) as error:
        batch.refresh_from_db(fields=["state"])
        if batch.state == BatchState.AWAITING_PAYMENT:
            messages.info(request, error.message)
            return redirect(_selection_url(batch))
        form_error_add(form, error)
        return _selection_page(request, batch, form=form, selected=codes)
    messages.success(
        request,
        f"保费已确认，保费总计{premium.total:,.2f}元，批次状态为“缴费凭证待上传”。请于{premium.payment_due:%Y-%m-%d}前"
        "将保费汇至下方账号，并在【缴费凭证管理】中上传缴费凭证。",
    )
    return redirect(_selection_url(batch))


# --- 【批次撤回】 ----------------------------------------------------------------------------------------


def _withdraw_page(request, batch, *, form=None, blocked: str = "", step: str = "choose", status=200):
    premium = BatchPremium.objects.filter(batch=batch).first()
    plans_allowed = batch.state == BatchState.AWAITING_PAYMENT
    context = {
        "batch": batch,
        "form": form or WithdrawForm(initial={"target": WithdrawTarget.ROSTER, "state": batch.state}),
        "blocked": blocked,
        "step": step,
        "choices": WithdrawTarget.CHOICES,
        "plans_allowed": plans_allowed,
        "plans_disabled_reason": "" if plans_allowed else "尚未提交确认保费，可直接点击【保障项目选择】重新选择，无需撤回",
        "approved_label": premium.get_approved_state_display() if premium else "",
        "selection_url": reverse("plans:selection", kwargs={"number": batch.number})
        if batch.allows(BatchAction.SELECT_PLANS) else None,
    }
    return render(request, "plans/withdraw.html", context, status=status)


def _withdraw_done_message(batch) -> str:
    if batch.state == BatchState.DRAFT:
        return f"批次 {batch.number} 已撤回，状态已变回“清册待校验”，可进行清册修改。"
    return f"批次 {batch.number} 已撤回，状态已变回“{batch.get_state_display()}”，可点击【保障项目选择】重新选择保障项目。"


@require_http_methods(["GET", "POST"])
@unit_page
def withdraw(request, number: str):
    """GET: the dialog (or why the batch cannot be withdrawn: the centralised window has closed, BAT-10).
    POST target, reason: without `confirmed` the second confirmation (【确定】); with it
    plans.services.batch_withdraw, then 参保批次管理 with a message. A post made for a state the batch
    has left (a double click, another browser) changes nothing and says so."""
    batch = account_batch(request, number)
    if request.method == "POST" and request.POST.get("state") and request.POST["state"] != batch.state:
        messages.info(
            request,
            f"批次 {batch.number} 的状态已变为“{batch.get_state_display()}”，本次撤回未执行（如刚刚已撤回，无需重复操作）。",
        )
        return redirect("enrollment:batches")
    if not batch.allows(BatchAction.WITHDRAW):
        return _not_allowed(request, batch, "批次撤回")
    try:
        batch_withdraw_check(batch=batch)
    except PlanError as error:
        return _withdraw_page(request, batch, blocked=error.message)
    if request.method == "GET":
        return _withdraw_page(request, batch)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _withdraw_page(request, batch, form=form)
    data = form.cleaned_data
    if not data["confirmed"]:
        try:
            batch_withdraw_check(batch=batch, target=data["target"])
        except PlanError as error:
            form_error_add(form, error)
            return _withdraw_page(request, batch, form=form)
        return _withdraw_page(request, batch, form=form, step="confirm")
    try:
        withdrawn = batch_withdraw(batch=batch, target=data["target"], reason=data["reason"], acting_user=request.user)
    except (PlanError, EnrollmentError) as error:
        current = batch.state
        batch.refresh_from_db(fields=["state"])
        if batch.state != current:  # withdrawn meanwhile by the first click
            messages.info(request, f"批次 {batch.number} 已撤回，无需重复操作。")
            return redirect("enrollment:batches")
        form_error_add(form, error)
        return _withdraw_page(request, batch, form=form)
    messages.success(request, _withdraw_done_message(withdrawn))
    return redirect("enrollment:batches")


urlpatterns = [
    path("batches/<str:number>/plans/", selection, name="selection"),
    path("batches/<str:number>/withdraw/", withdraw, name="withdraw"),
]
