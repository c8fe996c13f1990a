"""SPEC OPS-2: /healthz asks the database, Redis, each queue's worker and beat; operators see the detail."""
import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from mutualaid import health
from mutualaid.beat import StampingScheduler
from tests.factories import UserFactory
from tests.second_factor import PortalClient

OUTSIDE = "203.0.113.9"


@pytest.fixture
def celery_checked(settings):
    """A deployment with workers and beat (the tests run Celery eagerly: nothing to check there)."""
    settings.HEALTH_CHECK_CELERY = True
    settings.HEALTH_WORKER_STALE_SECONDS = 90
    settings.HEALTH_BEAT_STALE_SECONDS = 90
    cache.delete_many([health.worker_stamp_key(queue) for queue in settings.CELERY_QUEUE_NAMES] + [health.BEAT_STAMP_KEY])
    yield settings
    cache.delete_many([health.worker_stamp_key(queue) for queue in settings.CELERY_QUEUE_NAMES] + [health.BEAT_STAMP_KEY])


def stamp_at(key: str, seconds_ago: float) -> None:
    cache.set(key, time.time() - seconds_ago, timeout=health.STAMP_TIMEOUT)


def all_fresh():
    for queue in ("interactive", "bulk"):
        stamp_at(health.worker_stamp_key(queue), 5)
    stamp_at(health.BEAT_STAMP_KEY, 5)


@pytest.mark.django_db
def test_healthz_passes_with_fresh_stamps_of_both_workers_and_beat(client, celery_checked):
    all_fresh()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_fails_with_a_stale_worker_stamp_and_names_it(client, celery_checked):
    all_fresh()
    stamp_at(health.worker_stamp_key("bulk"), 91)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "failing": ["worker:bulk"]}


@pytest.mark.django_db
def test_healthz_fails_when_beat_never_stamped_or_is_stale(client, celery_checked):
    for queue in ("interactive", "bulk"):
        stamp_at(health.worker_stamp_key(queue), 1)
    assert client.get("/healthz").json() == {"status": "fail", "failing": ["beat"]}
    stamp_at(health.BEAT_STAMP_KEY, 120)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["beat"]


@pytest.mark.django_db
def test_healthz_fails_when_redis_does_not_answer(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "fail", "failing": ["redis"]}


@pytest.mark.django_db
def test_healthz_asks_the_configured_redis(client, settings):
    if not settings.REDIS_URL:
        pytest.skip("no REDIS_URL: the Redis check does not apply (the demo)")
    assert client.get("/healthz").status_code == 200
    assert [check.name for check in health.health_checks()][:2] == ["database", "redis"]


@pytest.mark.django_db
def test_the_detail_gives_each_check_its_status_and_age_to_the_operators_network(client, celery_checked):
    all_fresh()
    stamp_at(health.BEAT_STAMP_KEY, 300)
    response = client.get("/healthz/detail", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 503
    checks = {check["name"]: check for check in response.json()["checks"]}
    assert checks["database"]["status"] == "ok"
    assert checks["worker:interactive"]["status"] == "ok"
    assert 4 <= checks["worker:interactive"]["age_seconds"] <= 10
    assert checks["beat"] == {"name": "beat", "status": "fail", "age_seconds": pytest.approx(300, abs=5),
                              "threshold_seconds": 90, "detail": "stale"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_detail_is_not_found_outside_the_networks_even_for_a_logged_in_unit(client, celery_checked):
    assert client.get("/healthz/detail", REMOTE_ADDR=OUTSIDE).status_code == 404
    unit = PortalClient()
    unit.force_login(UserFactory(role="unit_admin"))
    assert unit.get("/healthz/detail", REMOTE_ADDR=OUTSIDE).status_code == 404
    # a forwarded loopback address is the client's word, not a proxy's (no AXES_IPWARE_PROXY_COUNT)
    assert client.get("/healthz/detail", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 404


@pytest.mark.django_db
def test_staff_read_the_detail_from_anywhere(celery_checked):
    all_fresh()
    staff = PortalClient()
    staff.force_login(UserFactory(role="reviewer", is_staff=True))
    response = staff.get("/healthz/detail", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_the_health_command_checks_one_workers_stamp_or_beats(celery_checked, capsys):
    stamp_at(health.worker_stamp_key("interactive"), 3)
    call_command("health", worker="interactive")
    assert "worker:interactive: ok" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("health", worker="bulk")  # never stamped
    stamp_at(health.BEAT_STAMP_KEY, 200)
    with pytest.raises(CommandError):
        call_command("health", beat=True)


def test_a_worker_stamps_each_queue_it_consumes(celery_checked):
    worker = SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={"bulk": object()}))))
    health.WorkerStamp.stamp_queues(worker)
    assert health.check_worker("bulk").ok
    assert not health.check_worker("interactive").ok


def test_beats_scheduler_stamps_its_time_on_a_tick(celery_checked, monkeypatch):
    from django_celery_beat.schedulers import DatabaseScheduler

    monkeypatch.setattr(DatabaseScheduler, "tick", lambda self, *args, **kwargs: 5.0)
    scheduler = object.__new__(StampingScheduler)  # no database schedule needed for the stamp
    assert not health.check_beat().ok
    assert scheduler.tick() == 5.0
    assert health.check_beat().ok


@pytest.mark.real_worker
def test_a_real_worker_stamps_the_queues_it_consumes_in_redis(settings):
    if not settings.REDIS_URL:
        pytest.skip("a real worker needs Redis (REDIS_URL)")
    from django.core.cache.backends.redis import RedisCache

    from tests.celery_worker import worker_start, worker_stop

    shared = RedisCache(settings.REDIS_URL, {})  # the worker's cache (the tests' own is in memory)
    keys = [health.worker_stamp_key(queue) for queue in settings.CELERY_QUEUE_NAMES]
    shared.delete_many(keys)
    queue, process = worker_start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline and shared.get(health.worker_stamp_key(queue)) is None:
            time.sleep(0.5)
        stamps = {key: shared.get(key) for key in [*keys, health.worker_stamp_key(queue)]}
    finally:
        worker_stop(process)
    assert all(stamped is not None and time.time() - stamped < 60 for stamped in stamps.values()), stamps
