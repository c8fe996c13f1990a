"""mutualaid.rows.fetch_row (SPEC OPS-3): a hand-written statement that every request runs, prepared
once per database connection on PostgreSQL and executed by name; the same answers everywhere."""
import pytest
from django.db import connection, transaction

from mutualaid.rows import fetch_row
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "SELECT username, is_active FROM accounts_user WHERE id = %s AND username <> %s"


def _prepared(name: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name = %s", [name])
        return cursor.fetchall()


def test_the_row_or_none():
    account = UserFactory(username="rows-one")
    assert fetch_row("rows_test_a", SQL, [account.pk, ""], ("bigint", "text")) == ("rows-one", True)
    assert fetch_row("rows_test_a", SQL, [account.pk, "rows-one"], ("bigint", "text")) is None
    assert fetch_row("rows_test_a", SQL, [account.pk + 1000, ""], ("bigint", "text")) is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_prepared_once_per_connection_and_again_on_a_new_one():
    first, second = UserFactory(username="rows-first"), UserFactory(username="rows-second")
    for account in (first, second, first):
        assert fetch_row("rows_test_b", SQL, [account.pk, ""], ("bigint", "text"))[0] == account.username
    (statement,) = _prepared("rows_test_b")
    assert "$1" in statement[0] and "$2" in statement[0]  # the parameters are the statement's, not literals

    connection.close()  # CONN_MAX_AGE ends it, or the database restarts
    assert _prepared("rows_test_b") == []
    assert fetch_row("rows_test_b", SQL, [second.pk, ""], ("bigint", "text"))[0] == "rows-second"
    assert len(_prepared("rows_test_b")) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_a_rolled_back_transaction_keeps_the_statement_as_the_bookkeeping_assumes():
    account = UserFactory(username="rows-rollback")
    with pytest.raises(RuntimeError), transaction.atomic():
        assert fetch_row("rows_test_c", SQL, [account.pk, ""], ("bigint", "text"))[0] == "rows-rollback"
        raise RuntimeError
    assert fetch_row("rows_test_c", SQL, [account.pk, ""], ("bigint", "text"))[0] == "rows-rollback"
