"""Schemathesis against the OpenAPI document (SPEC API-2, API-3, SEC-1, SEC-5): every operation
is called with generated requests — valid and invalid ones — with the token of a demo unit (manage.py
seed_demo), through the portal's own WSGI application (every middleware included). No answer may be a
5xx, and every answer must match the document (status codes, media types, headers, bodies).

Half of the cases that name a batch use a real batch of the token (the demo's batch ready for
【保障项目选择】 and a draft), so the operations get past the 404 and reach the services; the rest are
generated. It runs in the normal suite, on PostgreSQL and on SQLite, never skipped; `max_examples` keeps
it under a minute.
"""
import datetime as dt

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings, strategies as st
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from schemathesis import GenerationMode

from api.services import api_token_create
from enrollment.models import Batch
from mutualaid.wsgi import application

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 25  # per operation and mode: 9 operations × 2 modes, ~20 s on PostgreSQL, under a minute


@pytest.fixture
def demo_token(demo_data, settings):
    """A token of the demo unit account `demo` for the code of its batch ready for plan selection."""
    from accounts.models import User

    settings.API_REQUESTS_PER_MINUTE = 100_000  # the fuzzer is no abuser; the quota has its own test
    settings.QUOTA_ROSTER_IMPORTS_PER_HOUR = 100_000
    account = User.objects.get(username="demo")
    batch = Batch.objects.filter(account=account).order_by("-state").first()
    _, secret = api_token_create(
        account=account, code_id=batch.code_id, name="schemathesis", expires_on=timezone.localdate() + dt.timedelta(days=30)
    )
    numbers = list(Batch.objects.filter(account=account, code_id=batch.code_id).values_list("number", flat=True))
    return secret, numbers


@pytest.fixture
def connection_kept():
    """The WSGI application closes the database connection after each request (close_old_connections
    on request_finished), which would end the test's transaction on PostgreSQL; Django's test client
    disconnects it for the same reason, and so does this test while it calls the application."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_every_operation_matches_the_document_and_never_fails(demo_token, connection_kept):
    secret, numbers = demo_token
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    headers = {"Authorization": f"Bearer {secret}"}
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        # A generated "file" is never a workbook: the import answers it 422 with the page's message
        # (不是有效的参保名单文件), which the document cannot tell from a valid upload by its schema.
        excluded = [schemathesis.checks.positive_data_acceptance] if operation.path.endswith("/imports/") else []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies = [operation.as_strategy(generation_mode=mode)]
            if "{number}" in operation.path:
                strategies += [
                    operation.as_strategy(generation_mode=mode, path_parameters={"number": number}) for number in numbers
                ]

            @hypothesis_settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=st.one_of(strategies))
            def call(case):
                case.call_and_validate(headers=headers, excluded_checks=excluded)

            call()
            tried += 1
    assert tried >= 18  # 9 operations, both modes: the document was really read
