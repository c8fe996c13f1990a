"""The deadline crush's simulated people (SPEC OPS-3), run by bench/load.py: `locust -f bench/locustfile.py`
with LOAD_PLAN naming the JSON file of accounts, batches, files and reviewers that load.py prepared.

- `UnitAdmin`: one visit of a unit administrator (经办人), each visit as another unit (its own account,
  its own quotas): the login page with its captcha image (and, the first time, the styles and scripts a
  browser then keeps), log in, 参保批次管理, the roster, 导入人员名单 with a 500-row file, the import's
  result, 【清册校验】 and its progress (polled while the validation runs; a validation that has ended
  redirects to the result at once), 清册校验结果 once (its tabs switch in the browser) and its list of
  people without an SS unit code, then on the unit's second batch
  保障项目选择 → 【生成保费信息】 and 保费详细, the batch list again, log out. Between pages a person
  reads: 1–3 s.
- `Reviewer`: a reviewer of the association logs in with the second factor (a device whose secret
  load.py set) and works the voucher queue: 待办, the queue, a voucher's page, 【审核通过】.
- `Reader`: logged-in unit administrators reading their pages without pause — the
  saturation figure for reads alone.

load.py names the classes of a run: `UnitAdmin Reviewer` (the mix) or `Reader` (reads alone).

Failures: a status other than the one the page answers a person (200, or the redirect it makes), a page
without what it must show, an import or a validation that does not end within POLL_LIMIT seconds.
"""
import hashlib
import hmac
import itertools
import json
import os
import re
import struct
import time
import uuid
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, between, constant, events, task
from locust.exception import StopUser

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read()) if os.environ.get("LOAD_PLAN") else None
PAUSE = float(os.environ.get("LOAD_PAUSE", "1"))  # scales the people's pauses (the harness's test: 0)
STOP_AFTER = int(os.environ.get("LOAD_STOP_AFTER", "0"))  # stop once this many visits and queue rounds are done
POLL_SECONDS = 1.0  # the pages poll every second (UI.md "Long work")
POLL_LIMIT = 120
HX = {"HX-Request": "true"}

_units = itertools.count()
_reviewers = itertools.count()
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CAPTCHA_KEY = re.compile(r'name="captcha_0" value="([^"]+)"')
CAPTCHA_IMAGE = re.compile(r'src="(/captcha/image/[^"]+)"')
ASSETS = re.compile(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"')
SUBMISSION = re.compile(r'name="submission" value="([^"]+-file)"')
_done = {"visits": 0, "rounds": 0}


def _count(user, kind: str) -> None:
    """With LOAD_STOP_AFTER: the run ends once each kind of person in it has done that many visits
    (unit administrators) or queue rounds (reviewers)."""
    _done[kind] += 1
    kinds = {"UnitAdmin": "visits", "Reviewer": "rounds"}
    counts = user.environment.runner.user_classes_count  # users running now, by class
    running = {kinds[name] for name, count in counts.items() if count and name in kinds}
    if STOP_AFTER and all(_done[each] >= STOP_AFTER for each in running):
        gevent.spawn(user.environment.runner.quit)  # from its own greenlet: quit() kills the users' ones
        # This person starts no next visit: one begun before quit() runs was cut off mid-request, and the
        # harness's test then went on while the test server still answered it (one SQLite connection).
        raise StopUser()


def totp(secret_hex: str, at: float, step: int = 30) -> str:
    """RFC 6238's code of `secret_hex` (six digits, SHA-1) for the time `at`: what the reviewer's app shows."""
    digest = hmac.new(bytes.fromhex(secret_hex), struct.pack(">Q", int(at // step)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def multipart(fields: dict[str, str], file_field: str, file_name: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
        "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n".encode()
        + content + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class PortalUser(FastHttpUser):
    abstract = True
    assets_loaded = False

    def page(self, path: str, *, name: str, must_show: str = "", **kwargs):
        """GET a page as a browser does; fails unless it answers 200 (after redirects) holding `must_show`."""
        with self.client.get(path, name=name, catch_response=True, **kwargs) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} {response.error or ''}")
            elif must_show and must_show not in response.text:
                response.failure(f"without {must_show!r}")
            return response

    def csrf(self, text: str) -> str:
        match = CSRF.search(text or "")
        return match.group(1) if match else ""

    def post_form(self, path: str, data: dict, *, name: str, expect: tuple[int, ...] = (302,), referer: str = ""):
        """POST a form without following the redirect (the page's answer is the redirect)."""
        headers = {"Referer": self.host + (referer or path), "Content-Type": "application/x-www-form-urlencoded"}
        with self.client.post(path, data=urlencode(data, doseq=True), name=name, headers=headers, allow_redirects=False, catch_response=True) as response:
            if response.status_code not in expect:
                response.failure(f"{response.status_code} {response.error or ''}")
            return response

    def log_in(self, username: str, password: str) -> bool:
        login = self.page("/accounts/login/", name="login page", must_show="captcha_0")
        text = login.text or ""
        if not self.assets_loaded:  # the first visit loads styles and scripts; the browser keeps them
            for asset in sorted(set(ASSETS.findall(text))):
                self.page(asset, name="static file")
            self.assets_loaded = True
        image = CAPTCHA_IMAGE.search(text)
        if image:
            self.page(image.group(1), name="captcha image")
        key = CAPTCHA_KEY.search(text)
        response = self.post_form(
            "/accounts/login/",
            {
                "csrfmiddlewaretoken": self.csrf(text), "username": username, "password": password,
                "captcha_0": key.group(1) if key else "", "captcha_1": "PASSED",  # CAPTCHA_TEST_MODE in the bench
            },
            name="log in",
        )
        return response.status_code == 302

    def log_out(self, csrf_from: str) -> None:
        self.post_form("/accounts/logout/", {"csrfmiddlewaretoken": self.csrf(csrf_from)}, name="log out", expect=(302, 200))
        self.client.cookiejar.clear()


class UnitAdmin(PortalUser):
    wait_time = between(1 * PAUSE, 3 * PAUSE)
    weight = 20

    def next_unit(self) -> tuple[dict, str]:
        number = next(_units)
        unit = PLAN["units"][number % len(PLAN["units"])]
        visit = number // len(PLAN["units"])
        return unit, unit["files"][visit % len(unit["files"])]

    def poll(self, path: str, *, name: str, done_header: str) -> bool:
        """Poll a progress block every second, as htmx does, until it answers `done_header`."""
        deadline = time.monotonic() + POLL_LIMIT
        while time.monotonic() < deadline:
            with self.client.get(path, name=name, headers=HX, catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"{response.status_code}")
                    return False
                if response.headers.get(done_header):
                    return True
            time.sleep(POLL_SECONDS)
        return False

    @task
    def visit(self):
        unit, file_path = self.next_unit()
        a, b = unit["a"], unit["b"]
        if not self.log_in(unit["username"], unit.get("password", PLAN["password"])):
            return
        for path, name in (
            ("/accounts/platform/", "网上工作平台"), ("/accounts/platform/workbench/", "工作台"), ("/handler/", "经办人信息"),
            ("/batches/", "参保批次管理"), (f"/batches/{a}/", "查看详情"), (f"/batches/{a}/roster/", "参保清册"),
        ):
            self.page(path, name=name)
            self.wait()
        self.import_file(a, file_path)
        for query in ("", "?page=2", "?page=3", "?name=王", "?page=2&name=王", "?work_status=在职"):
            roster = self.page(f"/batches/{a}/roster/{query}", name="参保清册" + (" (page, search)" if query else ""))
            self.wait()
        validate = self.post_form(f"/batches/{a}/validate/", {"csrfmiddlewaretoken": self.csrf(roster.text)}, name="清册校验", referer=f"/batches/{a}/roster/")
        if validate.status_code == 302 and self.validation_running(a):
            self.poll(f"/batches/{a}/validation/progress/", name="清册校验进度 (poll)", done_header="HX-Redirect")
        # The progress page's redirect (a validation already ended) or its poll's HX-Redirect: the result, once.
        self.page(f"/batches/{a}/validation/", name="清册校验结果", must_show="清册校验结果")
        self.wait()
        # Its four tabs switch in the browser (no request: static/js/validation.js only rewrites the URL);
        # the person then opens the list of people without an SS unit code (a link: a request).
        self.page(
            f"/batches/{a}/validation/?tab=unmatched&unmatched=1", name="清册校验结果 (无单位社保编码明细)",
            must_show="清册校验结果",
        )
        self.wait()
        for path, name in (
            ("/batches/", "参保批次管理"), (f"/batches/{b}/", "查看详情"), (f"/batches/{b}/roster/", "参保清册"),
            (f"/plans/{PLAN['year']}/price-table/", "保费一览表"),
        ):
            self.page(path, name=name)
            self.wait()
        selection = self.page(f"/batches/{b}/plans/", name="保障项目选择", must_show="保障项目选择")
        self.wait()
        self.post_form(
            f"/batches/{b}/plans/",
            {"csrfmiddlewaretoken": self.csrf(selection.text), "op": "generate", "codes": ["A0", "B0", "C0"]},
            name="生成保费信息", expect=(200,),
        )
        self.wait()
        for path, name in ((f"/batches/{b}/premium/", "保费详细"), (f"/batches/{b}/premium/?page=2", "保费详细"), ("/vouchers/", "缴费凭证管理")):
            self.page(path, name=name)
            self.wait()
        batches = self.page("/batches/", name="参保批次管理", must_show=a)
        self.log_out(batches.text)
        _count(self, "visits")

    def validation_running(self, a: str) -> bool:
        """清册校验进度 after 【清册校验】's redirect: the progress page while the validation runs (the person's
        browser then polls it), or a redirect to 清册校验结果 when it has ended already (followed by the
        caller, as the browser follows it)."""
        with self.client.get(
            f"/batches/{a}/validation/progress/", name="清册校验进度", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code not in (200, 302):
                response.failure(f"{response.status_code} {response.error or ''}")
            return response.status_code == 200

    def import_file(self, a: str, file_path: str) -> None:
        """导入人员名单: the page, 【上传本地参保名单文件】 (500 rows), the result (polled while it runs)."""
        page = self.page(f"/batches/{a}/roster/import/", name="导入人员名单")
        self.wait()
        submission = SUBMISSION.search(page.text or "")
        with open(file_path, "rb") as stream:
            body, content_type = multipart(
                {"csrfmiddlewaretoken": self.csrf(page.text), "submission": submission.group(1) if submission else ""},
                "file", os.path.basename(file_path), stream.read(),
            )
        with self.client.post(
            f"/batches/{a}/roster/import/upload/", data=body, name="上传本地参保名单文件 (500 rows)", allow_redirects=False,
            catch_response=True, headers={"Content-Type": content_type, "Referer": self.host + f"/batches/{a}/roster/import/"},
        ) as response:
            result = response.headers.get("Location", "") if response.status_code == 302 else ""
            if not result:
                response.failure(f"{response.status_code}: no import result {response.error or ''}")
                return
        result_page = self.page(result, name="导入结果", must_show="-----信息处理开始-----")
        if "-----处理完成" not in (result_page.text or ""):
            match = re.search(r'data-hx-get="([^"]+/progress/)"', result_page.text or "")
            if match and self.poll(match.group(1), name="导入进度 (poll)", done_header="HX-Refresh"):
                self.page(result, name="导入结果", must_show="-----处理完成")
        self.wait()


class Reviewer(PortalUser):
    wait_time = between(2 * PAUSE, 5 * PAUSE)
    fixed_count = int(os.environ.get("LOAD_REVIEWERS", "4"))

    def on_start(self):
        self.account = PLAN["reviewers"][next(_reviewers) % len(PLAN["reviewers"])]
        self.vouchers = iter(self.account["vouchers"])
        self.signed_in = False

    def sign_in(self) -> bool:
        if not self.log_in(self.account["username"], self.account.get("password", PLAN["password"])):
            return False
        verify = self.page("/accounts/login/verify/", name="两步验证", must_show="验证并登录")
        response = self.post_form(
            "/accounts/login/verify/",
            {"csrfmiddlewaretoken": self.csrf(verify.text), "code": totp(self.account["secret"], time.time())},
            name="两步验证 (code)",
        )
        return response.status_code == 302

    @task
    def work_the_queue(self):
        if not self.signed_in:
            self.signed_in = self.sign_in()
            if not self.signed_in:
                return
        self.page("/backoffice/", name="back office 待办")
        self.wait()
        self.page("/backoffice/payments/voucher/?status__exact=submitted", name="back office voucher queue")
        self.wait()
        voucher = next(self.vouchers, None)
        if voucher is None:
            _count(self, "rounds")
            return
        page = self.page(f"/backoffice/payments/voucher/{voucher}/change/", name="back office voucher page", must_show="审核通过")
        self.wait()
        self.post_form(
            f"/backoffice/payments/voucher/{voucher}/approve/", {"csrfmiddlewaretoken": self.csrf(page.text)},
            name="back office 审核通过", referer=f"/backoffice/payments/voucher/{voucher}/change/",
        )
        _count(self, "rounds")


class Reader(PortalUser):
    """Reads alone, without pause: each simulated person logs in once as its own unit, then reads."""

    wait_time = constant(0)

    def on_start(self):
        self.unit = PLAN["units"][next(_units) % len(PLAN["units"])]
        self.log_in(self.unit["username"], PLAN["password"])

    @task(3)
    def batches(self):
        self.page("/batches/", name="参保批次管理", must_show=self.unit["a"])

    @task(3)
    def roster(self):
        self.page(f"/batches/{self.unit['b']}/roster/", name="参保清册")

    @task(2)
    def premium(self):
        self.page(f"/batches/{self.unit['b']}/premium/", name="保费详细")

    @task(1)
    def selection(self):
        self.page(f"/batches/{self.unit['b']}/plans/", name="保障项目选择", must_show="保障项目选择")


@events.quitting.add_listener
def _on_quitting(environment, **kwargs):
    environment.process_exit_code = 0  # load.py reads the figures and judges them itself
    if os.environ.get("LOAD_SUMMARY"):  # every request counted up to the end (the CSV lags up to 2 s)
        summary = {
            name: {"requests": entry.num_requests, "failures": entry.num_failures}
            for (name, _method), entry in environment.stats.entries.items()
        }
        summary["errors"] = [f"{error.name}: {error.error} × {error.occurrences}" for error in environment.stats.errors.values()] + [
            f"exception: {entry['msg']}" for entry in environment.runner.exceptions.values()
        ]
        with open(os.environ["LOAD_SUMMARY"], "w", encoding="utf-8") as stream:
            json.dump(summary, stream, ensure_ascii=False)
