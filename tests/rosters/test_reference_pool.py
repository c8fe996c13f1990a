"""SPEC SEC-2: a reference load's process pool leaves no orphans when the loader dies (SIGKILL)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rosters.reference import pool

REPO_ROOT = Path(__file__).resolve().parents[2]

# A loader stand-in: forks a pool with the loader's own start-up of a worker and gives each worker
# a long chunk (a busy worker does not notice on its own that its parent is gone); each worker prints
# its pid as a file's name in the folder it is given as it starts the chunk.
SCRIPT = """
import multiprocessing, os, sys, time
import django
django.setup()
from rosters.reference import pool

def long_chunk(_):
    open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
    time.sleep(120)

pool = multiprocessing.get_context("fork").Pool(2, initializer=pool._die_with_parent)
pool.map_async(long_chunk, range(2), chunksize=1)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"  # a zombie has died already; nobody has reaped it yet


def test_pool_workers_die_with_the_loader_that_forked_them(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mutualaid.settings"}
    errors, started = tmp_path / "stderr.txt", tmp_path / "workers"
    started.mkdir()
    with open(errors, "w") as stderr:
        loader = subprocess.Popen([sys.executable, "-c", SCRIPT, str(started)], cwd=REPO_ROOT, env=env, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(started.iterdir())) < 2 and loader.poll() is None:
            time.sleep(0.05)
        workers = [int(path.name) for path in started.iterdir()]
        assert len(workers) == 2, f"the loader started {workers}; its errors:\n{errors.read_text()}"
        assert workers and all(_alive(pid) for pid in workers)
        loader.send_signal(signal.SIGKILL)
        loader.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers), "pool workers outlived their loader"
    finally:
        if loader.poll() is None:
            loader.kill()


def test_the_loaders_pool_workers_are_started_to_die_with_it(monkeypatch):
    calls = []
    monkeypatch.setattr(pool, "_die_with_parent", lambda: calls.append(True))
    monkeypatch.setattr(pool, "_ChunkPreparer", lambda context: context)
    pool._pool_start("context")
    assert calls == [True] and pool._worker_preparer == "context"
