"""【清册校验】 in the background (SPEC BAT-4, VAL): the services that start a run, carry it out (the
Celery task's body) and read its result.

    validation_start ─ 清册待校验/清册校验不通过 → 清册校验中, a queued ValidationRun, the task on commit
    validation_run   ─ rules.validate_roster → findings stored → 清册校验中 → 清册待校验 (nothing blocks,
                       validated_version = the checked roster version) or 清册校验不通过

A run is tied to the roster version it checked (ValidationRun.roster_version): people added or removed
make it stale (rosters.services.roster_version_bump), ticks and confirmations do not, and neither does
removing the people the result lists for removal (SPEC VAL-1, VAL-2: rosters.services.roster_entries_delete
says why). These services never write roster_version themselves.
"""
from __future__ import annotations

import logging
from dataclasses import replace

from django.db import transaction

from enrollment.models import Batch
from enrollment.services import batch_locked, batch_transition
from enrollment.states import BatchAction, BatchState
from mutualaid.audit import acting_as
from mutualaid.tasks import enqueue_on_commit

from .models import ValidationRun
from .errors import RosterError
from .rules import (
    ValidationOutcome,
    blocking_reasons_of,
    check_attachments,
    check_headcount,
    check_ratio,
    roster_findings,
    validate_roster,
    validation_steps_total,
)
from mutualaid.jobs import JobStatus, job_fail, job_finish, job_heartbeat, job_run

logger = logging.getLogger(__name__)

ACTION = BatchAction.VALIDATE.label  # 操作日志: 清册校验
FAILED_UNEXPECTEDLY = "清册校验失败：系统处理时出错，参保清册未改变。请重新点击【清册校验】；如仍失败，请联系技术支持（校验编号 {id}）。"


def validation_start(*, batch: Batch, acting_user) -> ValidationRun:
    """【清册校验】 (SPEC BAT-4): move the batch to 清册校验中, create a queued run for its current roster
    version and start rosters.tasks.run_validation once this commits (eagerly in the demo and tests).

    Requires that the batch's state allows 清册校验 (清册待校验 or 清册校验不通过; a double click finds it
    清册校验中 and is refused). Raises EnrollmentError (a RosterError for a deleted batch) with the
    message to show otherwise."""
    from .tasks import run_validation  # tasks import this module

    with transaction.atomic():
        # Both states that allow 清册校验 may move to 清册校验中: the transition cannot be refused.
        locked = batch_locked(batch, action=BatchAction.VALIDATE, error=RosterError)
        batch_transition(batch=locked, to=BatchState.VALIDATING, acting_user=acting_user, action=ACTION)
        # The new run supersedes any earlier result: 清册提交 waits for it (SPEC BAT-4).
        Batch.objects.filter(pk=locked.pk).update(validated_version=None)
        with acting_as(acting_user):
            run = ValidationRun.objects.create(
                batch=locked,
                roster_version=locked.roster_version,
                steps_total=validation_steps_total(),
                started_by=acting_user,
            )
        enqueue_on_commit(run_validation, run.pk)
    batch.state, batch.validated_version = locked.state, None
    return run


def _progress_writer(run: ValidationRun):
    def progress(done: int, total: int) -> None:
        job_heartbeat(run, steps_done=done, steps_total=total)

    return progress


def validation_run(*, run: ValidationRun) -> ValidationRun:
    """The task's body (SPEC BAT-4): run the rules on the batch's roster, store the outcome on `run`
    and move the batch 清册校验中 → 清册待校验 (nothing blocks: validated_version = run.roster_version,
    【清册提交】 offered) or → 清册校验不通过 (validated_version None), with its 操作日志 row.

    Safe to run twice (SPEC SEC-2, mutualaid.jobs): a finished run is left alone, a run whose worker
    died is taken over, and the result is written only by the attempt that holds the run. A failure
    is stored on the run (its Chinese message in `error`), and the batch goes back to 清册待校验 with
    the message in its 操作日志 (validation_failed). Raises JobBusy while another live worker runs it.
    Returns the run."""
    job_run(ValidationRun, run.pk, validation_work)
    run.refresh_from_db()
    return run


def validation_work(run: ValidationRun) -> None:
    """One attempt at a claimed run (mutualaid.jobs.job_run calls it)."""
    try:
        outcome = validate_roster(batch=run.batch, progress=_progress_writer(run))
    except Exception:
        logger.exception("validation run %s failed", run.pk)
        job_fail(run, FAILED_UNEXPECTEDLY.format(id=run.pk))
        return
    with transaction.atomic():
        job_finish(run, audited=True, findings=outcome.as_json(), blocking=outcome.blocking, steps_done=run.steps_total)
        batch = batch_locked(run.batch, error=RosterError)
        if batch.state == BatchState.VALIDATING:
            to = BatchState.INVALID if outcome.blocking else BatchState.DRAFT
            reason = "；".join(outcome.blocking_reasons) if outcome.blocking else "清册校验完成，可进行【清册提交】"
            batch_transition(batch=batch, to=to, acting_user=run.started_by, action=ACTION, reason=reason)
            validated = None if outcome.blocking else run.roster_version
            Batch.objects.filter(pk=batch.pk).update(validated_version=validated)


def validation_failed(*, run: ValidationRun) -> None:
    """What a failed run means for its batch (ValidationRun.job_failed, inside job_fail's
    transaction): 清册校验中 → 清册待校验 with the run's message in the 操作日志."""
    batch = batch_locked(run.batch, error=RosterError)
    if batch.state == BatchState.VALIDATING:
        batch_transition(batch=batch, to=BatchState.DRAFT, acting_user=run.started_by, action=ACTION, reason=run.error)


def validation_latest(*, batch: Batch) -> ValidationRun | None:
    """The batch's most recent run (queued, running, done or failed), or None before any."""
    return ValidationRun.objects.filter(batch=batch).order_by("-created_at", "-pk").first()


def validation_is_current(*, run: ValidationRun, batch: Batch) -> bool:
    """Is `run` a finished result of the roster as it is now (SPEC VAL preamble)? Adding or removing
    people bumps batch.roster_version and makes it stale; ticks, confirmations and removing the people
    the result lists for removal (VAL-1, VAL-2) do not. Pass a freshly loaded batch."""
    return run.status == JobStatus.DONE and run.batch_id == batch.pk and run.roster_version == batch.roster_version


def validation_outcome(*, run: ValidationRun) -> ValidationOutcome | None:
    """The stored outcome of a finished run (None while it runs or after a failure)."""
    if run.status != JobStatus.DONE or not run.findings:
        return None
    return ValidationOutcome.from_json(run.findings)


def validation_live_outcome(*, batch, outcome: ValidationOutcome, attachments: list | None = None) -> ValidationOutcome:
    """The stored outcome with everything the unit can change without making it stale read again (SPEC
    BAT-4): retired, over-age and unmatched people with their ticks and confirmations, name mismatches,
    attachments, and — since removing the people the result lists keeps it current (VAL-1, VAL-2;
    rosters.services.roster_entries_delete) — the headcount and ratio those removals change. The
    rules' own checks, a handful of aggregate queries; the reference date stays the validated one.
    `attachments`: the batch's attachments if the caller has read them (rules.check_attachments)."""
    counts = roster_findings(batch=batch, on=outcome.reference_date)
    headcount = check_headcount(batch=batch, batch_count=counts.total)
    ratio = check_ratio(batch=batch, headcount=headcount)
    live = replace(
        outcome,
        total=counts.total,
        retired=counts.retired,
        over_age=counts.over_age,
        headcount=headcount,
        ratio=ratio,
        unmatched=counts.unmatched,
        name_mismatches=counts.name_mismatches,
        attachments=check_attachments(batch=batch, headcount=headcount, ratio=ratio, attachments=attachments),
    )
    live.blocking_reasons = blocking_reasons_of(live)
    return live
