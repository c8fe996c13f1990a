"""SPEC SEC-9: the audit trail nobody can edit — auditlog's entries (access, export, look-up and denial
records; every change) and the batches' 操作日志 (BAT-7) are append-only for the application's database
role; the retention sweep is the only deleter; 【批次删除】 (BAT-5) keeps the 操作日志; accounts are
deactivated, never deleted.

The triggers and roles exist on PostgreSQL only. The test database belongs to the role the tests
connect as (pytest-django creates it), as the production tables belong to the owner role; the tests
create a role like the application's (no ownership; SELECT, INSERT, UPDATE, DELETE and sequence
usage, as README's 数据库角色 grants) inside the test's transaction and act as it with SET ROLE.
"""
import contextlib
import datetime as dt
import uuid

import pytest
from auditlog.models import LogEntry
from django.contrib.admin.models import CHANGE
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from enrollment.models import Batch, BatchLog
from enrollment.services import audit_trail_sweep, batch_delete, batch_transition
from enrollment.states import BatchKind, BatchState
from enrollment.tasks import sweep_audit_trail
from mutualaid.audit import audit_access, years_before
from tests.enrollment.helpers import make_code
from tests.factories import UserFactory, make_batch, make_entry

pytestmark = pytest.mark.django_db

on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="triggers and database roles exist on PostgreSQL only"
)

S = BatchState
AUDIT_TABLES = ("auditlog_logentry", "enrollment_batchlog", "django_admin_log")


@pytest.fixture
def account(db):
    return UserFactory(username="sec9-unit")


@pytest.fixture
def batch(account, handbook_year):
    return make_batch(code=make_code(account), year=handbook_year, kind=BatchKind.INSTANT)


@pytest.fixture
def application_role(db):
    """A role like the application's, made in the test's transaction (so it goes with it): it owns
    nothing and may select, insert, update and delete every table and use every sequence."""
    name = f"sec9_app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{name}" NOLOGIN')
        cursor.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{name}"')
        cursor.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{name}"')
    return name


@contextlib.contextmanager
def acting_as_role(name: str):
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def current_user() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return cursor.fetchone()[0]


def refused(sql: str) -> str:
    """Run `sql` in a savepoint; return the database's refusal (the test fails if there is none)."""
    with pytest.raises(DatabaseError) as error:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    return str(error.value)


def an_entry(*, action=LogEntry.Action.ACCESS, age=dt.timedelta(0), text="查看", actor=None) -> LogEntry:
    return LogEntry.objects.create(
        actor=actor,
        content_type=ContentType.objects.get_for_model(User),
        object_pk="1",
        object_repr="sec9",
        action=action,
        changes_text=text,
        timestamp=timezone.now() - age,
    )


# --- the triggers -----------------------------------------------------------------------------------------


@on_postgres
@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_the_application_role_can_neither_update_nor_delete_nor_truncate_the_audit_trail(
    application_role, batch, account, table
):
    entry = an_entry()
    BatchLog.objects.create(batch=batch, actor=account, action="即时参保办理", to_state=S.DRAFT)
    a_history_row(user=account)
    # Even given TRUNCATE, which the application's role never is: the trigger, not a missing
    # privilege, is what refuses.
    with connection.cursor() as cursor:
        cursor.execute(f'GRANT TRUNCATE ON {table} TO "{application_role}"')
        # The rows above leave deferred foreign-key checks pending, before which PostgreSQL refuses
        # any TRUNCATE on its own; check them now so that the TRUNCATE reaches the trigger.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with acting_as_role(application_role):
        assert current_user() == application_role
        for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            message = refused(sql)
            assert "the audit trail is append-only" in message and table in message, sql
        # …and through the ORM the same.
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            LogEntry.objects.filter(pk=entry.pk).update(changes_text="改写")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            BatchLog.objects.filter(batch=batch).delete()
    assert LogEntry.objects.get(pk=entry.pk).changes_text == "查看"
    assert BatchLog.objects.filter(batch=batch).count() == 1
    assert AdminLogEntry.objects.filter(user=account).count() == 1


@on_postgres
def test_the_application_role_writes_the_trail_and_deletes_a_batch_keeping_its_log(
    application_role, batch, account
):
    """The application's normal writes are inserts: a transition, an access record, 【批次删除】 (BAT-5)
    with its roster — as the application's role, the log stays."""
    make_entry(batch)
    with acting_as_role(application_role):
        batch_transition(batch=batch, to=S.VALIDATING, acting_user=account, action="清册校验")
        batch_transition(batch=batch, to=S.INVALID, acting_user=account, action="清册校验")
        audit_access(batch, actor=account, ip="10.0.0.1", text="查看批次")
        a_history_row(user=account)
        batch_delete(batch=batch, acting_user=account)
    assert not Batch.objects.filter(pk=batch.pk).exists()
    assert list(BatchLog.objects.filter(batch_number=batch.number).values_list("action", "to_state")) == [
        ("清册校验", S.VALIDATING),
        ("清册校验", S.INVALID),
        ("批次删除", ""),
    ]
    kinds = set(LogEntry.objects.filter(object_pk=str(batch.pk)).values_list("action", flat=True))
    assert {LogEntry.Action.ACCESS, LogEntry.Action.DELETE} <= kinds
    assert AdminLogEntry.objects.filter(user=account).count() == 1


# --- the retention sweep ------------------------------------------------------------------------------------


def a_history_row(*, user, age=dt.timedelta(0), text="审核通过") -> AdminLogEntry:
    """A row of the admin's history (django_admin_log), as the back office's reviews write them."""
    return AdminLogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(User),
        object_id="1",
        object_repr="sec9",
        action_flag=CHANGE,
        change_message=text,
        action_time=timezone.now() - age,
    )


def _sweep_fixture(batch, account):
    """Rows on both sides of each kind's period (SPEC SEC-9: access records 3 years, records 30),
    a week's margin either way (the database's clock and Python's may differ by a little)."""
    week = dt.timedelta(days=7)
    three, thirty = dt.timedelta(days=3 * 365 + 1), dt.timedelta(days=30 * 365 + 8)
    expired = [
        an_entry(action=LogEntry.Action.ACCESS, age=three + week, text="过期的访问记录"),
        an_entry(action=LogEntry.Action.UPDATE, age=thirty + week, text="过期的变更记录"),
        BatchLog.objects.create(batch=batch, actor=account, action="过期", to_state=S.DRAFT, at=timezone.now() - thirty - week),
        a_history_row(user=account, age=thirty + week),
    ]
    kept = [
        an_entry(action=LogEntry.Action.ACCESS, age=three - week, text="未到期的访问记录"),
        # a change 4 years old is an accounting record: kept 30 years, not 3
        an_entry(action=LogEntry.Action.UPDATE, age=three + week, text="未到期的变更记录"),
        an_entry(action=LogEntry.Action.CREATE, age=thirty - week - week, text="未到期的新增记录"),
        BatchLog.objects.create(batch=batch, actor=account, action="未到期", to_state=S.DRAFT, at=timezone.now() - thirty + week + week),
        a_history_row(user=account, age=thirty - week - week),
    ]
    return expired, kept


def _still_there(rows) -> list[bool]:
    return [type(row).objects.filter(pk=row.pk).exists() for row in rows]


def test_the_sweep_deletes_only_rows_past_their_kinds_period(batch, account):
    expired, kept = _sweep_fixture(batch, account)
    assert audit_trail_sweep() == {"entries": 3, "batch_log": 1}
    assert _still_there(expired) == [False, False, False, False]
    assert _still_there(kept) == [True, True, True, True, True]
    assert audit_trail_sweep() == {"entries": 0, "batch_log": 0}  # safe to run twice


@on_postgres
def test_the_sweep_works_when_the_application_role_runs_it(application_role, batch, account):
    expired, kept = _sweep_fixture(batch, account)
    with acting_as_role(application_role):
        assert sweep_audit_trail() == {"entries": 3, "batch_log": 1}
    assert _still_there(expired) == [False, False, False, False]
    assert _still_there(kept) == [True, True, True, True, True]


@on_postgres
def test_the_purge_functions_refuse_periods_shorter_than_the_spec(application_role, batch, account):
    """A caller with the application's credentials cannot purge young rows by asking for 0 years."""
    an_entry(age=dt.timedelta(days=1))
    BatchLog.objects.create(batch=batch, actor=account, action="即时参保办理", to_state=S.DRAFT)
    with acting_as_role(application_role):
        for sql in ("SELECT audit_purge_entries(0, 30)", "SELECT audit_purge_entries(3, 29)", "SELECT batch_log_purge(29)"):
            assert "shorter than SPEC SEC-9 allows" in refused(sql), sql
    assert LogEntry.objects.filter(object_repr="sec9").exists()
    assert BatchLog.objects.filter(batch=batch).exists()


def test_the_sweep_is_on_the_beat_schedule_with_the_spec_periods(settings):
    assert settings.CELERY_BEAT_SCHEDULE["sweep-audit-trail"]["task"] == sweep_audit_trail.name
    assert settings.AUDIT_RETENTION_YEARS == {"access": 3, "record": 30}


def test_years_before_counts_calendar_years():
    leap = dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.timezone.utc)
    assert years_before(leap, 3) == dt.datetime(2021, 2, 28, 12, 0, tzinfo=dt.timezone.utc)
    assert years_before(dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc), 30) == dt.datetime(1996, 5, 1, tzinfo=dt.timezone.utc)


# --- accounts are deactivated, never deleted ----------------------------------------------------------------


def test_an_account_cannot_be_deleted(account):
    with pytest.raises(PermissionDenied, match="平台账号不能删除"):
        account.delete()
    with pytest.raises(PermissionDenied, match="平台账号不能删除"):
        User.objects.filter(pk=account.pk).delete()  # a bulk delete too
    assert User.objects.filter(pk=account.pk).exists()


def test_the_back_office_offers_no_deletion_of_accounts_only_deactivation(client, account):
    root = UserFactory(username="sec9-root", role=Role.REVIEWER, is_superuser=True)
    client.force_login(root)
    assert client.get(reverse("admin:accounts_user_delete", args=[account.pk])).status_code == 403
    changelist = client.get(reverse("admin:accounts_user_changelist"))
    action_form = changelist.context["action_form"]  # None: no bulk action at all
    assert action_form is None or "delete_selected" not in dict(action_form.fields["action"].choices)
    change = client.get(reverse("admin:accounts_user_change", args=[account.pk]))
    assert 'name="is_active"' in change.content.decode()
    assert reverse("admin:accounts_user_delete", args=[account.pk]) not in change.content.decode()


@on_postgres
def test_the_database_refuses_to_rewrite_the_trail_of_a_deleted_account(application_role):
    """Were an account deleted anyway (past User.delete and its querysets: Django's deletion
    collector), auditlog's foreign key would set its entries' actor to null: an UPDATE of the trail,
    which the trigger refuses to the application's role, so the deletion fails as a whole."""
    from django.db.models.deletion import Collector

    someone = UserFactory(username="sec9-someone")
    an_entry(actor=someone)
    with acting_as_role(application_role):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            collector = Collector(using="default")
            collector.collect([someone])
            collector.delete()
    assert User.objects.filter(pk=someone.pk).exists()
    assert LogEntry.objects.get(object_repr="sec9").actor == someone
