"""JSON rows through POST …/roster/imports/ (SPEC API-2): the importer's JSON row source
(rosters.importer.roster_import_start_rows, from the rosters branch) behind the same operation as the
template file.

The operation never reads the body itself (it would hit DATA_UPLOAD_MAX_MEMORY_SIZE): it hands the
stream to the importer, whose limit is ROSTER_API_MAX_BYTES (RosterUploadTooLarge → 413).
"""
import json

import pytest

from rosters.models import RosterEntry, RosterImport
from tests.api.conftest import problem_of
from tests.factories import make_batch
from tests.rosters.importfiles import resident_id, wrong_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(code, handbook_year):
    return make_batch(year=handbook_year, code=code)


def person(name, number, **more):
    # 是否有社保 is a required column of the template, for JSON rows as for a file (SPEC ROS-2).
    return {"姓名": name, "证件类型": "身份证", "证件号码": number, "是否有社保": "是", **more}


def post_rows(client, batch, rows, **headers):
    return client.post(
        f"/api/v1/batches/{batch.number}/roster/imports/", json.dumps({"rows": rows}, ensure_ascii=False),
        content_type="application/json", **headers,
    )


def test_json_rows_are_imported_and_their_errors_numbered_by_position(api_client, batch, django_capture_on_commit_callbacks):
    rows = [person("张三", resident_id("19900101", 101)), person("李四", wrong_check(resident_id("19910202", 103)))]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_rows(api_client, batch, rows)
    assert response.status_code == 202, response.content
    roster_import = RosterImport.objects.get()
    assert response["Location"] == f"/api/v1/batches/{batch.number}/roster/imports/{roster_import.pk}/"
    body = api_client.get(response["Location"]).json()
    assert body["status"] == "done"
    assert body["counts"]["added"] == 1 and body["counts"]["failed"] == 1
    [error] = body["errors"]
    assert error["row"] == 2 and error["column"] == "证件号码"  # the 1-based position in `rows`
    assert RosterEntry.objects.filter(batch=batch).count() == 1


def test_an_import_s_bad_cells_come_a_page_at_a_time(api_client, batch, django_capture_on_commit_callbacks):
    # SPEC API-2: per-row errors by row number and column; a large file's come in pages.
    rows = [person(f"员工{n}", wrong_check(resident_id("19900101", 101 + 2 * n))) for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        location = post_rows(api_client, batch, rows)["Location"]
    first = api_client.get(location, {"errors_page_size": 2}).json()
    assert (first["errors_total"], first["errors_page"], first["errors_page_size"]) == (5, 1, 2)
    assert [error["row"] for error in first["errors"]] == [1, 2]
    pages = [api_client.get(location, {"errors_page": page, "errors_page_size": 2}).json()["errors"] for page in (2, 3, 4)]
    assert [[error["row"] for error in page] for page in pages] == [[3, 4], [5], []]
    assert len(api_client.get(location).json()["errors"]) == 5  # the default page (100) holds them all
    for bad in ({"errors_page_size": 501}, {"errors_page": 0}, {"errors_page": "x"}):
        assert api_client.get(location, bad).status_code == 422


def test_json_rows_over_the_limit_are_a_413(api_client, batch, settings):
    settings.ROSTER_API_MAX_BYTES = 200
    rows = [person(f"员工{n}", resident_id("19900101", 101 + 2 * n)) for n in range(20)]
    response = post_rows(api_client, batch, rows)
    assert response.status_code == 413
    assert problem_of(response)["detail"]
    assert not RosterEntry.objects.exists()


def test_json_rows_larger_than_django_s_memory_limit_are_streamed(api_client, batch, settings, django_capture_on_commit_callbacks):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024  # far below the body: ninja must not read it
    rows = [person(f"员工{n}", resident_id("19900101", 101 + 2 * n)) for n in range(100)]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_rows(api_client, batch, rows)
    assert response.status_code == 202, response.content
    assert RosterEntry.objects.filter(batch=batch).count() == 100


def test_json_rows_follow_the_state_rule(api_client, code, handbook_year):
    submitted = make_batch(year=handbook_year, code=code, state="in_review")
    response = post_rows(api_client, submitted, [person("张三", resident_id("19900101", 101))])
    assert response.status_code == 409
    assert not RosterImport.objects.exists()


def test_malformed_json_rows_are_refused_without_a_500(api_client, batch):
    # A whole-document problem is the importer's (the same refusal as an unreadable file): the import
    # exists, ended "refused" with the reason, and nothing was added.
    response = api_client.post(
        f"/api/v1/batches/{batch.number}/roster/imports/", b'{"rows": [{"\xe5\xa7\x93\xe5\x90\x8d": ', content_type="application/json"
    )
    assert response.status_code == 202, response.content
    body = api_client.get(response["Location"]).json()
    assert body["status"] == "refused" and "JSON" in body["error"]
    assert not RosterEntry.objects.exists()


def test_json_rows_without_a_required_column_name_it(api_client, batch):
    rows = [{"姓名": "张三", "证件类型": "身份证", "证件号码": resident_id("19900101", 101)}]
    body = api_client.get(post_rows(api_client, batch, rows)["Location"]).json()
    assert body["status"] == "refused" and "是否有社保" in body["error"]


def test_json_rows_retried_with_their_idempotency_key_are_imported_once(api_client, batch, django_capture_on_commit_callbacks):
    rows = [person("张三", resident_id("19900101", 101))]
    with django_capture_on_commit_callbacks(execute=True):
        first = post_rows(api_client, batch, rows, HTTP_IDEMPOTENCY_KEY="upload-1")
        again = post_rows(api_client, batch, rows, HTTP_IDEMPOTENCY_KEY="upload-1")
    assert first.status_code == again.status_code == 202
    assert again["Location"] == first["Location"] and again["Idempotent-Replayed"] == "true"
    assert RosterImport.objects.count() == 1 and RosterEntry.objects.filter(batch=batch).count() == 1
