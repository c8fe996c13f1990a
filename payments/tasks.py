"""Celery tasks of the payments app (STYLE.md §7: thin, safe to run twice)."""
from celery import shared_task


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_payment_reminders() -> int:
    """SPEC PAY-5: the daily reminder run (CELERY_BEAT_SCHEDULE "payment-reminders"). Safe to run
    twice, or on two workers at once: payment_reminders_send records each (batch, day) under a unique
    constraint, so a handler gets each reminder once. Returns how many reminders were sent."""
    from .services import payment_reminders_send

    return payment_reminders_send()
