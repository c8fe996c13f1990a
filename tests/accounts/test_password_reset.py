"""Self-service password reset by an e-mailed link (SPEC ACC-3 [departure]): only for a unit with a
confirmed e-mail, the same answer for every address, a link valid 30 minutes and used once; the
reset ends temporary-password state and login locks (SPEC ACC-4)."""
import datetime as dt
import re

import pytest
import time_machine
from auditlog.models import LogEntry
from axes.models import AccessAttempt
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertRedirects

from tests.factories import UserFactory
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

FORGOT = "/accounts/password/forgot/"
NEW_PASSWORD = "Fresh#Start2026"
SAME_ANSWER = "如果该邮箱是平台账号已确认的联系人邮箱，重置密码的邮件已经发出。"


@pytest.fixture
def confirmed(db):
    return UserFactory(
        username="unit-a", email="hr@example.com", unit_name="上海某某科技有限公司", email_confirmed_at=timezone.now()
    )


def ask(client, email):
    return client.post(FORGOT, {"email": email}, follow=True)


def link_in(message) -> str:
    return re.search(r"http://testserver(/accounts/password/forgot/\S+/\S+/)", message.body).group(1)


def set_password(client, link, password=NEW_PASSWORD, confirmation=None):
    form_url = client.get(link)["Location"]  # Django moves the token into the session first
    return client.post(form_url, {"new_password1": password, "new_password2": confirmation or password})


# --- who gets a mail ---------------------------------------------------------------------------------


def test_the_form_is_public_and_says_who_to_ask_without_a_confirmed_email(client):
    response = client.get(FORGOT)
    assert response.status_code == 200
    for text in ("找回密码", "联系人邮箱", "已确认", "30分钟", "上级工会", "未建会", "12351", "发送重置邮件"):
        assertContains(response, text)


def test_a_unit_with_a_confirmed_email_gets_a_link_naming_its_account(client, confirmed):
    response = ask(client, "HR@Example.com")  # the address is matched without regard to case

    assertRedirects(response, reverse("accounts:password_reset_done"))
    assertContains(response, SAME_ANSWER)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["hr@example.com"]
    assert message.subject == "【上海市职工保障互助会】重置平台账号密码"
    assert "unit-a" in message.body and "30分钟" in message.body and "12351" in message.body
    assert link_in(message)


@pytest.mark.parametrize(
    "account",
    [
        {"email_confirmed_at": None},  # never confirmed
        {"is_active": False},
        {"role": "reviewer"},  # back-office accounts are reset by a superuser, not by mail
        {"role": "union_staff"},
    ],
    ids=["unconfirmed", "inactive", "reviewer", "union-staff"],
)
def test_no_mail_without_a_confirmed_active_unit_account_and_the_same_answer(client, account):
    UserFactory(username="unit-b", email="hr@example.com", **{"email_confirmed_at": timezone.now(), **account})

    response = ask(client, "hr@example.com")

    assertRedirects(response, reverse("accounts:password_reset_done"))
    assertContains(response, SAME_ANSWER)
    assert mail.outbox == []


def test_an_unknown_address_gets_the_same_answer(client, confirmed):
    known = ask(client, "hr@example.com")
    unknown = ask(PortalClient(), "nobody@example.com")

    assert len(mail.outbox) == 1
    strip = lambda response: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())  # noqa: E731
    assert strip(known) == strip(unknown)


def test_every_unit_sharing_the_address_gets_its_own_link(client, confirmed):
    UserFactory(username="unit-c", email="hr@example.com", email_confirmed_at=timezone.now())

    ask(client, "hr@example.com")

    assert sorted(re.search(r"账号 (\S+) 密码", m.body).group(1) for m in mail.outbox) == ["unit-a", "unit-c"]


@pytest.mark.parametrize(("email", "message"), [("", "请输入联系人邮箱。"), ("hr@", "请输入有效的邮箱地址，如 name@example.com。")])
def test_a_bad_address_is_a_chinese_field_error(client, email, message):
    response = client.post(FORGOT, {"email": email})
    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [message]}


# --- the link ------------------------------------------------------------------------------------------


def test_the_link_sets_a_new_password_and_clears_temporary_state_and_locks(client, confirmed):
    confirmed.must_change_password = True
    confirmed.temporary_password_expires_at = timezone.now() + dt.timedelta(days=1)
    confirmed.save()
    AccessAttempt.objects.create(
        username="unit-a", ip_address="10.0.0.1", user_agent="", failures_since_start=5, attempt_time=timezone.now()
    )
    ask(client, "hr@example.com")

    response = set_password(client, link_in(mail.outbox[0]))

    assertRedirects(response, reverse("accounts:password_reset_complete"), fetch_redirect_response=False)
    assertContains(client.get(response["Location"]), "密码已重置")
    confirmed.refresh_from_db()
    assert confirmed.check_password(NEW_PASSWORD)
    assert not confirmed.must_change_password and confirmed.temporary_password_expires_at is None
    assert confirmed.failures_cleared_at is not None
    assert not AccessAttempt.objects.filter(username="unit-a").exists()
    assert "_auth_user_id" not in client.session  # they log in themselves, with the captcha
    # SPEC X-2: audited, with the account itself as the actor.
    changed = {field for entry in LogEntry.objects.get_for_object(confirmed).filter(actor=confirmed) for field in entry.changes_dict}
    assert {"must_change_password", "failures_cleared_at"} <= changed


def test_the_reset_ends_the_accounts_other_sessions(client, confirmed):
    elsewhere = PortalClient()
    elsewhere.force_login(confirmed)
    assert elsewhere.get(reverse("accounts:landing")).status_code == 200
    ask(client, "hr@example.com")

    set_password(client, link_in(mail.outbox[0]))

    response = elsewhere.get(reverse("accounts:landing"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_the_link_is_used_once(client, confirmed):
    ask(client, "hr@example.com")
    link = link_in(mail.outbox[0])
    set_password(client, link)

    response = PortalClient().get(link, follow=True)

    assertContains(response, "链接已失效")
    assertContains(response, "30分钟内有效，且只能使用一次")
    assert "new_password1" not in response.content.decode()


def test_the_link_expires_after_thirty_minutes(client, confirmed):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        ask(client, "hr@example.com")
    link = link_in(mail.outbox[0])

    with time_machine.travel(start + dt.timedelta(minutes=29), tick=False):
        assertContains(PortalClient().get(link, follow=True), "设置新密码")
    with time_machine.travel(start + dt.timedelta(minutes=30, seconds=1), tick=False):
        late = PortalClient()
        assertContains(late.get(link, follow=True), "链接已失效")
        assert late.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 200

    confirmed.refresh_from_db()
    assert not confirmed.check_password(NEW_PASSWORD)


def test_the_new_password_gets_chinese_messages_at_its_field(client, confirmed):
    ask(client, "hr@example.com")
    link = link_in(mail.outbox[0])

    short = set_password(client, link, password="Ab#1")
    assert short.context["form"].errors == {"new_password1": ["密码太短，至少需要8个字符。"]}
    mismatch = client.post(short.wsgi_request.path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert mismatch.context["form"].errors == {"new_password2": ["两次输入的密码不一致，请重新输入。"]}
    confirmed.refresh_from_db()
    assert not confirmed.check_password(NEW_PASSWORD)


# --- CSRF and access (STYLE.md §10) ------------------------------------------------------------------------


def test_the_posts_need_their_csrf_token(confirmed):
    client = PortalClient(enforce_csrf_checks=True)
    assert client.post(FORGOT, {"email": "hr@example.com"}).status_code == 403
    assert mail.outbox == []

    PortalClient().post(FORGOT, {"email": "hr@example.com"})
    form_url = client.get(link_in(mail.outbox[0]))["Location"]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 403
    confirmed.refresh_from_db()
    assert not confirmed.check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    ("url_name", "args", "text"),
    [
        ("accounts:password_reset", [], "找回密码"),
        ("accounts:password_reset_done", [], "请查收邮件"),
        ("accounts:password_reset_confirm", ["x", "y"], "链接已失效"),
        ("accounts:password_reset_complete", [], "密码已重置"),
    ],
)
def test_the_reset_pages_answer_anonymous_users(client, url_name, args, text):
    response = client.get(reverse(url_name, args=args))
    assert response.status_code == 200
    assertContains(response, text)
    assertContains(response, "登录")  # the public frame offers 【登录】, not a menu
    page = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) and " style=" not in page  # the CSP
