"""Celery tasks of 参保查询 (STYLE.md §7: thin, safe to run twice)."""
from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_lookup_code(request_id: int) -> bool:
    """SPEC LOOK-1, LOOK-2: queued by every look-up past step 1; sends the SMS code only for a look-up
    that found its person, nothing for any other (lookup.services.lookup_code_send)."""
    from .services import lookup_code_send

    return lookup_code_send(request_id=request_id)
