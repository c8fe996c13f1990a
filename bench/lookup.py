"""Benchmark of 参保查询 (SPEC LOOK-1, LOOK-2) with a city's enrolment.

    python bench/lookup.py [--people 6000000] [--people-rows 6000000] [--asks 200]

Sets Django up itself against DATABASE_URL (default postgres://postgres@127.0.0.1:5432/mutualaid_bench_lookup,
created if missing, then migrated), and then:

1. the current coverage year's enrolment (`seed_demo` for the years, then `generate_enrolment --people N
   --people-rows N`: every generated person in a completed batch, with a roster entry holding a mobile
   and a registry row), untimed and kept for the next run;
2. `--asks` people drawn from the rosters (their ID numbers decrypted, as the person would type them)
   and as many ID numbers nobody enrolled;
3. for each enrolled person, as a phone would: step 1 (POST 姓名, 证件类型, 证件号码, captcha — timed, with
   its queries: the look-up, the audit row, the SMS task, which runs in this process here and sends to
   the console back end), step 2 with the code from the SMS (untimed), step 3 the result page (timed,
   with its queries); for each stranger step 1 alone (the neutral path). Each ask comes from its own
   address (REMOTE_ADDR), as phones do, so the per-address limits do not refuse the benchmark.

Prints a table, and as the last line one JSON object with lookup_ms and result_ms (medians of the
enrolled people), neutral_ms (the strangers' step 1), timing_ratio (the slower path's median over the
faster's), and the query counts. The goals: step 1 and the result page each under 50 ms at the median
and under 10 queries; the two paths within 10 % of each other.
"""
import argparse
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from _common import counting, not_enrolled, setup_django  # noqa: E402 - bench/ is on the path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mutualaid_bench_lookup"
CITY = 6_000_000


def _enrolment(*, people: int, people_rows: int) -> int:
    """The current year's enrolment (generated once); returns the year."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from enrollment.selectors import coverage_year_current

    year = coverage_year_current(at=timezone.now())
    if year is None:
        call_command("seed_demo", verbosity=0)
        year = coverage_year_current(at=timezone.now())
    if not get_user_model().objects.filter(username__startswith=f"gen{year.year}_").exists():
        started = time.perf_counter()
        call_command("generate_enrolment", year=year.year, people=people, people_rows=people_rows)
        print(f"generate_enrolment: {time.perf_counter() - started:.0f} s")
    return year.year


def _people(*, year: int, asks: int) -> tuple[list[tuple[str, str]], list[str]]:
    """`asks` enrolled people (ID, name) with a mobile, drawn at random from the year's rosters, and as
    many resident IDs nobody enrolled."""
    from django.db.models import Max

    from rosters.models import RosterEntry
    from rosters.synthetic import resident_ids

    rng = random.Random(5)
    last = RosterEntry.objects.aggregate(last=Max("pk"))["last"] or 0
    enrolled = []
    while len(enrolled) < asks:
        picks = [rng.randrange(1, last + 1) for _ in range(asks * 2)]
        for entry in RosterEntry.objects.filter(pk__in=picks, batch__coverage_year__year=year, id_type="身份证").exclude(mobile_cipher=""):
            enrolled.append((entry.id_number, entry.name))
    strangers = not_enrolled(resident_ids(asks * 20, seed=77, year=year), year=year)
    return enrolled[:asks], strangers[:asks]


def _ask(client, *, number: str, name: str, address: str):
    """Step 1 as a phone sends it: seconds and queries of the request as production serves it — its
    task queued, not run — then the task run here, untimed, as the worker would run it."""
    from unittest import mock

    from lookup import tasks

    data = {"name": name, "id_type": "身份证", "id_number": number, "captcha_0": "bench", "captcha_1": "PASSED"}
    queued = []
    with mock.patch.object(tasks.send_lookup_code, "delay", side_effect=lambda *args: queued.append(args)):
        with counting() as counter:
            started = time.perf_counter()
            response = client.post("/lookup/", data, REMOTE_ADDR=address)
            seconds = time.perf_counter() - started
    assert response.status_code == 302, (response.status_code, response.content[:500])
    assert len(queued) == 1, queued  # SPEC LOOK-2: one task queued on every path
    tasks.send_lookup_code(*queued[0])
    return seconds, counter.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=CITY)
    parser.add_argument("--people-rows", type=int, default=CITY)
    parser.add_argument("--asks", type=int, default=200)
    arguments = parser.parse_args()

    setup_django(media_root=Path(tempfile.mkdtemp(prefix="mutualaid-lookup-")), default_database_url=DEFAULT_DATABASE_URL, eager=True)
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from mutualaid import sms

    year = _enrolment(people=arguments.people, people_rows=arguments.people_rows)
    enrolled, strangers = _people(year=year, asks=arguments.asks)
    settings.CAPTCHA_TEST_MODE = True
    cache.clear()

    lookups, lookup_queries, results, result_queries, neutral, neutral_queries = [], [], [], [], [], []
    warm = Client()
    _ask(warm, number=strangers[0], name="热身", address="10.255.0.1")
    for index, ((number, name), stranger) in enumerate(zip(enrolled, strangers)):
        # Alternate the two paths, so that whatever the machine does weighs on both alike.
        client = Client()
        seconds, queries = _ask(client, number=stranger, name=name, address=f"10.1.{index // 250}.{index % 250 + 1}")
        neutral.append(seconds)
        neutral_queries.append(queries)
        client = Client()
        sms.outbox.clear()
        seconds, queries = _ask(client, number=number, name=name, address=f"10.2.{index // 250}.{index % 250 + 1}")
        lookups.append(seconds)
        lookup_queries.append(queries)
        code = re.search(r"\d{6}", sms.outbox[-1][1]).group(0) if sms.outbox else None
        assert code, f"no SMS for an enrolled person with a mobile ({index})"
        response = client.post("/lookup/code/", {"code": code}, REMOTE_ADDR=f"10.2.{index // 250}.{index % 250 + 1}")
        assert response.status_code == 302, response.status_code
        with counting() as counter:
            started = time.perf_counter()
            response = client.get("/lookup/result/")
            results.append(time.perf_counter() - started)
        assert response.status_code == 200 and "参保" in response.content.decode()
        result_queries.append(counter.count)

    median = {name: statistics.median(values) * 1000 for name, values in (("lookup", lookups), ("neutral", neutral), ("result", results))}
    ratio = max(median["lookup"], median["neutral"]) / min(median["lookup"], median["neutral"])
    print(f"\n{'step':<38} {'median':>8} {'p95':>8} {'queries':>8}")
    for label, values, queries in (
        ("step 1, enrolled (code sent)", lookups, lookup_queries),
        ("step 1, not enrolled (neutral)", neutral, neutral_queries),
        ("step 3, the result page", results, result_queries),
    ):
        p95 = sorted(values)[int(len(values) * 0.95) - 1] * 1000
        print(f"{label:<38} {statistics.median(values) * 1000:>6.1f}ms {p95:>6.1f}ms {max(queries):>8}")
    print(f"timing ratio (slower path over faster): {ratio:.3f}; {len(enrolled)} people of {arguments.people:,} enrolled asked")
    print(json.dumps({
        "lookup_ms": round(median["lookup"], 1),
        "result_ms": round(median["result"], 1),
        "neutral_ms": round(median["neutral"], 1),
        "timing_ratio": round(ratio, 3),
        "lookup_queries": max(lookup_queries),
        "neutral_queries": max(neutral_queries),
        "result_queries": max(result_queries),
        "people": arguments.people,
        "asks": len(enrolled),
    }))


if __name__ == "__main__":
    main()
