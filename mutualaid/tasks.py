from celery import shared_task
from django.db import transaction


def enqueue_on_commit(task, *args, **kwargs):
    """Start `task` once the surrounding transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: task.delay(*args, **kwargs))


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=False)
def ping(value: str) -> str:
    """Answer `pong:<value>`; used to check that a worker is alive (health checks, tests)."""
    return f"pong:{value}"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge_stale_drafts() -> int:
    """Remove attachments uploaded for a form that was never submitted (older than a day)."""
    import datetime as dt

    from .attachments import attachments_purge_drafts

    return attachments_purge_drafts(older_than=dt.timedelta(days=1))


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_export(self, job_id: int) -> str:
    """Write the file of the ExportJob `job_id` (mutualaid.exports.export_start queues it). Safe to
    run twice (SPEC SEC-2: mutualaid.jobs). Returns the job's status."""
    from .exports import export_write
    from .jobs import run_job
    from .models import ExportJob

    return run_job(self, ExportJob, job_id, export_write)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def purge_exports() -> int:
    """SPEC X-1: export files hold personal data; jobs and files go after 7 days."""
    from .exports import export_jobs_purge

    return export_jobs_purge()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sweep_jobs() -> dict:
    """SPEC SEC-2: re-queue or fail the jobs nobody runs (mutualaid.jobs.jobs_sweep)."""
    from .jobs import jobs_sweep

    return jobs_sweep()
