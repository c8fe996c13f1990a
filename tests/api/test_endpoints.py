"""The operations of /api/v1/ (SPEC API-2) and their errors (API-3): batches, opening one, roster imports,
清册校验, the roster and the premium; 401 (never a redirect), 404, 409, 413, 415, 422, 429, all as
problem+json with a Chinese detail."""
import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from api.models import ApiToken
from enrollment.models import Batch
from enrollment.states import BatchKind, BatchState
from plans.services import premium_generate
from rosters.models import RosterEntry, RosterImport, ValidationRun
from rosters.selectors import roster_masked_id
from tests.api.conftest import ApiClient, problem_of
from tests.enrollment.helpers import make_code, make_handler_info
from tests.factories import make_batch, make_entry
from tests.plans.helpers import approved_batch
from tests.rosters.importfiles import resident_id, row, template_xlsx, upload, wrong_check

pytestmark = pytest.mark.django_db

BATCHES = "/api/v1/batches/"


def batch_url(batch, tail=""):
    return f"{BATCHES}{batch.number}/{tail}"


@pytest.fixture
def batch(code, handbook_year):
    return make_batch(year=handbook_year, code=code)


# --- 401, never 302 (SPEC API-1, API-3) -----------------------------------------------------------------


def assert_unauthenticated(response):
    assert response.status_code == 401, response.content
    assert not response.has_header("Location")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in problem_of(response)["detail"]


def test_without_a_token_every_operation_is_a_401_problem_not_a_redirect_to_the_login(batch):
    anonymous = Client()
    for method, url in [
        ("get", BATCHES),
        ("post", BATCHES),
        ("get", batch_url(batch)),
        ("post", batch_url(batch, "roster/imports/")),
        ("get", batch_url(batch, "roster/imports/1/")),
        ("post", batch_url(batch, "validation/")),
        ("get", batch_url(batch, "validation/")),
        ("get", batch_url(batch, "roster/")),
        ("get", batch_url(batch, "premium/")),
    ]:
        assert_unauthenticated(getattr(anonymous, method)(url))


def test_a_portal_session_is_no_token(client, account, batch, reviewer):
    client.force_login(account)
    assert_unauthenticated(client.get(BATCHES))
    assert_unauthenticated(client.post(BATCHES, {"kind": "instant"}, content_type="application/json"))
    assert Batch.objects.count() == 1
    # A staff session that owes its second factor would be logged out and redirected on a page; the
    # API never sees the session at all (its cookies are dropped): 401, and the session lives on.
    staff = Client()
    staff.force_login(reviewer)
    assert_unauthenticated(staff.get(BATCHES))
    assert staff.session.get("_auth_user_id") == str(reviewer.pk)


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer mhb_nothing", "Basic dXNlcjpwYXNz", "Bearer \u0000", "Bearer mhb_" + "٠" * 43, "Token x"],
)
def test_a_bad_header_is_a_401(batch, token, header):
    assert_unauthenticated(Client().get(BATCHES, HTTP_AUTHORIZATION=header))


def test_expired_and_revoked_tokens_are_401(token_and_secret, account):
    token, secret = token_and_secret
    client = ApiClient(secret)
    assert client.get(BATCHES).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_unauthenticated(client.get(BATCHES))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + dt.timedelta(days=1), revoked_at=timezone.now())
    assert_unauthenticated(client.get(BATCHES))


def test_a_token_of_a_staff_account_authenticates_nothing(reviewer, token_and_secret, code):
    """SPEC API-1, SEC-8: staff never hold a token. Even one written straight into the table (or an
    account that became staff after its token was made) is refused."""
    token, secret = token_and_secret
    token.account.role = "reviewer"
    token.account.save()
    assert_unauthenticated(ApiClient(secret).get(BATCHES))


def test_the_document_and_the_docs_page_need_no_login():
    document = Client().get("/api/v1/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    assert {"/api/v1/batches/", "/api/v1/batches/{number}/roster/imports/", "/api/v1/batches/{number}/premium/"} <= set(paths)
    docs = Client().get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()  # vendored, no CDN


def test_unknown_paths_wrong_methods_and_control_characters_are_problems(api_client, batch):
    missing = api_client.get("/api/v1/nothing/")
    assert missing.status_code == 404 and problem_of(missing)
    wrong_method = api_client.delete(BATCHES)
    assert wrong_method.status_code == 405 and problem_of(wrong_method)
    assert "GET" in wrong_method["Allow"]
    control = api_client.get(batch_url(batch, "roster/"), {"page": "1\u0000"})
    assert control.status_code == 400 and problem_of(control)["detail"]


# --- batches (SPEC BAT-1, BAT-2, BAT-3, X-4) ---------------------------------------------------------


def test_the_list_shows_the_tokens_code_only(api_client, account, code, batch, handbook_year):
    other_code = make_code(account, code="0088A1")
    make_handler_info(other_code)
    make_batch(year=handbook_year, code=other_code)  # the same account, another code
    make_batch(year=handbook_year)  # another account
    make_entry(batch, name="李四")
    response = api_client.get(BATCHES)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert [item["number"] for item in body] == [batch.number]
    item = body[0]
    assert item["state"] == "draft" and item["state_label"] == "清册待校验"
    assert item["kind"] == "centralised" and item["kind_label"] == "集中参保"
    assert item["people"] == 1 and item["year"] == 2023 and item["code"] == code.code
    assert [action["action"] for action in item["actions"]] == [action.value for action in batch.actions]
    assert "清册校验" in [action["label"] for action in item["actions"]]


def test_another_codes_or_accounts_batch_is_a_404(api_client, account, handbook_year):
    other_code = make_code(account, code="0088A1")
    own_other_code = make_batch(year=handbook_year, code=other_code)
    foreign = make_batch(year=handbook_year)
    for batch in (own_other_code, foreign):
        for tail in ("", "roster/", "validation/", "premium/"):
            response = api_client.get(batch_url(batch, tail))
            assert response.status_code == 404
            assert "不属于本令牌的参保编码" in problem_of(response)["detail"]
        assert api_client.post(batch_url(batch, "validation/")).status_code == 404
    assert not ValidationRun.objects.exists()


@pytest.mark.parametrize("number", ["2023J00000１", "٢٠٢٣J000001", "2023J\u200b000001", "x" * 60, "2023J000001%00", "%F0%9F%98%80", "-1"])
def test_hostile_batch_numbers_are_404_never_500(api_client, batch, number):
    response = api_client.get(f"{BATCHES}{number}/")
    assert response.status_code in (404, 422)
    problem_of(response)


def test_open_a_centralised_batch_as_the_page_would(api_client, code, centralised_window):
    response = api_client.post(BATCHES, {"kind": "centralised"}, content_type="application/json")
    assert response.status_code == 201, response.content
    batch = Batch.objects.get()
    assert response["Location"] == f"/api/v1/batches/{batch.number}/"
    assert response.json()["number"] == batch.number and batch.code == code and batch.state == BatchState.DRAFT
    assert batch.log.get().action == "集中参保办理"
    again = api_client.post(BATCHES, {"kind": "centralised"}, content_type="application/json")
    assert again.status_code == 409
    assert "已办理过集中参保" in problem_of(again)["detail"]
    assert Batch.objects.count() == 1


def test_open_outside_the_window_is_a_409_with_the_pages_message(api_client, code, instant_window):
    response = api_client.post(BATCHES, {"kind": "centralised"}, content_type="application/json")
    assert response.status_code == 409
    assert "集中参保通道已关闭" in problem_of(response)["detail"]
    instant = api_client.post(BATCHES, {"kind": "instant"}, content_type="application/json")
    assert instant.status_code == 201
    assert Batch.objects.get().kind == BatchKind.INSTANT


def test_open_without_handler_info_is_a_409(account, handbook_year, centralised_window):
    from api.services import api_token_create

    bare = make_code(account, code="0077B2")  # no 经办人填报 (SPEC HND-1)
    _, secret = api_token_create(account=account, code_id=bare.pk, name="x", expires_on=timezone.localdate() + dt.timedelta(days=3))
    response = ApiClient(secret).post(BATCHES, {"kind": "centralised"}, content_type="application/json")
    assert response.status_code == 409
    assert "经办人填报" in problem_of(response)["detail"]


# --- Idempotency-Key: a retried POST does nothing twice (UI.md "Dialogs") ---------------------------------


def test_an_open_retried_with_its_idempotency_key_opens_one_batch(api_client, code, instant_window):
    key = {"HTTP_IDEMPOTENCY_KEY": "hr-2023-0801-001"}
    first = api_client.post(BATCHES, {"kind": "instant"}, content_type="application/json", **key)
    again = api_client.post(BATCHES, {"kind": "instant"}, content_type="application/json", **key)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again.json()["number"] == first.json()["number"] == Batch.objects.get().number
    other = api_client.post(BATCHES, {"kind": "instant"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="hr-2023-0801-002")
    assert other.status_code == 201 and Batch.objects.count() == 2  # another key, another batch (instant: many)
    without = api_client.post(BATCHES, {"kind": "instant"}, content_type="application/json")
    assert without.status_code == 201 and Batch.objects.count() == 3


def test_an_idempotency_key_is_the_tokens_and_the_kinds(api_client, code, instant_window):
    key = {"HTTP_IDEMPOTENCY_KEY": "k1"}
    assert api_client.post(BATCHES, {"kind": "instant"}, content_type="application/json", **key).status_code == 201
    other_kind = api_client.post(BATCHES, {"kind": "centralised"}, content_type="application/json", **key)
    assert other_kind.status_code == 422 and "Idempotency-Key" in problem_of(other_kind)["detail"]
    assert Batch.objects.count() == 1


def test_a_refused_open_does_not_keep_its_idempotency_key(api_client, code, instant_window):
    key = {"HTTP_IDEMPOTENCY_KEY": "k2"}
    refused = api_client.post(BATCHES, {"kind": "centralised"}, content_type="application/json", **key)
    assert refused.status_code == 409  # 集中参保通道已关闭: nothing made, so nothing remembered
    assert api_client.post(BATCHES, {"kind": "instant"}, content_type="application/json", **key).status_code == 201


@pytest.mark.parametrize("key", ["with space", "x" * 65, "键"])
def test_a_malformed_idempotency_key_is_a_422(api_client, code, instant_window, key):
    response = api_client.post(BATCHES, {"kind": "instant"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 422 and "Idempotency-Key" in problem_of(response)["detail"]
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    "body",
    ['{"kind": "annual"}', '{"kind": 5}', "{}", "[]", '{"kind": "centralised\\u0000"}', '{"kind": "٠"}'],
)
def test_bad_input_to_open_is_a_422(api_client, code, centralised_window, body):
    response = api_client.post(BATCHES, body, content_type="application/json")
    assert response.status_code == 422, response.content
    problem = problem_of(response)
    assert problem["errors"] and problem["detail"]
    assert not Batch.objects.exists()


def test_a_body_that_is_no_json_is_a_400(api_client, code, centralised_window):
    response = api_client.post(BATCHES, "kind=centralised", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in problem_of(response)["detail"]
    assert not Batch.objects.exists()


# --- roster imports (SPEC ROS-1, ROS-10, SEC-3) ----------------------------------------------------------


def post_file(client, batch, content: bytes, name="参保名单.xlsx"):
    return client.post(batch_url(batch, "roster/imports/"), {"file": upload(content, name)})


def test_import_the_template_xlsx(api_client, batch):
    good = resident_id("19900101", 101)
    bad = wrong_check(resident_id("19910202", 103))
    response = post_file(api_client, batch, template_xlsx([row(name="张三", number=good), row(name="李四", number=bad)]))
    assert response.status_code == 202, response.content
    roster_import = RosterImport.objects.get()
    location = f"/api/v1/batches/{batch.number}/roster/imports/{roster_import.pk}/"
    assert response["Location"] == location
    assert roster_import.source == RosterImport.Source.FILE and roster_import.account == batch.account

    result = api_client.get(location)
    assert result.status_code == 200
    body = result.json()
    assert body["status"] == "done"
    assert body["counts"] == {"read": 2, "imported": 1, "added": 1, "updated": 0, "failed": 1}
    assert body["summary"].startswith("-----处理完成")
    [error] = body["errors"]
    assert error["row"] == 3 and error["column"] == "证件号码"
    assert error["message"].startswith("第 3 行：") and "校验位" in error["reason"]
    assert bad not in json.dumps(body, ensure_ascii=False)  # the value is masked
    assert RosterEntry.objects.filter(batch=batch).count() == 1


def test_import_refuses_what_the_page_refuses(api_client, batch, settings):
    not_a_spreadsheet = post_file(api_client, batch, b"hello", name="a.xlsx")
    assert not_a_spreadsheet.status_code == 422
    assert problem_of(not_a_spreadsheet)["detail"]
    no_file = api_client.post(batch_url(batch, "roster/imports/"), {"other": "x"})
    assert no_file.status_code == 422 and "file" in problem_of(no_file)["detail"]
    wrong_type = api_client.post(batch_url(batch, "roster/imports/"), "name,id", content_type="text/csv")
    assert wrong_type.status_code == 415 and problem_of(wrong_type)
    settings.ROSTER_UPLOAD_MAX_BYTES = 1000
    too_large = post_file(api_client, batch, template_xlsx([row()]))
    assert too_large.status_code == 413
    assert "文件过大" in problem_of(too_large)["detail"]
    assert not RosterEntry.objects.exists()


def test_an_upload_declared_too_large_is_a_413_before_its_body_is_read(api_client, batch, settings):
    settings.QUOTA_ROSTER_IMPORTS_PER_HOUR = 1
    settings.ROSTER_UPLOAD_MAX_BYTES = 1000
    big = template_xlsx([row(name=f"员工{n}", number=resident_id("19900101", 101 + 2 * (n % 400))) for n in range(4000)])
    assert len(big) > 1000 + 64 * 1024
    response = post_file(api_client, batch, big)
    assert response.status_code == 413
    assert "文件过大" in problem_of(response)["detail"]
    # The operation never ran: the hour's one import is still there.
    settings.ROSTER_UPLOAD_MAX_BYTES = 50 * 1024 * 1024
    assert post_file(api_client, batch, template_xlsx([row()])).status_code == 202


def test_import_quota_is_the_pages_and_answers_429_with_retry_after(api_client, batch, settings):
    settings.QUOTA_ROSTER_IMPORTS_PER_HOUR = 1
    assert post_file(api_client, batch, template_xlsx([row()])).status_code == 202
    response = post_file(api_client, batch, template_xlsx([row()]))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "操作过于频繁" in problem_of(response)["detail"]
    assert RosterImport.objects.count() == 1


def test_the_import_resource_of_another_batch_is_a_404(api_client, batch, handbook_year, code):
    post_file(api_client, batch, template_xlsx([row()]))
    roster_import = RosterImport.objects.get()
    sibling = make_batch(year=handbook_year, code=code, kind=BatchKind.INSTANT)
    assert api_client.get(batch_url(sibling, f"roster/imports/{roster_import.pk}/")).status_code == 404
    assert api_client.get(batch_url(batch, "roster/imports/999999/")).status_code == 404
    huge = api_client.get(batch_url(batch, f"roster/imports/{10**30}/"))
    assert huge.status_code == 422 and problem_of(huge)["errors"]


# --- 清册校验 (SPEC BAT-4, VAL) ------------------------------------------------------------------------------


def test_validation_runs_and_reports_findings_by_rule_id(api_client, batch, django_capture_on_commit_callbacks):
    assert api_client.get(batch_url(batch, "validation/")).status_code == 404  # none yet
    retired = make_entry(batch, name="王退休", work_status="退休")
    make_entry(batch, name="赵在职", id_number=resident_id("19900303", 105), work_status="在职", has_social_security=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(batch_url(batch, "validation/"))
    assert response.status_code == 202, response.content
    assert response["Location"] == f"/api/v1/batches/{batch.number}/validation/"
    result = api_client.get(batch_url(batch, "validation/")).json()
    assert result["status"] == "done" and result["current"] is True and result["blocking"] is True
    by_rule = {finding["rule"]: finding for finding in result["findings"]}
    assert {"VAL-1", "VAL-2", "VAL-3", "VAL-4", "VAL-5", "ROS-5", "VAL-6"} <= set(by_rule)
    assert by_rule["VAL-1"]["count"] == 1 and by_rule["VAL-1"]["blocking"] is True
    [person] = by_rule["VAL-1"]["people"]
    assert person["name"] == "王退休" and person["id_number"] == roster_masked_id(retired) and "*" in person["id_number"]
    assert any("退休人员" in reason for reason in result["blocking_reasons"])
    batch.refresh_from_db()
    assert batch.state == BatchState.INVALID
    make_entry(batch, name="新来的", id_number=resident_id("19920404", 107))  # the roster changes: stale
    Batch.objects.filter(pk=batch.pk).update(roster_version=batch.roster_version + 1)
    assert api_client.get(batch_url(batch, "validation/")).json()["current"] is False


# --- the roster and the premium ----------------------------------------------------------------------------


def test_the_roster_is_paginated_and_masked_as_on_the_page(api_client, batch):
    entries = [make_entry(batch, name=f"员工{n}", id_number=resident_id("19900101", 101 + 2 * n)) for n in range(5)]
    response = api_client.get(batch_url(batch, "roster/"), {"page": 2, "page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 5 and body["page"] == 2 and body["page_size"] == 2
    assert [item["name"] for item in body["items"]] == ["员工2", "员工3"]
    assert body["items"][0]["id_number"] == roster_masked_id(entries[2])
    assert body["items"][0]["birth_date"].endswith("年**月**日")  # 身份证: the year only
    assert resident_id("19900101", 105) not in response.content.decode()
    assert api_client.get(batch_url(batch, "roster/"), {"page": 9}).json()["items"] == []
    for params in ({"page_size": 501}, {"page": 0}, {"page": "x"}, {"page": 10**20}):
        bad = api_client.get(batch_url(batch, "roster/"), params)
        assert bad.status_code == 422 and problem_of(bad)["errors"]


def test_the_premium_is_409_before_it_exists_then_the_pages_figures(api_client, account, code, handbook_year, batch):
    response = api_client.get(batch_url(batch, "premium/"))
    assert response.status_code == 409
    assert "尚无保费信息" in problem_of(response)["detail"]

    approved = approved_batch(
        year=handbook_year, account=account, kind=BatchKind.INSTANT, social_security=3, without_social_security=1
    )
    Batch.objects.filter(pk=approved.pk).update(code=code)
    approved.refresh_from_db()
    assert api_client.get(batch_url(approved, "premium/")).status_code == 409  # no selection yet
    premium_generate(batch=approved, codes=["A0", "B0", "C0"], acting_user=account)
    body = api_client.get(batch_url(approved, "premium/")).json()
    from plans.selectors import premium_detail_basis

    basis = premium_detail_basis(batch=approved)
    assert body["confirmed"] is False and body["people"] == 4
    assert body["total"] == f"{basis.total:.2f}"
    assert body["social_security_people"] == 3 and body["other_people"] == 1
    assert sum(float(line["amount"]) for line in body["lines"]) == pytest.approx(float(basis.total))
    assert body["plans"]["social_security"]["items"] == list(basis.plans[True].items)


# --- the per-token quota (SPEC SEC-3) ------------------------------------------------------------------------


def test_requests_over_the_tokens_quota_are_429(api_client, batch, settings):
    settings.API_REQUESTS_PER_MINUTE = 2
    assert api_client.get(BATCHES).status_code == 200
    assert api_client.get(BATCHES).status_code == 200
    response = api_client.get(BATCHES)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert problem_of(response)["detail"].startswith("操作过于频繁")


def test_a_tokens_404_is_in_the_audit_trail(api_client, account, handbook_year):
    """SPEC SEC-6: as for the pages, a 404 on an object URL is audited with the account, IP and path."""
    from auditlog.models import LogEntry

    foreign = make_batch(year=handbook_year)
    url = batch_url(foreign, "roster/")
    assert api_client.get(url).status_code == 404
    assert LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS, actor=account, additional_data__path=url, additional_data__status=404
    ).exists()


def test_the_docs_page_loads_only_vendored_files_that_exist_and_no_inline_code():
    """The docs page works on a closed network and under the portal's CSP (script-src/style-src 'self'):
    its scripts and styles are files of this server (django-ninja's vendored Swagger UI), and its only
    inline <script> is JSON data, which CSP does not run."""
    import re

    docs = Client().get("/api/v1/docs")
    html = docs.content.decode()
    assert "script-src 'self'" in docs["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(asset.startswith("/static/ninja/") for asset in assets), assets
    for asset in assets:
        assert Client().get(asset).status_code == 200, asset
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline == [' type="application/json" id="swagger-settings"']
    assert "<style" not in html and " style=" not in html
