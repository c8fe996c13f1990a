"""One language (SPEC OPS-3: no LocaleMiddleware): Django's own texts are in Chinese whatever language the
browser asks for, and the responses do not vary by it."""
import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("asked", ["en", "en-US,en;q=0.9", "fr", "zh-TW", "xx-invalid;q=abc"])
def test_djangos_own_texts_are_chinese_whatever_the_browser_asks(client, reviewer, asked, settings):
    client.force_login(reviewer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(reverse("admin:password_change"), HTTP_ACCEPT_LANGUAGE=asked)

    page = response.content.decode()
    assert response.status_code == 200
    assert "首页" in page and "旧密码" in page  # the admin's "Home" and "Old password", translated by Django
    assert "Old password" not in page
    assert "Accept-Language" not in response.get("Vary", "")
