"""SPEC SEC-4: every response to a logged-in user carries `Cache-Control: no-store, private`; public
pages seen anonymously keep their own caching (mutualaid.middleware.NoStoreForUsersMiddleware)."""
import pytest
from django.urls import reverse

from accounts.models import User
from tests.mutualaid.url_walker import _portal_pages


def _assert_no_store(response, what):
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    assert {"no-store", "private"} <= directives, f"{what} answered {response.status_code} with {directives}"


@pytest.mark.django_db
def test_every_portal_page_tells_caches_not_to_store_it_for_a_logged_in_unit_admin(client, demo_data):
    # SPEC SEC-4: every URL pattern, objects filled with a sample id (most answer 404 then, which
    # must carry the header as well); the demo data makes the lists and forms answer 200.
    client.force_login(User.objects.get(username="demo"))
    statuses = []
    for url, name, _ in _portal_pages():
        if name == "accounts:logout":
            continue  # ends the session the walk needs
        response = client.get(url)
        _assert_no_store(response, f"{name} ({url})")
        statuses.append(response.status_code)

    assert statuses.count(200) >= 10  # the walk saw real pages, not only errors


@pytest.mark.django_db
def test_back_office_and_error_pages_are_not_stored_either(client, reviewer, settings):
    settings.DEBUG = False
    client.force_login(reviewer)

    _assert_no_store(client.get(reverse("admin:index")), "back office index")
    _assert_no_store(client.get("/no-such-page/"), "404 page")


@pytest.mark.django_db
def test_a_public_page_seen_anonymously_keeps_its_caching(client):
    # SPEC SEC-4 is about logged-in users only: the public help page is not marked no-store.
    response = client.get(reverse("accounts:faq"))

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
