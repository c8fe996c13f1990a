"""What every benchmark under bench/ needs: its own PostgreSQL database, Django set up with DEBUG off
and migrated, a statement counter and a coverage year. Run a benchmark as `python bench/NAME.py`:
Python puts bench/ on the path, so `from _common import …` finds this file."""
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def ensure_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database when it does not exist yet."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django(*, media_root: Path, default_database_url: str, eager: bool = False) -> None:
    """Django on DATABASE_URL (default: the benchmark's own database), uploads and reports of the run in
    `media_root`, DEBUG off (production runs with it off; the debug cursor would keep every statement in
    memory and distort the timings), migrated. `eager`: no broker, tasks run in this process, timed."""
    os.environ.setdefault("DATABASE_URL", default_database_url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mutualaid.settings")
    os.environ["MEDIA_ROOT"] = str(media_root)
    if eager:
        os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    if os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        ensure_database(os.environ["DATABASE_URL"])
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # pages timed with the test client
    call_command("migrate", verbosity=0)


class QueryCounter:
    """Counts the statements sent (connection.execute_wrapper: no debug cursor, no stored SQL)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextlib.contextmanager
def counting():
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def coverage_year(year: int):
    """The coverage year `year`: the handbook's 2023 one shifted, created on first use."""
    from enrollment.models import CoverageYear
    from enrollment.services import coverage_year_copy_shifted

    existing = CoverageYear.objects.filter(year=year).first()
    if existing is not None:
        return existing
    handbook = CoverageYear.objects.get(year=2023)
    return coverage_year_copy_shifted(source=handbook, year=year, centralised_opens_on=dt.date(year, 6, 1))


def services_stop(processes: list[subprocess.Popen], *, timeout: float = 30) -> None:
    """Stop services started with `start_new_session=True` (gunicorn, Celery workers, beat): SIGTERM to
    each one's process group, then SIGKILL to a group still there after `timeout` seconds."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def not_enrolled(ids: list[str], *, year: int) -> list[str]:
    """Those of `ids` nobody has enrolled in `year` (the registry, looked up 20,000 hashes at a time):
    rosters.synthetic's people overlap a generated city's enrolment."""
    from mutualaid.pii import pii_hash
    from rosters.models import EnrolmentRegistry

    hashes = [pii_hash(number) for number in ids]
    held = set()
    for start in range(0, len(hashes), 20_000):
        held.update(EnrolmentRegistry.objects.filter(year=year, id_hash__in=hashes[start:start + 20_000]).values_list("id_hash", flat=True))
    return [number for number, id_hash in zip(ids, hashes) if id_hash not in held]
