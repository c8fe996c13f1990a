"""The deadline crush (SPEC OPS-3): the portal as deployed — gunicorn, a Celery worker per queue, Redis,
PostgreSQL — on this machine, driven by locust (bench/locustfile.py) on loopback.

    python bench/load.py [--users 120] [--minutes 3] [--ramp 60] [--reads-only] [--workers 4] [--threads 4] [--units 600]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_load,
created if missing, then migrated) and REDIS_URL (default redis://127.0.0.1:6379/11), and then:

1. the data (untimed; kept for the next run): the demo data (`seed_demo`), the current coverage year's
   enrolment at city scale (`generate_enrolment --people 6000000`: ≈150,000 completed batches, their
   premiums and vouchers, with roster rows and registry entries for `--people-rows` people); `--units`
   unit accounts of their own (password, two enrollment codes: a draft batch for the roster work and a
   40-person batch 清册校验通过 for 保障项目选择), two 500-row template files per unit (new people, so
   every import adds people), `--reviewers` reviewers with authenticator devices of known secrets and
   200 vouchers each waiting in their queue. Each run first puts the units' batches and the vouchers
   back as they were (the roster work of the last run removed, quotas as for a new hour);
2. the services, each as production starts it (README, Deployment), with production's settings
   (bench/load_settings.py: DEBUG off, the manifest's static files served by WhiteNoise, only the TLS
   settings off, because the bench talks plain HTTP): gunicorn with `--workers` × `--threads`
   (mutualaid/gunicorn_conf.py, metrics on), `celery worker -Q interactive` (concurrency 2) and
   `-Q bulk` (concurrency 1) and beat; it waits for /healthz (which checks them all);
3. locust headless for `--minutes` (at most 5) after the users started evenly over `--ramp` seconds
   (60: about a visit's length, so that they do not go through their visits in step; figures from
   when every user runs): the mix (`UnitAdmin` visits and `--reviewers` `Reviewer`s) or, with --reads-only,
   `Reader`s reading without pause (saturation);
4. stops everything.

Prints a table by request name and, as the last line, one JSON object with rps, p50_ms, p95_ms,
p99_ms, failures, users (and requests, mode, workers, threads, load average, the web's per-visit
figures). The goal on this 2-core machine with locust on the same cores: at least 100 requests/s of
the mix with 0 failures and p95 < 800 ms.
"""
import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import ROOT, not_enrolled, services_stop, setup_django  # noqa: E402 - bench/ is on the path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
DATA = ROOT / "bench" / ".load"  # the generated files, kept between runs (git-ignored)
PASSWORD = "Load#2026crush"
BENCH_PII_KEY = "YmVuY2gtbG9hZC1waWkta2V5LTMyLWJ5dGVzLWxvbmc="  # base64 of 32 bytes
BENCH_PII_HASH_KEY = "bench-load-pii-hash-key"
CITY_PEOPLE = 6_000_000
FILE_ROWS = 500
FILES_PER_UNIT = 2
SMALL_ROSTER = 40
VOUCHERS_PER_REVIEWER = 200
PORT = 8765
MAX_MINUTES = 5
MAX_RAMP_SECONDS = 120
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红建文辉力国春"


# --- 1. data ----------------------------------------------------------------------------------------------


def _current_year():
    from django.core.management import call_command
    from django.utils import timezone

    from enrollment.models import CoverageYear

    now = timezone.now()
    year = CoverageYear.objects.filter(centralised_opens_at__lte=now, centralised_closes_at__gt=now).first()
    if year is None:
        call_command("seed_demo", verbosity=0)
        year = CoverageYear.objects.get(centralised_opens_at__lte=now, centralised_closes_at__gt=now)
    return year


def _city(year, *, people: int, people_rows: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    if get_user_model().objects.filter(username__startswith=f"gen{year.year}_").exists():
        print(f"{year.year}年度: the city's enrolment is in place")
        return
    started = time.perf_counter()
    call_command("generate_enrolment", year=year.year, people=people, people_rows=people_rows)
    print(f"generate_enrolment: {time.perf_counter() - started:.0f} s")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _write_file(path: Path, ids: list[str], rng: random.Random) -> None:
    from openpyxl import Workbook

    from rosters.workbooks import TEMPLATE_HEADER

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("参保名单")
    sheet.append(list(TEMPLATE_HEADER))
    for index, number in enumerate(ids):
        sheet.append([_name(rng), "身份证", number, None, None, f"139{rng.randrange(10**8):08d}" if index % 3 else "", "是"])
    workbook.save(path)


def _units(year, *, count: int) -> list[dict]:
    """`count` units of their own, created once; their files written once."""
    from django.contrib.auth.hashers import get_hasher, make_password
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Role, User
    from enrollment.models import Batch, BatchKind, EnrollmentCode, HandlerInfo, Unit
    from enrollment.services import batch_number_next, code_generate
    from rosters.models import RosterEntry
    from rosters.synthetic import resident_ids

    hashed = make_password(PASSWORD)  # one hash for all: each costs what a login costs
    # Accounts of an earlier run under an older hasher would be re-hashed at their first login.
    User.objects.filter(username__startswith="load-").exclude(password__startswith=get_hasher().algorithm + "$").update(password=hashed)
    DATA.mkdir(exist_ok=True)
    wanted = count * (FILES_PER_UNIT * FILE_ROWS + SMALL_ROSTER)
    ids = None
    units = []
    for index in range(count):
        username = f"load-u{index:05d}"
        files = [DATA / f"{username}-{visit}.xlsx" for visit in range(FILES_PER_UNIT)]
        small = DATA / f"{username}-small.xlsx"
        account = User.objects.filter(username=username).first()
        if account is None or not all(path.exists() for path in [*files, small]):
            if ids is None:
                print(f"writing {count} units' files ({wanted:,} new people)…")
                ids = not_enrolled(resident_ids(wanted * 3, seed=20261206, year=year.year), year=year.year)[:wanted]
            rng = random.Random(index)
            start = index * (FILES_PER_UNIT * FILE_ROWS + SMALL_ROSTER)
            for visit, path in enumerate(files):
                _write_file(path, ids[start + visit * FILE_ROWS:start + (visit + 1) * FILE_ROWS], rng)
            _write_file(small, ids[start + FILES_PER_UNIT * FILE_ROWS:start + FILES_PER_UNIT * FILE_ROWS + SMALL_ROSTER], rng)
        if account is None:
            with transaction.atomic():
                account = User.objects.create(username=username, email=f"{username}@example.com", password=hashed, role=Role.UNIT_ADMIN)
                for letter in "ab":
                    code = EnrollmentCode.objects.create(
                        code=code_generate(), unit_name=f"上海负载测试{index}{letter.upper()}有限公司", account=account,
                        bound_at=timezone.now(), source="approved",
                    )
                    Unit.objects.create(code=code, name=code.unit_name, headcount=600, is_lead=True)
                    HandlerInfo.objects.create(
                        code=code, handler_name=f"经办人{index}", handler_mobile="13900000000", handler_email=account.email,
                        economic_type="私营", address="上海市", industry="I", headcount=600, saved_by=account,
                    )
                    Batch.objects.create(
                        number=batch_number_next(year=year.year, kind=BatchKind.CENTRALISED), coverage_year=year, code=code,
                        unit_name=code.unit_name, account=account, kind=BatchKind.CENTRALISED,
                    )
        a, b = Batch.objects.filter(account=account).order_by("pk")[:2]
        if not RosterEntry.objects.filter(batch=b).exists():
            _small_roster(b, small, account)
        units.append({"username": username, "a": a.number, "b": b.number, "files": [str(path) for path in files]})
    return units


def _small_roster(batch, path: Path, account) -> None:
    """The second batch: 40 people imported through the importer, then 清册校验通过 (as if validated)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from enrollment.models import Batch
    from enrollment.states import BatchState
    from rosters.importer import roster_import_start

    roster_import_start(batch=batch, upload=SimpleUploadedFile(path.name, path.read_bytes()), acting_user=account)
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.ROSTER_APPROVED)


def _reviewers(year, *, count: int) -> list[dict]:
    """Reviewers with authenticator devices of known secrets, and vouchers waiting in the queue."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Role, User
    from payments.models import Voucher

    reviewers = []
    pool = list(
        Voucher.objects.filter(account__username__startswith=f"gen{year.year}_").order_by("pk").values_list("pk", flat=True)[
            : count * VOUCHERS_PER_REVIEWER
        ]
    )
    for index in range(count):
        username = f"load-r{index:03d}"
        secret = f"{index:040x}"[-40:].replace("0", "7")  # 20 bytes, one per reviewer
        account = User.objects.filter(username=username).first()
        if account is None:
            account = User.objects.create_user(username, email=f"{username}@example.com", password=PASSWORD, role=Role.REVIEWER)
            TOTPDevice.objects.create(user=account, name="load", key=secret, confirmed=True)
        reviewers.append({"username": username, "secret": secret, "vouchers": pool[index::count]})
    return reviewers


def _reset(units: list[dict], reviewers: list[dict]) -> None:
    """Every run starts alike: the draft batches empty again, the vouchers waiting again, no quota used."""
    from django.db import connection, transaction

    from enrollment.models import Batch, BatchLog
    from enrollment.states import BatchState
    from payments.models import Voucher, VoucherBatch
    from rosters.models import EnrolmentRegistry, RosterEntry, RosterImport, ValidationRun

    started = time.perf_counter()
    drafts = Batch.objects.filter(number__in=[unit["a"] for unit in units])
    with transaction.atomic():
        EnrolmentRegistry.objects.filter(batch__in=drafts).delete()
        RosterEntry.objects.filter(batch__in=drafts).delete()
        ValidationRun.objects.filter(batch__in=drafts).delete()
        RosterImport.objects.filter(batch__in=drafts).delete()
        # Their 操作日志 too, or 查看详情 would list every earlier run's imports and validations. The log is
        # append-only (SPEC SEC-9: a trigger refuses DELETE); the bench's superuser sets the triggers aside
        # for this transaction only.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            BatchLog.objects.filter(batch__in=drafts).delete()
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        drafts.update(state=BatchState.DRAFT)
        vouchers = [pk for reviewer in reviewers for pk in reviewer["vouchers"]]
        Voucher.objects.filter(pk__in=vouchers).update(status=Voucher.Status.SUBMITTED, reviewed_at=None, reviewed_by=None)
        Batch.objects.filter(pk__in=VoucherBatch.objects.filter(voucher__in=vouchers).values("batch")).update(state=BatchState.PAYMENT_REVIEW)
    with connection.cursor() as cursor:
        # Every table's statistics as autovacuum keeps them in production (on this machine it may be off:
        # then the accounts and codes written in bulk had none, and every unit page's code look-up took
        # the wrong index).
        cursor.execute("ANALYZE")
    print(f"reset the units' batches and {len(vouchers)} vouchers in {time.perf_counter() - started:.1f} s")


# --- 2. services --------------------------------------------------------------------------------------------


def _environment(*, database_url: str, redis_url: str, media: Path, metrics: Path, workers: int, threads: int) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "bench")]),
        "DJANGO_SETTINGS_MODULE": "load_settings",
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "load-" + "x" * 60,
        "PII_KEY": BENCH_PII_KEY,
        "PII_HASH_KEY": BENCH_PII_HASH_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CAPTCHA_TEST_MODE": "1",  # the one shortcut: a program cannot read the picture
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "SMS_BACKEND": "load_settings.NullSmsBackend",
        "PORTAL_BASE_URL": "https://portal.example.org",
        "MEDIA_ROOT": str(media),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "GUNICORN_BIND": f"127.0.0.1:{PORT}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "MUTUALAID_TESTING": "0",
    }


def _start(environment: dict, logs: Path) -> list[subprocess.Popen]:
    binary = Path(sys.executable).parent
    commands = {
        "web": [str(binary / "gunicorn"), "-c", "python:mutualaid.gunicorn_conf", "mutualaid.wsgi"],
        "worker": [str(binary / "celery"), "-A", "mutualaid", "worker", "-Q", "interactive", "-c", "2", "-n", "load-interactive@%h", "--loglevel", "WARNING"],
        "worker-bulk": [str(binary / "celery"), "-A", "mutualaid", "worker", "-Q", "bulk", "-c", "1", "-n", "load-bulk@%h", "--loglevel", "WARNING"],
        "beat": [str(binary / "celery"), "-A", "mutualaid", "beat", "--loglevel", "WARNING", "--schedule", str(logs / "beat-schedule")],
    }
    processes = []
    for name, command in commands.items():
        log = open(logs / f"{name}.log", "w")
        processes.append(subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=5) as response:
                if response.status == 200:
                    return processes
        except OSError:
            pass
        if any(process.poll() is not None for process in processes):
            break
        time.sleep(0.5)
    services_stop(processes)
    raise SystemExit(f"the services did not come up: see {logs}")


# --- 3. locust ----------------------------------------------------------------------------------------------


def _cpu_seconds(processes: list[subprocess.Popen], locust: subprocess.Popen) -> dict[str, float]:
    """CPU seconds used so far by each part: the web (gunicorn and its workers), the Celery workers,
    PostgreSQL, Redis and locust itself."""
    import psutil

    def used(process) -> float:
        """The process's CPU time and that of its children it has reaped (a recycled connection's
        backend, a replaced worker)."""
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return times.user + times.system + times.children_user + times.children_system

    def tree(pid: int) -> float:
        try:
            root = psutil.Process(pid)
            return sum(used(member) for member in [root, *root.children(recursive=True)])
        except psutil.NoSuchProcess:
            return 0.0

    def named(name: str) -> float:
        """Every process of that program: PostgreSQL's postmaster (with the backends it reaped) and its
        live backends; Redis."""
        return sum(used(process) for process in psutil.process_iter(["name"]) if (process.info["name"] or "").startswith(name))

    return {
        "web": tree(processes[0].pid),
        "celery": sum(tree(process.pid) for process in processes[1:]),
        "postgres": named("postgres"),
        "redis": named("redis-server"),
        "locust": tree(locust.pid),
    }


def _locust(*, plan: Path, users: int, minutes: float, ramp: float, classes: list[str], reviewers: int, out: Path, services) -> tuple[list[dict], dict]:
    """Run locust; returns its stats rows (from when every user runs) and the CPU seconds each part
    used over the same span. The users start evenly over `ramp` seconds: started within a few seconds
    of each other they would go through their visits in step (a visit's pauses vary by a few seconds
    only), every login, upload and validation of the run at once, and a short run would count mostly
    the first half of a visit."""
    spawn_rate = round(users / ramp, 3) if ramp else users
    command = [
        str(Path(sys.executable).parent / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
        "--host", f"http://127.0.0.1:{PORT}", "-u", str(users), "-r", str(spawn_rate),
        "-t", f"{int(ramp + minutes * 60)}s", "--reset-stats", "--only-summary", "--csv", str(out / "load"),
        "--loglevel", "WARNING", "--stop-timeout", "30", *classes,
    ]
    environment = {**os.environ, "LOAD_PLAN": str(plan), "LOAD_REVIEWERS": str(reviewers)}
    locust = subprocess.Popen(command, env=environment)
    time.sleep(ramp + 1)  # locust resets its figures once every user runs
    before = after = _cpu_seconds(services, locust)
    started = ended = time.monotonic()
    deadline = started + MAX_MINUTES * 60 + 120
    while locust.poll() is None and time.monotonic() < deadline:
        after, ended = _cpu_seconds(services, locust), time.monotonic()  # the last reading before locust ends
        time.sleep(2)
    locust.wait(timeout=60)
    elapsed = ended - started
    if locust.returncode:
        raise SystemExit(f"locust failed ({locust.returncode})")
    with open(out / "load_stats.csv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    cpu = {part: round((after[part] - before[part]) / elapsed, 2) for part in before}  # cores busy on average
    return rows, cpu


def _failures(out: Path) -> list[dict]:
    path = out / "load_failures.csv"
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--ramp", type=float, default=60, help="seconds over which the users start (about a visit's length)")
    parser.add_argument("--reads-only", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' logs (kept anyway after a failure)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--units", type=int, default=600)
    parser.add_argument("--reviewers", type=int, default=4)
    parser.add_argument("--people", type=int, default=CITY_PEOPLE)
    parser.add_argument("--people-rows", type=int, default=1_000_000)
    arguments = parser.parse_args()
    if arguments.minutes > MAX_MINUTES:
        parser.error(f"--minutes: at most {MAX_MINUTES}")
    if not 0 <= arguments.ramp <= MAX_RAMP_SECONDS:
        parser.error(f"--ramp: from 0 to {MAX_RAMP_SECONDS} seconds")

    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    # The bench's own keys, fixed: the database keeps its data under them from one run to the next, and
    # production's settings refuse the development keys.
    os.environ.update({"PII_KEY": BENCH_PII_KEY, "PII_HASH_KEY": BENCH_PII_HASH_KEY})
    work = Path(tempfile.mkdtemp(prefix="mutualaid-load-"))
    setup_django(media_root=work / "media", default_database_url=DEFAULT_DATABASE_URL, eager=True)
    from django.core.management import call_command

    year = _current_year()
    _city(year, people=arguments.people, people_rows=arguments.people_rows)
    units = _units(year, count=arguments.units)
    reviewers = _reviewers(year, count=arguments.reviewers)
    _reset(units, reviewers)
    plan = work / "plan.json"
    plan.write_text(json.dumps({"password": PASSWORD, "year": year.year, "units": units, "reviewers": reviewers}, ensure_ascii=False))

    environment = _environment(
        database_url=os.environ["DATABASE_URL"], redis_url=redis_url, media=work / "media",
        metrics=work / "metrics", workers=arguments.workers, threads=arguments.threads,
    )
    # The manifest's static files, as the image builds them (DEBUG off).
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=environment, check=True)
    subprocess.run(["redis-cli", "-u", redis_url, "FLUSHDB"], check=True, capture_output=True)  # quotas: a new hour
    processes = _start(environment, work)
    classes = ["Reader"] if arguments.reads_only else ["UnitAdmin", "Reviewer"]
    try:
        rows, cpu = _locust(
            plan=plan, users=arguments.users, minutes=arguments.minutes, ramp=arguments.ramp, classes=classes,
            reviewers=arguments.reviewers, out=work, services=processes,
        )
        load_after = os.getloadavg()[0]
    finally:
        services_stop(processes)

    print(f"\n{'request':<36} {'count':>7} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6} {'req/s':>7}")
    for row in rows:
        print(
            f"{row['Name'][:36]:<36} {int(row['Request Count']):>7} {int(row['Failure Count']):>5} {row['50%']:>6} "
            f"{row['95%']:>6} {row['99%']:>6} {float(row['Requests/s']):>7.1f}"
        )
    for failure in _failures(work)[:10]:
        print(f"failure: {failure.get('Name')}: {failure.get('Error')} × {failure.get('Occurrences')}")
    total = next(row for row in rows if row["Name"] == "Aggregated")
    rps = float(total["Requests/s"])
    print("\ncores busy on average (of 2), and CPU milliseconds per request:")
    for part, cores in cpu.items():
        print(f"  {part:<9} {cores:>5.2f}   {cores / rps * 1000 if rps else 0:>6.1f} ms")
    figures = {
        "rps": round(float(total["Requests/s"]), 1),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
        "failures": int(total["Failure Count"]),
        "users": arguments.users,
        "requests": int(total["Request Count"]),
        "mode": "reads" if arguments.reads_only else "mix",
        "workers": arguments.workers,
        "threads": arguments.threads,
        "minutes": arguments.minutes,
        "ramp_seconds": arguments.ramp,
        "load_average": round(load_after, 2),
        "cores_busy": cpu,
        "cpu_ms_per_request": {part: round(cores / rps * 1000, 1) if rps else None for part, cores in cpu.items()},
    }
    if figures["failures"] or arguments.keep_logs:
        print(f"the services' logs: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
