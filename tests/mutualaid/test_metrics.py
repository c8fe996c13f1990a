"""SPEC OPS-2: Prometheus metrics on /metrics, 404 outside the configured networks, summed across
gunicorn's worker processes (prometheus_client multiprocess mode)."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, multiprocess

from mutualaid import metrics
from mutualaid.models import ExportJob
from tests.factories import UserFactory

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = "203.0.113.9"


def sample(text: str, name: str, **labels) -> float | None:
    """The value of the sample `name{labels}` in an exposition, or None."""
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
        if not labels and line.startswith(f"{name} "):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.django_db
def test_metrics_answer_the_loopback_with_latency_jobs_and_health(client):
    client.get("/healthz")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert sample(text, "mutualaid_http_request_duration_seconds_count", view="healthz", method="GET", status="2xx") >= 1
    assert "mutualaid_http_request_duration_seconds_bucket{" in text
    assert sample(text, "mutualaid_jobs", kind="rosters.rosterimport", state="running") == 0
    assert sample(text, "mutualaid_health", check="database") == 1


@pytest.mark.django_db
def test_job_counts_are_by_kind_and_state(client):
    owner = UserFactory(role="unit_admin")
    for status in ("queued", "queued", "done"):
        ExportJob.objects.create(owner=owner, kind="roster", title="清册", status=status)
    text = client.get("/metrics").content.decode()
    assert sample(text, "mutualaid_jobs", kind="mutualaid.exportjob", state="queued") == 2
    assert sample(text, "mutualaid_jobs", kind="mutualaid.exportjob", state="done") == 1
    assert sample(text, "mutualaid_jobs", kind="mutualaid.exportjob", state="failed") == 0


@pytest.mark.django_db
def test_metrics_are_not_found_outside_the_networks(client):
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 404
    # X-Forwarded-For is the client's own word unless AXES_IPWARE_PROXY_COUNT says a proxy sets it
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 404


@pytest.mark.django_db
def test_the_allowed_networks_are_a_setting(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "fd00::/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="fd00::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200


@pytest.mark.django_db
def test_ipv6_loopback_is_allowed_by_default(client):
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_queue_depths_count_every_priority_list_of_each_queue(settings):
    if not settings.REDIS_URL:
        pytest.skip("queue depths are read from Redis (REDIS_URL)")
    import redis

    queue = f"test-depth-{uuid.uuid4().hex[:8]}"
    settings.CELERY_QUEUE_NAMES = (queue,)
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.rpush(queue, "a", "b")
        client.rpush(f"{queue}\x06\x166", "c")
        assert metrics.queue_depths() == {queue: 3}
    finally:
        client.delete(queue, f"{queue}\x06\x166")
        client.close()


def observe_in_another_process(folder: Path, seconds: float) -> None:
    code = (
        "from mutualaid.metrics import REQUEST_DURATION\n"
        f"REQUEST_DURATION.labels('portal:home', 'GET', '2xx').observe({seconds})\n"
    )
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=environment, check=True, timeout=60)


def test_two_processes_samples_are_summed(tmp_path):
    observe_in_another_process(tmp_path, 0.2)
    observe_in_another_process(tmp_path, 3.0)
    assert len(list(tmp_path.glob("*.db"))) == 2  # one file per process

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    labels = {"view": "portal:home", "method": "GET", "status": "2xx"}
    assert registry.get_sample_value("mutualaid_http_request_duration_seconds_count", labels) == 2
    assert registry.get_sample_value("mutualaid_http_request_duration_seconds_sum", labels) == pytest.approx(3.2)
    assert registry.get_sample_value("mutualaid_http_request_duration_seconds_bucket", {**labels, "le": "0.25"}) == 1


@pytest.mark.django_db
def test_the_page_sums_the_processes_in_multiprocess_mode(client, tmp_path, monkeypatch):
    observe_in_another_process(tmp_path, 0.2)
    observe_in_another_process(tmp_path, 0.3)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = client.get("/metrics").content.decode()
    assert sample(text, "mutualaid_http_request_duration_seconds_count", view="portal:home", method="GET", status="2xx") == 2
    assert sample(text, "mutualaid_health", check="database") == 1  # read at scrape time, never summed
