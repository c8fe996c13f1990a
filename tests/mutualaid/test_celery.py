"""The Celery app: eager by default in tests, a real worker on Redis for the round trip."""
import uuid

import pytest

from mutualaid.celery import app as celery_app
from mutualaid.tasks import enqueue_on_commit, ping
from tests.celery_worker import worker_start, worker_stop


def test_tasks_are_acknowledged_late_and_requeued_when_a_worker_dies():
    # Idempotent tasks survive a worker crash: the broker redelivers them (STYLE.md §7).
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert celery_app.conf.worker_prefetch_multiplier == 1


def test_only_the_ping_keeps_its_result():
    """Jobs keep their state in their rows (SEC-2); a kept result would subscribe the sending web
    process to its channel in Redis for every task a page sends (SPEC OPS-3)."""
    celery_app.loader.import_default_modules()
    portal_tasks = {name: task for name, task in celery_app.tasks.items() if not name.startswith("celery.")}
    assert len(portal_tasks) >= 10
    keeping = {name for name, task in portal_tasks.items() if not task.ignore_result}
    assert keeping == {"mutualaid.tasks.ping"}


def test_tasks_run_eagerly_in_the_tests():
    assert celery_app.conf.task_always_eager is True
    assert ping.delay("eager").get(timeout=1) == "pong:eager"


@pytest.mark.django_db(transaction=False)
def test_enqueue_on_commit_waits_for_the_commit(django_capture_on_commit_callbacks, monkeypatch):
    started = []
    monkeypatch.setattr(ping, "delay", lambda value: started.append(value))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue_on_commit(ping, "after-commit")
        assert started == []  # nothing runs while the transaction is open
    assert len(callbacks) == 1
    assert started == ["after-commit"]


@pytest.fixture
def real_worker():
    """A real `celery worker` process on REDIS_URL, listening on a queue of its own."""
    queue, process = worker_start()
    celery_app.conf.task_always_eager = False
    try:
        yield queue, process
    finally:
        celery_app.conf.task_always_eager = True
        worker_stop(process)


@pytest.mark.real_worker
def test_a_real_worker_returns_a_task_result_through_redis(real_worker):
    queue, process = real_worker
    assert celery_app.conf.broker_url.startswith("redis://")
    token = uuid.uuid4().hex
    result = ping.apply_async(args=[token], queue=queue)
    try:
        answer = result.get(timeout=60)
    except Exception:
        process.terminate()
        output, _ = process.communicate(timeout=15)
        pytest.fail(f"no answer from the worker; its output:\n{output}")
    assert answer == f"pong:{token}"
    assert result.successful()


@pytest.mark.django_db
def test_the_schedule_purges_stale_attachment_drafts(settings):
    import datetime as dt

    from django.utils import timezone

    from mutualaid.models import Attachment
    from mutualaid.tasks import purge_stale_drafts
    from tests.factories import UserFactory

    assert settings.CELERY_BEAT_SCHEDULE["purge-stale-attachment-drafts"]["task"] == purge_stale_drafts.name
    user = UserFactory()
    old = Attachment.objects.create(uploaded_by=user, draft_token="a" * 32, original_name="old.png", size=1)
    Attachment.objects.filter(pk=old.pk).update(uploaded_at=timezone.now() - dt.timedelta(days=2))
    fresh = Attachment.objects.create(uploaded_by=user, draft_token="b" * 32, original_name="new.png", size=1)

    assert purge_stale_drafts.delay().get() == 1
    assert list(Attachment.objects.values_list("pk", flat=True)) == [fresh.pk]
