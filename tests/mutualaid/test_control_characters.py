"""SPEC SEC-5: a control character in a query or form value is answered with the 400 page, never a
500 (mutualaid.middleware.ControlCharacterMiddleware)."""
import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains


def _assert_400_page(response):
    assert response.status_code == 400
    assertContains(response, "请求有误", status_code=400)
    assertContains(response, "12351", status_code=400)


@pytest.mark.django_db
def test_nul_in_the_handler_query_is_a_400_not_a_500(client, unit_admin):
    # SPEC SEC-5: this URL was a 500 (PostgreSQL refuses NUL in a text value).
    client.force_login(unit_admin)

    _assert_400_page(client.get("/handler/?code=%00"))


@pytest.mark.django_db
@pytest.mark.parametrize("character", ["%00", "%01", "%08", "%0B", "%1B", "%7F", "%C2%85"])
def test_control_characters_in_a_query_are_refused(client, unit_admin, character):
    client.force_login(unit_admin)

    _assert_400_page(client.get(f"/?q=a{character}b"))
    _assert_400_page(client.get(f"/?a{character}b=1"))  # in a name as well


@pytest.mark.django_db
def test_control_characters_are_refused_before_the_login_wall(client):
    _assert_400_page(client.get("/handler/?code=%00"))


@pytest.mark.django_db
def test_nul_in_a_form_value_is_refused(client, unit_admin):
    client.force_login(unit_admin)

    _assert_400_page(client.post("/handler/", {"contact_name": "张\x00三"}))


@pytest.mark.django_db
def test_nul_in_the_login_form_is_refused(client):
    _assert_400_page(client.post(reverse("accounts:login"), {"username": "demo\x00", "password": "x"}))


@pytest.mark.django_db
def test_tab_and_line_breaks_stay_allowed(client, unit_admin):
    # A textarea sends \r\n; a pasted cell may hold a tab. Chinese text is never a control character.
    client.force_login(unit_admin)

    response = client.get("/?q=" + "第一行%0D%0A第二行%09上海")

    assert response.status_code == 200
