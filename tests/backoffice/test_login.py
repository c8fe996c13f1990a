"""SPEC SEC-6: a unit admin on the back office gets a 403 page, not a redirect loop between the back
office's login and the portal's (backoffice.site.BackOfficeSite.login)."""
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/backoffice/", "/backoffice/enrollment/", "/backoffice/login/?next=/backoffice/"])
def test_a_unit_admin_on_the_back_office_ends_on_the_403_page(client, unit_admin, url):
    client.force_login(unit_admin)

    response = client.get(url, follow=True)  # the test client raises on a redirect loop

    assert response.status_code == 403
    assertContains(response, "您没有访问后台的权限", status_code=403)
    assertContains(response, 'href="/"', status_code=403)  # the way home
    assert len(response.redirect_chain) <= 1


@pytest.mark.django_db
def test_the_portal_login_with_a_back_office_next_ends_on_the_403_page_too(client, unit_admin):
    client.force_login(unit_admin)

    response = client.get(reverse("accounts:login") + "?next=/backoffice/", follow=True)

    assert response.status_code == 403
    assertContains(response, "您没有访问后台的权限", status_code=403)


@pytest.mark.django_db
def test_a_reviewer_on_the_back_office_login_goes_to_the_back_office(client, reviewer):
    client.force_login(reviewer)

    assertRedirects(client.get("/backoffice/login/?next=/backoffice/"), reverse("admin:index"))
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.django_db
def test_an_anonymous_visitor_is_still_sent_to_the_portal_login(client):
    response = client.get("/backoffice/", follow=True)

    assert response.status_code == 200
    location = urlsplit(response.redirect_chain[-1][0])
    assert location.path == reverse("accounts:login")
    assert parse_qs(location.query) == {"next": ["/backoffice/"]}
