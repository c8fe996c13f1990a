"""Roles decide back-office access and permissions (accounts/models.py, accounts/roles.py,
accounts/admin.py): every back-office page is tried with the right role, the wrong role and a unit
administrator (STYLE.md §10)."""
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import Role, User
from accounts.roles import RolePermissionBackend
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

def _admin_link(url_name: str, label: str) -> str:
    return f'<a href="{reverse(url_name)}">{label}</a>'


def _fresh(user: User) -> User:
    """The user as a new request would load it: no permission cache from earlier checks."""
    return User.objects.get(pk=user.pk)


# --- the user model --------------------------------------------------------------------------------


def test_custom_user_model_is_accounts_user():
    assert settings.AUTH_USER_MODEL == "accounts.User"
    assert get_user_model() is User


@pytest.mark.parametrize(
    ("role", "is_staff"),
    [(Role.REVIEWER, True), (Role.UNION_STAFF, True), (Role.UNIT_ADMIN, False)],
)
def test_staff_flag_follows_the_role(role, is_staff):
    user = UserFactory(role=role, is_staff=not is_staff)  # whatever is ticked, the role wins

    assert _fresh(user).is_staff is is_staff


def test_moving_an_account_out_of_the_back_office_removes_staff(reviewer):
    reviewer.role = Role.UNIT_ADMIN
    reviewer.save()

    assert _fresh(reviewer).is_staff is False


def test_superuser_is_staff_whatever_its_role():
    assert _fresh(UserFactory(role=Role.UNIT_ADMIN, is_superuser=True)).is_staff is True


# --- permissions by role ---------------------------------------------------------------------------


def test_role_backend_is_the_authentication_backend():
    # The lockout check comes first (SPEC ACC-4); the role backend decides who is who.
    assert settings.AUTHENTICATION_BACKENDS == ["accounts.backends.LockoutBackend", "accounts.roles.RolePermissionBackend"]


def test_reviewer_manages_coverage_years_and_reads_the_audit_log(reviewer):
    user = _fresh(reviewer)

    assert user.has_perm("enrollment.change_coverageyear")
    assert user.has_perm("enrollment.view_coverageyear")
    assert user.has_perm("mutualaid.change_calendarday")
    assert user.has_perm("auditlog.view_logentry")
    assert not user.has_perm("enrollment.delete_coverageyear")
    assert not user.has_perm("auditlog.change_logentry")


def test_union_staff_see_accounts_but_not_coverage_years_or_the_audit_log(union_staff):
    user = _fresh(union_staff)

    assert user.has_perm("accounts.view_user")
    assert not user.has_perm("accounts.change_user")
    assert not user.has_perm("enrollment.view_coverageyear")
    assert not user.has_perm("enrollment.change_coverageyear")
    assert not user.has_perm("auditlog.view_logentry")


def test_unit_admin_has_no_back_office_permission(unit_admin):
    assert RolePermissionBackend().get_all_permissions(_fresh(unit_admin)) == set()


def test_inactive_reviewer_has_no_permission(reviewer):
    reviewer.is_active = False
    reviewer.save()

    assert not _fresh(reviewer).has_perm("enrollment.change_coverageyear")


def test_permissions_follow_a_role_change_at_once(union_staff):
    union_staff.role = Role.REVIEWER
    union_staff.save()

    user = _fresh(union_staff)
    assert user.has_perm("enrollment.change_coverageyear")
    assert user.has_perm("accounts.add_unionorganisation")  # reviewers' only (SPEC ACC-2)


def test_no_object_level_permissions(reviewer):
    # Role permissions are model-wide; the backend must not hand them out per object by accident.
    from enrollment.models import CoverageYear

    year = CoverageYear.objects.get(year=2023)
    assert RolePermissionBackend().get_all_permissions(_fresh(reviewer), obj=year) == set()


# --- the back office -------------------------------------------------------------------------------


def test_back_office_title(client, reviewer):
    client.force_login(reviewer)

    response = client.get(reverse("admin:index"))

    assertContains(response, "<title>工作台 | 上海市职工保障互助会 后台</title>", html=False)
    assertContains(response, _admin_link("admin:index", "上海市职工保障互助会 后台"), html=True)


def test_reviewer_sees_coverage_years_calendar_and_audit_log(client, reviewer):
    client.force_login(reviewer)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assertContains(response, _admin_link("admin:enrollment_coverageyear_changelist", "保障年度"), html=True)
    assertContains(response, _admin_link("admin:mutualaid_calendarday_changelist", "节假日与调休"), html=True)
    assertContains(response, f'href="{reverse("admin:auditlog_logentry_changelist")}"')
    for url_name in (
        "admin:enrollment_coverageyear_changelist",
        "admin:mutualaid_calendarday_changelist",
        "admin:auditlog_logentry_changelist",
    ):
        assert client.get(reverse(url_name)).status_code == 200, url_name


def test_union_staff_see_accounts_but_not_coverage_years(client, union_staff):
    client.force_login(union_staff)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assertContains(response, _admin_link("admin:accounts_user_changelist", "平台账号"), html=True)
    assertNotContains(response, "保障年度")
    assertNotContains(response, reverse("admin:auditlog_logentry_changelist"))
    assert client.get(reverse("admin:enrollment_coverageyear_changelist")).status_code == 403
    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 403


@pytest.mark.parametrize(
    "url_name", ["admin:index", "admin:enrollment_coverageyear_changelist", "admin:accounts_user_changelist"]
)
def test_unit_admin_is_sent_to_the_back_office_login(client, unit_admin, url_name):
    client.force_login(unit_admin)
    url = reverse(url_name)

    response = client.get(url)

    assertRedirects(response, f"{reverse('admin:login')}?next={url}", fetch_redirect_response=False)


def test_union_staff_list_only_unit_admin_accounts(client, union_staff):
    # SPEC BO-2: the units under the staff member's organisation (scope: tests/accounts/test_backoffice_accounts.py).
    from accounts.models import UnionOrganisation

    organisation = UnionOrganisation.objects.create(name="角色测试区总工会", level=1)
    union_staff.union_organisation = organisation
    union_staff.save()
    units = {UserFactory(role=Role.UNIT_ADMIN, union_organisation=organisation).username for _ in range(3)}
    UserFactory(role=Role.REVIEWER, union_organisation=organisation)
    UserFactory(role=Role.UNION_STAFF, union_organisation=organisation)
    UserFactory(role=Role.UNIT_ADMIN, is_superuser=True, union_organisation=organisation)
    client.force_login(union_staff)

    response = client.get(reverse("admin:accounts_user_changelist"))

    assert response.status_code == 200
    assert {user.username for user in response.context["cl"].result_list} == units


def test_union_staff_cannot_open_another_back_office_account(client, union_staff):
    other = UserFactory(role=Role.REVIEWER)
    client.force_login(union_staff)

    response = client.get(reverse("admin:accounts_user_change", args=[other.pk]))

    # An account outside the scope is not there: 404, not the admin's redirect (SPEC BO-2).
    assert response.status_code == 404
