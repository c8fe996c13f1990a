"""Browser tests: Playwright for Python driving Debian's Chromium against the live server.

Never `playwright install`: it downloads a browser, and this network has none to give. Screenshots
are written when SCREENSHOTS names a folder (`make screenshots` writes docs/screenshots/).
"""
import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone

from enrollment.services import coverage_year_copy_shifted
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


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.base_url = live_server.url
    arrive_ready(page)
    yield page
    context.close()


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


def log_in(page, username, password):
    """Log in through the portal's login page, as a person would (captcha test mode: "PASSED")."""
    page.goto(page.base_url + "/accounts/login/")
    page.get_by_label("账号").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_label("验证码").fill("PASSED")  # django-simple-captcha's test mode (CAPTCHA_TEST_MODE)
    page.get_by_role("button", name="登录").click()
    page_ready(page)  # the click waited for the navigation it started to commit
