"""【企业注册】 end to end (SPEC ACC-2, ACC-5): register with an SMS code, land on the platform, confirm
the e-mail by its link, log out and in again, and land where the unit's union status says."""
import re

import pytest
from django.core import mail

from accounts.models import UnionOrganisation, User
from mutualaid import sms
from mutualaid.validators import uscc_check_character
from tests.browser.conftest import PHONE, log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USCC_FIRST17 = "91310107MA1G0TQ2X"
PASSWORD = "Mutual#Aid2026"
MOBILE = "13912345678"


@pytest.fixture
def unions(db):
    # The migration seeds these, but a transactional test empties the tables after it runs.
    district, _ = UnionOrganisation.objects.get_or_create(
        name="普陀区总工会", defaults={"short_name": "普陀区", "level": 1, "sort_order": 1}
    )
    street, _ = UnionOrganisation.objects.get_or_create(
        name="普陀区长风新村街道总工会",
        defaults={"short_name": "长风新村街道", "level": 2, "parent": district, "sort_order": 1},
    )
    UnionOrganisation.objects.get_or_create(name="上海市机电工会", defaults={"short_name": "机电", "level": 1, "sort_order": 2})
    return district, street


@pytest.fixture(autouse=True)
def empty_outboxes():
    sms.outbox.clear()
    mail.outbox = []
    yield
    sms.outbox.clear()


def fill_registration(page, *, username, union_label):
    page.locator("#id_username").fill(username)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#id_unit_name").fill("上海长风示范科技有限公司")
    page.locator("#id_uscc").fill(USCC_FIRST17 + uscc_check_character(USCC_FIRST17))
    page.locator("#id_union_organisation").select_option(label=union_label)
    page.locator("#id_mobile").fill(MOBILE)
    page.locator("#id_email").fill(f"{username}@example.com")


def get_sms_code(page) -> str:
    # The captcha before a public SMS (SPEC SEC-3); the test settings accept "PASSED".
    page.locator("#id_captcha_1").fill("PASSED")
    button = page.get_by_role("button", name="获取验证码")
    button.click()
    page.locator("#sms-result").get_by_text("验证码已发送至 139****5678，5分钟内有效。").wait_for()
    # The button counts down the 60 seconds before another code may be asked for.
    assert re.fullmatch(r"\d{2}秒后重新获取", page.locator("#sms-send").inner_text().strip())
    assert page.locator("#sms-send").is_disabled()
    mobile, text = sms.outbox[-1]
    assert mobile == MOBILE
    return re.search(r"验证码为(\d{6})", text).group(1)


@pytest.mark.parametrize(
    ("union_label", "has_union"),
    [("未建会（本单位没有工会）", False), ("普陀区长风新村街道总工会", True)],
    ids=["no-union", "with-union"],
)
def test_a_unit_registers_confirms_its_email_and_logs_in(page, screenshot, unions, union_label, has_union):
    username = "cf-demo-union" if has_union else "cf-demo"
    refused = []  # anything the Content-Security-Policy blocks
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    page.goto(page.base_url + "/accounts/login/")
    page.get_by_role("link", name="企业注册").click()
    page.get_by_role("heading", name="企业注册").wait_for()

    fill_registration(page, username=username, union_label=union_label)
    code = get_sms_code(page)
    page.locator("#id_sms_code").fill(code)
    if not has_union:
        screenshot(page, "register")
    page.get_by_role("button", name="注册", exact=True).click()

    # Logged in at once, on the platform, with the notice about the unconfirmed e-mail.
    page.wait_for_url("**/accounts/platform/")
    assert "注册成功。确认邮件已发送至" in page.get_by_role("alert").first.inner_text()
    notice = page.locator(".email-notice")
    assert "尚未确认" in notice.inner_text()
    assert notice.get_by_role("button", name="重新发送确认邮件").is_visible()
    if not has_union:
        screenshot(page, "register-landing", full_page=False)
    user = User.objects.get(username=username)
    assert (user.union_organisation is not None) is has_union

    # The link of the confirmation mail (locmem backend in tests).
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [f"{username}@example.com"]
    link = re.search(r"https?://\S+/accounts/email/confirm/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    page.get_by_role("heading", name="邮箱已确认").wait_for()
    if not has_union:
        screenshot(page, "email-confirmed", full_page=False)
    page.get_by_role("link", name="返回平台首页").click()
    page.wait_for_url("**/accounts/platform/")
    assert page.locator(".email-notice").count() == 0

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/accounts/login/")
    log_in(page, username, PASSWORD)
    page.wait_for_url("**/accounts/platform/")

    assert refused == []
    # SPEC ACC-5: a unit with a union goes through 【业务工作台】; 未建会 sees the tile at once.
    if has_union:
        assert page.get_by_role("link", name="业务工作台").is_visible()
        assert page.locator(".app-tile").count() == 0
    else:
        assert page.locator(".app-tile", has_text="在职职工互助保障").is_visible()
        assert page.get_by_role("link", name="业务工作台").count() == 0


def test_field_errors_show_beside_the_fields_and_keep_what_was_typed(page, screenshot, unions):
    page.goto(page.base_url + "/accounts/register/")
    fill_registration(page, username="cf-demo", union_label="未建会（本单位没有工会）")
    page.locator("#id_uscc").fill(USCC_FIRST17 + "1")
    page.locator("#id_sms_code").fill("123456")
    page.get_by_role("button", name="注册", exact=True).click()

    expected = uscc_check_character(USCC_FIRST17)
    uscc_box = page.locator("#id_uscc").locator("xpath=..")
    uscc_box.get_by_text(f"统一社会信用代码校验位错误（应为 {expected}），请核对。").wait_for()
    assert page.locator("#id_unit_name").input_value() == "上海长风示范科技有限公司"
    assert page.locator("#id_password1").input_value() == ""
    screenshot(page, "register-errors")


def test_a_second_code_within_a_minute_is_refused_with_the_wait(page, unions):
    page.goto(page.base_url + "/accounts/register/")
    page.locator("#id_mobile").fill(MOBILE)
    get_sms_code(page)

    # A second tab asks again at once: the server refuses, and says how long to wait.
    other = page.context.new_page()
    other.goto(page.base_url + "/accounts/register/")
    other.locator("#id_mobile").fill(MOBILE)
    other.locator("#id_captcha_1").fill("PASSED")
    other.get_by_role("button", name="获取验证码").click()
    refusal = other.locator("#sms-result .text-danger")
    refusal.wait_for()
    assert re.fullmatch(r"验证码已发送，请\d+秒后再试。", refusal.inner_text())
    assert re.fullmatch(r"\d+秒后重新获取", other.locator("#sms-send").inner_text().strip())
    assert len(sms.outbox) == 1


def test_the_registration_page_fits_a_phone(page, screenshot, unions):
    page.set_viewport_size(PHONE)
    page.goto(page.base_url + "/accounts/register/")

    assert page.get_by_role("button", name="获取验证码").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "register-phone")


def test_a_unit_with_a_confirmed_email_resets_its_password_by_mail(page, screenshot):
    """SPEC ACC-3 [departure]: 忘记密码？ → the e-mailed link → a new password → log in with it."""
    from django.utils import timezone

    UserFactory(username="cf-reset", email="hr@example.com", email_confirmed_at=timezone.now())
    page.goto(page.base_url + "/accounts/login/")
    page.get_by_role("link", name="忘记密码？").click()
    page.get_by_label("联系人邮箱").fill("hr@example.com")
    screenshot(page, "password-reset")
    page.get_by_role("button", name="发送重置邮件").click()
    page.get_by_role("heading", name="请查收邮件").wait_for()

    link = re.search(r"https?://\S+/accounts/password/forgot/\S+/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    page.get_by_role("heading", name="设置新密码").wait_for()
    page.locator("#id_new_password1").fill("Fresh#Start2026")
    page.locator("#id_new_password2").fill("Fresh#Start2026")
    page.get_by_role("button", name="确认修改").click()
    page.get_by_role("heading", name="密码已重置").wait_for()

    page.get_by_role("link", name="去登录").click()
    log_in(page, "cf-reset", "Fresh#Start2026")
    page.wait_for_url("**/accounts/platform/")
