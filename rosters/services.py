"""Roster services (SPEC ROS): the writes on a batch's people.

Every service here checks the batch's state itself (SPEC BAT-3, BAT-8: not just the buttons), takes
`acting_user`, and writes one audit event per operation with its counts (SPEC X-2). Imports live in
rosters/importer.py and use the same helpers.
"""
from auditlog.models import LogEntry
from django.db import transaction
from django.db.models import F

from enrollment.models import Batch
from enrollment.services import EnrollmentError, batch_check_action
from enrollment.states import BatchAction
from mutualaid.audit import acting_as

from .reference import RosterError  # the app's one domain error (STYLE.md §2)


def roster_lock_for_edit(*, batch: Batch) -> Batch:
    """Lock the batch row and check that its roster may change now (SPEC BAT-3, BAT-8). Call inside
    a transaction; returns the locked batch. Raises RosterError naming the state otherwise."""
    locked = Batch.objects.select_for_update().get(pk=batch.pk)
    try:
        batch_check_action(batch=locked, action=BatchAction.EDIT_ROSTER)
    except EnrollmentError:
        raise RosterError(
            f"批次当前状态为“{locked.get_state_display()}”，参保清册不能修改。"
        ) from None
    return locked


def roster_version_bump(*, batch: Batch) -> None:
    """People were added or removed: a stored validation result is now stale (SPEC VAL preamble)."""
    Batch.objects.filter(pk=batch.pk).update(roster_version=F("roster_version") + 1)


def roster_audit(*, batch: Batch, acting_user, action: str, **counts) -> None:
    """One audit event on `batch` for a roster operation (SPEC X-2): who (the actor), when, what
    (`action`, e.g. "导入参保人员") and its counts (e.g. added=12, updated=3)."""
    changes = {"参保清册": [action, ", ".join(f"{key}={value}" for key, value in counts.items())]}
    with acting_as(acting_user):
        LogEntry.objects.log_create(
            batch, force_log=True, action=LogEntry.Action.UPDATE, changes=changes, actor=acting_user
        )


def roster_entries_of(*, batch: Batch):
    """The batch's roster entries, in the order they were added."""
    from .models import RosterEntry

    return RosterEntry.objects.filter(batch=batch).order_by("pk")


@transaction.atomic
def roster_entries_delete(*, batch: Batch, entry_ids: list[int], acting_user) -> int:
    """【删除】 / 【批量删除】 (SPEC ROS-6, ROS-7): remove these entries of this batch (ids of other
    batches are ignored). Returns how many were removed. Raises RosterError if the state forbids it."""
    locked = roster_lock_for_edit(batch=batch)
    deleted, _ = roster_entries_of(batch=locked).filter(pk__in=entry_ids).delete()
    if deleted:
        roster_version_bump(batch=locked)
        roster_audit(batch=locked, acting_user=acting_user, action="删除参保人员", removed=deleted)
    return deleted
