"""The Celery app. Workers: `celery -A mutualaid worker`; schedules: `celery -A mutualaid beat`.

Tasks are thin (STYLE.md §7): they take ids, call a service, are safe to run twice and are started
with `enqueue_on_commit`, so a worker never sees a row that was not committed. Without REDIS_URL
they run eagerly in the web process (the demo).
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mutualaid.settings")

app = Celery("mutualaid")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# SPEC OPS-2: each worker stamps its queues for the health checks (mutualaid.health).
from mutualaid.health import WorkerStamp  # noqa: E402 - the app must exist first

app.steps["worker"].add(WorkerStamp)
