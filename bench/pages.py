"""What each page of the deadline mix costs the web process (SPEC OPS-3), measured in-process: CPU
milliseconds (the least of the repeats, and the median) and statements a request, with production's settings (bench/load_settings.py: DEBUG off,
cached templates, sessions in Redis) on bench/load.py's database.

    python bench/pages.py [--repeat 30] [--profile NAME]

bench/load.py's figures under load vary from run to run with what shares the cores; these do not, so
they show what a change to one page saves. Needs PostgreSQL and Redis (REDIS_URL, default
redis://127.0.0.1:6379/12); builds bench/load.py's data when it is missing (≈6 minutes the first time).
One unit (load-u00000) logs in and out, imports a 500-row file into its emptied draft batch and runs
清册校验 (`--repeat`/5 rounds), then every page of a visit is requested `--repeat` times with the test
client; the unit's batches are put back afterwards.
`--profile NAME` (a page's name, e.g. 保障项目选择) prints cProfile's top functions for that page;
`--profile all` those of a visit's pages (each page's profile counted as often as a visit requests it).

Prints the table and, as the last line, a JSON object: {"requests": {name: {"cpu_ms", "queries"}},
"visit_cpu_ms": a visit's web CPU as bench/locustfile.py's UnitAdmin makes it (without the polls and
static files), "weighted_cpu_ms": that a request}. Queries are counted for the pages (0 for the rest).
"""
import argparse
import cProfile
import json
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "load_settings")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("SECRET_KEY", "pages-" + "x" * 60)
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("MUTUALAID_TESTING", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
os.environ.setdefault("SMS_BACKEND", "load_settings.NullSmsBackend")
os.environ.setdefault("PORTAL_BASE_URL", "https://portal.example.org")
os.environ.setdefault("CAPTCHA_TEST_MODE", "1")  # as bench/load.py: a program cannot read the picture

import load  # noqa: E402 - bench/ is on the path; its data and keys
from _common import counting, setup_django  # noqa: E402

# name, path (a: the draft batch, b: the 40-person batch 清册校验通过), requests of that name in a visit
VISIT = [
    ("网上工作平台", "/accounts/platform/", 1),
    ("工作台", "/accounts/platform/workbench/", 1),
    ("经办人信息", "/handler/", 1),
    ("参保批次管理", "/batches/", 3),
    ("查看详情", "/batches/{a}/", 2),
    ("参保清册", "/batches/{a}/roster/", 3),
    ("参保清册 (page, search)", "/batches/{a}/roster/?page=2&name=王", 5),
    ("导入人员名单", "/batches/{a}/roster/import/", 1),
    ("清册校验进度", "/batches/{a}/validation/progress/", 1),
    ("清册校验结果", "/batches/{a}/validation/", 1),
    ("清册校验结果 (无单位社保编码明细)", "/batches/{a}/validation/?tab=unmatched&unmatched=1", 1),
    ("保费一览表", "/plans/{year}/price-table/", 1),
    ("保障项目选择", "/batches/{b}/plans/", 1),
    ("生成保费信息", "POST /batches/{b}/plans/", 1),
    ("保费详细", "/batches/{b}/premium/", 2),
    ("缴费凭证管理", "/vouchers/", 1),
]
# Measured a round at a time (a login, an upload and its validation), once in a visit each.
ONCE_A_VISIT = {"login page": 1, "captcha image": 1, "log in": 1, "log out": 1, "上传本地参保名单文件 (500 rows)": 1, "清册校验": 1}


CAPTCHA_KEY = re.compile(r'name="captcha_0" value="([^"]+)"')
CAPTCHA_IMAGE = re.compile(r'src="(/captcha/image/[^"]+)"')


def _request(client, path: str):
    if path.startswith("POST "):
        return client.post(path[5:], {"op": "generate", "codes": ["A0", "B0", "C0"]})
    return client.get(path)


def _timed(call) -> float:
    started = time.process_time()
    call()
    return time.process_time() - started


def _login_round(client, username: str) -> dict[str, float]:
    """One login as bench/locustfile.py makes it, each request's CPU seconds. `client` is reused with
    its cookies cleared: a new Client builds the middleware again (WhiteNoise scans static/ then)."""
    client.cookies.clear()
    page = []
    times = {"login page": _timed(lambda: page.append(client.get("/accounts/login/")))}
    text = page[0].content.decode()
    times["captcha image"] = _timed(lambda: client.get(CAPTCHA_IMAGE.search(text).group(1)))
    data = {"username": username, "password": load.PASSWORD, "captcha_0": CAPTCHA_KEY.search(text).group(1), "captcha_1": "PASSED"}
    answer = []
    times["log in"] = _timed(lambda: answer.append(client.post("/accounts/login/", data)))
    assert answer[0].status_code == 302, answer[0].status_code
    times["log out"] = _timed(lambda: client.post("/accounts/logout/"))
    return times


def _prepare(client, unit: dict, *, file_index: int) -> dict[str, float]:
    """The draft batch emptied, then 上传本地参保名单文件 (run inside the request, as for 500 rows) and
    【清册校验】 with the task sent to the broker as in production (its work is the worker's: run here
    afterwards, untimed). Each request's CPU seconds."""
    from django.conf import settings

    from mutualaid.celery import app
    from rosters.models import ValidationRun
    from rosters.tasks import run_validation

    load._reset([unit], [])
    times = {}
    with open(unit["files"][file_index], "rb") as upload:
        answer = []
        times["上传本地参保名单文件 (500 rows)"] = _timed(
            lambda: answer.append(client.post(f"/batches/{unit['a']}/roster/import/upload/", {"file": upload}))
        )
    assert answer[0].status_code == 302, answer[0].status_code
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        times["清册校验"] = _timed(lambda: answer.append(client.post(f"/batches/{unit['a']}/validate/")))
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    assert answer[1].status_code == 302, answer[1].status_code
    run_validation.apply(args=[ValidationRun.objects.filter(batch__number=unit["a"]).latest("pk").pk])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--profile", default="")
    arguments = parser.parse_args()
    os.environ.update({"PII_KEY": load.BENCH_PII_KEY, "PII_HASH_KEY": load.BENCH_PII_HASH_KEY})
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "mutualaid-pages"
    setup_django(media_root=work / "media", default_database_url=load.DEFAULT_DATABASE_URL)
    import redis
    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from mutualaid.celery import app

    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    year = load._current_year()
    load._city(year, people=load.CITY_PEOPLE, people_rows=1_000_000)
    unit = load._units(year, count=1)[0]
    client, visitor = Client(), Client()
    client.force_login(User.objects.get(username=unit["username"]))

    samples: dict[str, list[float]] = {}
    queries: dict[str, float] = {}
    combined = None
    try:
        for round_ in range(max(3, arguments.repeat // 5)):
            for name, seconds in [*_login_round(visitor, unit["username"]).items(), *_prepare(client, unit, file_index=round_ % 2).items()]:
                samples.setdefault(name, []).append(seconds)
        for name, template, per_visit in VISIT:
            path = template.format(a=unit["a"], b=unit["b"], year=year.year)
            _request(client, path)  # warm: templates compiled, connections open
            profile = cProfile.Profile() if arguments.profile in (name, "all") else None
            with counting() as counter:
                for _ in range(arguments.repeat):
                    if profile:
                        profile.enable()
                    samples.setdefault(name, []).append(_timed(lambda: _request(client, path)))
                    if profile:
                        profile.disable()
            queries[name] = counter.count / arguments.repeat
            if profile and arguments.profile == name:
                pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
            elif profile:  # --profile all: every page's profile, weighted by its requests in a visit
                for _ in range(per_visit):
                    combined = pstats.Stats(profile) if combined is None else combined.add(profile)
        if combined is not None:
            combined.sort_stats("cumulative").print_stats(70)
            combined.sort_stats("tottime").print_stats(40)
    finally:
        load._reset([unit], [])
        # The validations' tasks that no worker took (the rounds ran them here): their queue emptied.
        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(settings.CELERY_TASK_DEFAULT_QUEUE)

    per_visit = {**{name: count for name, _, count in VISIT}, **ONCE_A_VISIT}
    # The least of the repeats is what the request itself costs: a neighbour on the shared core only ever
    # adds (the median is printed beside it).
    figures = {
        name: {"cpu_ms": round(min(times) * 1000, 1), "median_ms": round(statistics.median(times) * 1000, 1), "queries": round(queries.get(name, 0), 1)}
        for name, times in samples.items()
    }
    weighted = sum(figures[name]["cpu_ms"] * per_visit[name] for name in figures)
    requests = sum(per_visit[name] for name in figures)
    print(f"{'request':36s} {'CPU ms':>8s} {'median':>8s} {'queries':>8s} {'in a visit':>10s}")
    for name, figure in figures.items():
        print(f"{name:36s} {figure['cpu_ms']:8.1f} {figure['median_ms']:8.1f} {figure['queries'] or '':>8} {per_visit[name]:10d}")
    print(f"a visit's {requests} requests: {weighted:.0f} ms of web CPU, {weighted / requests:.1f} ms a request")
    print(json.dumps({"requests": figures, "visit_cpu_ms": round(weighted), "weighted_cpu_ms": round(weighted / requests, 1), "repeat": arguments.repeat}, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
