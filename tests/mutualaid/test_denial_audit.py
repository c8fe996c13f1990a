"""SPEC SEC-6: every 403 and every 404 on an object URL is written to the audit trail with user, IP
and path, at most once per user, path and minute (mutualaid.middleware.DenialAuditMiddleware)."""
import pytest
from auditlog.models import LogEntry
from django.core.cache import cache
from django.urls import reverse

MISSING_CODE_URL = reverse("enrollment:code_applications_detail", args=[999999])


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()  # the once-a-minute marks of another test


def _denials():
    return LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__has_key="status").order_by("pk")


@pytest.mark.django_db
def test_a_404_on_an_object_url_is_audited_with_user_ip_and_path(client, unit_admin):
    client.force_login(unit_admin)

    response = client.get(MISSING_CODE_URL, REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 404
    (entry,) = _denials()
    assert entry.actor == unit_admin
    assert entry.object_pk == str(unit_admin.pk)
    assert entry.remote_addr == "203.0.113.7"
    assert entry.additional_data == {"path": MISSING_CODE_URL, "status": 404, "ip": "203.0.113.7"}


@pytest.mark.django_db
def test_a_403_is_audited(client, unit_admin):
    client.force_login(unit_admin)

    response = client.get("/backoffice/", follow=True)

    assert response.status_code == 403
    (entry,) = _denials()
    assert entry.actor == unit_admin
    assert entry.additional_data["status"] == 403
    assert entry.additional_data["path"] == "/backoffice/login/"
    assert entry.remote_addr == "127.0.0.1"


@pytest.mark.django_db
def test_a_404_on_an_address_without_an_object_is_not_audited(client, unit_admin):
    client.force_login(unit_admin)

    assert client.get("/no-such-page/").status_code == 404

    assert not _denials().exists()


@pytest.mark.django_db
def test_one_entry_per_user_path_and_minute(client, unit_admin, reviewer):
    client.force_login(unit_admin)
    for _ in range(5):
        client.get(MISSING_CODE_URL)
    assert _denials().count() == 1

    other_path = reverse("enrollment:code_applications_detail", args=[999998])
    client.get(other_path)
    assert _denials().count() == 2

    client.force_login(reviewer)  # another user on the same path gets an entry of their own
    client.get(MISSING_CODE_URL)
    assert list(_denials().values_list("actor__username", flat=True)) == [
        unit_admin.username,
        unit_admin.username,
        reviewer.username,
    ]


@pytest.mark.django_db
def test_after_a_minute_the_same_denial_is_audited_again(client, unit_admin):
    client.force_login(unit_admin)
    client.get(MISSING_CODE_URL)
    cache.clear()  # what a minute does to the mark

    client.get(MISSING_CODE_URL)

    assert _denials().count() == 2


@pytest.mark.django_db
def test_a_forwarded_for_header_is_not_believed_without_a_configured_proxy(client, unit_admin):
    client.force_login(unit_admin)

    client.get(MISSING_CODE_URL, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert _denials().get().additional_data["ip"] == "198.51.100.1"


@pytest.mark.django_db
def test_anonymous_visitors_are_not_audited(client):
    client.get(MISSING_CODE_URL)
    client.get("/backoffice/")

    assert not _denials().exists()
