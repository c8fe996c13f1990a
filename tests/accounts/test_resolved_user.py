"""accounts.middleware.ResolvedUserMiddleware (SPEC OPS-3): past django-otp's middleware, request.user is
the account itself — not AuthenticationMiddleware's lazy proxy inside django-otp's — with django-otp's
fields set, for a unit administrator, a staff account that passed its second factor, and a visitor."""
import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils.functional import LazyObject

from accounts.models import User
from tests.second_factor import confirmed_device

pytestmark = pytest.mark.django_db


def test_a_unit_administrator_is_the_account_itself(client, unit_admin):
    client.force_login(unit_admin)

    response = client.get(reverse("accounts:landing"))

    user = response.wsgi_request.user
    assert response.status_code == 200
    assert type(user) is User and not isinstance(user, LazyObject)
    assert user.pk == unit_admin.pk
    assert user.otp_device is None and user.is_verified() is False


def test_a_staff_account_keeps_its_second_factor(client, reviewer):
    device = confirmed_device(reviewer)
    client.force_login(reviewer)  # tests/second_factor.PortalClient passes the second factor

    response = client.get(reverse("admin:index"))

    user = response.wsgi_request.user
    assert response.status_code == 200
    assert type(user) is User and user.is_verified() is True and user.otp_device == device


def test_a_visitor_is_anonymous(client):
    response = client.get(reverse("accounts:login"))

    user = response.wsgi_request.user
    assert response.status_code == 200
    assert type(user) is AnonymousUser and user.is_verified() is False
