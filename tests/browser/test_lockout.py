"""The login page and the lockout a unit meets after five wrong passwords (SPEC ACC-1, ACC-4)."""
import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def try_password(page, username, password):
    page.get_by_label("账号").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_label("验证码").fill("PASSED")  # django-simple-captcha's test mode (CAPTCHA_TEST_MODE)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def test_the_login_page(page, screenshot):
    page.goto(page.base_url + "/accounts/login/")

    # SPEC ACC-1: 账号 + 密码 + 验证码 and 【登录】, "原申工通账号可直接使用" under the form.
    for label in ("账号", "密码", "验证码"):
        assert page.get_by_label(label).is_visible()
    assert page.get_by_role("button", name="登录").is_visible()
    assert page.get_by_text("原申工通账号可直接使用").is_visible()
    assert page.locator("img.captcha-image").is_visible()
    screenshot(page, "login", full_page=False)


def test_five_wrong_passwords_lock_the_account_on_this_machine(page, screenshot):
    UserFactory(username="unit-lock", role="unit_admin")
    page.goto(page.base_url + "/accounts/login/")

    for _ in range(4):
        try_password(page, "unit-lock", "wrong-password")
        assert page.get_by_role("alert").first.inner_text().strip() == "账号或密码错误，请重新输入。"
    try_password(page, "unit-lock", "wrong-password")

    # SPEC ACC-4: the (account, address) pair is locked for 15 minutes; even the right password is
    # refused, and the page says for how long and whom to ask.
    try_password(page, "unit-lock", "Portal#2026")
    message = page.locator(".locked-message")
    assert message.is_visible()
    assert "请于15分钟后再试" in message.inner_text()
    assert "联系上级工会" in message.inner_text()
    assert page.url.endswith("/accounts/login/")
    # The form is still there, the account name kept, for when the lock ends.
    assert page.get_by_label("账号").input_value() == "unit-lock"
    screenshot(page, "lockout", full_page=False)
