"""enrollment.selectors.account_batch_of, written in SQL (SPEC OPS-3), against the ORM's select_related
query it replaced: the same batch, code and coverage year, field by field and type by type, and nothing
for another account's batch (SPEC X-4)."""
import datetime as dt
from decimal import Decimal

import pytest

from enrollment.models import Batch
from enrollment.selectors import account_batch_of
from tests.factories import UserFactory, make_batch

pytestmark = pytest.mark.django_db


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_same_models_as_the_orm(handbook_year):
    batch = make_batch(year=handbook_year)
    Batch.objects.filter(pk=batch.pk).update(coverage_start=dt.date(2023, 8, 1), submitted_at=dt.datetime(2023, 7, 1, 9, tzinfo=dt.UTC))
    expected = Batch.objects.select_related("code", "coverage_year").get(pk=batch.pk)
    found = account_batch_of(account=batch.account, number=batch.number)
    for mine, theirs in ((found, expected), (found.code, expected.code), (found.coverage_year, expected.coverage_year)):
        assert fields(mine) == fields(theirs)
        assert {name: type(value) for name, value in fields(mine).items()} == {name: type(value) for name, value in fields(theirs).items()}
        assert not mine._state.adding and mine._state.db == theirs._state.db
    assert isinstance(found.coverage_year.bundle_discount, Decimal)
    assert found.created_at.tzinfo is not None and found.submitted_at == dt.datetime(2023, 7, 1, 9, tzinfo=dt.UTC)
    assert found.coverage_start == dt.date(2023, 8, 1)
    # the code and the year come with the batch: reading them asks nothing more
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert found.code.code == expected.code.code and found.coverage_year.year == handbook_year.year
    assert len(captured) == 0
    found.state = found.state  # a model like any other: it saves
    found.save(update_fields=["state"])


def test_another_accounts_batch_and_an_unknown_number_are_none(handbook_year):
    batch = make_batch(year=handbook_year)
    assert account_batch_of(account=UserFactory(role="unit_admin"), number=batch.number) is None
    assert account_batch_of(account=batch.account, number="2023J999999") is None
    assert account_batch_of(account=batch.account, number="") is None
