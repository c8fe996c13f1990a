"""Fixtures of the API tests (SPEC API-1 … API-3): a unit account with a code ready for batches (经办人填报
saved), its token, and a client that sends it as `Authorization: Bearer`."""
import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from api.services import api_token_create
from tests.enrollment.helpers import (  # noqa: F401 - the window fixtures
    centralised_window,
    instant_window,
    make_code,
    make_handler_info,
)
from tests.factories import UserFactory


class ApiClient(Client):
    """A client that authenticates by token only (no session, no CSRF token)."""

    def __init__(self, secret: str = "", **defaults):
        super().__init__(enforce_csrf_checks=True, **defaults)
        self.secret = secret

    def request(self, **request):
        if self.secret:
            request.setdefault("HTTP_AUTHORIZATION", f"Bearer {self.secret}")
        return super().request(**request)


@pytest.fixture
def account(db):
    return UserFactory(username="hr-unit", first_name="丁一")


@pytest.fixture
def code(account, handbook_year):
    enrollment_code = make_code(account)
    make_handler_info(enrollment_code)
    return enrollment_code


@pytest.fixture
def token_and_secret(account, code):
    return api_token_create(account=account, code_id=code.pk, name="人事系统", expires_on=timezone.localdate() + dt.timedelta(days=30))


@pytest.fixture
def token(token_and_secret):
    return token_and_secret[0]


@pytest.fixture
def api_client(token_and_secret):
    return ApiClient(token_and_secret[1])




def problem_of(response) -> dict:
    """The RFC 9457 body of an error answer, after checking its media type (SPEC API-3)."""
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == response.status_code
    return body
