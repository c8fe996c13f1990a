"""综合查询 in the back office (SPEC BO-1, X-1; issue 10): one box for a unit name, an enrollment code, a
batch number or a person's full ID number (looked up by its keyed hash, audited, never stored); reviewers
only (STYLE.md §10: union staff 403, anonymous and unit administrators to the login).
"""
import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.urls import reverse

from accounts.models import UnionOrganisation
from enrollment.models import Batch
from backoffice.search import backoffice_search
from rosters.models import IdType
from tests.enrollment.queue_helpers import make_application, shanghai
from tests.factories import UserFactory, make_batch, make_entry
from tests.rosters.helpers import submitted_for_review
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

URL = reverse("admin:backoffice_search")
PERSON_ID = "310101198503140011"  # a valid resident ID (check digit 1)
OTHER_DOCUMENT = "E12345678"  # 非身份证 (a passport)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def reviewer_client(reviewer):
    client = PortalClient()
    client.force_login(reviewer)
    return client


@pytest.fixture
def draft(handbook_year):
    """A draft batch of 上海长风示范科技有限公司 with the person PERSON_ID and a 非身份证 person."""
    batch = make_batch(year=handbook_year, unit_name="上海长风示范科技有限公司")
    make_entry(batch, name="张三", id_number=PERSON_ID)
    make_entry(batch, name="约翰", id_type=IdType.OTHER, id_number=OTHER_DOCUMENT)
    return batch


def search(client, query: str):
    response = client.post(URL, {"q": query})
    assert response.status_code == 200
    return response


def access_entries():
    return LogEntry.objects.filter(action=LogEntry.Action.ACCESS)


def test_the_page_offers_one_box(reviewer_client):
    response = reviewer_client.get(URL)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="q"' in content and 'method="post"' in content and "综合查询" in content
    assert "'nonce-" in response["Content-Security-Policy"]


def test_by_unit_name_finds_codes_batches_and_applications(reviewer_client, draft):
    committee = UnionOrganisation.objects.create(name="测试区总工会", short_name="测试区", level=1)
    make_application(committee, unit_name="上海长风示范科技有限公司", submitted_at=shanghai(2026, 9, 30, 10, 0))
    make_application(committee, unit_name="上海别的公司", submitted_at=shanghai(2026, 9, 30, 10, 0))

    response = search(reviewer_client, "长风示范")
    result = response.context["result"]
    assert [code.pk for code in result.codes] == [draft.code.pk]
    assert [batch.pk for batch in result.batches] == [draft.pk]
    assert [application.unit_name for application in result.applications] == ["上海长风示范科技有限公司"]
    content = response.content.decode()
    assert draft.code.code in content and draft.number in content and "清册待校验" in content
    assert reverse("admin:enrollment_enrollmentcode_change", args=[draft.code.pk]) in content
    assert not result.person and not access_entries().exists()


def test_by_enrollment_code_and_by_batch_number(reviewer_client, draft, handbook_year):
    other = make_batch(year=handbook_year, unit_name="上海别的公司")
    by_code = search(reviewer_client, draft.code.code.lower()).context["result"]  # codes are upper case
    assert [code.pk for code in by_code.codes] == [draft.code.pk]
    assert [batch.pk for batch in by_code.batches] == [draft.pk]

    by_number = search(reviewer_client, f" {other.number} ").context["result"]
    assert [batch.pk for batch in by_number.batches] == [other.pk]
    assert not by_number.person and not access_entries().exists()


def test_a_batch_links_to_the_queue_that_holds_it(reviewer_client, handbook_year):
    batch = submitted_for_review(handbook_year)
    response = search(reviewer_client, batch.number)
    [row] = response.context["batch_rows"]
    assert row["queues"] == [{"label": "清册审核", "url": reverse("admin:rosters_batchreview_change", args=[batch.pk])}]
    assert "职保会待审核" in response.content.decode()


def test_a_full_id_finds_the_persons_batches_by_hash_and_is_audited(reviewer_client, reviewer, draft, handbook_year):
    held = submitted_for_review(handbook_year)  # its people are in the registry
    held_person = held.entries.first().id_number

    response = search(reviewer_client, PERSON_ID.lower().replace("1", "１", 1))  # full-width digits are folded
    result = response.context["result"]
    assert result.person and [batch.pk for batch in result.batches] == [draft.pk]
    assert result.codes == [] and result.applications == []

    [entry] = access_entries()
    assert entry.actor == reviewer and entry.object_pk == str(draft.pk)
    assert entry.content_type == ContentType.objects.get_for_model(Batch)
    assert entry.timestamp is not None

    found = backoffice_search(query=held_person, user=reviewer)
    assert [batch.pk for batch in found.batches] == [held.pk]


def test_the_number_is_stored_nowhere_in_the_trail(reviewer_client, draft):
    search(reviewer_client, PERSON_ID)
    search(reviewer_client, "310101199001010018")  # nobody: the look-up is audited all the same
    entries = list(access_entries().order_by("pk"))
    assert len(entries) == 2
    assert entries[1].content_type == ContentType.objects.get_for_model(UserFactory._meta.model)
    for entry in LogEntry.objects.all():
        text = f"{entry.changes} {entry.additional_data} {entry.object_repr} {entry.serialized_data}"
        assert PERSON_ID not in text and "310101199001010018" not in text


def test_a_non_resident_document_number_is_looked_up_too(reviewer_client, draft, reviewer):
    result = search(reviewer_client, OTHER_DOCUMENT.lower()).context["result"]
    assert result.person and [batch.pk for batch in result.batches] == [draft.pk]
    assert access_entries().filter(actor=reviewer).count() == 1


def test_nothing_found_says_so(reviewer_client):
    response = search(reviewer_client, "没有这个单位")
    assert "没有找到" in response.content.decode()


def test_union_staff_are_forbidden(union_staff):
    cache.clear()  # SPEC SEC-6's once-a-minute marks of earlier tests
    client = PortalClient()
    client.force_login(union_staff)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"q": PERSON_ID}).status_code == 403
    # No look-up ran; the only entry is the denial itself (SPEC SEC-6: once per user, path and minute).
    assert [entry.additional_data for entry in access_entries()] == [{"path": URL, "status": 403, "ip": "127.0.0.1"}]


def test_anonymous_and_unit_administrators_go_to_the_login(unit_admin):
    response = PortalClient().get(URL)
    assert response.status_code == 302 and "/login" in response["Location"]
    client = PortalClient()
    client.force_login(unit_admin)
    response = client.post(URL, {"q": PERSON_ID})
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_post_needs_its_csrf_token(reviewer):
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.post(URL, {"q": PERSON_ID}).status_code == 403
