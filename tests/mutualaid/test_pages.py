"""The portal frame, the login wall around every page, the error pages and the headers every
response carries (SPEC ACC-5; settings.py "Security headers"; middleware.py)."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory
from django.urls import resolve, reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from mutualaid.views import server_error
from tests.factories import CoverageYearFactory, UserFactory
from tests.mutualaid.url_walker import _portal_pages
from tests.mutualaid.urls_raising import RAISING_PATH
from tests.second_factor import PortalClient

# Views that answer without a login (by URL name, or by URL when unnamed), reviewed one by one.
# A new public page must be added here on purpose; the walker fails on one that is not listed.
PUBLIC_VIEWS = {
    "accounts:login",
    "healthz",
    # SPEC OPS-2: operators' views, without a login but 404 outside METRICS_ALLOWED_NETWORKS (the
    # detail also for logged-in staff): tests/mutualaid/test_health.py, test_metrics.py.
    "healthz-detail",
    "metrics",
    "/favicon.ico",
    # The login captcha (SPEC ACC-1): its image and a new challenge, before anyone is logged in.
    "captcha-image",
    "captcha-image-2x",
    "captcha-refresh",
    # 技术支持, 下载中心 and the FAQ, with the handbook and the two forms (SPEC ACC-6): for units
    # that cannot log in.
    "accounts:support",
    "accounts:downloads",
    "accounts:download_handbook",
    "accounts:download_account_reset_form",
    "accounts:download_change_form",
    "accounts:faq",
    # Registration, e-mail confirmation and the self-service reset (SPEC ACC-2, ACC-3).
    "accounts:register",
    "accounts:register_sms",
    "accounts:email_confirm",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
    # The page a receipt's QR code opens (SPEC RCP-2): number, title and amount, no personal data.
    "receipts:verify",
    # 参保查询 for insured people, without an account (SPEC LOOK-1, LOOK-2): the steps hold only a random
    # token in the session; the result and the PDF need a right SMS code; the proof page shows no ID.
    "lookup:start",
    "lookup:code",
    "lookup:result",
    "lookup:proof_pdf",
    "lookup:proof",
    # The login's second step (SPEC SEC-8): for the account that passed the password in this session
    # (nobody is logged in yet); without one they send the visitor back to the login.
    "accounts:second_factor_verify",
    "accounts:second_factor_enrol",
    # The roster API (SPEC API-1 … API-3): no portal login, a Bearer token instead; without a valid token
    # every operation answers 401 problem+json, never a redirect to the login (tests/api/test_endpoints.py).
    # The OpenAPI document and its docs page describe the operations and hold no data.
    "api_v1:openapi-json",
    "api_v1:openapi-view",
    "api_v1:api-root",
    "api_v1:batches_list",
    "api_v1:batches_open",
    "api_v1:batches_detail",
    "api_v1:roster_imports_start",
    "api_v1:roster_imports_detail",
    "api_v1:validation_begin",
    "api_v1:validation_result",
    "api_v1:roster_list",
    "api_v1:premium",
}


def _assert_sent_to_login(response, url):
    assert response.status_code == 302, f"{url} answered {response.status_code} to an anonymous user"
    location = urlsplit(response["Location"])
    assert location.path == reverse("accounts:login"), f"{url} redirected to {response['Location']}"
    assert parse_qs(location.query) == {"next": [url]}


# --- the login wall --------------------------------------------------------------------------------


def test_walker_finds_the_portal_pages():
    pages = {name: url for url, name, _ in _portal_pages()}

    assert pages["portal:home"] == "/"
    assert pages["accounts:logout"] == "/accounts/logout/"
    assert not any(url.startswith(reverse("admin:index")) for url in pages.values())


def test_only_the_reviewed_views_are_public():
    public = {name for _, name, view in _portal_pages() if getattr(view, "login_required", True) is False}

    assert public == PUBLIC_VIEWS


@pytest.mark.django_db
def test_every_portal_page_sends_anonymous_users_to_login(client):
    checked = []
    for url, name, view in _portal_pages():
        if name in PUBLIC_VIEWS:
            continue
        assert resolve(url).func == view, f"{url} does not resolve to the pattern it was built from ({name})"
        _assert_sent_to_login(client.get(url), url)
        checked.append(name)

    assert "portal:home" in checked  # the walk cannot pass by finding nothing


@pytest.mark.django_db
def test_public_views_answer_anonymous_users(client):
    assert client.get(reverse("accounts:login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    favicon = client.get("/favicon.ico")
    assert favicon.status_code in (301, 302)
    assert favicon["Location"].startswith(django_settings.STATIC_URL)


# --- the frame and the home page -------------------------------------------------------------------


@pytest.mark.django_db
def test_home_page_renders_the_unit_frame(client, unit_admin):
    CoverageYearFactory(year=2024)  # later than the 2023 year of the migration, window already open
    client.force_login(unit_admin)

    response = client.get("/")

    assert response.status_code == 200
    assertContains(response, "上海工会网上工作平台")
    assertContains(response, "申工通工作平台")
    assertContains(response, f'<i class="bi bi-person-circle"></i> {unit_admin.username}</span>', html=False)
    assertContains(response, "退出")
    assertContains(response, f'action="{reverse("accounts:logout")}"')
    for label in ("互助保障管理", "参保编码申请", "经办人填报", "参保批次管理", "缴费凭证管理"):
        assertContains(response, label)
    # SPEC BAT-1: the banner of the current coverage year.
    assertContains(response, "参保年度为2024年7月1日至2025年6月30日。")
    assertNotContains(response, "参保年度为2023年7月1日")


@pytest.mark.django_db
def test_home_page_without_an_open_year_says_so(client, unit_admin):
    from enrollment.models import CoverageYear

    CoverageYear.objects.all().delete()
    client.force_login(unit_admin)

    response = client.get("/")

    assertContains(response, "本年度参保时间尚未公布。")
    assertNotContains(response, "参保年度为")


@pytest.mark.django_db
@pytest.mark.parametrize("role_fixture", ["reviewer", "union_staff"])
def test_back_office_accounts_are_sent_from_home_to_the_back_office(client, request, role_fixture):
    client.force_login(request.getfixturevalue(role_fixture))

    response = client.get("/")

    assertRedirects(response, reverse("admin:index"))


@pytest.mark.django_db
def test_superuser_is_sent_to_the_back_office_whatever_its_role(client):
    client.force_login(UserFactory(role="unit_admin", is_superuser=True))

    assertRedirects(client.get("/"), reverse("admin:index"))


# --- error pages -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("logged_in", [False, True])
def test_404_page_is_in_chinese(client, settings, unit_admin, logged_in):
    settings.DEBUG = False
    if logged_in:
        client.force_login(unit_admin)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assertContains(response, "页面不存在", status_code=404)
    assertContains(response, "12351", status_code=404)
    assertNotContains(response, "Page not found", status_code=404)


def test_server_error_view_shows_the_request_id_and_no_traceback():
    request = RequestFactory().get("/")
    request.request_id = "req-0123456789ab"

    response = server_error(request)

    assert response.status_code == 500
    body = response.content.decode()
    assert "req-0123456789ab" in body
    assert "系统繁忙" in body
    assert "Traceback" not in body


def test_server_error_view_survives_a_broken_template():
    request = RequestFactory().get("/")

    response = server_error(request, template_name="no/such/template.html")

    assert response.status_code == 500
    assert response.content.decode() == "系统繁忙，请稍后再试。"


@pytest.mark.django_db
def test_a_crashing_view_gives_the_500_page_with_the_request_id(settings, unit_admin):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.mutualaid.urls_raising"
    client = PortalClient(raise_request_exception=False)
    client.force_login(unit_admin)

    response = client.get(RAISING_PATH, HTTP_X_REQUEST_ID="hotline-case-4711")

    assert response.status_code == 500
    assert response["X-Request-ID"] == "hotline-case-4711"
    body = response.content.decode()
    assert "hotline-case-4711" in body
    assert "系统繁忙，请稍后再试" in body
    assert "Traceback" not in body
    assert "simulated failure" not in body
    assert "object-src 'none'" in response["Content-Security-Policy"]


# --- headers and the health check ------------------------------------------------------------------


def _assert_standard_headers(response):
    assert re.fullmatch(r"[A-Za-z0-9-]{8,64}", response["X-Request-ID"])
    policy = response["Content-Security-Policy"]
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_every_kind_of_response_carries_request_id_and_csp(client, settings, unit_admin):
    settings.DEBUG = False
    anonymous = {
        "login page": client.get(reverse("accounts:login")),
        "redirect to login": client.get("/"),
        "health check": client.get(reverse("healthz")),
        "not found": client.get("/no-such-page/"),
    }
    client.force_login(unit_admin)
    logged_in = {"home": client.get("/")}

    for what, response in {**anonymous, **logged_in}.items():
        try:
            _assert_standard_headers(response)
        except (AssertionError, KeyError) as error:
            pytest.fail(f"{what}: {error!r}")


@pytest.mark.django_db
def test_request_ids_are_unique_and_a_sane_incoming_one_is_kept(client):
    first, second = client.get(reverse("healthz")), client.get(reverse("healthz"))
    assert first["X-Request-ID"] != second["X-Request-ID"]

    kept = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="nginx-1234abcd")
    assert kept["X-Request-ID"] == "nginx-1234abcd"


@pytest.mark.django_db
def test_a_malformed_incoming_request_id_is_replaced(client):
    response = client.get(reverse("healthz"), HTTP_X_REQUEST_ID="<script>alert(1)</script>")

    assert response["X-Request-ID"] != "<script>alert(1)</script>"
    assert re.fullmatch(r"[0-9a-f]{16}", response["X-Request-ID"])


@pytest.mark.django_db
def test_healthz_answers_json_to_anonymous_users(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_back_office_login_is_the_portals_login(client):
    # The admin's own form has no captcha and no account-wide lock (SPEC ACC-1, ACC-4).
    response = client.get("/backoffice/login/?next=/backoffice/")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login") + "?next=/backoffice/"
    anonymous = client.get("/backoffice/")
    assert anonymous.status_code == 302


def test_no_web_template_carries_an_inline_style():
    """The CSP (style-src 'self') refuses inline styles: a page that used one lost its layout (the
    receipt's QR verification page). The PDFs' templates are rendered by WeasyPrint, not a browser."""
    from pathlib import Path

    root = Path(django_settings.BASE_DIR) / "templates"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        if "pdf" not in path.relative_to(root).parts and re.search(r"\sstyle=\"", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
