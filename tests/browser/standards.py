"""The standards every page the browser journeys visit must meet (SPEC X-5): the Nu Html Checker
(npm's vnu-jar, run once per test session as a local HTTP service with Debian's Java) finds no error,
and axe-core (npm's axe-core, evaluated in the page) finds no critical or serious violation.

`page_ready` calls `check_page` on every page it waits for; the problems of a test are reported when
its page closes, all at once, and the session's totals by page type are printed at the end
(`pytest_terminal_summary` in conftest). The npm packages come from `npm ci` (package.json, run by
.ci/run); without them the checks are off outside CI and a failure under CI=true.
"""
import hashlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from playwright.sync_api import Error as PlaywrightError

NODE_MODULES = Path(settings.BASE_DIR) / "node_modules"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
FAILING_IMPACTS = {"critical", "serious"}
# Moderate in axe, but SPEC X-5 asks for them as well: headings in order.
FAILING_RULES = {"heading-order"}
# A dialog fading in when the page is checked would have its colours measured half transparent: wait
# until the page's finite animations and transitions have ended (a spinner's infinite one never does).
SETTLED = """async () => {
    for (let round = 0; round < 20; round++) {
        await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
        const running = document.getAnimations().filter(
            animation => animation.playState === "running" && animation.effect.getComputedTiming().endTime !== Infinity
        );
        if (!running.length) {
            return;
        }
        await Promise.all(running.map(animation => animation.finished.catch(() => null)));
    }
}"""
# axe only asks for a review when every id of an aria-describedby is missing; a description that
# points at nothing (Django's `<field>_helptext` when the template leaves the help text out) is a fault.
MISSING_REFERENCES = """() => {
    const missing = [];
    for (const attribute of ["aria-describedby", "aria-labelledby", "aria-controls"]) {
        for (const element of document.querySelectorAll(`[${attribute}]`)) {
            for (const id of element.getAttribute(attribute).split(/\\s+/).filter(Boolean)) {
                if (!document.getElementById(id)) {
                    missing.push(`${attribute}="${id}" of <${element.tagName.toLowerCase()} id="${element.id}">`);
                }
            }
        }
    }
    return missing;
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NuChecker:
    """vnu.jar as an HTTP service on a free loopback port: one Java start for the whole session."""

    def __init__(self):
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/?out=json"
        self.process = subprocess.Popen(
            ["java", "-Xss1m", "-cp", str(VNU_JAR), "nu.validator.servlet.Main", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.results = {}  # by the page's digest: the same document is checked once
        self._wait_until_up()

    def _wait_until_up(self):
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Nu Html Checker stopped (exit {self.process.returncode})")
            try:
                self.errors("<!doctype html><html lang=zh><title>up</title></html>")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        raise RuntimeError("the Nu Html Checker did not start within 180 s")

    def errors(self, html: str) -> list[str]:
        digest = hashlib.sha256(html.encode()).hexdigest()
        if digest not in self.results:
            request = urllib.request.Request(
                self.url, data=html.encode(), headers={"Content-Type": "text/html; charset=utf-8"}
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                messages = json.load(response)["messages"]
            self.results[digest] = [
                f"line {message.get('lastLine')}: {message['message']} [{' '.join(message.get('extract', '').split())}]"
                for message in messages
                if message["type"] == "error" or message.get("subType") == "fatal"
            ]
        return self.results[digest]

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@dataclass
class PageTypeTally:
    visits: int = 0
    vnu_errors: int = 0
    axe_violations: int = 0  # critical or serious, counted once per rule and page visit
    axe_nodes: int = 0


@dataclass
class Standards:
    """The session's checker: the Nu service, axe's source, and the tallies by page type."""

    nu: NuChecker
    axe_source: str
    tallies: dict = field(default_factory=lambda: defaultdict(PageTypeTally))

    @classmethod
    def start(cls):
        if not (VNU_JAR.exists() and AXE_JS.exists()):
            if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                raise RuntimeError("CI=true but node_modules lacks vnu-jar or axe-core: run `npm ci`")
            return None
        return cls(nu=NuChecker(), axe_source=AXE_JS.read_text())

    def check(self, page) -> list[str]:
        """The problems of the page as it is now; [] for a page of another origin or not HTML."""
        if not page.url.startswith(page.base_url) or page.evaluate("document.contentType") != "text/html":
            return []
        tally = self.tallies[page_type(page.url)]
        tally.visits += 1
        problems = [f"vnu: {error}" for error in self.nu.errors(served_html(page))]
        tally.vnu_errors += len(problems)
        for violation in self.axe(page):
            tally.axe_violations += 1
            tally.axe_nodes += len(violation["nodes"])
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            problems.append(f"axe {violation['impact']} {violation['id']}: {violation['help']} ({targets})")
        for reference in page.evaluate(MISSING_REFERENCES):
            tally.axe_violations += 1
            problems.append(f"aria: {reference} names no element of the page")
        return [f"{urlsplit(page.url).path}: {problem}" for problem in problems]

    def axe(self, page) -> list[dict]:
        # Evaluated through the DevTools protocol, which the page's Content Security Policy does not
        # restrict (a <script> tag would be refused, as it should be).
        page.evaluate(SETTLED)
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.evaluate(self.axe_source + "\n;0")
        result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        return [
            violation for violation in result
            if violation["impact"] in FAILING_IMPACTS or violation["id"] in FAILING_RULES
        ]

    def summary_lines(self) -> list[str]:
        lines = [f"{'page type':48} {'visits':>6} {'vnu errors':>10} {'axe c+s':>8} {'elements':>8}"]
        for name, tally in sorted(self.tallies.items()):
            lines.append(
                f"{name:48} {tally.visits:>6} {tally.vnu_errors:>10} {tally.axe_violations:>8} {tally.axe_nodes:>8}"
            )
        totals = {
            "page_types": len(self.tallies),
            "visits": sum(t.visits for t in self.tallies.values()),
            "vnu_errors": sum(t.vnu_errors for t in self.tallies.values()),
            "vnu_pages_with_errors": sum(1 for t in self.tallies.values() if t.vnu_errors),
            "axe_critical_serious": sum(t.axe_violations for t in self.tallies.values()),
            "axe_elements": sum(t.axe_nodes for t in self.tallies.values()),
        }
        lines.append(json.dumps(totals))
        return lines


def watch_documents(page):
    """Keep the page's last document response: the Nu Html Checker reads the HTML as served (what the
    scripts change later is axe's to check)."""
    page.document_response = None

    def keep(response):
        if response.frame == page.main_frame and response.request.is_navigation_request():
            page.document_response = response

    page.on("response", keep)


def served_html(page) -> str:
    response = getattr(page, "document_response", None)
    if response is not None and response.url == page.url:
        try:
            return response.text()
        except PlaywrightError:  # the body is no longer kept: the DOM it became
            pass
    return page.content()


def page_type(url: str) -> str:
    """The page's URL name (`enrollment:batch_list`), or its path when it has none."""
    path = urlsplit(url).path
    try:
        return resolve(path).view_name
    except Resolver404:
        return path
