"""【企业注册】, its SMS code and the e-mail confirmation (SPEC ACC-2; X-3 Chinese messages at the field,
nothing typed lost)."""
import datetime as dt
import re

import pytest
import time_machine
from django.core import mail, signing
from django.core.cache import cache
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.middleware import LOGIN_AT
from accounts.models import UnionOrganisation, User
from accounts.services import EMAIL_CONFIRM_SALT, email_confirmation_token
from mutualaid import sms
from mutualaid.validators import uscc_check_character
from tests.factories import UserFactory
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

MOBILE = "13912345678"
USCC_FIRST17 = "91310107MA1G0TQ2X"
USCC = USCC_FIRST17 + uscc_check_character(USCC_FIRST17)  # …Q
PASSWORD = "Mutual#Aid2026"
REGISTER = "/accounts/register/"
REGISTER_SMS = "/accounts/register/sms/"
# The captcha before a public SMS (SPEC SEC-3); CAPTCHA_TEST_MODE accepts "PASSED".
CAPTCHA = {"captcha_0": "test", "captcha_1": "PASSED"}


def mailed_confirmation(body: str) -> dict:
    """What the confirmation link in a mail confirms. The token carries the second it was signed,
    so the test reads it from the mail instead of signing a second one (that could differ)."""
    token = re.search(r"/accounts/email/confirm/([^/\s]+)/", body).group(1)
    return signing.loads(token, salt=EMAIL_CONFIRM_SALT)


@pytest.fixture(autouse=True)
def clean_outboxes():
    sms.outbox.clear()
    cache.clear()  # the resend throttle lives in the cache
    yield
    sms.outbox.clear()


@pytest.fixture
def unions(db):
    parent = UnionOrganisation.objects.create(name="测试区总工会", level=1, sort_order=1)
    child = UnionOrganisation.objects.create(name="测试区某街道总工会", level=2, parent=parent, sort_order=1)
    closed = UnionOrganisation.objects.create(name="已撤销街道总工会", level=2, parent=parent, is_active=False)
    return parent, child, closed


def send_code(client, capture, mobile=MOBILE):
    with capture(execute=True):
        response = client.post(REGISTER_SMS, {"mobile": mobile, **CAPTCHA}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response, re.search(r"验证码为(\d{6})", sms.outbox[-1][1]).group(1)


def form_data(**overrides):
    data = {
        "username": "pt-company01",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "unit_name": "上海某某科技有限公司",
        "uscc": USCC,
        "union_organisation": "none",
        "mobile": MOBILE,
        "sms_code": "000000",
        "email": "hr@example.com",
    }
    data.update(overrides)
    return data


def field_errors(response, name):
    return response.context["form"].errors.get(name, [])


# --- the page -------------------------------------------------------------------------------------


def test_the_page_is_public_and_has_the_fields_of_the_handbook(client, unions):
    response = client.get(REGISTER)

    assert response.status_code == 200
    for label in ("账号", "密码", "确认密码", "单位名称", "统一社会信用代码", "联系人手机", "获取验证码", "验证码", "联系人邮箱", "上级工会"):
        assertContains(response, label)
    page = response.content.decode()
    assert len(re.findall(r'<label [^>]*><span class="text-danger">\*</span>', page)) == 9  # every field is required
    # SPEC SEC-3: 【获取验证码】 is public, so the image captcha is asked first and sent along.
    assert 'id="sms-captcha"' in page and 'name="captcha_1"' in page and "图形验证码" in page
    assert 'data-hx-include="#id_mobile, #sms-captcha input" data-hx-params="mobile,captcha_0,captcha_1"' in page
    assert f'data-hx-post="{reverse("accounts:register_sms")}"' in page
    assert "js/sms.js" in page and "data-sms-send" in page
    # The CSP allows neither inline scripts nor style attributes.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) and " style=" not in page


def test_the_union_select_groups_level_two_under_level_one_and_offers_no_union(client, unions):
    parent, child, closed = unions

    page = client.get(REGISTER).content.decode()

    group = re.search(r'<optgroup label="测试区总工会">(.*?)</optgroup>', page, re.S).group(1)
    assert re.findall(r'value="(\d+)"', group) == [str(parent.pk), str(child.pk)]
    assert '<option value="none">未建会（本单位没有工会）</option>' in page
    assert "已撤销街道总工会" not in page  # inactive organisations are not offered


def test_a_logged_in_user_is_sent_to_the_platform(client, unit_admin):
    client.force_login(unit_admin)
    assertRedirects(client.get(REGISTER), reverse("accounts:landing"))


def test_the_login_page_links_to_registration_and_the_reset(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert f'href="{reverse("accounts:register")}">企业注册</a>' in page
    assert f'href="{reverse("accounts:password_reset")}">忘记密码？</a>' in page


# --- the happy path --------------------------------------------------------------------------------


def test_a_unit_registers_is_logged_in_and_gets_a_confirmation_mail(client, unions, django_capture_on_commit_callbacks):
    _, child, _ = unions
    _, code = send_code(client, django_capture_on_commit_callbacks)
    typed_uscc = f"{USCC[:9].lower()} {USCC[9:]}"  # lower case and a space: stored normalised

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REGISTER, form_data(sms_code=code, uscc=typed_uscc, union_organisation=str(child.pk)))

    assertRedirects(response, reverse("accounts:landing"), fetch_redirect_response=False)
    user = User.objects.get(username="pt-company01")
    assert (user.unit_name, user.uscc, user.mobile, user.email) == ("上海某某科技有限公司", USCC, MOBILE, "hr@example.com")
    assert user.union_organisation == child
    assert user.is_active and user.is_unit_admin and user.check_password(PASSWORD)
    assert user.email_confirmed_at is None
    # Logged in, with the session's login time for the 12-hour limit (accounts.middleware).
    assert client.session["_auth_user_id"] == str(user.pk)
    assert isinstance(client.session[LOGIN_AT], float)
    # SPEC ACC-2: the e-mail is confirmed by a link.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["hr@example.com"]
    assert mailed_confirmation(mail.outbox[0].body) == {"user": user.pk, "email": "hr@example.com"}
    landing = client.get(reverse("accounts:landing"))
    assertContains(landing, "注册成功。确认邮件已发送至 hr@example.com")
    assertContains(landing, "重新发送确认邮件")


def test_a_unit_without_a_union_registers_as_no_union(client, unions, django_capture_on_commit_callbacks):
    _, code = send_code(client, django_capture_on_commit_callbacks)

    client.post(REGISTER, form_data(sms_code=code, union_organisation="none"))

    user = User.objects.get(username="pt-company01")
    assert user.union_organisation is None and user.union_label == "未建会"


# --- every field's error (SPEC X-3) ------------------------------------------------------------------


def test_a_wrong_uscc_check_character_names_the_expected_one_and_keeps_what_was_typed(client, unions):
    wrong = USCC[:17] + ("1" if USCC[17] != "1" else "2")

    response = client.post(REGISTER, form_data(uscc=wrong, unit_name="上海某某科技有限公司"))

    assert response.status_code == 200
    assert field_errors(response, "uscc") == [f"统一社会信用代码校验位错误（应为 {USCC[17]}），请核对。"]
    page = response.content.decode()
    for typed in ("pt-company01", "上海某某科技有限公司", wrong, MOBILE, "hr@example.com", 'value="none" selected'):
        assert typed in page
    assert PASSWORD not in page  # passwords are the one thing typed again
    assert 'aria-invalid="true"' in page and "is-invalid" in page
    assert not User.objects.filter(username="pt-company01").exists()


@pytest.mark.parametrize(
    ("uscc", "message"),
    [
        ("9131010", "统一社会信用代码应为18位。"),
        (USCC[:5] + "I" + USCC[6:], "统一社会信用代码含有无效字符“I”（不使用 I、O、S、V、Z）。"),
    ],
)
def test_a_malformed_uscc_is_refused(client, uscc, message):
    assert field_errors(client.post(REGISTER, form_data(uscc=uscc)), "uscc") == [message]


@pytest.mark.parametrize("mobile", ["1391234567", "23912345678", "1391234567a"])
def test_a_bad_mobile_is_refused_at_its_field(client, mobile):
    response = client.post(REGISTER, form_data(mobile=mobile))
    assert field_errors(response, "mobile") == ["请输入11位手机号码。"]
    assertContains(response, mobile)


def test_a_wrong_sms_code_is_refused_at_its_field(client, django_capture_on_commit_callbacks):
    _, code = send_code(client, django_capture_on_commit_callbacks)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = client.post(REGISTER, form_data(sms_code=wrong))

    assert field_errors(response, "sms_code") == ["验证码错误，请核对后重新输入。"]
    assert not User.objects.exists()


def test_an_expired_sms_code_is_refused(client, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _, code = send_code(client, django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(minutes=5, seconds=1), tick=False):
        response = client.post(REGISTER, form_data(sms_code=code))

    assert field_errors(response, "sms_code") == ["验证码已过期，请重新获取。"]
    assert not User.objects.exists()


def test_a_code_sent_to_another_number_is_refused(client, django_capture_on_commit_callbacks):
    _, code = send_code(client, django_capture_on_commit_callbacks, mobile="13800000000")
    response = client.post(REGISTER, form_data(sms_code=code))
    assert field_errors(response, "sms_code") == ["请先获取短信验证码。"]


def test_a_malformed_sms_code_is_refused_before_it_is_checked(client):
    assert field_errors(client.post(REGISTER, form_data(sms_code="12ab")), "sms_code") == ["请输入6位数字短信验证码。"]


def test_a_form_error_does_not_spend_the_sms_code(client, django_capture_on_commit_callbacks):
    _, code = send_code(client, django_capture_on_commit_callbacks)
    client.post(REGISTER, form_data(sms_code=code, password2="something-else"))

    response = client.post(REGISTER, form_data(sms_code=code))

    assert response.status_code == 302
    assert User.objects.filter(username="pt-company01").exists()


def test_five_wrong_codes_spend_the_code(client, django_capture_on_commit_callbacks):
    _, code = send_code(client, django_capture_on_commit_callbacks)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        client.post(REGISTER, form_data(sms_code=wrong))

    response = client.post(REGISTER, form_data(sms_code=code))

    assert field_errors(response, "sms_code") == ["验证码错误次数过多，请重新获取。"]


def test_an_account_name_taken_in_another_case_is_refused(client, django_capture_on_commit_callbacks):
    UserFactory(username="PT-Company01")
    _, code = send_code(client, django_capture_on_commit_callbacks)

    response = client.post(REGISTER, form_data(username="pt-company01", sms_code=code))

    assert field_errors(response, "username") == ["该账号名已被使用，请换一个。"]
    assert User.objects.filter(username__iexact="pt-company01").count() == 1


def test_a_name_taken_by_a_registration_at_the_same_moment_is_refused_at_its_field(client, monkeypatch):
    # Both passed the form's check; the database refused the second one.
    def lose_the_race(**arguments):
        UserFactory(username=arguments["username"].upper())
        raise IntegrityError("UNIQUE constraint failed: accounts_user.username")

    monkeypatch.setattr("accounts.views.registration.account_register", lose_the_race)

    response = client.post(REGISTER, form_data())

    assert response.status_code == 200
    assert field_errors(response, "username") == ["该账号名已被使用，请换一个。"]


@pytest.mark.parametrize("username", ["abc", "a" * 31, "单位账号01", "pt company", "pt@company"])
def test_an_account_name_outside_the_rule_is_refused(client, username):
    response = client.post(REGISTER, form_data(username=username))
    assert field_errors(response, "username") == ["账号应为4至30位字母、数字或 _ - .（不能含空格或中文）。"]


def test_a_password_mismatch_is_shown_at_the_confirmation(client):
    response = client.post(REGISTER, form_data(password2=PASSWORD + "x"))
    assert field_errors(response, "password2") == ["两次输入的密码不一致，请重新输入。"]
    assert field_errors(response, "password1") == []


@pytest.mark.parametrize(
    ("password", "messages"),
    [
        ("Ab#1", ["密码太短，至少需要8个字符。"]),
        ("12345678", ["密码过于常见，容易被猜到，请换一个。", "密码不能全是数字，请加入字母或符号。"]),
        ("password", ["密码过于常见，容易被猜到，请换一个。"]),
        ("pt-company01", ["密码与账号、单位名称或邮箱过于相似，请换一个。"]),
    ],
)
def test_django_password_validators_speak_chinese(client, password, messages):
    response = client.post(REGISTER, form_data(password1=password, password2=password))
    assert field_errors(response, "password1") == messages


def test_every_missing_field_is_named_in_chinese(client, unions):
    response = client.post(REGISTER, {})

    errors = response.context["form"].errors
    assert errors == {
        "username": ["请输入账号。"],
        "password1": ["请输入密码。"],
        "password2": ["请输入确认密码。"],
        "unit_name": ["请输入单位名称。"],
        "uscc": ["请输入统一社会信用代码。"],
        "union_organisation": ["请选择上级工会。"],
        "mobile": ["请输入联系人手机。"],
        "sms_code": ["请输入验证码。"],
        "email": ["请输入联系人邮箱。"],
    }


def test_a_bad_email_and_an_unknown_union_are_refused(client, unions):
    _, _, closed = unions
    response = client.post(REGISTER, form_data(email="hr@", union_organisation=str(closed.pk)))
    assert field_errors(response, "email") == ["请输入有效的邮箱地址，如 name@example.com。"]
    assert field_errors(response, "union_organisation") == ["所选上级工会不存在或已停用，请重新选择。"]


# --- 【获取验证码】 (SPEC ACC-2; mutualaid.sms limits) --------------------------------------------------


def test_the_code_is_sent_and_the_button_may_count_down_sixty_seconds(client, django_capture_on_commit_callbacks):
    response, _ = send_code(client, django_capture_on_commit_callbacks)

    assert sms.outbox[-1][0] == MOBILE
    assertContains(response, "验证码已发送至 139****5678，5分钟内有效。")
    assertContains(response, 'data-retry-after="60"')
    assertContains(response, "text-success")


def test_a_second_send_within_sixty_seconds_is_refused_with_the_wait(client, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        send_code(client, django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(seconds=20), tick=False):
        response = client.post(REGISTER_SMS, {"mobile": MOBILE, **CAPTCHA}, HTTP_HX_REQUEST="true")

    assertContains(response, "验证码已发送，请41秒后再试。", status_code=429)
    assert response["Retry-After"] == "41"
    assertContains(response, 'data-retry-after="41"', status_code=429)
    assertContains(response, "text-danger", status_code=429)
    assert len(sms.outbox) == 1

    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        send_code(client, django_capture_on_commit_callbacks)
    assert len(sms.outbox) == 2


def test_the_sixth_send_in_an_hour_is_refused(client, django_capture_on_commit_callbacks):
    start = timezone.now()
    for minute in range(5):
        with time_machine.travel(start + dt.timedelta(minutes=minute * 2), tick=False):
            send_code(client, django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(minutes=12), tick=False):
        response = client.post(REGISTER_SMS, {"mobile": MOBILE, **CAPTCHA})

    assertContains(response, "该手机号1小时内获取验证码次数已达上限，请稍后再试。", status_code=429)
    assert len(sms.outbox) == 5


@pytest.mark.parametrize(("mobile", "message"), [("", "请输入联系人手机。"), ("12345", "请输入11位手机号码。")])
def test_a_bad_number_gets_its_message_and_no_sms(client, mobile, message):
    response = client.post(REGISTER_SMS, {"mobile": mobile, **CAPTCHA})
    assertContains(response, message)
    assertContains(response, 'data-retry-after="0"')
    assert sms.outbox == []


def test_spaces_and_hyphens_in_the_number_are_dropped(client, django_capture_on_commit_callbacks):
    send_code(client, django_capture_on_commit_callbacks, mobile="139-1234 5678")
    assert sms.outbox[-1][0] == MOBILE


def test_the_sms_view_only_takes_posts(client):
    assert client.get(REGISTER_SMS).status_code == 405


# --- e-mail confirmation (SPEC ACC-2) ----------------------------------------------------------------


@pytest.fixture
def unconfirmed(db):
    return UserFactory(username="unit-new", email="hr@example.com", unit_name="上海某某科技有限公司")


def confirm_url(token):
    return reverse("accounts:email_confirm", args=[token])


def test_the_link_confirms_the_email_without_a_login(client, unconfirmed):
    response = client.get(confirm_url(email_confirmation_token(unconfirmed)))

    assert response.status_code == 200
    assertContains(response, "邮箱已确认")
    assertContains(response, "hr@example.com 已确认")
    assertContains(response, "去登录")
    unconfirmed.refresh_from_db()
    assert unconfirmed.email_confirmed_at is not None


def test_a_logged_in_unit_is_sent_back_to_the_platform_and_loses_the_notice(client, unconfirmed):
    client.force_login(unconfirmed)
    assertContains(client.get(reverse("accounts:landing")), "尚未确认")

    response = client.get(confirm_url(email_confirmation_token(unconfirmed)))

    assertContains(response, "返回平台首页")
    landing = client.get(reverse("accounts:landing"))
    assertNotContains(landing, "尚未确认")
    assertNotContains(landing, "重新发送确认邮件")


def test_a_tampered_link_is_refused(client, unconfirmed):
    token = email_confirmation_token(unconfirmed)
    response = client.get(confirm_url(token[:-2] + ("AA" if not token.endswith("AA") else "BB")))

    assertContains(response, "邮箱未能确认")
    assertContains(response, "确认链接无效，请检查邮件中的链接是否完整。")
    unconfirmed.refresh_from_db()
    assert unconfirmed.email_confirmed_at is None


def test_a_link_older_than_three_days_is_refused(client, unconfirmed):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = email_confirmation_token(unconfirmed)
    with time_machine.travel(start + dt.timedelta(days=3, seconds=1), tick=False):
        response = client.get(confirm_url(token))

    assertContains(response, "确认链接已过期，请登录后重新发送确认邮件。")
    unconfirmed.refresh_from_db()
    assert unconfirmed.email_confirmed_at is None


def test_a_link_for_a_previous_address_is_refused(client, unconfirmed):
    token = email_confirmation_token(unconfirmed)
    unconfirmed.email = "new@example.com"
    unconfirmed.save()

    response = client.get(confirm_url(token))

    assertContains(response, "确认链接已失效：账号邮箱已变更，请重新发送确认邮件。")
    unconfirmed.refresh_from_db()
    assert unconfirmed.email_confirmed_at is None


# --- 【重新发送确认邮件】 -------------------------------------------------------------------------------


RESEND = "/accounts/email/resend/"


def test_resend_needs_a_login(client, unconfirmed):
    response = client.post(RESEND)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert mail.outbox == []


def test_resend_mails_a_new_link_once_a_minute(client, unconfirmed, django_capture_on_commit_callbacks):
    client.force_login(unconfirmed)
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client.post(RESEND, follow=True)
    assertContains(response, "确认邮件已重新发送至 hr@example.com")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["hr@example.com"]
    assert mailed_confirmation(mail.outbox[0].body) == {"user": unconfirmed.pk, "email": unconfirmed.email}

    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False), django_capture_on_commit_callbacks(execute=True):
        response = client.post(RESEND, follow=True)
    assertContains(response, "确认邮件刚刚已发送，请1分钟后再试")
    assert len(mail.outbox) == 1


def test_resend_for_a_confirmed_address_says_there_is_no_need(client, unconfirmed):
    unconfirmed.email_confirmed_at = timezone.now()
    unconfirmed.save()
    client.force_login(unconfirmed)

    response = client.post(RESEND, follow=True)

    assertContains(response, "您的邮箱已确认，无需重新发送。")
    assert mail.outbox == []
    assertNotContains(response, "重新发送确认邮件</button>")


def test_resend_only_takes_posts_and_only_from_units(client, unconfirmed, reviewer):
    client.force_login(unconfirmed)
    assert client.get(RESEND).status_code == 405
    client.force_login(reviewer)
    assertRedirects(client.post(RESEND), reverse("admin:index"), fetch_redirect_response=False)


# --- CSRF and access (STYLE.md §10) -----------------------------------------------------------------


def test_the_posts_need_their_csrf_token(unconfirmed):
    client = PortalClient(enforce_csrf_checks=True)
    assert client.post(REGISTER, form_data()).status_code == 403
    assert client.post(REGISTER_SMS, {"mobile": MOBILE}).status_code == 403
    assert sms.outbox == []
    client.force_login(unconfirmed)
    assert client.post(RESEND).status_code == 403
    assert mail.outbox == []


@pytest.mark.parametrize("url_name", ["accounts:register", "accounts:email_confirm"])
def test_the_public_pages_answer_anonymous_users(client, url_name):
    args = ["x"] if url_name == "accounts:email_confirm" else []
    assert client.get(reverse(url_name, args=args)).status_code == 200


# --- SPEC SEC-3: the public 【获取验证码】 sits behind a captcha and the per-IP limit ---------------------


@pytest.mark.parametrize(
    ("captcha", "message"),
    [({}, "请先输入图形验证码。"), ({"captcha_0": "test", "captcha_1": "WRONG"}, "图形验证码错误，请重新输入。")],
)
def test_the_public_sms_needs_the_captcha(client, captcha, message):
    """SPEC SEC-3: without the right captcha answer no SMS is sent."""
    response = client.post(REGISTER_SMS, {"mobile": MOBILE, **captcha}, HTTP_HX_REQUEST="true")
    assertContains(response, message)
    assertContains(response, "text-danger")
    assert sms.outbox == []


def test_a_right_captcha_is_spent_by_the_send(client, django_capture_on_commit_callbacks):
    """SPEC SEC-3: a real (not test-mode) captcha answer works once."""
    from captcha.models import CaptchaStore

    key = CaptchaStore.generate_key()
    answer = CaptchaStore.objects.get(hashkey=key).response
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REGISTER_SMS, {"mobile": MOBILE, "captcha_0": key, "captcha_1": answer})
    assertContains(response, "验证码已发送至 139****5678")
    assert not CaptchaStore.objects.filter(hashkey=key).exists()
    again = client.post(REGISTER_SMS, {"mobile": "13800000000", "captcha_0": key, "captcha_1": answer})
    assertContains(again, "图形验证码错误，请重新输入。")
    assert len(sms.outbox) == 1


def test_too_many_sends_from_one_address_answer_429_with_retry_after(client, settings, django_capture_on_commit_callbacks):
    """SPEC SEC-3: SMS_PER_IP_PER_HOUR from one IP address, whatever the numbers; then 429 and Retry-After."""
    settings.SMS_PER_IP_PER_HOUR = 2
    for mobile in ("13900000001", "13900000002"):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(REGISTER_SMS, {"mobile": mobile, **CAPTCHA}, REMOTE_ADDR="203.0.113.7")
    response = client.post(REGISTER_SMS, {"mobile": "13900000003", **CAPTCHA}, REMOTE_ADDR="203.0.113.7")
    assertContains(response, "本网络1小时内获取验证码次数已达上限，请稍后再试。", status_code=429)
    assert 0 < int(response["Retry-After"]) <= 3601
    assert len(sms.outbox) == 2
