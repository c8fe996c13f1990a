"""gunicorn's settings for the web service (docker-compose.yml: `gunicorn -c python:mutualaid.gunicorn_conf`).

SPEC OPS-2: with PROMETHEUS_MULTIPROC_DIR set, each worker process writes its metric samples there
and /metrics sums them (prometheus_client.multiprocess). The folder must be empty when the server
starts (samples of an earlier run would be counted again), and a worker that exits leaves its live
gauges behind unless it is marked dead.
"""
import os
import shutil
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 60
# Longer than a person's pause between two pages under the load benchmark (1–3 s): with gunicorn's 2 s, a
# request sent on a kept-alive connection as the server closed it failed (bench/load.py, SPEC OPS-3).
# Behind nginx (README, Deployment) nginx's upstream keepalive is what matters.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
accesslog = "-"


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
