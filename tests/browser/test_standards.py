"""SPEC X-5 over every page type, not only those the journeys happen to visit: the portal's pages for a
unit with one object of every kind (the World of the object-URL walk), the public pages for a visitor,
the error pages, and the back office's pages for a superuser. Each page is opened in Chromium and
checked by the one standards helper (page_ready → tests/browser/standards.py): 0 Nu Html Checker
errors, 0 critical or serious axe-core violations.

A URL is a page when Django's test client gets a whole HTML document from it (200, text/html, a
doctype); downloads, htmx fragments and POST-only views are left to the journeys that use them.
"""
import pytest
from django.conf import settings
from django.contrib.admin import site as admin_site
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

from tests.browser.conftest import forget_session
from tests.factories import CoverageYearFactory, UserFactory
from tests.mutualaid.test_object_urls import OBJECT_PATTERNS, OBJECT_URLS, World
from tests.mutualaid.url_walker import _portal_pages
from tests.second_factor import PortalClient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _is_page(client: Client, url: str) -> bool:
    response = client.get(url)
    return (
        response.status_code == 200
        and response["Content-Type"].startswith("text/html")
        and response.content[:15].lower() == b"<!doctype html>"
    )


def _log_in_as(page, client: Client, account):
    """The browser takes the session of a test client logged in as `account` (the login page itself is
    checked by the visitor's walk)."""
    client.force_login(account)
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": page.base_url}]
    )


def _visit_all(page, urls):
    visited = []
    for url in urls:
        page.goto(page.base_url + url)  # page_ready checks it
        visited.append(url)
    assert visited, "no page to check: the walk found nothing"
    return visited


@pytest.fixture
def world(handbook_year, reviewer, union_organisations):
    next_year = CoverageYearFactory(year=handbook_year.year + 1)
    return World(
        username="unit-std", code="0072J3", unit_name="上海长风示范科技有限公司", draft_number=f"{next_year.year}J900001",
        year=handbook_year, next_year=next_year, reviewer=reviewer, committee=union_organisations.first(),
    )


def test_every_page_of_a_unit_meets_the_standards(page, world):
    client = PortalClient()
    client.force_login(world.owner)
    urls = []
    for url, name, _ in _portal_pages():
        if name in OBJECT_PATTERNS:  # a path parameter
            if name not in OBJECT_URLS:
                continue  # a public token or a year: the visitor's walk
            url = reverse(name, kwargs=OBJECT_URLS[name](world))
        if _is_page(client, url):
            urls.append(url)
    _log_in_as(page, client, world.owner)
    visited = _visit_all(page, urls)
    assert reverse("rosters:roster", kwargs={"number": world.draft_batch.number}) in visited
    assert reverse("plans:premium_detail", kwargs={"number": world.completed_batch.number}) in visited


def test_every_public_page_and_the_error_pages_meet_the_standards(page, world):
    client = PortalClient()
    urls = [url for url, name, _ in _portal_pages() if name not in OBJECT_PATTERNS and _is_page(client, url)]
    receipt = world.receipt
    urls.append(reverse("receipts:verify", kwargs={"token": receipt.verification}))
    urls.append(reverse("plans:price_table", kwargs={"year": world.year.year}))
    forget_session(page)
    visited = _visit_all(page, urls)
    assert "/accounts/login/" in visited and "/accounts/register/" in visited

    # 404 to anyone; the back office's 403 to a unit.
    page.goto(page.base_url + "/no-such-page/")
    assert page.get_by_role("heading").first.is_visible()
    _log_in_as(page, PortalClient(), world.owner)
    page.goto(page.base_url + reverse("admin:index"))


def _backoffice_urls(client: Client, superuser) -> list[str]:
    request = RequestFactory().get("/")
    request.user = superuser
    urls = {reverse("admin:index")}
    for pattern in admin_site.get_urls():
        name = getattr(pattern, "name", None)
        if name and not pattern.pattern.converters:
            try:
                urls.add(reverse(f"admin:{name}"))
            except NoReverseMatch:
                continue
    for model, model_admin in admin_site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.add(reverse(f"{prefix}_changelist"))
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            urls.add(reverse(f"{prefix}_change", args=[first.pk]))
    return sorted(url for url in urls if _is_page(client, url))


def test_every_back_office_page_meets_the_standards(page, world, reviewer):
    # One object of every kind, so change pages exist: the unit's world, reviewed.
    _ = world.completed_batch, world.receipt, world.roster_import, world.code_application, world.change_request
    superuser = UserFactory(username="std-admin", is_staff=True, is_superuser=True)
    client = PortalClient()
    client.force_login(superuser)
    urls = _backoffice_urls(client, superuser)
    _log_in_as(page, client, superuser)
    visited = _visit_all(page, urls)
    assert len(visited) > 10
