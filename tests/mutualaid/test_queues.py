"""SPEC OPS-4: interactive work and bulk work run on separate Celery queues with their own workers."""
from django.conf import settings

from mutualaid.celery import app as celery_app

PROJECT_APPS = ("mutualaid", "accounts", "enrollment", "rosters", "plans", "payments", "receipts", "backoffice")

# What each queue is for (SPEC OPS-4): a person waits for the interactive ones; the bulk ones may wait.
INTENDED = {
    "mutualaid.tasks.ping": "interactive",
    "rosters.tasks.run_roster_import": "interactive",
    "rosters.tasks.run_validation": "interactive",
    "payments.tasks.send_payment_reminders": "interactive",
    "rosters.tasks.load_reference_file": "bulk",
    "mutualaid.tasks.run_export": "bulk",
    "mutualaid.tasks.sweep_jobs": "bulk",
    "mutualaid.tasks.purge_stale_drafts": "bulk",
    "mutualaid.tasks.purge_exports": "bulk",
    "rosters.tasks.purge_roster_uploads": "bulk",
    "enrollment.tasks.sweep_audit_trail": "bulk",
}


def project_tasks() -> set[str]:
    celery_app.loader.import_default_modules()  # autodiscover every app's tasks module
    return {name for name in celery_app.tasks if name.split(".")[0] in PROJECT_APPS}


def routed_queue(name: str) -> str:
    return celery_app.amqp.router.route({}, name)["queue"].name


def test_every_task_of_the_portal_is_routed_to_a_named_queue():
    unrouted = sorted(project_tasks() - set(settings.CELERY_TASK_ROUTES))
    assert not unrouted, (
        f"tasks without a queue: {unrouted}. Add each to CELERY_TASK_ROUTES in mutualaid/settings.py "
        "(interactive: a person waits for it; bulk: reference loads, exports, sweeps) and to INTENDED here."
    )


def test_each_task_lands_on_its_intended_queue():
    assert project_tasks() == set(INTENDED), "a task was added or removed: name its queue in INTENDED"
    assert {name: routed_queue(name) for name in INTENDED} == INTENDED


def test_a_task_sent_without_a_route_goes_to_the_interactive_queue():
    assert celery_app.conf.task_default_queue == "interactive"
    assert routed_queue("some.future.task") == "interactive"


def test_the_queues_are_the_two_the_workers_consume():
    assert set(settings.CELERY_QUEUE_NAMES) == {"interactive", "bulk"}
    assert {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()} == {"interactive", "bulk"}
