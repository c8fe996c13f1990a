"""SPEC OPS-2: what /healthz, /healthz/detail and `manage.py health` check.

Each check answers ok or not, with the age of what it looked at. The database and Redis are asked
directly (one cheap round trip each). A worker cannot be asked cheaply from the web, so each worker
stamps the time into the cache (Redis) every HEALTH_STAMP_SECONDS from a timer of its main process
(`WorkerStamp`, a Celery bootstep), one stamp per queue it consumes; beat stamps its own on every
tick of its scheduler (`mutualaid.beat.StampingScheduler`). A stamp older than its threshold
(HEALTH_WORKER_STALE_SECONDS, HEALTH_BEAT_STALE_SECONDS) means the process is dead or stuck.
With Celery eager (the demo, no REDIS_URL) there are no workers and no beat to check.
"""
import dataclasses
import time

from celery import bootsteps
from django.conf import settings
from django.core.cache import cache
from django.db import connection

STAMP_TIMEOUT = 7 * 24 * 3600  # a stamp outlives any threshold; a missing one means "never stamped"


def worker_stamp_key(queue: str) -> str:
    return f"health:worker:{queue}"


BEAT_STAMP_KEY = "health:beat"


@dataclasses.dataclass
class Check:
    name: str
    ok: bool
    age_seconds: float | None = None
    threshold_seconds: float | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        age = None if self.age_seconds is None else round(self.age_seconds, 1)
        return {"name": self.name, "status": "ok" if self.ok else "fail", "age_seconds": age,
                "threshold_seconds": self.threshold_seconds, "detail": self.detail}


def stamp(key: str) -> None:
    cache.set(key, time.time(), timeout=STAMP_TIMEOUT)


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure is the answer, never a 500
        return Check("database", False, detail=type(error).__name__)
    return Check("database", True)


def check_redis() -> Check | None:
    if not settings.REDIS_URL:
        return None
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as error:
        return Check("redis", False, detail=type(error).__name__)
    return Check("redis", True)


def check_stamp(name: str, key: str, threshold: float) -> Check:
    try:
        stamped = cache.get(key)
    except Exception as error:  # the cache is Redis: its failure is the redis check's, said here too
        return Check(name, False, threshold_seconds=threshold, detail=type(error).__name__)
    if stamped is None:
        return Check(name, False, threshold_seconds=threshold, detail="never stamped")
    age = max(0.0, time.time() - float(stamped))
    return Check(name, age <= threshold, age_seconds=age, threshold_seconds=threshold,
                 detail="" if age <= threshold else "stale")


def check_worker(queue: str) -> Check:
    return check_stamp(f"worker:{queue}", worker_stamp_key(queue), settings.HEALTH_WORKER_STALE_SECONDS)


def check_beat() -> Check:
    return check_stamp("beat", BEAT_STAMP_KEY, settings.HEALTH_BEAT_STALE_SECONDS)


def health_checks() -> list[Check]:
    """Every check that applies to this deployment, in order."""
    checks = [check_database()]
    redis_check = check_redis()
    if redis_check is not None:
        checks.append(redis_check)
    if settings.HEALTH_CHECK_CELERY:
        checks.extend(check_worker(queue) for queue in settings.CELERY_QUEUE_NAMES)
        checks.append(check_beat())
    return checks


class WorkerStamp(bootsteps.StartStopStep):
    """A worker's "still alive": every HEALTH_STAMP_SECONDS, from the worker's own timer (it runs in the
    main process whatever the pool), a stamp for each queue the worker consumes."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.timer_entry = None

    def start(self, worker):
        self.stamp_queues(worker)
        self.timer_entry = worker.timer.call_repeatedly(settings.HEALTH_STAMP_SECONDS, self.stamp_queues, (worker,))

    def stop(self, worker):
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    @staticmethod
    def stamp_queues(worker) -> None:
        try:
            for queue in worker.app.amqp.queues.consume_from or worker.app.amqp.queues:
                stamp(worker_stamp_key(queue))
        except Exception:  # Redis away for a moment: the stamp ages, the health check says so
            import logging

            logging.getLogger(__name__).warning("worker health stamp failed", exc_info=True)
