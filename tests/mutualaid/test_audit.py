"""The audit trail (django-auditlog with AUDITLOG_INCLUDE_ALL_MODELS, STYLE.md §8): who changed
which field from what to what, and the reviewers can read it in the back office."""
from unittest import mock

import pytest
from auditlog.context import set_actor
from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.http import HttpResponse
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.forms import MultiWidget
from django.urls import reverse
from pytest_django.asserts import assertContains

from enrollment.models import CoverageYear
from mutualaid.models import CalendarDay
from tests.factories import CoverageYearFactory, UserFactory

pytestmark = pytest.mark.django_db


def _updates_of(instance):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(instance),
        object_pk=str(instance.pk),
        action=LogEntry.Action.UPDATE,
    )


def _change_form_data(response) -> dict[str, str]:
    """The admin change form as the browser would submit it unchanged."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, MultiWidget):  # split date and time
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        else:
            data[name] = "" if value is None else str(value)
    data["_save"] = "保存"
    return data


def test_the_domain_models_are_tracked_and_the_logs_themselves_are_not():
    assert auditlog.contains(CoverageYear)
    assert auditlog.contains(CalendarDay)
    assert not auditlog.contains(LogEntry)


def test_reviewer_changing_a_coverage_year_in_the_back_office_is_audited(client, reviewer):
    year = CoverageYearFactory(female_age_limit=55)
    change_url = reverse("admin:enrollment_coverageyear_change", args=[year.pk])
    client.force_login(reviewer)
    data = _change_form_data(client.get(change_url))
    data["female_age_limit"] = "50"

    response = client.post(change_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    year.refresh_from_db()
    assert year.female_age_limit == 50
    entry = _updates_of(year).get()
    assert entry.actor == reviewer
    assert entry.changes_dict["female_age_limit"] == ["55", "50"]
    # Fields the reviewer did not touch are not reported as changed.
    assert "male_age_limit" not in entry.changes_dict
    assert "bank_account_number" not in entry.changes_dict
    assert entry.remote_addr == "127.0.0.1"


def test_a_request_audits_its_saves_without_connecting_a_receiver_of_its_own(client, reviewer):
    # SPEC OPS-3 (mutualaid.audit.AuditContextMiddleware): the actor and address come from the one
    # receiver connected at start-up; the request connects and disconnects none, and leaves no context.
    from django.db.models.signals import pre_save

    from mutualaid.audit import AuditContextMiddleware, auditlog_value

    year = CoverageYearFactory(female_age_limit=55)
    change_url = reverse("admin:enrollment_coverageyear_change", args=[year.pk])
    client.force_login(reviewer)
    data = {**_change_form_data(client.get(change_url)), "female_age_limit": "51"}
    receivers, context = list(pre_save.receivers), auditlog_value.get(None)

    with mock.patch.object(pre_save, "connect") as connect, mock.patch.object(pre_save, "disconnect") as disconnect:
        response = client.post(change_url, data, HTTP_X_FORWARDED_PORT="8443")

    assert response.status_code == 302
    assert not connect.called and not disconnect.called and pre_save.receivers == receivers
    entry = _updates_of(year).get()
    assert (entry.actor, entry.remote_addr, entry.remote_port) == (reviewer, "127.0.0.1", 8443)
    assert auditlog_value.get(None) is context  # the request's context ended with it
    assert "mutualaid.audit.AuditContextMiddleware" in settings.MIDDLEWARE
    assert issubclass(AuditContextMiddleware, AuditlogMiddleware)


def test_a_service_acting_inside_a_request_keeps_the_request_context_afterwards(rf, reviewer, unit_admin):
    from mutualaid.audit import AuditContextMiddleware, acting_as

    first, second = CoverageYearFactory(year=2032), CoverageYearFactory(year=2033)
    request = rf.post("/", REMOTE_ADDR="10.1.2.3")
    request.user = unit_admin

    def view(request):
        with acting_as(reviewer):
            first.waiting_days_a = 7
            first.save()
        second.waiting_days_a = 8
        second.save()
        return HttpResponse()

    AuditContextMiddleware(view)(request)

    assert (_updates_of(first).get().actor, _updates_of(first).get().remote_addr) == (reviewer, "10.1.2.3")
    assert (_updates_of(second).get().actor, _updates_of(second).get().remote_addr) == (unit_admin, "10.1.2.3")


def test_a_save_in_a_service_records_the_actor_set_for_it(reviewer):
    year = CoverageYearFactory(payment_deadline_days=15)

    with set_actor(reviewer):
        year.payment_deadline_days = 20
        year.save()

    entry = _updates_of(year).get()
    assert entry.actor == reviewer
    assert entry.changes_dict["payment_deadline_days"] == ["15", "20"]


def test_reviewer_reads_the_trail_in_the_back_office(client, reviewer):
    year = CoverageYearFactory(year=2031, waiting_days_b=60)
    year.refresh_from_db()  # as a request would load it (Decimal places as stored)
    with set_actor(reviewer):
        year.waiting_days_b = 90
        year.save()
    entry = _updates_of(year).get()
    client.force_login(reviewer)

    listing = client.get(reverse("admin:auditlog_logentry_changelist"))
    detail = client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk]))

    assertContains(listing, "2031年度")
    assertContains(listing, reverse("admin:auditlog_logentry_change", args=[entry.pk]))
    # The change table: field by its Chinese name, old value, new value; and who did it.
    assertContains(detail, "<tr><td>1</td><td>B类免责期（天）</td><td>60</td><td>90</td></tr>", html=True)
    assertContains(detail, f">{reviewer.username}</a>")


def test_union_staff_cannot_read_the_trail(client, union_staff):
    client.force_login(union_staff)

    assert client.get(reverse("admin:auditlog_logentry_changelist")).status_code == 403


def test_password_hashes_do_not_reach_the_audit_trail():
    # Reviewers read the trail: an account's password hash must never be in it.
    user = UserFactory()
    user.set_password("Another#2027")
    user.save()

    stored = " ".join(entry.changes_text + str(entry.changes) for entry in LogEntry.objects.all())
    assert LogEntry.objects.filter(object_pk=str(user.pk)).exists()  # the account itself is tracked
    assert user.password not in stored
    assert not _updates_of(user).exists()  # a password change alone leaves no hash-bearing row


def test_a_login_is_not_recorded_as_a_change_of_the_account(client, unit_admin):
    assert client.login(username=unit_admin.username, password="Portal#2026")

    unit_admin.refresh_from_db()
    assert unit_admin.last_login is not None
    assert not _updates_of(unit_admin).exists()
