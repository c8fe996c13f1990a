"""Benchmark of the roster API's import against the page's (SPEC API-2: JSON rows are a row source of the
one importer, not a second importer, so they must cost no more than the page's upload).

    python bench/api.py [--people N] [--year YYYY] [--rows 50000] [--repeat 2] [--reload]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_import,
the database of bench/roster_import.py: its suggested roster of N people is loaded once and kept), Celery
eager (each import's task runs as soon as it is queued, as a worker would), and then, `--repeat` times in
turn, on a fresh draft batch each:

- page: what a browser does — 【上传本地参保名单文件】 (POST of the template .xlsx to the import page's
  upload, through every middleware) and the result page it is sent to, until 处理完成;
- api: what an HR system does — POST /api/v1/batches/{number}/roster/imports/ with the same rows as JSON
  (bench/_rows.py: the very same people and bad rows) and a Bearer token, then GET of the import resource
  until it is done.

Both are timed from the first byte sent to the finished import (the test client: no network, the same
process). Prints a table and, as the last line, one JSON object with api_50000_s, page_50000_s (the best
of the repeats) and ratio (api / page; the goal: at most 1.2).
"""
import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from _common import coverage_year, setup_django  # noqa: E402 - bench/ is on the path
from _rows import roster_rows, rows_document
from roster_import import DEFAULT_DATABASE_URL, _fresh_batch, _load_suggested, _write_file

GOAL_RATIO = 1.2
POLL_LIMIT = 600  # seconds


def _page_import(client, batch, path: Path) -> tuple[float, str]:
    from django.urls import reverse

    upload_url = reverse("rosters:roster_import_upload", kwargs={"number": batch.number})
    started = time.perf_counter()
    with open(path, "rb") as stream:
        response = client.post(upload_url, {"file": stream})
    assert response.status_code == 302, response.status_code
    result_url = response.url
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        page = client.get(result_url)
        assert page.status_code == 200, page.status_code
        text = page.content.decode()
        if "-----处理完成" in text:
            break
        assert time.monotonic() < deadline, "the page's import did not end"
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    summary = text[text.index("-----处理完成"):][:80].split("<")[0]
    return seconds, summary


def _api_import(client, batch, token: str, body: bytes) -> tuple[float, dict]:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    started = time.perf_counter()
    response = client.generic(
        "POST", f"/api/v1/batches/{batch.number}/roster/imports/", body, content_type="application/json", **headers
    )
    assert response.status_code == 202, (response.status_code, response.content[:300])
    location = response["Location"]
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        resource = client.get(location, **headers).json()
        if resource["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, "the API's import did not end"
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    assert resource["status"] == "done", resource
    return seconds, resource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="suggested-roster people (default 1,000,000)")
    parser.add_argument("--year", type=int, default=2031, help="coverage year of the run (as bench/roster_import.py)")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reload", action="store_true", help="load the suggested roster even if it is in place")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="api-bench-"))
    setup_django(media_root=folder / "media", default_database_url=DEFAULT_DATABASE_URL, eager=True)
    import datetime as dt

    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from api.services import api_token_create

    year = coverage_year(args.year)
    known = _load_suggested(
        people=args.people, year=args.year, seed=args.seed, folder=folder, reload=args.reload, sample_size=args.rows
    )
    account, _ = User.objects.get_or_create(username="bench-api", defaults={"role": "unit_admin", "email": "bench-api@example.com"})
    path = folder / f"roster-{args.rows}.xlsx"
    seed = args.seed + 1
    bad = _write_file(path, rows=args.rows, known=known, seed=seed)
    body = rows_document(roster_rows(args.rows, known=known, seed=seed)[0])
    print(f"{args.rows:,} rows ({bad:,} made bad): .xlsx {path.stat().st_size / 1e6:.1f} MB, JSON {len(body) / 1e6:.1f} MB")

    page_client = Client()
    page_client.force_login(account)
    api_client = Client()
    runs = []
    for round_number in range(1, args.repeat + 1):
        for kind in ("page", "api"):
            cache.clear()  # the hourly import quota (SEC-3) is the portal's, not the benchmark's
            batch = _fresh_batch(year=year, account=account, index=int(time.time() * 1000) % 10**9 + len(runs))
            if kind == "page":
                seconds, summary = _page_import(page_client, batch, path)
            else:
                _token, secret = api_token_create(
                    account=account, code_id=batch.code_id, name=f"bench {round_number}", expires_on=dt.date.today() + dt.timedelta(days=30)
                )
                seconds, resource = _api_import(api_client, batch, secret, body)
                summary = resource["summary"]
            runs.append({"round": round_number, "kind": kind, "seconds": seconds, "summary": summary})
            print(f"round {round_number} {kind:<5} {seconds:>7.2f} s  {summary}")
    shutil.rmtree(folder, ignore_errors=True)

    page_s = min(run["seconds"] for run in runs if run["kind"] == "page")
    api_s = min(run["seconds"] for run in runs if run["kind"] == "api")
    ratio = api_s / page_s
    print()
    print(f"{'database':<24}{connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"{'suggested roster':<24}{args.people:>12,} people ({args.year})")
    print(f"{'page (.xlsx), best':<24}{page_s:>10.2f} s")
    print(f"{'api (JSON), best':<24}{api_s:>10.2f} s")
    print(f"{'ratio api / page':<24}{ratio:>10.2f}    (goal <= {GOAL_RATIO})")
    print(json.dumps({f"api_{args.rows}_s": round(api_s, 3), f"page_{args.rows}_s": round(page_s, 3), "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
