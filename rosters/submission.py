"""【清册提交】 and the association's review of a submitted roster (SPEC BAT-4, BAT-10, ROS-11, COV-1,
COV-3, VAL-7, BO-1).

`batch_submit` re-runs the rules on the current roster with the real coverage start, then in one
transaction writes the year's registry rows (one per person, UNIQUE (year, id_hash): the database
decides who holds a person when two units submit at once), the coverage dates of the batch and of
every entry, and moves the batch to 清册校验通过 or, when attachments are required, to 职保会待审核.
Everything is set-based: one INSERT … SELECT and one UPDATE whatever the roster's size.

`batch_review_approve` / `batch_review_reject` are the reviewer's two buttons; `registry_release`
frees a batch's people again (withdrawal BAT-6, cancellation BAT-11).
"""
from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from enrollment.models import Batch, HandlerInfo
from enrollment.services import (
    WINDOW_NOT_OPEN,
    batch_email_handler,
    batch_locked,
    batch_totals_submitted,
    batch_transition,
    centralised_window_refusal,
)
from enrollment.states import HOLDING_STATES, BatchAction, BatchKind, BatchState
from mutualaid.audit import acting_as

from .models import EnrolmentRegistry, RosterEntry, ValidationRun
from .errors import RosterError
from .key_rotation import hash_rotation_running, registry_held_under_old_keys, roster_batch_rehash
from .rules import retired_entries, retired_reason, validate_roster, validation_steps_total
from .selectors import roster_masked_id
from .services import HELD_UNNAMED_MESSAGE, held_by_message, held_names_match, held_naming_audit, roster_audit
from mutualaid.jobs import JobStatus

# SPEC BAT-4: the 承诺书 must be ticked (【我已阅读并同意】) before 【确认提交】.
MESSAGE_NOT_AGREED = "请阅读承诺书并勾选“我已阅读并同意”"
SUBMIT_ACTION = "清册提交"
APPROVE_ACTION = "职保会审核通过"
REJECT_ACTION = "职保会审核不通过"
# How many held people a refusal names one by one (the rest are counted).
HELD_NAMED = 5


# --- 清册提交 (SPEC BAT-4) ----------------------------------------------------------------------------


def submission_coverage(*, batch: Batch, at: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """起保日期 and 终保日期 of `batch` if it were submitted at `at` (SPEC COV-1): a centralised batch
    covers the year's coverage_start..coverage_end; an instant one starts the day after submission
    (Asia/Shanghai local date + 1, never before the year's start) and ends with the year."""
    year = batch.coverage_year
    if batch.kind == BatchKind.CENTRALISED:
        return year.coverage_start, year.coverage_end
    at = at or timezone.now()
    tomorrow = timezone.localtime(at, timezone.get_default_timezone()).date() + dt.timedelta(days=1)
    return max(tomorrow, year.coverage_start), year.coverage_end


def _refuse_state(batch: Batch) -> None:
    """SPEC BAT-3, BAT-4: 【清册提交】 only from 清册待校验 with a current validation, 清册校验不通过 and
    职保会审核不通过. Raises RosterError saying what to do instead."""
    if batch.allows(BatchAction.SUBMIT):
        return
    state = batch.get_state_display()
    if batch.state in HOLDING_STATES:  # the second click of a double click, or another browser
        raise RosterError(f"批次 {batch.number} 的清册已提交（当前状态：{state}），无需重复提交。")
    if batch.state == BatchState.DRAFT:
        if batch.validated_version is None:
            raise RosterError("请先点击【清册校验】，校验通过后再提交清册。")
        raise RosterError("参保清册校验后有人员增减，请重新点击【清册校验】，校验通过后再提交清册。")
    if batch.state == BatchState.VALIDATING:
        raise RosterError("清册正在校验中，请等待校验完成后再提交。")
    raise RosterError(f"批次当前状态为“{state}”，不能进行【清册提交】操作。")


def _refuse_outside_window(batch: Batch, at: dt.datetime, start: dt.date, end: dt.date) -> None:
    """SPEC BAT-10: a centralised batch is submitted only inside the centralised window; an instant
    one only while a day of coverage is left after the day of submission (COV-1)."""
    year = batch.coverage_year
    refusal = centralised_window_refusal(coverage_year=year, kind=batch.kind, at=at)
    if refusal:
        if refusal == WINDOW_NOT_OPEN:
            opens = timezone.localtime(year.centralised_opens_at)
            raise RosterError(f"{year.year}年度集中参保通道将于{opens:%Y年%-m月%-d日}开启，届时方可提交清册。")
        raise RosterError(
            f"{year.year}年度集中参保通道已关闭（截止{year.centralised_last_day:%Y年%-m月%-d日}24时），"
            "集中参保批次不能再提交清册；遗漏的人员请通过【即时参保办理】参保。"
        )
    if start > end:
        raise RosterError(
            f"{year.year}年度保障期至{end:%Y年%-m月%-d日}结束，今日提交已无保障期，请在下一保障年度的参保通道开启后办理。"
        )


def _blocking_message(reasons: list[str]) -> str:
    """SPEC BAT-4: what still blocks, one numbered sentence each."""
    listed = "；".join(f"{number}. {reason.rstrip('。；;')}" for number, reason in enumerate(reasons, 1))
    return f"清册校验未通过，暂不能提交：{listed}。请按清册校验结果处理后再点击【清册提交】。"


def _reasons_naming_retired(batch: Batch, outcome) -> list[str]:
    """The blocking reasons, the retired people's one naming the first few of them with masked IDs
    (SPEC ROS-12: 清册提交 refuses them; X-1), so the unit knows whom to remove."""
    reasons = list(outcome.blocking_reasons)
    count = outcome.retired.count
    if count and retired_reason(count) in reasons:
        listed = retired_entries(batch).only("name", "id_type", "id_cipher")[:HELD_NAMED]
        named = "、".join(f"{entry.name}（{roster_masked_id(entry)}）" for entry in listed)
        more = "等" if count > HELD_NAMED else ""
        reasons[reasons.index(retired_reason(count))] += f"：{named}{more}"
    return reasons


def _registry_insert(*, batch: Batch, at: dt.datetime) -> int:
    """One registry row per roster entry of `batch` (SPEC ROS-11), in one INSERT … SELECT: no row
    passes through Python. Raises IntegrityError when a person is held already (UNIQUE year, id_hash).

    The rows go in in id_hash order: two batches sharing several people then take the unique index's
    entries in the same order, so the later one waits for the earlier and gets the conflict, instead
    of each holding one person the other needs (a deadlock)."""
    quote = connection.ops.quote_name
    registry, entries = EnrolmentRegistry._meta, RosterEntry._meta
    column = lambda meta, name: quote(meta.get_field(name).column)  # noqa: E731
    sql = (
        f"INSERT INTO {quote(registry.db_table)} "
        f"({column(registry, 'year')}, {column(registry, 'id_hash')}, {column(registry, 'batch')}, {column(registry, 'created_at')}) "
        f"SELECT %s, {column(entries, 'id_hash')}, %s, %s FROM {quote(entries.db_table)} WHERE {column(entries, 'batch')} = %s "
        f"ORDER BY {column(entries, 'id_hash')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [batch.coverage_year.year, batch.pk, connection.ops.adapt_datetimefield_value(at), batch.pk]
        )
        return cursor.rowcount


def _social_security_people(batch: Batch) -> int:
    return RosterEntry.objects.filter(batch=batch, has_social_security=True).count()


def registry_release(*, batch: Batch) -> int:
    """Free the people `batch` holds in its year's registry (SPEC ROS-11: a withdrawn or cancelled
    batch holds nobody; BAT-6, BAT-11 call this in their transaction). Returns how many were freed."""
    deleted, _ = EnrolmentRegistry.objects.filter(batch=batch).delete()
    return deleted


def _held_by(batch: Batch) -> str:
    handler = HandlerInfo.objects.filter(code_id=batch.code_id).only("handler_name", "handler_mobile_cipher").first()
    return held_by_message(
        unit_name=batch.unit_name,
        handler_name=handler.handler_name if handler else "",
        handler_mobile=handler.handler_mobile if handler else "",
    )


def held_message(*, batch: Batch, acting_user=None, remote_addr: str | None = None) -> str:
    """SPEC ROS-11: the people of `batch` already held by another batch of the year. Each says
    `身份信息被XXX单位占用` with the holder's handler name and masked mobile when this roster's name
    matches the name the holder enrolled ([departure]; the naming is audited with `acting_user` and
    `remote_addr`, SEC-3), else `该人员本年度已在其他单位参保，请核实`. Also names a number entered
    twice in this batch (as 身份证 and as 非身份证). Empty when nobody is held."""
    year = batch.coverage_year.year
    own = RosterEntry.objects.filter(batch=batch)
    held = EnrolmentRegistry.objects.filter(year=year, id_hash__in=own.values("id_hash")).exclude(batch=batch)
    enrolled_name = RosterEntry.objects.filter(batch=OuterRef("batch_id"), id_hash=OuterRef("id_hash")).values("name")[:1]
    listed = list(
        held.select_related("batch").annotate(enrolled_name=Subquery(enrolled_name)).order_by("pk")[:HELD_NAMED]
    )
    if listed:
        total = held.count() if len(listed) == HELD_NAMED else len(listed)
        people = {entry.id_hash: entry for entry in own.filter(id_hash__in=[row.id_hash for row in listed])}
        contacts: dict[int, str] = {}
        sentences = []
        for row in listed:
            entry = people.get(row.id_hash)
            if entry is None:
                continue
            person = f"{entry.name}（{roster_masked_id(entry)}）"
            if not held_names_match(given=entry.name, enrolled=row.enrolled_name or ""):
                sentences.append(person + HELD_UNNAMED_MESSAGE)
                continue
            if row.batch_id not in contacts:
                contacts[row.batch_id] = _held_by(row.batch)
                held_naming_audit(
                    holder=row.batch, acting_user=acting_user, remote_addr=remote_addr, submitted_batch=batch.number
                )
            sentences.append(person + contacts[row.batch_id])
        more = f"；另有{total - len(listed)}人被其他单位占用" if total > len(listed) else ""
        return (
            "；".join(sentences) + more + "。同一人员每个保障年度只能参保一次，请将以上人员移出参保清册后重新提交。"
        )
    twice = (
        own.values("id_hash").order_by().annotate(times=Count("id"))
        .filter(times__gt=1)
        .values_list("id_hash", flat=True)[:1]
    )
    entry = own.filter(id_hash__in=list(twice)).order_by("pk").first()
    if entry is not None:
        return (
            f"{entry.name}（{roster_masked_id(entry)}）在本批次清册中以“身份证”和“非身份证”各登记了一次，"
            "请删除其中一条后重新提交。"
        )
    return ""


def _record_outcome(*, batch: Batch, outcome, acting_user, at: dt.datetime) -> ValidationRun:
    """The rules' result at submission, stored like a 清册校验 run: the reviewer sees what was checked
    with the real start date (SPEC VAL-7, BO-1), and the result page shows the same."""
    steps = validation_steps_total()
    with acting_as(acting_user):
        return ValidationRun.objects.create(
            batch=batch,
            roster_version=batch.roster_version,
            status=JobStatus.DONE,
            steps_total=steps,
            steps_done=steps,
            findings=outcome.as_json(),
            blocking=False,
            started_by=acting_user,
            finished_at=at,
        )


def batch_submit(
    *, batch: Batch, acting_user, agreed: bool, at: dt.datetime | None = None, remote_addr: str | None = None
) -> Batch:
    """【清册提交】 (SPEC BAT-4, BAT-10, ROS-11, COV-1, COV-3).

    Requires a state that allows it (清册待校验 with a current validation, 清册校验不通过, 职保会审核不通过),
    the 承诺书 ticked (`agreed`), and for a centralised batch the centralised window open. Under the
    batch's lock (so the roster cannot change meanwhile) it re-runs the rules with the real start
    date and refuses if anything blocks; then it replaces the batch's registry rows (a resubmission
    after 职保会审核不通过), writes the coverage dates of the batch and every entry and moves the batch
    to 清册校验通过, or to 职保会待审核 when attachments were required (VAL-4 outside the band, a new
    unit). `at` is the moment of submission (now by default); `remote_addr` is the client's address
    for the audit of a holder named in the refusal (SPEC ROS-11, SEC-3).

    Raises RosterError with a message for the unit: the state, the agreement, the window, the list of
    blocking findings, or the people held by another unit; the transition table's EnrollmentError if
    the state moved meanwhile (nothing is written then).
    """
    at = at or timezone.now()
    current = Batch.objects.select_related("coverage_year", "code").filter(pk=batch.pk).first()
    if current is None:
        raise RosterError(f"批次 {batch.number} 已删除。")
    _refuse_state(current)
    if not agreed:
        raise RosterError(MESSAGE_NOT_AGREED)
    start, end = submission_coverage(batch=current, at=at)
    _refuse_outside_window(current, at, start, end)
    try:
        with transaction.atomic():
            locked = batch_locked(current, error=RosterError)
            _refuse_state(locked)  # checked again under the lock: a double click stops here
            # A resubmission's own rows go first, so the rules and the insert see only other batches.
            registry_release(batch=locked)
            if hash_rotation_running():
                # SPEC SEC-10: the registry's UNIQUE (year, id_hash) compares hashes of one key. While
                # a hash rotation runs, this batch's people go under the current key first, and a
                # holder not yet re-hashed is looked for under the old keys.
                roster_batch_rehash(batch_id=locked.pk)
            outcome = validate_roster(batch=locked, on=start)
            if outcome.blocking:
                raise RosterError(_blocking_message(_reasons_naming_retired(locked, outcome)))
            if hash_rotation_running() and registry_held_under_old_keys(batch=locked):
                raise IntegrityError("SPEC SEC-10: a person is held under an older hash key")
            people = _registry_insert(batch=locked, at=at)
            _record_outcome(batch=locked, outcome=outcome, acting_user=acting_user, at=at)
            # Rows already carrying these dates (a centralised batch submitted again) are not rewritten.
            RosterEntry.objects.filter(batch=locked).exclude(coverage_start=start, coverage_end=end).update(
                coverage_start=start, coverage_end=end
            )
            locked.submitted_at, locked.coverage_start, locked.coverage_end = at, start, end
            with acting_as(acting_user):
                locked.save(update_fields=["submitted_at", "coverage_start", "coverage_end", "updated_at"])
            batch_totals_submitted(
                batch=locked, people=people, social_security_people=_social_security_people(locked), at=at
            )
            to = BatchState.IN_REVIEW if outcome.needs_review else BatchState.ROSTER_APPROVED
            moved = batch_transition(batch=locked, to=to, acting_user=acting_user, action=SUBMIT_ACTION)
            roster_audit(
                batch=locked,
                acting_user=acting_user,
                action=SUBMIT_ACTION,
                registered=people,
                coverage=f"{start.isoformat()}~{end.isoformat()}",
                state=moved.get_state_display(),
            )
    except IntegrityError:
        # SPEC ROS-11: the unique index decided (another unit submitted the same person first, or
        # at the same moment and committed first). Everything above was rolled back.
        raise RosterError(
            held_message(batch=current, acting_user=acting_user, remote_addr=remote_addr) or "有人员的身份信息刚被其他单位占用，请刷新参保清册后重新提交。"
        ) from None
    batch.state, batch.submitted_at = moved.state, moved.submitted_at
    batch.coverage_start, batch.coverage_end = moved.coverage_start, moved.coverage_end
    return moved


# --- 职保会审核 (SPEC VAL-7, BO-1) ---------------------------------------------------------------------


def _lock_in_review(batch: Batch) -> Batch:
    locked = batch_locked(batch, error=RosterError)
    if locked.state != BatchState.IN_REVIEW:  # a double click or a second reviewer came first
        raise RosterError(f"批次 {locked.number} 当前状态为“{locked.get_state_display()}”，无需重复审核。")
    return locked


@transaction.atomic
def batch_review_approve(*, batch: Batch, acting_user) -> Batch:
    """【审核通过】 (SPEC VAL-7): 职保会待审核 → 职保会审核通过, written to 操作日志, the handler e-mailed.
    Raises RosterError when the batch is no longer waiting for review (nothing happens twice)."""
    locked = _lock_in_review(batch)
    moved = batch_transition(batch=locked, to=BatchState.REVIEW_APPROVED, acting_user=acting_user, action=APPROVE_ACTION)
    batch_email_handler(
        batch=moved,
        subject=f"【上海市职工保障互助会】参保批次{moved.number}职保会审核通过",
        template="rosters/email/review_approved.txt",
        context={},
    )
    return moved


@transaction.atomic
def batch_review_reject(*, batch: Batch, acting_user, reason: str) -> Batch:
    """【审核不通过】 with a reason (SPEC VAL-7): 职保会待审核 → 职保会审核不通过; the reason is in the
    操作日志 the unit reads under 【查看详情】 and in the e-mail to the handler. The unit then corrects
    roster or attachments and submits again (its registry rows are replaced then). Raises RosterError
    without a reason or when the batch is no longer waiting for review."""
    reason = (reason or "").strip()
    if not reason:
        raise RosterError("请填写审核不通过的原因。")
    locked = _lock_in_review(batch)
    moved = batch_transition(
        batch=locked, to=BatchState.REVIEW_REJECTED, acting_user=acting_user, action=REJECT_ACTION, reason=reason
    )
    batch_email_handler(
        batch=moved,
        subject=f"【上海市职工保障互助会】参保批次{moved.number}职保会审核不通过",
        template="rosters/email/review_rejected.txt",
        context={"reason": reason},
    )
    return moved
