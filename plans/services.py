"""保障项目选择, 生成保费信息, 提交确认保费 and 批次撤回 (SPEC PLAN, PREM, COV-2, BAT-6, BAT-10).

The arithmetic is plans/premiums.py; these services read the batch and its roster, check the state
themselves (BAT-3: not just the buttons), and write in one transaction. Every state change locks
the row with enrollment.services.batch_locked and goes through enrollment.services.batch_transition,
which checks the table and writes the 操作日志.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from enrollment.models import Batch, BatchLog, CoverageYear
from enrollment.services import (
    EnrollmentError,
    batch_locked,
    batch_totals_premium,
    batch_transition,
    centralised_window_refusal,
)
from enrollment.states import PREMIUM_CONFIRMED_STATES, SELECTING_STATES, BatchAction, BatchKind, BatchState
from mutualaid.audit import acting_as
from rosters.models import RosterEntry
from rosters.rules import ExtraFinding
from rosters.submission import registry_release

from . import premiums
from .catalogue import HANDBOOK_ITEMS
from .models import BatchPremium, PlanItem, PlanSelection, PremiumLine


class PlanError(EnrollmentError):
    """The plans app's domain error (STYLE.md §2): `message` is shown to the user as it is; `field`
    names the form field it belongs beside. A subclass of EnrollmentError, so a view catching that
    (batch_transition raises it) catches both."""


CONFIRM_ACTION = "提交确认保费"
WITHDRAW_ACTION = "批次撤回"


class WithdrawTarget:
    """The two choices of the 批次撤回 dialog (SPEC BAT-6)."""

    ROSTER = "roster"
    PLANS = "plans"
    CHOICES = ((ROSTER, "重新整理清册"), (PLANS, "重新选择保障项目"))


# --- Plan items of a year (SPEC PLAN-1, YEAR-1) -------------------------------------------------------


def plan_items_of(*, coverage_year: CoverageYear) -> list[PlanItem]:
    """The year's twelve items, in the handbook's order. A year without items gets a copy of the
    closest earlier year's (reviewers then edit prices), or the handbook's 2023 table for the first."""
    items = list(PlanItem.objects.filter(coverage_year=coverage_year))
    if not items:
        items = _plan_items_create(coverage_year=coverage_year)
    return sorted(items, key=lambda item: premiums.code_sort_key(item.code))


@transaction.atomic
def _plan_items_create(*, coverage_year: CoverageYear) -> list[PlanItem]:
    earlier = (
        PlanItem.objects.filter(coverage_year__year__lt=coverage_year.year).order_by("-coverage_year__year").first()
    )
    if earlier is not None:
        rows = [
            (item.code, item.price, item.benefits)
            for item in PlanItem.objects.filter(coverage_year_id=earlier.coverage_year_id)
        ]
    else:
        rows = HANDBOOK_ITEMS
    PlanItem.objects.bulk_create(
        [
            PlanItem(coverage_year=coverage_year, code=code, series=code[0], layer=int(code[1]), price=price, benefits=text)
            for code, price, text in rows
        ],
        ignore_conflicts=True,  # two first requests at once: the unique constraint keeps one set
    )
    return list(PlanItem.objects.filter(coverage_year=coverage_year))


def plan_prices(*, coverage_year: CoverageYear) -> dict[str, Decimal]:
    """The year's full-year price of every item code (SPEC PLAN-1)."""
    return {item.code: item.price for item in plan_items_of(coverage_year=coverage_year)}


def plan_item_price_locked(*, coverage_year: CoverageYear) -> bool:
    """Prices are fixed once a batch of the year has confirmed its premium: changing them
    then would make two units of one year pay different prices for the same item."""
    return BatchPremium.objects.filter(batch__coverage_year=coverage_year).exists()


# --- The selection (SPEC PLAN-2, PLAN-3, PREM-4) ------------------------------------------------------


def plan_selection_source(*, batch: Batch) -> Batch | None:
    """SPEC PREM-4: the centralised batch of the same code and year whose confirmed selection this
    instant batch must use, or None (a centralised batch, or a code without one)."""
    if batch.kind != BatchKind.INSTANT:
        return None
    return (
        Batch.objects.filter(
            code_id=batch.code_id,
            coverage_year_id=batch.coverage_year_id,
            kind=BatchKind.CENTRALISED,
            state__in=PREMIUM_CONFIRMED_STATES,
            premium__isnull=False,
        )
        .select_related("premium")
        .first()
    )


def plan_selection_codes(*, batch: Batch) -> list[str]:
    """The codes the batch uses: the confirmed premium's, the locked source's (PREM-4), or the
    selection saved by 【生成保费信息】; [] when nothing is chosen yet."""
    premium = BatchPremium.objects.filter(batch=batch).first()
    if premium is not None:
        return premium.code_list
    source = plan_selection_source(batch=batch)
    if source is not None:
        return source.premium.code_list
    selection = PlanSelection.objects.filter(batch=batch).first()
    return selection.code_list if selection else []


def batch_people_counts(*, batch: Batch) -> tuple[int, int]:
    """(社保人员, 非社保人员) of the batch's roster (SPEC PLAN-3, PREM-3), in one query."""
    counts = RosterEntry.objects.filter(batch=batch).aggregate(
        with_ss=Count("pk", filter=Q(has_social_security=True)),
        without_ss=Count("pk", filter=Q(has_social_security=False)),
    )
    return counts["with_ss"], counts["without_ss"]


def _check_selecting(batch: Batch) -> None:
    """SPEC BAT-3: 【保障项目选择】 changes the selection only in 清册校验通过 / 职保会审核通过."""
    if batch.state not in SELECTING_STATES:
        if batch.state == BatchState.AWAITING_PAYMENT:
            raise PlanError("保费已确认，如需修改保障项目，请先点击【批次撤回】并选择“重新选择保障项目”。")
        raise PlanError(f"批次当前状态为“{batch.get_state_display()}”，不能进行【保障项目选择】操作。")


def _codes_for(*, batch: Batch, codes) -> tuple[list[str], Batch | None]:
    """The codes to price: the PREM-4 source's when the selection is locked (what the form sent is
    ignored), else `codes` checked against PLAN-2 and PLAN-3. Raises PlanError with every reason."""
    source = plan_selection_source(batch=batch)
    _, other_people = batch_people_counts(batch=batch)
    if source is not None:
        # SPEC PLAN-3 under the lock: 清册提交 blocks such people (plan_rule_people_without_basic), but
        # the centralised batch may have confirmed only after this batch was submitted.
        if _only_social_security_basic(source.premium.code_list) and other_people:
            raise PlanError(locked_people_without_basic_message(other_people, withdraw=True), field="codes")
        return source.premium.code_list, source
    codes = premiums.codes_normalise(codes)
    errors = premiums.selection_errors(codes, other_people=other_people)
    if errors:
        raise PlanError("".join(errors), field="codes")
    return codes, None


def batch_premium_table(*, batch: Batch, codes) -> premiums.PremiumTable:
    """The 保费信息 of `batch` for `codes` (SPEC PREM-1…PREM-3): prices of the batch's year, the tier
    from its 起保日期 (PREM-2), its people counted by 社保 (PLAN-3)."""
    year = batch.coverage_year
    social_security_people, other_people = batch_people_counts(batch=batch)
    start = batch.coverage_start or year.coverage_start
    return premiums.premium_table(
        codes,
        prices=plan_prices(coverage_year=year),
        full_year=premiums.is_full_year(start=start, half_year_from=year.half_year_price_from),
        bundle_discount=year.bundle_discount,
        social_security_people=social_security_people,
        other_people=other_people,
    )


def premium_generate(*, batch: Batch, codes, acting_user) -> tuple[list[str], premiums.PremiumTable]:
    """【生成保费信息】 (SPEC PREM-3): check the selection (PLAN-2, PLAN-3; PREM-4 takes the centralised
    batch's instead), save it, and return the codes and their 保费信息. Raises PlanError."""
    _check_selecting(batch)
    codes, source = _codes_for(batch=batch, codes=codes)
    with acting_as(acting_user):
        PlanSelection.objects.update_or_create(batch=batch, defaults={"codes": " ".join(codes), "source": source})
    return codes, batch_premium_table(batch=batch, codes=codes)


def premium_confirm(*, batch: Batch, codes, acting_user, at: dt.datetime | None = None) -> BatchPremium:
    """【提交确认保费】 (SPEC PREM-3, PAY-1): in one transaction store the 保费信息 with its lines and the
    payment deadline, and move the batch to 缴费凭证待上传. The batch row is locked first, so a double
    click confirms once (the second gets the state message). Raises PlanError / EnrollmentError."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = batch_locked(batch, error=PlanError)
        if locked.state == BatchState.AWAITING_PAYMENT:
            raise PlanError(f"批次 {locked.number} 的保费已确认，无需重复提交。")
        _check_selecting(locked)
        codes, source = _codes_for(batch=locked, codes=codes)
        table = batch_premium_table(batch=locked, codes=codes)
        if not table.lines:
            raise PlanError("参保清册中没有人员，不能确认保费。")
        year = locked.coverage_year
        prices = plan_prices(coverage_year=year)
        with acting_as(acting_user):
            PlanSelection.objects.update_or_create(batch=locked, defaults={"codes": " ".join(codes), "source": source})
            premium = BatchPremium.objects.create(
                batch=locked,
                codes=" ".join(codes),
                full_year=table.full_year,
                prices={code: str(price) for code, price in prices.items()},
                bundle_discount=year.bundle_discount,
                social_security_people=table.social_security_people,
                other_people=table.other_people,
                total=table.total,
                approved_state=locked.state,
                confirmed_at=at,
                confirmed_by=acting_user,
                # SPEC PAY-1: 15 days from the day of 【提交确认保费】 in Shanghai, whatever the request's zone.
                payment_due=timezone.localtime(at, timezone.get_default_timezone()).date()
                + dt.timedelta(days=year.payment_deadline_days),
            )
            PremiumLine.objects.bulk_create(
                [
                    PremiumLine(
                        premium=premium, position=position, label=line.label, standard=line.standard,
                        discount=line.discount, social_security_people=line.social_security_people,
                        social_security_amount=line.social_security_amount, other_people=line.other_people,
                        other_amount=line.other_amount, amount=line.amount,
                    )
                    for position, line in enumerate(table.lines, 1)
                ]
            )
        batch_totals_premium(
            batch=locked, premium=table.total, at=at,
            items=premiums.item_totals(table, prices=prices),
        )
        batch_transition(
            batch=locked, to=BatchState.AWAITING_PAYMENT, acting_user=acting_user, action=CONFIRM_ACTION,
            reason=f"保费总计{table.total}元",
        )
    batch.state = locked.state
    return premium


def premium_person_price_args(*, premium: BatchPremium) -> dict:
    """The keyword arguments premiums.person_lines / person_amount need to price one person exactly as
    the confirmed 保费信息 did (the year's full-year prices as they were then, and the tier)."""
    return {
        "prices": {code: Decimal(price) for code, price in premium.prices.items()},
        "full_year": premium.full_year,
        "bundle_discount": premium.bundle_discount,
    }


# --- 批次撤回 (SPEC BAT-6, BAT-10) ------------------------------------------------------------------


def batch_withdraw_check(*, batch: Batch, target: str = "", at: dt.datetime | None = None) -> None:
    """Why 【批次撤回】 (to `target`, if given) is not possible now; returns None when it is. Raises
    PlanError. SPEC BAT-6: in 清册校验通过, 职保会审核通过 and 缴费凭证待上传 (before any voucher: a
    voucher moves the batch on to 缴费凭证待审核, BAT-8); a centralised batch only inside the window."""
    at = at or timezone.now()
    if not batch.allows(BatchAction.WITHDRAW):
        raise PlanError(f"批次当前状态为“{batch.get_state_display()}”，不能进行【批次撤回】操作。")
    if centralised_window_refusal(coverage_year=batch.coverage_year, kind=batch.kind, at=at):
        raise PlanError(
            "集中参保通道已关闭，集中参保批次不能撤回；遗漏的人员请在即时参保通道中办理。", field="target"
        )
    if target == WithdrawTarget.PLANS and batch.state != BatchState.AWAITING_PAYMENT:
        raise PlanError("尚未提交确认保费，可直接点击【保障项目选择】重新选择，无需撤回。", field="target")
    if target and target not in dict(WithdrawTarget.CHOICES):
        raise PlanError("请选择撤回方式：重新整理清册或重新选择保障项目。", field="target")


def batch_withdraw(*, batch: Batch, target: str, reason: str, acting_user, at: dt.datetime | None = None) -> Batch:
    """【批次撤回】 (SPEC BAT-6): 重新整理清册 → 清册待校验, the registry rows released (ROS-11), the
    confirmed premium and the coverage dates dropped (COV-1: the next 清册提交 counts); 重新选择保障项目
    → back to 清册校验通过 / 职保会审核通过 with the premium dropped and the selection kept as a
    starting point. Reason required; written to the 操作日志. Raises PlanError / EnrollmentError."""
    at = at or timezone.now()
    reason = (reason or "").strip()
    if not target:
        raise PlanError("请选择撤回方式：重新整理清册或重新选择保障项目。", field="target")
    if not reason:
        raise PlanError("请简单写明撤回原因。", field="reason")
    with transaction.atomic():
        locked = batch_locked(batch, error=PlanError)
        batch_withdraw_check(batch=locked, target=target, at=at)
        premium = BatchPremium.objects.filter(batch=locked).first()
        to = _approved_state_before(locked, premium) if target == WithdrawTarget.PLANS else BatchState.DRAFT
        with acting_as(acting_user):
            if premium is not None:
                premium.delete()
            batch_totals_premium(batch=locked, premium=premiums.ZERO, items={})
            if to == BatchState.DRAFT:
                registry_release(batch=locked)
                RosterEntry.objects.filter(batch=locked).update(coverage_start=None, coverage_end=None)
                locked.coverage_start = locked.coverage_end = None
                locked.save(update_fields=["coverage_start", "coverage_end", "updated_at"])
        label = dict(WithdrawTarget.CHOICES)[target]
        batch_transition(
            batch=locked, to=to, acting_user=acting_user, action=f"{WITHDRAW_ACTION}（{label}）", reason=reason
        )
    batch.state, batch.coverage_start, batch.coverage_end = locked.state, locked.coverage_start, locked.coverage_end
    return locked


def _approved_state_before(batch: Batch, premium: BatchPremium | None) -> str:
    """The state 【提交确认保费】 left (清册校验通过 or 职保会审核通过), for 重新选择保障项目 (SPEC BAT-6):
    the premium keeps it; without one (data repaired by hand) the 操作日志's confirmation row tells."""
    if premium is not None:
        return premium.approved_state
    last = (
        BatchLog.objects.filter(batch=batch, to_state=BatchState.AWAITING_PAYMENT, from_state__in=SELECTING_STATES)
        .order_by("-at", "-pk")
        .first()
    )
    return last.from_state if last is not None else BatchState.ROSTER_APPROVED


# --- PLAN-3 at 清册提交 (rosters.rules.EXTRA_RULES) -------------------------------------------------


def _only_social_security_basic(codes) -> bool:
    """SPEC PLAN-3: is A0 the selection's only basic item (so people without 社保 get none)?"""
    return [code for code in premiums.codes_normalise(codes) if code in premiums.BASIC] == [
        premiums.SOCIAL_SECURITY_ONLY
    ]


def locked_people_without_basic_message(count: int, *, withdraw: bool = False) -> str:
    """SPEC PLAN-3, PREM-4: why `count` people without 社保 cannot join an instant batch whose locked
    selection has A0 as its only basic item, and what to do (before 清册提交, or after it: withdraw)."""
    todo = (
        "请点击【批次撤回】选择“重新整理清册”，移除这些人员（或更正其社保信息）后重新提交"
        if withdraw
        else "请移除这些人员（或更正其社保信息）后再提交"
    )
    return (
        f"本单位集中参保选择的基本保障项目只有A0，即时参保须沿用该选择；清册中有{count}位非社保人员"
        f"不能参加A0，将没有任何基本保障项目，{todo}"
    )


def plan_rule_people_without_basic(batch: Batch, on: dt.date) -> ExtraFinding | None:
    """SPEC PLAN-3 [interpretation]: in an instant batch whose selection is locked (PREM-4) to one with
    A0 as its only basic item, the people without 社保 would get no basic item at all: a blocking
    finding at 清册校验 / 清册提交 (they must be removed, or their 社保 corrected)."""
    source = plan_selection_source(batch=batch)
    if source is None:
        return None
    if not _only_social_security_basic(source.premium.code_list):
        return None
    _, other_people = batch_people_counts(batch=batch)
    if not other_people:
        return None
    return ExtraFinding(
        rule="PLAN-3",
        title="无基本保障项目人员",
        count=other_people,
        blocking_reason=locked_people_without_basic_message(other_people),
    )
