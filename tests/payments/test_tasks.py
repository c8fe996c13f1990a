"""The payment reminders' Celery task and its schedule (SPEC PAY-5; STYLE.md §7: thin, safe to run twice)."""
import datetime as dt

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core import mail

from mutualaid.celery import app
from payments.models import PaymentReminder
from payments.tasks import send_payment_reminders
from tests.factories import SHANGHAI
from tests.payments.helpers import CONFIRMED_AT, awaiting_payment_batch

pytestmark = pytest.mark.django_db


def at_nine(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=SHANGHAI)


def test_the_schedule_runs_the_task_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["payment-reminders"]
    assert entry["task"] == "payments.tasks.send_payment_reminders"
    assert entry["task"] in app.tasks  # autodiscovered: the name in the schedule is a real task
    assert entry["schedule"] == crontab(hour=9, minute=0)  # every day at 09:00 (CELERY_TIMEZONE Shanghai)


def test_running_the_task_twice_sends_nothing_twice(handbook_year, django_capture_on_commit_callbacks):
    batch = awaiting_payment_batch(year=handbook_year)
    day_10 = CONFIRMED_AT.date() + dt.timedelta(days=10)

    with time_machine.travel(at_nine(day_10), tick=False), django_capture_on_commit_callbacks(execute=True):
        first = send_payment_reminders.delay()
        second = send_payment_reminders.delay()  # beat ran twice, or two workers took the day's run

    assert (first.get(), second.get()) == (1, 0)
    [email] = mail.outbox
    assert email.to == ["handler@example.com"]
    assert email.subject == f"【上海市职工保障互助会】参保批次{batch.number}请于2023-06-25前缴费"
    assert list(PaymentReminder.objects.values_list("batch", "day")) == [(batch.pk, 10)]


def test_day_14_sends_the_second_reminder_once(handbook_year, django_capture_on_commit_callbacks):
    batch = awaiting_payment_batch(year=handbook_year)
    confirmed = CONFIRMED_AT.date()

    with django_capture_on_commit_callbacks(execute=True):
        for offset in (9, 10, 11, 14, 14, 15):
            with time_machine.travel(at_nine(confirmed + dt.timedelta(days=offset)), tick=False):
                send_payment_reminders.delay()

    assert len(mail.outbox) == 2
    assert sorted(PaymentReminder.objects.filter(batch=batch).values_list("day", flat=True)) == [10, 14]
