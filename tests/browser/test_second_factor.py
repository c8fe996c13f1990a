"""A reviewer's second factor (SPEC SEC-8) in Chromium: enrolment at the first login (the secret read
off the page, the code computed from it as an authenticator app would), sign out, sign in with a
code, then with a backup code — which works once."""
import base64
import re
import time

import pytest
from django_otp.oath import TOTP

from tests.browser.conftest import enter_password, log_in, page_ready
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"


def app_code(secret: str, after_step: int = -1) -> tuple[str, int]:
    """The code an authenticator app shows for `secret` (base32, as typed in by hand), and its time
    step; a step after `after_step` (django-otp takes each code once; it accepts the next one too)."""
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    totp = TOTP(key)
    totp.time = time.time()
    step = max(totp.t(), after_step + 1)
    totp.time = step * totp.step
    return f"{totp.token():06d}", step


def sign_out(page):
    page.locator("#logout-form button").click()
    page_ready(page)
    page.wait_for_url("**/accounts/login/")


def test_a_reviewer_enrols_signs_in_with_a_code_then_with_a_backup_code(new_page, screenshot):
    UserFactory(username="reviewer-li", first_name="李审核", role="reviewer", password=PASSWORD, second_factor=False)
    page = new_page()

    # First login: the password, then 绑定身份验证器 with its QR code and the secret as text.
    log_in(page, "reviewer-li", PASSWORD)
    page.wait_for_url("**/accounts/second-factor/enrol/")
    assert page.get_by_role("heading", name="绑定身份验证器").is_visible()
    assert page.get_by_role("img", name=re.compile("二维码")).is_visible()
    secret = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", secret)
    screenshot(page, "second-factor-enrol")

    page.get_by_label("验证码").fill("000000")
    page.get_by_role("button", name="确认绑定").click()
    page_ready(page)
    assert "验证码错误" in page.locator("main").inner_text()

    code, used_step = app_code(secret)
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="确认绑定").click()
    page_ready(page)
    page.wait_for_url("**/accounts/second-factor/backup-codes/")
    codes = page.locator("ul.backup-codes code").all_inner_texts()
    assert len(codes) == 10
    screenshot(page, "second-factor-backup-codes")
    page.get_by_role("link", name="我已保存，继续").click()
    page_ready(page)
    page.wait_for_url("**/backoffice/")
    sign_out(page)

    # Next login: the password, then the code of the app.
    enter_password(page, "reviewer-li", PASSWORD)
    page.wait_for_url("**/accounts/login/verify/")
    code, used_step = app_code(secret, after_step=used_step)
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="验证并登录").click()
    page_ready(page)
    page.wait_for_url("**/backoffice/")
    sign_out(page)

    # The phone is not at hand: a backup code, once.
    for attempt in range(2):
        enter_password(page, "reviewer-li", PASSWORD)
        page.wait_for_url("**/accounts/login/verify/")
        page.get_by_label("验证码").fill(codes[0])
        page.get_by_role("button", name="验证并登录").click()
        page_ready(page)
        if attempt == 0:
            page.wait_for_url("**/backoffice/")
            assert "还剩 9 个" in page.locator("body").inner_text()
            sign_out(page)
    assert page.url.endswith("/accounts/login/verify/")
    assert "验证码错误" in page.locator("main").inner_text()


def test_a_superuser_resets_a_reviewers_device_after_a_confirmation(new_page):
    root = UserFactory(username="root-admin", role="reviewer", is_superuser=True, password=PASSWORD)
    reviewer = UserFactory(username="reviewer-zhao", role="reviewer", password=PASSWORD)
    assert root.is_staff
    page = new_page()
    log_in(page, "root-admin", PASSWORD)  # types the code of its device (tests/browser/conftest.py)
    page.wait_for_url("**/backoffice/")

    page.goto(page.base_url + f"/backoffice/accounts/user/{reviewer.pk}/change/")
    page.get_by_role("link", name="重置两步验证").click()
    page_ready(page)
    assert page.get_by_role("heading", name="重置两步验证：reviewer-zhao").is_visible()
    page.get_by_role("button", name="确认重置").click()
    page_ready(page)
    assert "两步验证已重置" in page.locator("body").inner_text()
    assert page.get_by_role("link", name="重置两步验证").count() == 0
