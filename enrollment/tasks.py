"""Celery tasks of the enrollment app (STYLE.md §7: thin, safe to run twice)."""
from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_audit_trail() -> dict[str, int]:
    """SPEC SEC-9: the retention sweep (CELERY_BEAT_SCHEDULE "sweep-audit-trail"): deletes only the
    audit rows past their kind's period. Returns how many rows of each table went."""
    from .services import audit_trail_sweep

    return audit_trail_sweep()
