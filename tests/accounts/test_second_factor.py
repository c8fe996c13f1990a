"""The second factor of staff logins (SPEC SEC-8) and its lockout (SPEC ACC-4).

Logins here go through the real pages (password, then code), with a plain Django client where a test
needs a session that has *not* passed the second factor.
"""
import datetime as dt
import re
import time
from base64 import b32encode

import pytest
import time_machine
from auditlog.models import LogEntry
from axes.models import AccessAttempt
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.second_factor import second_factor_enabled
from tests.factories import UserFactory
from tests.second_factor import confirmed_device, totp_code

pytestmark = pytest.mark.django_db

PASSWORD = "Portal#2026"
LOGIN = "/accounts/login/"
VERIFY = "/accounts/login/verify/"
ENROL = "/accounts/second-factor/enrol/"
BACKUP_CODES = "/accounts/second-factor/backup-codes/"
IP = "10.0.0.1"


def post_login(client, username, password=PASSWORD, next_url=""):
    data = {"username": username, "password": password, "captcha_0": "test", "captcha_1": "PASSED"}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data, REMOTE_ADDR=IP)


def post_code(client, url, code):
    return client.post(url, {"code": code}, REMOTE_ADDR=IP)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def unenrolled_reviewer(username="reviewer-new"):
    return UserFactory(username=username, role="reviewer", second_factor=False)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- enrolment at the first login ---------------------------------------------------------------------


def test_a_staff_member_without_a_device_enrols_at_the_first_login():
    """SPEC SEC-8: password → 绑定身份验证器 (QR code, the secret as text) → a code → backup codes once."""
    client = Client()
    reviewer = unenrolled_reviewer()

    response = post_login(client, "reviewer-new")
    assert response["Location"] == ENROL
    assert not logged_in(client)  # nothing is open before the second factor

    page = client.get(ENROL)
    content = page.content.decode()
    assert page.status_code == 200
    assert "绑定身份验证器" in content
    assert 'src="data:image/svg+xml' in content  # segno's QR code, allowed by the CSP's img-src
    device = TOTPDevice.objects.get(user=reviewer, confirmed=False)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', content).group(1)
    assert secret.replace(" ", "") == b32encode(device.bin_key).decode().rstrip("=")
    # A reload shows the same secret (the app may have scanned it already).
    assert secret in client.get(ENROL).content.decode()

    response = post_code(client, ENROL, totp_code(device))
    assert response["Location"] == BACKUP_CODES
    assert logged_in(client)
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert second_factor_enabled(reviewer)

    codes_page = client.get(BACKUP_CODES).content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", codes_page)
    assert len(codes) == 10
    assert set(codes) == set(StaticToken.objects.filter(device__user=reviewer).values_list("token", flat=True))
    # Shown once: a reload has none of them.
    assert not set(codes) & set(re.findall(r"<code>([a-z2-7]+)</code>", client.get(BACKUP_CODES).content.decode()))
    assert client.get(reverse("admin:index")).status_code == 200
    assert LogEntry.objects.filter(object_pk=str(reviewer.pk), changes_text__contains="开启两步验证").exists()


def test_a_wrong_enrolment_code_is_a_failed_login_of_the_pair():
    client = Client()
    reviewer = unenrolled_reviewer()
    post_login(client, "reviewer-new")
    client.get(ENROL)
    response = post_code(client, ENROL, "000000")
    assert response.status_code == 200
    assert "验证码错误" in response.content.decode()
    assert not logged_in(client)
    assert AccessAttempt.objects.get(username=reviewer.username, ip_address=IP).failures_since_start == 1


def test_the_code_steps_need_a_password_first():
    client = Client()
    for url in (VERIFY, ENROL):
        response = client.get(url)
        assert response["Location"] == reverse("accounts:login")


# --- the code at every login ------------------------------------------------------------------------------


def test_an_enrolled_staff_member_types_a_code_after_the_password():
    client = Client()
    reviewer = UserFactory(username="reviewer-a", role="reviewer")

    response = post_login(client, "reviewer-a", next_url="/backoffice/search/")
    assert response["Location"] == VERIFY
    assert not logged_in(client)
    page = client.get(VERIFY)
    assert "两步验证" in page.content.decode() and "备用验证码" in page.content.decode()

    response = post_code(client, VERIFY, totp_code(confirmed_device(reviewer)))
    assert response["Location"] == "/backoffice/search/"
    assert logged_in(client)
    assert client.get("/backoffice/search/").status_code == 200


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_every_staff_role_and_superusers_need_the_code(role):
    for user in (UserFactory(role=role), UserFactory(role="unit_admin", is_superuser=True)):
        client = Client()
        assert post_login(client, user.username)["Location"] == VERIFY


def test_a_unit_admin_without_the_second_factor_logs_in_with_the_password_alone():
    client = Client()
    UserFactory(username="unit-a")
    assert post_login(client, "unit-a")["Location"] == reverse("accounts:landing")
    assert logged_in(client)


def test_wrong_codes_count_towards_the_lockout_of_the_pair():
    """SPEC SEC-8, ACC-4: five wrong codes lock the (account, address) pair for 15 minutes, like five
    wrong passwords; then even the right password and code are refused, with a Chinese message."""
    client = Client()
    reviewer = UserFactory(username="reviewer-a", role="reviewer")
    post_login(client, "reviewer-a")
    for attempt in range(1, 5):
        response = post_code(client, VERIFY, "000000")
        assert response.status_code == 200
        assert "验证码错误" in response.content.decode()
        assert AccessAttempt.objects.get(username="reviewer-a", ip_address=IP).failures_since_start == attempt

    response = post_code(client, VERIFY, "000000")
    assert response.status_code == 429
    assert "登录失败次数过多" in text_of(response) and "15分钟" in text_of(response)
    assert not logged_in(client)

    # The pending login is gone, and a new one is refused at the password.
    assert client.get(VERIFY)["Location"] == reverse("accounts:login")
    response = post_login(client, "reviewer-a")
    assert response.status_code == 429
    assert not logged_in(client)
    # From another address the account still logs in (a pair lock).
    other = Client()
    other.post(
        LOGIN,
        {"username": "reviewer-a", "password": PASSWORD, "captcha_0": "test", "captcha_1": "PASSED"},
        REMOTE_ADDR="10.0.0.2",
    )
    response = other.post(VERIFY, {"code": totp_code(confirmed_device(reviewer))}, REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 302 and logged_in(other)


def test_a_right_code_ends_the_failure_count():
    client = Client()
    reviewer = UserFactory(username="reviewer-a", role="reviewer")
    post_login(client, "reviewer-a")
    post_code(client, VERIFY, "000000")
    post_code(client, VERIFY, totp_code(confirmed_device(reviewer)))
    assert logged_in(client)
    assert not AccessAttempt.objects.filter(username="reviewer-a", failures_since_start__gt=0).exists()


def test_a_code_is_accepted_once():
    reviewer = UserFactory(username="reviewer-a", role="reviewer")
    device = confirmed_device(reviewer)
    totp = TOTP(device.bin_key)
    totp.time = time.time()
    code = f"{totp.token():06d}"
    first = Client()
    post_login(first, "reviewer-a")
    post_code(first, VERIFY, code)
    assert logged_in(first)
    second = Client()
    post_login(second, "reviewer-a")
    response = post_code(second, VERIFY, code)  # replayed: refused
    assert response.status_code == 200 and not logged_in(second)


def test_a_backup_code_works_once():
    reviewer = UserFactory(username="reviewer-a", role="reviewer")
    device = StaticDevice.objects.create(user=reviewer, name="备用验证码", confirmed=True)
    device.token_set.create(token="abcd2345")
    device.token_set.create(token="efgh6789")

    client = Client()
    post_login(client, "reviewer-a")
    response = post_code(client, VERIFY, "ABCD 2345")  # as read out: upper case, a space
    assert response.status_code == 302 and logged_in(client)
    assert "还剩 1 个" in text_of(client.get(reverse("admin:index"), follow=True))
    assert list(device.token_set.values_list("token", flat=True)) == ["efgh6789"]

    again = Client()
    post_login(again, "reviewer-a")
    response = post_code(again, VERIFY, "abcd2345")
    assert response.status_code == 200 and not logged_in(again)
    assert AccessAttempt.objects.get(username="reviewer-a", ip_address=IP).failures_since_start == 1


# --- no back-office page without it ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/backoffice/",
        "/backoffice/search/",
        "/backoffice/statistics/",
        "/backoffice/accounts/user/",
        "/backoffice/enrollment/codeapplication/",
        "/accounts/platform/",
    ],
)
def test_a_staff_session_without_the_second_factor_gets_no_page(url):
    """SPEC SEC-8: a staff session logged in by the password alone (here Django's own client, which
    knows nothing of the second factor) is logged out and sent to the login, whatever URL it opens."""
    reviewer = UserFactory(role="reviewer")
    client = Client()
    client.force_login(reviewer)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")
    assert not logged_in(client)


def test_the_back_office_site_itself_asks_for_the_second_factor(rf):
    """Defence in depth: the site's own permission check wants a verified session too."""
    from django.contrib import admin

    reviewer = UserFactory(role="reviewer")
    request = rf.get("/backoffice/")
    request.user = reviewer
    reviewer.is_verified = lambda: False
    assert not admin.site.has_permission(request)
    reviewer.is_verified = lambda: True
    assert admin.site.has_permission(request)


# --- a superuser resets a device -------------------------------------------------------------------------


def reset_url(account) -> str:
    return reverse("admin:accounts_user_second_factor_reset", args=[account.pk])


def test_a_superuser_resets_a_staff_members_device_with_a_confirmation(client):
    superuser = UserFactory(username="root", role="reviewer", is_superuser=True)
    reviewer = UserFactory(username="reviewer-a", role="reviewer")
    StaticDevice.objects.create(user=reviewer, name="备用验证码", confirmed=True).token_set.create(token="abcd2345")
    reviewer_session = Client()
    post_login(reviewer_session, "reviewer-a")
    post_code(reviewer_session, VERIFY, totp_code(confirmed_device(reviewer)))
    assert reviewer_session.get("/backoffice/").status_code == 200

    client.force_login(superuser)
    change_page = client.get(reverse("admin:accounts_user_change", args=[reviewer.pk])).content.decode()
    assert reset_url(reviewer) in change_page and "重置两步验证" in change_page
    confirm = client.get(reset_url(reviewer))
    assert confirm.status_code == 200
    assert "确认重置" in confirm.content.decode()
    assert second_factor_enabled(reviewer)  # a GET changes nothing

    response = client.post(reset_url(reviewer))
    assert response["Location"] == reverse("admin:accounts_user_change", args=[reviewer.pk])
    assert not TOTPDevice.objects.filter(user=reviewer).exists()
    assert not StaticDevice.objects.filter(user=reviewer).exists()
    entry = LogEntry.objects.get(object_pk=str(reviewer.pk), changes_text__contains="重置两步验证")
    assert entry.actor == superuser
    assert AdminLogEntry.objects.filter(object_id=str(reviewer.pk), change_message="重置两步验证").exists()

    # Its session stops at once; its next login enrols again.
    assert reviewer_session.get("/backoffice/")["Location"].startswith(reverse("accounts:login"))
    assert post_login(Client(), "reviewer-a")["Location"] == ENROL


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_only_superusers_reset_a_device(client, role):
    target = UserFactory(username="reviewer-a", role="reviewer")
    client.force_login(UserFactory(role=role))
    assert client.get(reset_url(target)).status_code == 403
    assert client.post(reset_url(target)).status_code == 403
    assert second_factor_enabled(target)


def test_the_reset_link_shows_only_for_superusers_and_accounts_with_a_device(client):
    client.force_login(UserFactory(role="reviewer", is_superuser=True))
    without = UserFactory(username="reviewer-b", role="reviewer", second_factor=False)
    page = client.get(reverse("admin:accounts_user_change", args=[without.pk])).content.decode()
    assert "重置两步验证" not in page


# --- a unit administrator turns it on ---------------------------------------------------------------------


def test_a_unit_admin_turns_the_second_factor_on_and_then_needs_it_at_login(client):
    unit = UserFactory(username="unit-a")
    client.force_login(unit)
    landing = client.get(reverse("accounts:landing")).content.decode()
    assert 'href="/accounts/second-factor/"' in landing  # beside 修改密码
    settings_page = client.get("/accounts/second-factor/").content.decode()
    assert "未开启" in settings_page and "开启两步验证" in settings_page

    enrol = client.get(ENROL)
    assert enrol.status_code == 200 and 'src="data:image/svg+xml' in enrol.content.decode()
    assert "验证码错误" in client.post(ENROL, {"code": "000000"}).content.decode()
    device = TOTPDevice.objects.get(user=unit, confirmed=False)
    response = client.post(ENROL, {"code": totp_code(device)})
    assert response["Location"] == BACKUP_CODES
    assert len(re.findall(r"<li><code>", client.get(BACKUP_CODES).content.decode())) == 10
    assert "已开启" in client.get("/accounts/second-factor/").content.decode()
    assert client.get(reverse("accounts:landing")).status_code == 200  # this session is verified

    other = Client()
    assert post_login(other, "unit-a")["Location"] == VERIFY
    assert not logged_in(other)
    response = post_code(other, VERIFY, totp_code(confirmed_device(unit)))
    assert response["Location"] == reverse("accounts:landing") and logged_in(other)


def test_a_unit_admin_without_it_is_never_asked(client):
    unit = UserFactory(username="unit-a")
    client.force_login(unit)
    assert client.get(reverse("accounts:landing")).status_code == 200


def test_the_back_office_shows_no_device_secrets(client):
    """django-otp's own device pages (secret, QR code, backup codes) are not in the back office."""
    client.force_login(UserFactory(role="reviewer", is_superuser=True))
    assert client.get("/backoffice/otp_totp/totpdevice/").status_code == 404
    assert client.get("/backoffice/otp_static/staticdevice/").status_code == 404


def test_the_password_step_lasts_five_minutes():
    reviewer = UserFactory(username="reviewer-a", role="reviewer")
    client = Client()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        post_login(client, "reviewer-a")
    with time_machine.travel(start + dt.timedelta(minutes=6), tick=False):
        response = post_code(client, VERIFY, totp_code(confirmed_device(reviewer)))
    assert response["Location"] == reverse("accounts:login")
    assert not logged_in(client)


def test_a_temporary_password_is_changed_after_the_code():
    """SPEC ACC-3 with SEC-8: a unit administrator with the second factor and a temporary password
    types the code, then must set a new password."""
    unit = UserFactory(username="unit-a", second_factor=True, must_change_password=True)
    client = Client()
    post_login(client, "unit-a")
    response = post_code(client, VERIFY, totp_code(confirmed_device(unit)))
    assert response["Location"] == reverse("accounts:password_change")
    assert logged_in(client)


def test_staff_find_their_second_factor_page_in_the_back_office(client):
    client.force_login(UserFactory(role="reviewer"))
    assert 'href="/accounts/second-factor/"' in client.get("/backoffice/").content.decode()
    page = client.get("/accounts/second-factor/").content.decode()
    assert "已开启" in page
