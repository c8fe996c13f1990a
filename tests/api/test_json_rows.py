"""JSON rows through POST …/roster/imports/ (SPEC API-2): the importer's JSON row source
(rosters.importer.roster_import_start_rows, from the rosters branch) behind the same operation as the
template file. The tests marked `needs_row_source` run once that row source is merged; until then they
are skipped and the operation answers 415 (test_endpoints.py::test_json_rows_without_the_row_source_are_a_415).
The last ones always run: a stand-in row source with the agreed signature checks the operation's side
(the body streamed in chunks, the content length, RosterUploadTooLarge → 413).

The operation never reads the body itself (it would hit DATA_UPLOAD_MAX_MEMORY_SIZE): it hands the
stream to the importer, whose limit is ROSTER_API_MAX_BYTES (RosterUploadTooLarge → 413).
"""
import json

import pytest

from rosters import importer
from rosters.models import RosterEntry, RosterImport
from tests.api.conftest import problem_of
from tests.factories import make_batch
from tests.rosters.importfiles import resident_id, wrong_check

pytestmark = pytest.mark.django_db
needs_row_source = pytest.mark.skipif(
    not hasattr(importer, "roster_import_start_rows"),
    reason="rosters.importer.roster_import_start_rows (the JSON row source) is not merged yet",
)


@pytest.fixture
def batch(code, handbook_year):
    return make_batch(year=handbook_year, code=code)


def person(name, number, **more):
    return {"姓名": name, "证件类型": "身份证", "证件号码": number, **more}


def post_rows(client, batch, rows):
    return client.post(
        f"/api/v1/batches/{batch.number}/roster/imports/", json.dumps({"rows": rows}, ensure_ascii=False),
        content_type="application/json",
    )


@needs_row_source
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


@needs_row_source
def test_json_rows_over_the_limit_are_a_413(api_client, batch, settings):
    settings.ROSTER_API_MAX_BYTES = 200
    rows = [person(f"员工{n}", resident_id("19900101", 101 + 2 * n)) for n in range(20)]
    response = post_rows(api_client, batch, rows)
    assert response.status_code == 413
    assert problem_of(response)["detail"]
    assert not RosterEntry.objects.exists()


@needs_row_source
def test_json_rows_larger_than_django_s_memory_limit_are_streamed(api_client, batch, settings, django_capture_on_commit_callbacks):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024  # far below the body: ninja must not read it
    rows = [person(f"员工{n}", resident_id("19900101", 101 + 2 * n)) for n in range(100)]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_rows(api_client, batch, rows)
    assert response.status_code == 202, response.content
    assert RosterEntry.objects.filter(batch=batch).count() == 100


@needs_row_source
def test_json_rows_follow_the_state_rule(api_client, code, handbook_year):
    submitted = make_batch(year=handbook_year, code=code, state="in_review")
    response = post_rows(api_client, submitted, [person("张三", resident_id("19900101", 101))])
    assert response.status_code == 409
    assert not RosterImport.objects.exists()


@needs_row_source
def test_malformed_json_rows_are_refused_without_a_500(api_client, batch):
    response = api_client.post(
        f"/api/v1/batches/{batch.number}/roster/imports/", b'{"rows": [{"\xe5\xa7\x93\xe5\x90\x8d": ', content_type="application/json"
    )
    assert response.status_code < 500
    if response.status_code == 202:  # the importer may take the body and refuse it as a whole
        assert RosterImport.objects.get().status in ("refused", "failed")
    else:
        assert response.status_code in (400, 413, 422)
        problem_of(response)
    assert not RosterEntry.objects.exists()


# --- the operation's side of the interface, with a stand-in row source (runs before the merge too) -------


class StandInTooLarge(Exception):
    """Stands in for rosters.errors.RosterUploadTooLarge (a RosterError with a Chinese `message`)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@pytest.fixture
def stand_in_row_source(monkeypatch, settings):
    """A roster_import_start_rows that records what the operation hands it and makes a queued import
    (the signature of the interface agreed with the rosters branch)."""
    from rosters import errors

    received = {}

    def start_rows(*, batch, chunks, acting_user, remote_addr=None, content_length=None):
        body = b"".join(chunks)
        received.update(batch=batch, body=body, acting_user=acting_user, content_length=content_length)
        if len(body) > settings.ROSTER_API_MAX_BYTES:
            raise StandInTooLarge("清册数据过大，请分批提交。")
        return RosterImport.objects.create(batch=batch, account=acting_user, source=RosterImport.Source.FILE)

    settings.ROSTER_API_MAX_BYTES = 10 * 1024 * 1024
    monkeypatch.setattr(importer, "roster_import_start_rows", start_rows, raising=False)
    monkeypatch.setattr(errors, "RosterUploadTooLarge", StandInTooLarge, raising=False)
    return received


def test_the_operation_streams_the_body_to_the_row_source(stand_in_row_source, api_client, code, handbook_year, settings):
    batch = make_batch(year=handbook_year, code=code)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024  # the body is larger: nobody may read it whole but the importer
    rows = [person(f"员工{n}", resident_id("19900101", 101 + 2 * (n % 400))) for n in range(300)]
    payload = json.dumps({"rows": rows}, ensure_ascii=False).encode()
    assert len(payload) > 10 * 1024
    response = api_client.post(f"/api/v1/batches/{batch.number}/roster/imports/", payload, content_type="application/json")
    assert response.status_code == 202, response.content
    assert stand_in_row_source["body"] == payload
    assert stand_in_row_source["content_length"] == len(payload)
    assert stand_in_row_source["acting_user"] == batch.account and stand_in_row_source["batch"] == batch
    assert response["Location"].endswith(f"/roster/imports/{RosterImport.objects.get().pk}/")


def test_the_row_sources_too_large_is_a_413(stand_in_row_source, api_client, code, handbook_year, settings):
    batch = make_batch(year=handbook_year, code=code)
    settings.ROSTER_API_MAX_BYTES = 100
    response = api_client.post(
        f"/api/v1/batches/{batch.number}/roster/imports/", {"rows": [person("张三", resident_id())] * 5},
        content_type="application/json",
    )
    assert response.status_code == 413
    assert problem_of(response)["detail"] == "清册数据过大，请分批提交。"
