"""The account of the session, read by accounts.roles.RolePermissionBackend.get_user in SQL (SPEC
OPS-3), against Django's ModelBackend.get_user it replaced: the same account field by field and type
by type, and nothing where Django finds nothing (an unknown, inactive, malformed or out-of-range id)."""
import datetime as dt

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from accounts.roles import RolePermissionBackend
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


@pytest.mark.parametrize("kind", ["unit_admin", "reviewer", "superuser"])
def test_the_same_account_as_django_reads(kind, reviewer, unit_admin):
    account = {"unit_admin": unit_admin, "reviewer": reviewer}.get(kind) or UserFactory(is_superuser=True, is_staff=True)
    User.objects.filter(pk=account.pk).update(last_login=dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC))
    expected = ModelBackend().get_user(account.pk)
    RolePermissionBackend().get_user(account.pk)  # on PostgreSQL the first one prepares the statement

    with CaptureQueriesContext(connection) as captured:
        found = RolePermissionBackend().get_user(account.pk)

    assert len(captured) == 1
    assert fields(found) == fields(expected)
    assert {name: type(value) for name, value in fields(found).items()} == {name: type(value) for name, value in fields(expected).items()}
    assert found.last_login == dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC) and found.last_login.tzinfo is not None
    assert not found._state.adding and found._state.db == expected._state.db
    assert found.get_session_auth_hash() == expected.get_session_auth_hash()
    found.first_name = "改过"  # a model like any other: it saves
    found.save(update_fields=["first_name"])
    assert User.objects.get(pk=account.pk).first_name == "改过"


@pytest.mark.parametrize("user_id", [None, 2**63, -(2**63) - 1, "99999999"])
def test_nothing_where_django_finds_nothing(user_id, unit_admin):
    assert ModelBackend().get_user(user_id) is None
    assert RolePermissionBackend().get_user(user_id) is None


@pytest.mark.parametrize("user_id", ["", "abc", "1.5", "1\x00"])
def test_nothing_for_a_malformed_id_where_django_raises(user_id, unit_admin):
    with pytest.raises(ValueError):
        ModelBackend().get_user(user_id)
    assert RolePermissionBackend().get_user(user_id) is None


def test_an_inactive_account_is_nobody(unit_admin):
    User.objects.filter(pk=unit_admin.pk).update(is_active=False)
    assert RolePermissionBackend().get_user(unit_admin.pk) is None
    assert RolePermissionBackend().get_user(str(unit_admin.pk)) is None


def test_a_session_finds_its_account_and_loses_it_with_a_password_change(client, unit_admin):
    client.force_login(unit_admin)
    assert client.get(reverse("accounts:landing")).status_code == 200
    unit_admin.set_password("Another#2026")
    unit_admin.save()
    # the session's hash no longer matches: logged out, as with Django's own reading
    assert client.get(reverse("accounts:landing")).status_code == 302
