"""A real `celery worker` process for the tests marked real_worker (Redis at REDIS_URL)."""
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def worker_start(*, app: str = "mutualaid", pool: str = "solo", **env) -> tuple[str, subprocess.Popen]:
    """Start a worker of `app` with `pool`, listening on a queue of its own and on the portal's two
    queues (SPEC OPS-4: what a task sends without naming a queue, e.g. the job sweep's re-sends, lands
    on interactive or bulk); returns (queue, process). `env` adds to the environment (the test settings marker is dropped: the worker is not a test)."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    environment = {key: value for key, value in os.environ.items() if key != "MUTUALAID_TESTING"}
    environment.update(env)
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", app, "worker",
            "--pool", pool, "--concurrency", "1", "--queues", ",".join([queue, *settings.CELERY_QUEUE_NAMES]), "--hostname", f"{queue}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING",
        ],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return queue, process


def worker_stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
