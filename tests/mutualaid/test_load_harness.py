"""The deadline crush's simulated people (SPEC OPS-3, bench/locustfile.py) against the real pages: one
unit administrator's whole visit and one reviewer's round, run by locust against the test server
without pauses. The benchmark (bench/load.py) trusts these flows: a page that changes its labels,
fields or answers makes this test fail here instead of turning the benchmark's figures into
failures — or, worse, into fast error pages counted as work."""
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.signals import request_started
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from enrollment.models import Batch
from enrollment.states import BatchState
from mutualaid.jobs import JobStatus
from rosters.models import RosterEntry, ValidationRun
from tests.factories import resident_id
from tests.rosters.importfiles import row, template_xlsx

ROOT = Path(__file__).resolve().parents[2]
SECRET = "3132333435363738393031323334353637383930"  # the reviewer's authenticator (RFC 6238's test key)
PEOPLE = 20


def _locust(plan: Path, host: str, out: Path, person: str) -> dict:
    """One simulated person (the test server takes one request at a time on SQLite) until its first
    visit or round ends: locust's figures by request name."""
    environment = {
        **os.environ, "LOAD_PLAN": str(plan), "LOAD_PAUSE": "0", "LOAD_STOP_AFTER": "1", "LOAD_REVIEWERS": "1",
        "LOAD_SUMMARY": str(out / f"{person}.json"), "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "--host", host,
        "-u", "1", "-r", "1", "-t", "60s", "--only-summary", "--loglevel", "WARNING", person,
    ]
    subprocess.run(command, env=environment, check=True, timeout=180, capture_output=True)
    return json.loads((out / f"{person}.json").read_text(encoding="utf-8"))


@pytest.mark.django_db(transaction=True)
def test_a_unit_visit_and_a_reviewer_round_pass_on_the_real_pages(live_server, demo_data, tmp_path):
    demo = User.objects.get(username="demo")
    draft = Batch.objects.get(account=demo, state=BatchState.DRAFT)
    approved = Batch.objects.filter(account=demo, state=BatchState.ROSTER_APPROVED).first()
    reviewer = User.objects.get(username="reviewer")
    TOTPDevice.objects.create(user=reviewer, name="load", key=SECRET, confirmed=True)
    people_before = RosterEntry.objects.filter(batch=draft).count()
    upload = tmp_path / "people.xlsx"
    upload.write_bytes(template_xlsx([row(f"新员工{n}", number=resident_id(dt.date(1990, 1, 1 + n))) for n in range(PEOPLE)]))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({
        "password": "", "year": draft.coverage_year.year,
        "units": [{"username": "demo", "password": "Demo#2026", "a": draft.number, "b": approved.number, "files": [str(upload)]}],
        "reviewers": [{"username": "reviewer", "password": "Review#2026", "secret": SECRET, "vouchers": []}],
    }, ensure_ascii=False))

    received = []  # the requests the test server began to answer
    request_started.connect(lambda **signal: received.append(signal["environ"]["PATH_INFO"]), weak=False, dispatch_uid="load-harness")
    try:
        summary = _locust(plan, live_server.url, tmp_path, "UnitAdmin")
        unit_requests = len(received)
        reviewer_summary = _locust(plan, live_server.url, tmp_path, "Reviewer")
        reviewer_requests = len(received) - unit_requests
    finally:
        request_started.disconnect(dispatch_uid="load-harness")

    assert summary.pop("errors") == [] and reviewer_summary.pop("errors") == []
    # Each person stopped after one visit or round without beginning the next: the server saw only the
    # requests locust counted. A next visit's first request, cut off by the run's end, was still being
    # answered on the SQLite connection the test server shares while this test read the database below.
    assert unit_requests == sum(entry["requests"] for entry in summary.values())
    assert reviewer_requests == sum(entry["requests"] for entry in reviewer_summary.values())
    summary.update(reviewer_summary)
    assert all(entry["failures"] == 0 for entry in summary.values())
    for name in (
        "log in", "captcha image", "参保批次管理", "参保清册", "上传本地参保名单文件 (500 rows)", "导入结果", "清册校验",
        "清册校验结果 (无单位社保编码明细)", "保障项目选择", "生成保费信息", "保费详细", "log out",
        "两步验证 (code)", "back office 待办", "back office voucher queue",
    ):
        assert summary[name]["requests"] >= 1, name
    # The visit did the work, not only fetched pages: the file's people are on the roster, validated.
    assert RosterEntry.objects.filter(batch=draft).count() == people_before + PEOPLE
    draft.refresh_from_db()
    assert draft.state == BatchState.INVALID  # the demo roster holds people to remove (VAL-1, VAL-2)
    assert ValidationRun.objects.filter(batch=draft, status=JobStatus.DONE, roster_version=draft.roster_version).exists()
