"""SPEC OPS-2: Prometheus metrics (prometheus-client).

Under gunicorn each worker process counts its own requests; with PROMETHEUS_MULTIPROC_DIR set (web
only, an empty folder at each start: mutualaid/gunicorn_conf.py) each process writes its samples
to files there and /metrics sums them across processes (prometheus_client.multiprocess). Job counts
and queue depths are read at scrape time, by whichever process answers, so they are never summed.
"""
import ipaddress
import logging
import os
import time

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, REGISTRY

REQUEST_DURATION = Histogram(
    "mutualaid_http_request_duration_seconds",
    "Time to answer a request, by view, method and status class.",
    ["view", "method", "status"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# kombu's Redis transport keeps a queue's messages of priority 0 in the list named after the queue,
# and those of the other priority steps in "<queue>\x06\x16<priority>".
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)

logger = logging.getLogger(__name__)


def status_class(status_code: int) -> str:
    return f"{status_code // 100}xx"


class RequestMetricsMiddleware:
    """Times each request; labelled by the URL name of its view (bounded: never the raw path)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match._func_path) if match else "unresolved"
        REQUEST_DURATION.labels(view, request.method if request.method in _METHODS else "other",
                                status_class(response.status_code)).observe(time.perf_counter() - started)
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def queue_depths() -> dict[str, int]:
    """Messages waiting in each of the portal's Celery queues (SPEC OPS-4), from Redis."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in settings.CELERY_QUEUE_NAMES:
            pipe.llen(queue)
            for priority in _PRIORITY_STEPS:
                pipe.llen(f"{queue}{_PRIORITY_SEPARATOR}{priority}")
        lengths = pipe.execute()
    finally:
        client.close()
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {queue: sum(lengths[i * per_queue:(i + 1) * per_queue]) for i, queue in enumerate(settings.CELERY_QUEUE_NAMES)}


class PortalCollector:
    """Job counts by kind and state (mutualaid.jobs), queue depths and the health checks, at scrape time."""

    def collect(self):
        from django.conf import settings
        from django.db import DatabaseError
        from django.db.models import Count

        from .health import health_checks
        from .jobs import JobStatus, job_models

        # One GROUP BY per job kind: job tables keep weeks of history, not millions of rows.
        jobs = GaugeMetricFamily("mutualaid_jobs", "Jobs by kind and state (mutualaid.jobs).", labels=["kind", "state"])
        try:
            for model in job_models():
                counts = dict(model.objects.values_list("status").annotate(n=Count("pk")).order_by())
                for state in JobStatus.values:
                    jobs.add_metric([model._meta.label_lower, state], counts.get(state, 0))
        except DatabaseError:  # the database away: no counts this scrape; mutualaid_health says why
            logger.warning("job counts for /metrics failed", exc_info=True)
        yield jobs

        if settings.REDIS_URL:
            depth = GaugeMetricFamily("mutualaid_celery_queue_length", "Messages waiting in a Celery queue.", labels=["queue"])
            try:
                for queue, length in queue_depths().items():
                    depth.add_metric([queue], length)
            except Exception:  # Redis away: no depths this scrape; mutualaid_health says why
                logger.warning("queue depths for /metrics failed", exc_info=True)
            yield depth

        health = GaugeMetricFamily("mutualaid_health", "1 when the health check passes, else 0.", labels=["check"])
        for check in health_checks():
            health.add_metric([check.name], 1 if check.ok else 0)
        yield health


def metrics_page() -> bytes:
    """The text exposition: the request metrics of every process (multiprocess mode) or of this one."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(PortalCollector())
    return generate_latest(registry)


class _ThisProcess:
    """The default registry's metrics (this process's requests), inside a registry of the page's own."""

    def collect(self):
        yield from REGISTRY.collect()


def client_in_networks(request, networks) -> bool:
    from .audit import client_ip

    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)
