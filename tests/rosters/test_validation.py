"""【清册校验】 in the background (SPEC BAT-4, VAL, BAT-7): starting a run, the task, its result and
whether that result is still current."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from enrollment.models import Batch, BatchLog
from enrollment.services import EnrollmentError
from enrollment.states import BatchAction, BatchState
from rosters import tasks, validation
from rosters.models import RosterEntry, ValidationRun, WorkStatus
from rosters.errors import RosterError
from rosters.rules import KIND_SITUATION, ValidationOutcome, validation_steps_total
from rosters.services import roster_entries_delete
from rosters.validation import (
    validation_is_current,
    validation_latest,
    validation_outcome,
    validation_run,
    validation_start,
)
from tests.factories import make_batch
from tests.rosters.validation_data import add_people, attach, enrolled_last_year, ss_unit
from mutualaid.jobs import JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(handbook_year):
    """A continuing unit (100 people last year, one SS unit code of 100) with a clean roster of 100."""
    batch = make_batch(year=handbook_year)
    enrolled_last_year(batch, 100)
    ss_unit(batch, "00108537", 100)
    add_people(batch, 100)
    return batch


@pytest.fixture
def user(batch):
    return batch.account


def fresh(batch) -> Batch:
    return Batch.objects.get(pk=batch.pk)


def log_of(batch) -> list[tuple[str, str, str]]:
    return list(BatchLog.objects.filter(batch=batch, action="清册校验").values_list("from_state", "to_state", "reason"))


def run_validation(batch, user, django_capture_on_commit_callbacks) -> ValidationRun:
    """【清册校验】 with the task run as the demo runs it: eagerly, once the start commits."""
    with django_capture_on_commit_callbacks(execute=True):
        run = validation_start(batch=batch, acting_user=user)
    run.refresh_from_db()
    return run


def test_start_moves_the_batch_to_validating_and_queues_a_run_of_its_roster_version(batch, user, django_capture_on_commit_callbacks):
    # SPEC BAT-3: 清册校验中 shows progress only; the task starts once the transaction commits.
    Batch.objects.filter(pk=batch.pk).update(roster_version=7, validated_version=6)
    batch.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = validation_start(batch=batch, acting_user=user)
    assert len(callbacks) == 1
    batch = fresh(batch)
    assert batch.state == BatchState.VALIDATING and batch.actions == [BatchAction.DETAIL]
    assert batch.validated_version is None
    assert (run.status, run.roster_version, run.steps_total, run.steps_done, run.started_by) == (
        JobStatus.QUEUED, 7, validation_steps_total(), 0, user,
    )
    assert log_of(batch) == [(BatchState.DRAFT, BatchState.VALIDATING, "")]
    callbacks[0]()  # the worker picks it up
    run.refresh_from_db()
    assert run.status == JobStatus.DONE and run.steps_done == validation_steps_total()


def test_nothing_blocking_returns_to_draft_with_submit_offered(batch, user, django_capture_on_commit_callbacks):
    # SPEC BAT-4: none → the batch stays 清册待校验 with its result and 【清册提交】.
    run = run_validation(batch, user, django_capture_on_commit_callbacks)
    batch = fresh(batch)
    assert run.status == JobStatus.DONE and not run.blocking and run.finished_at
    assert batch.state == BatchState.DRAFT and batch.validated_version == batch.roster_version == run.roster_version
    assert batch.allows(BatchAction.SUBMIT)
    assert log_of(batch)[-1] == (BatchState.VALIDATING, BatchState.DRAFT, "清册校验完成，可进行【清册提交】")
    outcome = validation_outcome(run=run)
    assert outcome.headcount.this == 100 and outcome.ratio.percent == 100 and not outcome.blocking


def test_a_blocking_finding_makes_the_batch_invalid(batch, user, django_capture_on_commit_callbacks):
    add_people(batch, 2, work_status=WorkStatus.RETIRED)
    run = run_validation(batch, user, django_capture_on_commit_callbacks)
    batch = fresh(batch)
    assert run.blocking and batch.state == BatchState.INVALID and batch.validated_version is None
    assert ValidationOutcome.from_json(run.findings).retired.count == 2
    assert log_of(batch)[-1] == (BatchState.VALIDATING, BatchState.INVALID, "有2位退休人员不能参保，请移除")
    # 清册校验不通过 offers 【清册提交】 (BAT-4: the unit fixes and submits) and 【清册校验】 again.
    assert batch.allows(BatchAction.SUBMIT) and batch.allows(BatchAction.VALIDATE)


def test_an_invalid_batch_validates_again_once_fixed(batch, user, django_capture_on_commit_callbacks):
    retired = add_people(batch, 1, work_status=WorkStatus.RETIRED)
    run_validation(batch, user, django_capture_on_commit_callbacks)
    roster_entries_delete(batch=fresh(batch), entry_ids=[retired[0].pk], acting_user=user)
    second = run_validation(fresh(batch), user, django_capture_on_commit_callbacks)
    batch = fresh(batch)
    assert not second.blocking and batch.state == BatchState.DRAFT and batch.validated_version == second.roster_version
    assert validation_latest(batch=batch) == second


def test_a_missing_attachment_blocks_until_uploaded(handbook_year, django_capture_on_commit_callbacks):
    batch = make_batch(year=handbook_year)
    enrolled_last_year(batch, 100)
    ss_unit(batch, "00108537", 100)
    add_people(batch, 50)
    run = run_validation(batch, batch.account, django_capture_on_commit_callbacks)
    assert run.findings["blocking_reasons"] == ["请上传附件：情况说明（加盖公章）"]
    assert fresh(batch).state == BatchState.INVALID
    attach(batch, KIND_SITUATION.value)
    run = run_validation(fresh(batch), batch.account, django_capture_on_commit_callbacks)
    assert not run.blocking and validation_outcome(run=run).needs_review


@pytest.mark.parametrize(
    "state", [BatchState.VALIDATING, BatchState.IN_REVIEW, BatchState.ROSTER_APPROVED, BatchState.REVIEW_REJECTED]
)
def test_start_is_refused_where_the_state_does_not_offer_it(batch, user, state):
    Batch.objects.filter(pk=batch.pk).update(state=state)
    with pytest.raises(EnrollmentError) as refused:  # the transition table's refusal, not re-wrapped
        validation_start(batch=fresh(batch), acting_user=user)
    label = BatchState(state).label
    assert refused.value.message == f"批次当前状态为“{label}”，不能进行【清册校验】操作。"
    assert not ValidationRun.objects.exists() and fresh(batch).state == state


def test_a_double_click_starts_one_run(batch, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        validation_start(batch=batch, acting_user=user)
        with pytest.raises(EnrollmentError, match="清册校验中"):
            validation_start(batch=batch, acting_user=user)  # the stale page still says 清册待校验
    assert ValidationRun.objects.count() == 1


def test_a_deleted_batch_cannot_be_validated(batch, user):
    number = batch.number
    Batch.objects.filter(pk=batch.pk).delete()
    with pytest.raises(RosterError, match=f"批次 {number} 已删除"):
        validation_start(batch=batch, acting_user=user)


def test_the_task_is_idempotent(batch, user, django_capture_on_commit_callbacks):
    # STYLE.md §7: a second delivery of the message leaves a finished run alone.
    run = run_validation(batch, user, django_capture_on_commit_callbacks)
    first = (run.status, run.findings, run.blocking, run.finished_at)
    assert tasks.run_validation(run.pk) == JobStatus.DONE
    again = validation_run(run=ValidationRun.objects.get(pk=run.pk))
    assert (again.status, again.findings, again.blocking, again.finished_at) == first
    assert len(log_of(batch)) == 2  # 清册待校验 → 清册校验中 → 清册待校验, nothing more
    assert tasks.run_validation(10**9) == "missing"


def test_a_redelivered_running_run_finishes_once(batch, user, django_capture_on_commit_callbacks, settings):
    # SPEC SEC-2: a worker died mid-run (acks_late): the run is still "running" with a stale
    # heartbeat; the next delivery takes it over, runs it from the start and finishes it once.
    with django_capture_on_commit_callbacks(execute=False):
        run = validation_start(batch=batch, acting_user=user)
    stale = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    ValidationRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING, steps_done=3, attempts=1, heartbeat_at=stale)
    assert tasks.run_validation(run.pk) == JobStatus.DONE
    assert tasks.run_validation(run.pk) == JobStatus.DONE
    assert ValidationRun.objects.get(pk=run.pk).attempts == 2
    assert fresh(batch).state == BatchState.DRAFT and len(log_of(batch)) == 2


def test_a_run_delivered_again_beside_its_live_worker_is_not_run_twice(batch, user, django_capture_on_commit_callbacks, monkeypatch):
    # SPEC SEC-2: a fresh heartbeat means a live worker runs it: the second delivery leaves it alone.
    with django_capture_on_commit_callbacks(execute=False):
        run = validation_start(batch=batch, acting_user=user)
    ValidationRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now())
    monkeypatch.setattr(validation, "validate_roster", lambda **kwargs: pytest.fail("ran beside a live worker"))
    assert tasks.run_validation(run.pk) == JobStatus.RUNNING
    current = ValidationRun.objects.get(pk=run.pk)
    assert (current.status, current.attempts) == (JobStatus.RUNNING, 1)
    assert fresh(batch).state == BatchState.VALIDATING


def test_a_failure_is_stored_and_the_batch_goes_back_to_draft(batch, user, django_capture_on_commit_callbacks, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(validation, "validate_roster", broken)
    run = run_validation(batch, user, django_capture_on_commit_callbacks)
    message = f"清册校验失败：系统处理时出错，参保清册未改变。请重新点击【清册校验】；如仍失败，请联系技术支持（校验编号 {run.pk}）。"
    assert (run.status, run.error) == (JobStatus.FAILED, message)
    assert validation_outcome(run=run) is None
    batch = fresh(batch)
    assert batch.state == BatchState.DRAFT and batch.validated_version is None
    assert log_of(batch)[-1] == (BatchState.VALIDATING, BatchState.DRAFT, message)
    assert batch.allows(BatchAction.VALIDATE) and not batch.allows(BatchAction.SUBMIT)
    # Failed runs stay failed: a redelivery does not run them again.
    monkeypatch.undo()
    assert tasks.run_validation(run.pk) == JobStatus.FAILED


def test_progress_is_written_while_the_rules_run(batch, user, django_capture_on_commit_callbacks, monkeypatch):
    seen = []
    real = validation.validate_roster

    def watching(*, batch, progress):
        def spy(done, total):
            progress(done, total)
            current = ValidationRun.objects.get(batch=batch)
            seen.append((current.status, current.steps_done, current.steps_total, Batch.objects.get(pk=batch.pk).state))

        return real(batch=batch, progress=spy)

    monkeypatch.setattr(validation, "validate_roster", watching)
    run_validation(batch, user, django_capture_on_commit_callbacks)
    total = validation_steps_total()  # the roster rules and the hooked ones (SPEC PLAN-3)
    assert seen == [(JobStatus.RUNNING, step, total, BatchState.VALIDATING) for step in range(1, total + 1)]


def test_ticks_and_removing_listed_people_keep_the_result_current_other_removals_make_it_stale(
    batch, user, django_capture_on_commit_callbacks
):
    # SPEC VAL preamble: ticks and confirmations are stored with the entries and do not make the result
    # stale; adding or removing people does — except removing the people the result lists for removal
    # (VAL-1 退休, VAL-2 在职超龄): the unit acts on the result and goes on to 【清册提交】 (BAT-4).
    old = add_people(batch, 2, birth_date=dt.date(1960, 1, 1), still_contributing=True)
    run = run_validation(batch, user, django_capture_on_commit_callbacks)
    batch = fresh(batch)
    assert validation_is_current(run=run, batch=batch) and batch.allows(BatchAction.SUBMIT)
    RosterEntry.objects.filter(pk=old[0].pk).update(still_contributing=False)  # the 社保尚在缴金 tick, off
    RosterEntry.objects.filter(pk=old[0].pk).update(still_contributing=True)  # and on again
    RosterEntry.objects.filter(batch=batch).update(unmatched_confirmed=True)  # 人员确认
    batch = fresh(batch)
    assert validation_is_current(run=run, batch=batch) and batch.allows(BatchAction.SUBMIT)
    roster_entries_delete(batch=batch, entry_ids=[old[0].pk], acting_user=user)  # an over-age person: listed
    batch = fresh(batch)
    assert validation_is_current(run=run, batch=batch) and batch.allows(BatchAction.SUBMIT)
    # Removing the listed one together with someone the result did not list makes it stale.
    someone = RosterEntry.objects.filter(batch=batch).exclude(pk=old[1].pk).first()
    roster_entries_delete(batch=batch, entry_ids=[old[1].pk, someone.pk], acting_user=user)
    batch = fresh(batch)
    assert not validation_is_current(run=run, batch=batch)
    assert batch.state == BatchState.DRAFT and not batch.allows(BatchAction.SUBMIT)


def test_removing_the_listed_retired_people_of_an_invalid_batch_keeps_it_current(
    batch, user, django_capture_on_commit_callbacks
):
    # SPEC VAL-1, BAT-4: 清册校验不通过 because of a retired person; 【移除】 leaves the result current, so
    # the unit goes on to 【清册提交】, which re-runs the rules on the current roster.
    retired = add_people(batch, 1, work_status=WorkStatus.RETIRED)
    run = run_validation(batch, user, django_capture_on_commit_callbacks)
    assert run.blocking and fresh(batch).state == BatchState.INVALID
    roster_entries_delete(batch=fresh(batch), entry_ids=[retired[0].pk], acting_user=user)
    batch = fresh(batch)
    assert validation_is_current(run=run, batch=batch)
    live = validation.validation_live_outcome(batch=batch, outcome=ValidationOutcome.from_json(run.findings))
    assert (live.retired.count, live.total, live.blocking_reasons) == (0, 100, [])
    assert batch.state == BatchState.INVALID and batch.allows(BatchAction.SUBMIT)


def test_a_run_that_is_not_finished_is_not_current(batch, user, django_capture_on_commit_callbacks):
    assert validation_latest(batch=batch) is None
    with django_capture_on_commit_callbacks(execute=False):
        run = validation_start(batch=batch, acting_user=user)
    assert validation_latest(batch=batch) == run
    assert not validation_is_current(run=run, batch=fresh(batch))
    other = make_batch(year=batch.coverage_year)
    assert not validation_is_current(run=run, batch=other)


def test_a_whole_run_costs_the_same_queries_for_20_or_500_people(handbook_year, django_capture_on_commit_callbacks):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (20, 500):
        batch = make_batch(year=handbook_year)
        enrolled_last_year(batch, size)
        ss_unit(batch, f"0010{size:04d}", size)
        add_people(batch, size, ss_unit_code=f"0010{size:04d}")
        add_people(batch, size // 10, work_status=WorkStatus.RETIRED)
        with CaptureQueriesContext(connection) as captured:
            run_validation(fresh(batch), batch.account, django_capture_on_commit_callbacks)
        counts.append(len(captured))
        assert fresh(batch).state == BatchState.INVALID
    assert counts[0] == counts[1]


def test_a_run_that_died_on_its_last_attempt_puts_the_batch_back_and_says_so(batch, user, django_capture_on_commit_callbacks, settings, client):
    # SPEC SEC-2: the sweep fails a run nobody runs any more; the batch leaves 清册校验中 for 清册待校验
    # with the reason in its 操作日志, and the result page shows it.
    from mutualaid.jobs import jobs_sweep

    with django_capture_on_commit_callbacks(execute=False):
        run = validation_start(batch=batch, acting_user=user)
    stale = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    ValidationRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING, attempts=settings.JOB_MAX_ATTEMPTS, heartbeat_at=stale)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == {"requeued": 0, "failed": 1, "scratch_removed": 0}
    message = "清册校验中断（处理程序意外停止），参保清册未改变。请重新点击【清册校验】。"
    assert (ValidationRun.objects.get(pk=run.pk).status, ValidationRun.objects.get(pk=run.pk).error) == (JobStatus.FAILED, message)
    assert fresh(batch).state == BatchState.DRAFT
    assert log_of(batch)[-1] == (BatchState.VALIDATING, BatchState.DRAFT, message)
    client.force_login(user)
    page = client.get(reverse("rosters:validation_result", kwargs={"number": batch.number}))
    assert message in page.content.decode()


def test_the_sweep_runs_a_validation_whose_worker_vanished_to_the_end(batch, user, django_capture_on_commit_callbacks, settings):
    from mutualaid.jobs import jobs_sweep

    with django_capture_on_commit_callbacks(execute=False):
        run = validation_start(batch=batch, acting_user=user)
    stale = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    ValidationRun.objects.filter(pk=run.pk).update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=stale)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == {"requeued": 1, "failed": 0, "scratch_removed": 0}
    assert ValidationRun.objects.get(pk=run.pk).status == JobStatus.DONE
    assert fresh(batch).state == BatchState.DRAFT and len(log_of(batch)) == 2
