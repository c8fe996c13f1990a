"""Browser tests: Playwright for Python driving Debian's Chromium against the live server.

Never `playwright install`: it downloads a browser, and this network has none to give. Screenshots
are written when SCREENSHOTS names a folder (`make screenshots` writes docs/screenshots/).
"""
import datetime as dt
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from enrollment.services import coverage_year_copy_shifted
from tests.browser.standards import Standards, watch_documents
from tests.enrollment.helpers import make_code, make_handler_info
from tests.factories import UserFactory

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the tests
    # around it are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def standards():
    """The Nu Html Checker and axe-core for the whole session (SPEC X-5); None when their npm packages
    are missing outside CI."""
    global SESSION_STANDARDS
    SESSION_STANDARDS = Standards.start()
    yield SESSION_STANDARDS
    if SESSION_STANDARDS:
        SESSION_STANDARDS.nu.close()


SESSION_STANDARDS = None


@pytest.fixture
def new_page(browser, live_server, standards):
    """`new_page(viewport)` opens a page in a context of its own, closed after the test. The standards
    problems met on any of them (see page_ready) fail the test then, all listed."""
    opened = []

    def open_page(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.base_url = live_server.url
        page.standards = standards
        page.standards_problems = []
        watch_documents(page)
        arrive_ready(page)
        opened.append(page)
        return page

    yield open_page
    for page in opened:
        page.context.close()
    problems = list(dict.fromkeys(problem for page in opened for problem in page.standards_problems))
    assert not problems, "pages below the standards of SPEC X-5:\n" + "\n".join(problems)


@pytest.fixture
def page(new_page):
    return new_page()


def pytest_terminal_summary(terminalreporter):
    """The session's standards totals by page type, and the same as JSON in test-artifacts/."""
    if not SESSION_STANDARDS or not SESSION_STANDARDS.tallies:
        return
    lines = SESSION_STANDARDS.summary_lines()
    terminalreporter.write_sep("-", "standards (SPEC X-5): Nu Html Checker errors, axe-core critical+serious")
    for line in lines:
        terminalreporter.write_line(line)
    folder = Path(settings.BASE_DIR) / "test-artifacts"
    folder.mkdir(exist_ok=True)
    (folder / "standards.json").write_text(lines[-1])


@pytest.fixture
def screenshot():
    """`screenshot(page, "name")` saves name.png under $SCREENSHOTS, if set; returns the path or None."""
    folder = os.environ.get("SCREENSHOTS")

    def take(page, name, *, full_page=True):
        if not folder:
            return None
        path = Path(folder) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


def page_ready(page):
    """Wait until the page can be acted on: loaded, its deferred scripts run and htmx has processed the
    data-hx-* attributes (static/js/portal.js then sets <html data-ready>). A heading can be visible before
    that, and a change made then would be lost. The one wait-until-ready of the browser tests: `goto`
    calls it (arrive_ready); call it after a click that navigates when the test acts on the new page."""
    page.wait_for_load_state("load")
    # A page without htmx (about:blank, a download) has nothing to wait for.
    page.wait_for_function("() => document.documentElement.dataset.ready === 'true' || !window.htmx")
    if getattr(page, "standards", None):
        page.standards_problems += page.standards.check(page)


def arrive_ready(page):
    """Every page.goto of the tests waits until the page is ready (page_ready), except one asked for
    wait_until="commit": a test acting on a page whose scripts are still loading, on purpose."""
    goto = page.goto

    def goto_and_wait(url, **options):
        response = goto(url, **options)
        if options.get("wait_until") != "commit":
            page_ready(page)
        return response

    page.goto = goto_and_wait


@pytest.fixture
def current_year(handbook_year):
    """A year whose centralised window is open today (the browser's clock cannot travel with the
    server's: its session cookie would expire in the past)."""
    opens_on = timezone.localdate() - dt.timedelta(days=7)
    return coverage_year_copy_shifted(source=handbook_year, year=opens_on.year, centralised_opens_on=opens_on)


@pytest.fixture
def unit(current_year):
    """A unit administrator whose code has its 经办人填报 saved, in the open window of `current_year`."""
    account = UserFactory(username="cf-batches", first_name="丁一")
    code = make_code(account)
    make_handler_info(code)
    return account


def forget_session(page):
    """Leave the page first, then clear the cookies: a request of the page still in flight (the session
    is saved on every request, SESSION_SAVE_EVERY_REQUEST) would otherwise set the cookie again."""
    page.goto("about:blank")
    page.context.clear_cookies()


def enter_password(page, username, password):
    """The login page's step, as a person types it (captcha test mode: "PASSED")."""
    page.goto(page.base_url + "/accounts/login/")
    page.get_by_label("账号").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_label("验证码").fill("PASSED")  # django-simple-captcha's test mode (CAPTCHA_TEST_MODE)
    page.get_by_role("button", name="登录").click()
    page_ready(page)  # the click waited for the navigation it started to commit


def log_in(page, username, password):
    """Log in through the portal's login page, as a person would; an account with the second factor
    (SPEC SEC-8: every staff account, tests/factories.py enrols them) then types the code its
    authenticator app shows (tests/second_factor.py)."""
    enter_password(page, username, password)
    if page.url.endswith("/accounts/login/verify/"):
        enter_second_factor_code(page, username)


def enter_second_factor_code(page, username):
    """The login's second step: the current code of the account's authenticator device."""
    from accounts.models import User
    from tests.second_factor import confirmed_device, totp_code

    device = confirmed_device(User.objects.get(username=username))
    assert device is not None, f"{username} has no authenticator device: UserFactory enrols staff"
    page.get_by_label("验证码").fill(totp_code(device))
    page.get_by_role("button", name="验证并登录").click()
    page_ready(page)
