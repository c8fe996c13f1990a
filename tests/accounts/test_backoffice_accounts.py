"""The units' accounts in the back office: scope, 【重置密码】 and 【解锁】 (SPEC ACC-3, ACC-4, BO-2, X-1, X-2).

Every URL is tried by the staff member whose scope holds the account, by one whose scope does not
(404), by a unit administrator (sent away from /backoffice/) and anonymously (STYLE.md §10).
"""
import datetime as dt
import re

import pytest
from auditlog.models import LogEntry
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.admin import TEMPORARY_PASSWORD_SESSION_KEY
from accounts.models import Role, UnionOrganisation, User
from accounts.roles import ROLE_PERMISSIONS
from accounts.services import (
    ACCOUNT_FAILURE_LIMIT,
    account_locked_until,
    account_reset_password,
    account_unlock,
    lock_states,
    pair_locked_until,
)
from tests.factories import UserFactory
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

PASSWORD = "Portal#2026"
NEW_PASSWORD = "Xinmima#2026"
LOGIN = "/accounts/login/"
CHANGELIST = "admin:accounts_user_changelist"


# --- fixtures: two level-1 organisations, one with two level-2 ones --------------------------------


@pytest.fixture
def district(db):
    return UnionOrganisation.objects.create(name="测试区总工会", short_name="测试区", level=1)


@pytest.fixture
def street(district):
    return UnionOrganisation.objects.create(name="测试区甲街道总工会", level=2, parent=district)


@pytest.fixture
def sibling_street(district):
    return UnionOrganisation.objects.create(name="测试区乙街道总工会", level=2, parent=district)


@pytest.fixture
def other_district(db):
    return UnionOrganisation.objects.create(name="另一区总工会", short_name="另一区", level=1)


@pytest.fixture
def units(district, street, sibling_street, other_district):
    """One unit account under each organisation, and one without a union (未建会)."""
    return {
        "district": UserFactory(username="unit-district", unit_name="区直属单位", union_organisation=district),
        "street": UserFactory(
            username="unit-street",
            unit_name="甲街道单位",
            union_organisation=street,
            mobile="13912345678",
            uscc="91310000MA1FL8XQ3A",
        ),
        "sibling": UserFactory(username="unit-sibling", unit_name="乙街道单位", union_organisation=sibling_street),
        "other": UserFactory(username="unit-other", unit_name="另一区单位", union_organisation=other_district),
        "no_union": UserFactory(username="unit-nounion", unit_name="未建会单位", union_organisation=None),
    }


@pytest.fixture
def district_staff(district):
    return UserFactory(username="staff-district", role=Role.UNION_STAFF, union_organisation=district)


@pytest.fixture
def street_staff(street):
    return UserFactory(username="staff-street", role=Role.UNION_STAFF, union_organisation=street)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", role=Role.REVIEWER, is_superuser=True)


def last_log_entry_id() -> int:
    return LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def listed(client) -> set[str]:
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    return {account.username for account in response.context["cl"].result_list}


def post_login(client, username, password, ip="10.0.0.1"):
    # captcha_0 is the challenge key; in test mode the answer "PASSED" is accepted (CAPTCHA_TEST_MODE).
    return client.post(
        LOGIN,
        {"username": username, "password": password, "captcha_0": "test", "captcha_1": "PASSED"},
        REMOTE_ADDR=ip,
    )


def reset_through_the_back_office(client, account) -> str:
    """Confirm 【重置密码】 and read the temporary password off the result page."""
    url = reverse("admin:accounts_user_reset_password", args=[account.pk])
    confirm = client.get(url)
    fingerprint = confirm.context["fingerprint"]
    response = client.post(url, {"fingerprint": fingerprint}, follow=True)
    assert response.status_code == 200
    return response.context["password"]


# --- roles (SPEC BO-2, ACC-2) ------------------------------------------------------------------------


def test_union_staff_and_reviewers_may_view_accounts_but_not_change_them():
    for role in (Role.UNION_STAFF, Role.REVIEWER):
        assert "accounts.view_user" in ROLE_PERMISSIONS[role]
        assert "accounts.change_user" not in ROLE_PERMISSIONS[role]
        assert "accounts.add_user" not in ROLE_PERMISSIONS[role]
        assert "accounts.delete_user" not in ROLE_PERMISSIONS[role]


def test_reviewers_maintain_union_organisations_and_union_staff_do_not():
    for action in ("view", "add", "change"):
        assert f"accounts.{action}_unionorganisation" in ROLE_PERMISSIONS[Role.REVIEWER]
        assert f"accounts.{action}_unionorganisation" not in ROLE_PERMISSIONS[Role.UNION_STAFF]
    assert "accounts.delete_unionorganisation" not in ROLE_PERMISSIONS[Role.REVIEWER]


# --- scope (SPEC BO-2, ACC-3) ------------------------------------------------------------------------


def test_level_1_staff_see_their_units_and_those_of_their_level_2_organisations(client, units, district_staff):
    client.force_login(district_staff)

    assert listed(client) == {"unit-district", "unit-street", "unit-sibling"}


def test_level_2_staff_do_not_see_their_siblings_or_their_parent(client, units, street_staff):
    client.force_login(street_staff)

    assert listed(client) == {"unit-street"}


def test_reviewers_see_only_units_without_a_union(client, units, reviewer):
    client.force_login(reviewer)

    assert listed(client) == {"unit-nounion"}


def test_superusers_see_every_account(client, units, superuser, district_staff):
    client.force_login(superuser)

    assert {"unit-district", "unit-other", "unit-nounion", "staff-district", "root"} <= listed(client)


def test_union_staff_without_an_organisation_see_nothing(client, units, union_staff):
    client.force_login(union_staff)

    assert listed(client) == set()
    assertContains(client.get(reverse(CHANGELIST)), "未设置所属工会组织")


def test_back_office_accounts_are_never_in_a_staff_members_scope(client, units, district, district_staff):
    UserFactory(username="staff-colleague", role=Role.UNION_STAFF, union_organisation=district)
    client.force_login(district_staff)

    assert "staff-colleague" not in listed(client)


@pytest.mark.parametrize(
    "url_name", ["admin:accounts_user_change", "admin:accounts_user_history", "admin:auth_user_password_change",
                 "admin:accounts_user_delete", "admin:accounts_user_reset_password",
                 "admin:accounts_user_reset_password_done", "admin:accounts_user_unlock"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_account_outside_the_scope_is_not_found_on_every_url(client, units, street_staff, url_name, method):
    client.force_login(street_staff)

    for outside in ("sibling", "district", "other", "no_union"):
        response = getattr(client, method)(reverse(url_name, args=[units[outside].pk]))
        assert response.status_code == 404, (outside, url_name, method)
    # Nothing was reset or unlocked on the way.
    assert not User.objects.filter(must_change_password=True).exists()


@pytest.mark.parametrize("url_name", ["admin:accounts_user_reset_password", "admin:accounts_user_unlock"])
def test_reviewers_get_404_for_a_unit_with_a_union(client, units, reviewer, url_name):
    client.force_login(reviewer)

    assert client.get(reverse(url_name, args=[units["street"].pk])).status_code == 404
    assert client.get(reverse(url_name, args=[units["no_union"].pk])).status_code == 200


def test_an_unknown_or_malformed_id_is_not_found(client, units, district_staff):
    client.force_login(district_staff)

    assert client.get(reverse("admin:accounts_user_reset_password", args=[999999])).status_code == 404
    assert client.get("/backoffice/accounts/user/abc/reset-password/").status_code == 404
    assert client.get("/backoffice/accounts/user/abc/change/").status_code == 404


@pytest.mark.parametrize(
    "url_name", ["admin:accounts_user_change", "admin:accounts_user_reset_password", "admin:accounts_user_unlock",
                 "admin:accounts_user_reset_password_done"]
)
def test_unit_admins_and_anonymous_users_cannot_reach_the_back_office(client, units, url_name):
    url = reverse(url_name, args=[units["street"].pk])
    for user in (units["district"], units["street"], None):
        client.logout()
        if user:
            client.force_login(user)
        response = client.post(url) if url_name != "admin:accounts_user_change" else client.get(url)
        assert response.status_code == 302
        # A unit administrator is sent to the back office's login, anyone else to the portal's.
        login = reverse("admin:login") if user else reverse("accounts:login")
        assert response["Location"].startswith(login), user
    assert not User.objects.filter(must_change_password=True).exists()
    client.force_login(units["street"])
    assert client.get(reverse(CHANGELIST)).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 302


def test_union_staff_see_only_the_accounts_in_the_back_office(client, units, district_staff):
    client.force_login(district_staff)

    index = client.get(reverse("admin:index"))

    assertContains(index, reverse(CHANGELIST))
    # Nothing else: no union organisations, no coverage years, no lock records, no audit trail.
    app_list = [model["admin_url"] for app in index.context["app_list"] for model in app["models"]]
    assert app_list == [reverse(CHANGELIST)]
    for url_name in (
        "admin:accounts_unionorganisation_changelist",
        "admin:axes_accessattempt_changelist",
        "admin:auditlog_logentry_changelist",
        "admin:enrollment_coverageyear_changelist",
    ):
        assert client.get(reverse(url_name)).status_code == 403, url_name


# --- the list (SPEC BO-2, X-1) -----------------------------------------------------------------------


def test_the_list_shows_the_handbook_columns_with_the_mobile_masked(client, units, district_staff):
    units["street"].last_login = dt.datetime(2026, 3, 2, 9, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    units["street"].save()
    client.force_login(district_staff)

    response = client.get(reverse(CHANGELIST))

    for header in ("账号", "单位名称", "上级工会", "联系人手机", "邮箱", "锁定状态", "最后登录", "操作"):
        assertContains(response, header)
    assertContains(response, "甲街道单位")
    assertContains(response, "测试区甲街道总工会")
    assertContains(response, "139****5678")
    assertNotContains(response, "13912345678")
    assertContains(response, "unit-street@<wbr>example.com")  # may break after the @
    assertContains(response, "2026-03-02 09:05")
    assertContains(response, "重置密码")
    # 解锁 only for a locked account; none is locked.
    assertNotContains(response, "/unlock/")
    assertContains(response, "正常")
    assertContains(response, "测试区总工会及其下属二级工会组织的单位账号")


def test_a_locked_account_shows_until_when_and_offers_unlock(client, units, district_staff):
    lock_pair(units["street"].username)
    client.force_login(district_staff)

    response = client.get(reverse(CHANGELIST))

    until = pair_locked_until(username="unit-street", ip_address="10.9.9.9")
    assertContains(response, f"已锁定（至 {timezone.localtime(until):%H:%M}）")
    assertContains(response, reverse("admin:accounts_user_unlock", args=[units["street"].pk]))
    assertNotContains(response, reverse("admin:accounts_user_unlock", args=[units["sibling"].pk]))


def test_the_page_asks_for_lock_states_once(client, units, district_staff, monkeypatch):
    import accounts.admin

    calls = []
    real = accounts.admin.lock_states
    monkeypatch.setattr(accounts.admin, "lock_states", lambda **kwargs: calls.append(kwargs) or real(**kwargs))
    for n in range(20):
        UserFactory(username=f"unit-more-{n:02d}", union_organisation=units["street"].union_organisation)
    client.force_login(district_staff)

    client.get(reverse(CHANGELIST))

    assert len(calls) == 1
    assert len(calls[0]["usernames"]) == 15  # UI.md: 15 rows a page


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("unit-street", {"unit-street"}),
        ("甲街道", {"unit-street"}),
        ("91310000MA1FL8XQ3A", {"unit-street"}),
        ("13912345678", {"unit-street"}),
        ("1391234", set()),  # a partial mobile reveals nothing the mask hides
        ("另一区单位", set()),  # outside the scope
    ],
)
def test_search_by_account_unit_name_uscc_and_mobile(client, units, district_staff, term, found):
    client.force_login(district_staff)

    response = client.get(reverse(CHANGELIST), {"q": term})

    assert {account.username for account in response.context["cl"].result_list} == found


def test_filter_by_lock_state(client, units, district_staff):
    lock_pair("unit-street")
    lock_account("unit-sibling")
    client.force_login(district_staff)

    locked = client.get(reverse(CHANGELIST), {"lock": "locked"})
    normal = client.get(reverse(CHANGELIST), {"lock": "normal"})

    assert {a.username for a in locked.context["cl"].result_list} == {"unit-street", "unit-sibling"}
    assert {a.username for a in normal.context["cl"].result_list} == {"unit-district"}


def test_level_1_staff_filter_by_level_2_organisation(client, units, district_staff, district, street, other_district):
    client.force_login(district_staff)

    def filtered(value):
        response = client.get(reverse(CHANGELIST), {"union": value})
        return {a.username for a in response.context["cl"].result_list}

    assert filtered(street.pk) == {"unit-street"}
    assert filtered(district.pk) == {"unit-district"}  # 直属
    assert filtered(other_district.pk) == set()  # another organisation's id finds nothing


def test_superusers_filter_by_level_1_organisation_with_its_level_2_ones(client, units, superuser, district):
    client.force_login(superuser)

    by_district = client.get(reverse(CHANGELIST), {"union": district.pk})
    no_union = client.get(reverse(CHANGELIST), {"union": "none"})

    by_district_names = {a.username for a in by_district.context["cl"].result_list}
    assert by_district_names == {"unit-district", "unit-street", "unit-sibling"}
    assert "unit-nounion" in {a.username for a in no_union.context["cl"].result_list}


def test_the_account_pages_own_styles_pass_the_content_security_policy(client, units, district_staff):
    client.force_login(district_staff)

    for url in (
        reverse(CHANGELIST),
        reverse("admin:accounts_user_change", args=[units["street"].pk]),
        reverse("admin:accounts_user_reset_password", args=[units["street"].pk]),
        reverse("admin:accounts_user_unlock", args=[units["street"].pk]),
    ):
        response = client.get(url)
        nonce = re.search(r'<style nonce="([^"]+)">', response.content.decode()).group(1)
        style_src = next(d for d in response["Content-Security-Policy"].split(";") if d.strip().startswith("style-src"))
        assert f"'nonce-{nonce}'" in style_src, url
        assert "unsafe-inline" not in style_src


# --- the account page: read only for staff, editable for superusers (SPEC BO-2) -------------------


def test_staff_see_the_account_read_only_with_the_mobile_masked(client, units, district_staff):
    client.force_login(district_staff)
    url = reverse("admin:accounts_user_change", args=[units["street"].pk])

    response = client.get(url)

    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    assertNotContains(response, '<input type="text" name="unit_name"')
    assertContains(response, "甲街道单位")
    assertContains(response, "139****5678")
    assertNotContains(response, "13912345678")
    assertNotContains(response, "pbkdf2")
    assertNotContains(response, "md5$")
    assertContains(response, reverse("admin:accounts_user_reset_password", args=[units["street"].pk]))
    # A POST changes nothing.
    response = client.post(url, {"username": "renamed", "unit_name": "改名", "is_superuser": "on"})
    assert response.status_code == 403
    units["street"].refresh_from_db()
    assert (units["street"].username, units["street"].unit_name, units["street"].is_superuser) == (
        "unit-street",
        "甲街道单位",
        False,
    )


def test_staff_cannot_use_the_admin_password_form(client, units, district_staff):
    client.force_login(district_staff)

    response = client.get(reverse("admin:auth_user_password_change", args=[units["street"].pk]))

    assert response.status_code == 403


def test_superusers_edit_an_account(client, units, superuser, other_district):
    client.force_login(superuser)
    url = reverse("admin:accounts_user_change", args=[units["street"].pk])

    page = client.get(url)

    assert page.context["has_change_permission"] is True
    assertContains(page, 'name="unit_name"')
    assertContains(page, 'name="union_organisation"')


# --- 【重置密码】 (SPEC ACC-3 [departure]) --------------------------------------------------------


def test_the_confirmation_page_explains_what_happens(client, units, district_staff):
    client.force_login(district_staff)

    response = client.get(reverse("admin:accounts_user_reset_password", args=[units["street"].pk]))

    assert response.status_code == 200
    for text in ("临时密码，仅在下一页显示一次", "邮件发送给经办人", "下次登录须修改密码", "该账号所有登录会话将失效", "确认重置"):
        assertContains(response, text)
    assertContains(response, 'method="post"')
    assertContains(response, "csrfmiddlewaretoken")
    # A GET changes nothing.
    units["street"].refresh_from_db()
    assert units["street"].must_change_password is False


def test_reset_shows_the_temporary_password_once_and_stores_it_nowhere_in_clear(client, units, district_staff):
    client.force_login(district_staff)
    account = units["street"]
    url = reverse("admin:accounts_user_reset_password", args=[account.pk])
    fingerprint = client.get(url).context["fingerprint"]

    posted = client.post(url, {"fingerprint": fingerprint})

    done_url = reverse("admin:accounts_user_reset_password_done", args=[account.pk])
    assert posted.status_code == 302 and posted["Location"] == done_url
    stored = client.session[TEMPORARY_PASSWORD_SESSION_KEY]
    shown = client.get(done_url)
    password = shown.context["password"]
    assert re.fullmatch(r"[A-Za-z0-9]{10}", password)
    assertContains(shown, password)
    assert password not in posted["Location"] and password not in shown.request["PATH_INFO"]
    assert password not in str(stored)  # encrypted while it waits in the session
    assert "no-store" in shown["Cache-Control"]
    # SPEC ACC-3: shown once. A reload finds nothing.
    again = client.get(done_url)
    assert again.context["password"] is None
    assertNotContains(again, password)
    assertContains(again, "临时密码已不再显示")
    assert "no-store" in again["Cache-Control"]
    assert TEMPORARY_PASSWORD_SESSION_KEY not in client.session
    # The account holds only a hash.
    account.refresh_from_db()
    assert password not in account.password and account.check_password(password)
    assert account.must_change_password is True


def test_reset_e_mails_the_temporary_password_to_the_handler(
    client, units, district_staff, django_capture_on_commit_callbacks
):
    client.force_login(district_staff)

    with django_capture_on_commit_callbacks(execute=True):
        password = reset_through_the_back_office(client, units["street"])

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["unit-street@example.com"]
    assert password in mail.outbox[0].body


def test_a_resubmitted_or_double_clicked_reset_resets_once(client, units, district_staff):
    client.force_login(district_staff)
    account = units["street"]
    url = reverse("admin:accounts_user_reset_password", args=[account.pk])
    fingerprint = client.get(url).context["fingerprint"]
    client.post(url, {"fingerprint": fingerprint})
    password = client.get(reverse("admin:accounts_user_reset_password_done", args=[account.pk])).context["password"]

    second = client.post(url, {"fingerprint": fingerprint}, follow=True)

    assertContains(second, "已发生变化")
    account.refresh_from_db()
    assert account.check_password(password)  # the password shown is still the valid one


def test_the_temporary_password_forces_a_change(client, units, district_staff):
    staff = PortalClient()
    staff.force_login(district_staff)
    password = reset_through_the_back_office(staff, units["street"])

    # SPEC ACC-3: the login page sends the unit straight to 修改密码 …
    response = post_login(client, "unit-street", password)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change")
    # … and so does every other page until the password is changed.
    for url in (reverse("accounts:landing"), reverse("accounts:workbench"), "/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == reverse("accounts:password_change"), url
    assertContains(client.get(reverse("accounts:password_change")), "临时密码")



def test_a_failed_change_does_not_spend_the_temporary_password(client, units, district_staff):
    # SPEC ACC-3: the successful change consumes the temporary password, not the login; one failed
    # attempt (原密码 left empty) and a logout must not cost the unit a second reset.
    staff = PortalClient()
    staff.force_login(district_staff)
    password = reset_through_the_back_office(staff, units["street"])
    post_login(client, "unit-street", password)

    failed = client.post(
        reverse("accounts:password_change"),
        {"old_password": "", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert failed.status_code == 200
    client.post(reverse("accounts:logout"))

    again = PortalClient()
    response = post_login(again, "unit-street", password)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_change")
    response = again.post(
        reverse("accounts:password_change"),
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == reverse("accounts:landing")
    # Spent by the change: the temporary password no longer logs in, the new one does.
    assert post_login(PortalClient(), "unit-street", password).status_code == 200
    assert post_login(PortalClient(), "unit-street", NEW_PASSWORD).status_code == 302


def test_an_expired_temporary_password_is_refused(client, units, district_staff):
    # SPEC ACC-3: it still lapses as before.
    staff = PortalClient()
    staff.force_login(district_staff)
    password = reset_through_the_back_office(staff, units["street"])
    User.objects.filter(username="unit-street").update(temporary_password_expires_at=timezone.now() - dt.timedelta(minutes=1))

    response = post_login(client, "unit-street", password)

    assert response.status_code == 200
    assertContains(response, "临时密码已过期")


def test_after_the_change_the_new_password_works_and_the_temporary_one_does_not(client, units, district_staff):
    staff = PortalClient()
    staff.force_login(district_staff)
    password = reset_through_the_back_office(staff, units["street"])
    post_login(client, "unit-street", password)

    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302 and response["Location"] == reverse("accounts:landing")
    assert client.get(reverse("accounts:landing")).status_code == 200
    account = User.objects.get(username="unit-street")
    assert account.must_change_password is False
    assert post_login(PortalClient(), "unit-street", NEW_PASSWORD).status_code == 302
    assert post_login(PortalClient(), "unit-street", password).status_code == 200


def test_a_reset_ends_every_session_of_the_account(client, units, district_staff):
    before = PortalClient()
    assert post_login(before, "unit-street", PASSWORD).status_code == 302
    also_before = PortalClient()
    also_before.force_login(units["street"])
    assert before.get(reverse("accounts:landing")).status_code == 200
    staff = PortalClient()
    staff.force_login(district_staff)

    reset_through_the_back_office(staff, units["street"])

    for session in (before, also_before):
        response = session.get(reverse("accounts:landing"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    # The staff member stays logged in.
    assert staff.get(reverse(CHANGELIST)).status_code == 200


def test_a_reset_is_audited_with_the_staff_member_as_actor(client, units, district_staff):
    client.force_login(district_staff)
    account = units["street"]
    before = last_log_entry_id()

    reset_through_the_back_office(client, account)

    entries = LogEntry.objects.get_for_object(account).filter(pk__gt=before)
    assert entries.count() == 2  # the password fields, then the cleared failures
    assert {entry.actor_id for entry in entries} == {district_staff.pk}
    changed = set().union(*(entry.changes_dict for entry in entries))
    assert "must_change_password" in changed
    assert "password" not in changed  # the hash never goes into the trail
    assert all(entry.remote_addr == "127.0.0.1" for entry in entries)
    # And on the account's 历史 page in the back office.
    history = client.get(reverse("admin:accounts_user_history", args=[account.pk]))
    assertContains(history, "重置密码（发放临时密码）")
    assertContains(history, "staff-district")


# --- 【解锁】 (SPEC ACC-4) -------------------------------------------------------------------------


def lock_pair(username, ip="10.9.9.9"):
    """What five failed logins from one address leave behind (django-axes' record)."""
    AccessAttempt.objects.create(
        username=username,
        ip_address=ip,
        user_agent="test",
        http_accept="*/*",
        path_info=LOGIN,
        attempt_time=timezone.now(),
        failures_since_start=settings.AXES_FAILURE_LIMIT,
    )


def lock_account(username):
    """A hundred failures within the hour from many addresses, written directly for speed."""
    now = timezone.now()
    AccessFailureLog.objects.bulk_create(
        AccessFailureLog(
            username=username,
            ip_address=f"10.1.{n // 250}.{n % 250 + 1}",
            user_agent="test",
            http_accept="*/*",
            path_info=LOGIN,
            attempt_time=now - dt.timedelta(seconds=n),
            locked_out=False,
        )
        for n in range(ACCOUNT_FAILURE_LIMIT)
    )


def unlock_through_the_back_office(client, account):
    return client.post(reverse("admin:accounts_user_unlock", args=[account.pk]), follow=True)


def test_unlock_clears_a_pair_lock_made_by_five_failed_logins(client, units, district_staff):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(PortalClient(), "unit-street", "wrong-password", ip="10.2.2.2")
    locked = post_login(PortalClient(), "unit-street", PASSWORD, ip="10.2.2.2")
    assert locked.status_code == 429
    assertContains(locked, "请于15分钟后再试", status_code=429)
    assert pair_locked_until(username="unit-street", ip_address="10.2.2.2")
    client.force_login(district_staff)
    confirm = client.get(reverse("admin:accounts_user_unlock", args=[units["street"].pk]))
    assertContains(confirm, "10.2.2.2")
    assertContains(confirm, "确认解锁")

    response = unlock_through_the_back_office(client, units["street"])

    assertContains(response, "已解锁")
    assert pair_locked_until(username="unit-street", ip_address="10.2.2.2") is None
    assert lock_states(usernames=["unit-street"]) == {}
    assert post_login(PortalClient(), "unit-street", PASSWORD, ip="10.2.2.2").status_code == 302


def test_unlock_clears_the_account_wide_lock(client, units, district_staff):
    lock_account("unit-street")
    refused = post_login(PortalClient(), "unit-street", PASSWORD, ip="10.3.3.3")
    assert refused.status_code == 200
    assertContains(refused, "已被锁定")
    assert account_locked_until(username="unit-street")
    client.force_login(district_staff)
    assertContains(client.get(reverse(CHANGELIST)), "已锁定（至")

    response = unlock_through_the_back_office(client, units["street"])

    assertContains(response, "已解锁")
    assertContains(response, "正常")
    assert account_locked_until(username="unit-street") is None
    assert post_login(PortalClient(), "unit-street", PASSWORD, ip="10.3.3.3").status_code == 302


def test_unlock_does_not_touch_other_accounts(client, units, district_staff):
    lock_pair("unit-street")
    lock_pair("unit-sibling")
    client.force_login(district_staff)

    unlock_through_the_back_office(client, units["street"])

    assert set(lock_states(usernames=["unit-street", "unit-sibling"])) == {"unit-sibling"}


def test_unlock_is_audited_with_the_staff_member_as_actor(client, units, district_staff):
    lock_pair("unit-street")
    client.force_login(district_staff)

    before = last_log_entry_id()

    unlock_through_the_back_office(client, units["street"])

    entry = LogEntry.objects.get_for_object(units["street"]).get(pk__gt=before)
    assert "failures_cleared_at" in entry.changes_dict
    assert entry.actor_id == district_staff.pk
    assert entry.remote_addr == "127.0.0.1"


def test_a_get_on_unlock_changes_nothing(client, units, district_staff):
    lock_pair("unit-street")
    client.force_login(district_staff)

    client.get(reverse("admin:accounts_user_unlock", args=[units["street"].pk]))

    assert lock_states(usernames=["unit-street"])


# --- CSRF (the POSTs are protected) --------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["admin:accounts_user_reset_password", "admin:accounts_user_unlock"])
def test_the_posts_need_a_csrf_token(units, district_staff, url_name):
    lock_pair("unit-street")
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(district_staff)
    url = reverse(url_name, args=[units["street"].pk])
    confirm = client.get(reverse("admin:accounts_user_reset_password", args=[units["street"].pk]))
    fingerprint = confirm.context["fingerprint"]

    response = client.post(url, {"fingerprint": fingerprint})

    assert response.status_code == 403
    units["street"].refresh_from_db()
    assert units["street"].must_change_password is False
    assert lock_states(usernames=["unit-street"])


# --- the services called directly (the same rules without the admin) -------------------------------


def test_the_services_refuse_an_account_outside_the_scope(units, street_staff):
    from accounts.services import AccountError

    with pytest.raises(AccountError):
        account_reset_password(account=units["sibling"], acting_user=street_staff)
    with pytest.raises(AccountError):
        account_unlock(account=units["sibling"], acting_user=street_staff)


def test_a_service_reset_is_audited_with_the_actor_even_without_a_request(units, district_staff):
    before = last_log_entry_id()

    account_reset_password(account=units["street"], acting_user=district_staff)

    entries = LogEntry.objects.get_for_object(units["street"]).filter(pk__gt=before)
    assert entries.count() == 2
    assert {entry.actor_id for entry in entries} == {district_staff.pk}


# --- union organisations (SPEC ACC-2) --------------------------------------------------------------


def test_reviewers_maintain_union_organisations(client, reviewer, district):
    client.force_login(reviewer)
    changelist = reverse("admin:accounts_unionorganisation_changelist")

    assert client.get(changelist, {"level__exact": 1}).status_code == 200
    response = client.post(
        reverse("admin:accounts_unionorganisation_add"),
        {"name": "测试区丙街道总工会", "short_name": "", "level": 2, "parent": district.pk, "sort_order": 0, "is_active": "on"},
    )
    assert response.status_code == 302
    assert UnionOrganisation.objects.get(name="测试区丙街道总工会").parent == district
    created = UnionOrganisation.objects.get(name="测试区丙街道总工会")
    assert client.post(reverse("admin:accounts_unionorganisation_delete", args=[created.pk])).status_code == 403


def test_a_level_2_organisation_needs_a_parent(client, reviewer):
    client.force_login(reviewer)

    response = client.post(
        reverse("admin:accounts_unionorganisation_add"),
        {"name": "无上级的二级工会", "short_name": "", "level": 2, "sort_order": 0, "is_active": "on"},
    )

    assertContains(response, "二级工会组织须选择所属一级工会组织")
    assert not UnionOrganisation.objects.filter(name="无上级的二级工会").exists()


def test_union_organisation_list_filters_and_search(client, superuser, units, district, street, sibling_street):
    client.force_login(superuser)
    changelist = reverse("admin:accounts_unionorganisation_changelist")

    by_parent = client.get(changelist, {"parent__id__exact": district.pk})
    by_search = client.get(changelist, {"q": "乙街道"})

    assert {o.name for o in by_parent.context["cl"].result_list} == {street.name, sibling_street.name}
    assert {o.name for o in by_search.context["cl"].result_list} == {sibling_street.name}
    assertContains(by_parent, "单位账号数")
