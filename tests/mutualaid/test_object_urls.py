"""SPEC X-4, SEC-6: every portal URL that names an object answers 404 to another unit, GET and POST,
and the 404 is audited (mutualaid.middleware.DenialAuditMiddleware).

The walk is a meta-test: it takes every URL pattern with a path parameter from the URL conf (the walker
of test_pages), fills the parameters with real objects of unit A (OBJECT_URLS: URL name → the objects'
values), and asks as unit B, a normal unit with its own code, batch and objects. A pattern missing from
both OBJECT_URLS and NOT_OBJECT_URLS fails with a message saying where to add it, so a new object URL
cannot be left out of the walk. Unit A itself must not get 404 with the same values: the ids are real.
A pattern with two parameters is walked a second time with B's own outer object (batch, application,
voucher) and A's inner id (entry, import, attachment).

A wrong method: the views' method decorators (require_GET, require_POST) answer 405 before any
look-up, for every id, existing or not, and for the owner as well. That answer tells B nothing about
A's objects, so the walk accepts B's 405 only where A gets 405 with the same method too; any answer
but 404 is a failure otherwise, except the SAME_AS_MISSING views (each with its reason).
"""
import datetime as dt
from functools import cached_property

import pytest
from auditlog.models import LogEntry
from django.test import Client, TestCase
from django.urls import resolve, reverse

from enrollment.models import ChangeRequest, CodeApplication
from mutualaid.attachments import (
    attachment_draft_token,
    attachment_store,
    attachments_of,
)
from mutualaid.models import Attachment, ExportJob
from payments.models import Voucher
from rosters.importer import roster_import_start
from rosters.models import IdType, RosterEntry
from rosters.rules import KIND_SITUATION
from rosters.services import batch_attachment_add
from tests.enrollment.helpers import png_upload
from tests.factories import CoverageYearFactory, UserFactory, make_batch, make_entry
from tests.mutualaid.url_walker import _portal_pages
from tests.payments.helpers import awaiting_payment_batch
from tests.receipts.helpers import issued_receipt, paid
from tests.rosters.importfiles import resident_id, row, template_xlsx, upload, wrong_check
from tests.second_factor import PortalClient


class World:
    """One unit's objects, one of every kind the object URLs address, each built when first asked for
    (a test builds only what its URL needs)."""

    def __init__(self, *, username, code, unit_name, draft_number, year, next_year, reviewer, committee):
        self.owner = UserFactory(username=username)
        self.code, self.unit_name, self.draft_number = code, unit_name, draft_number
        self.year, self.next_year = year, next_year
        self.reviewer = reviewer
        self.committee = committee

    @cached_property
    def draft_batch(self):
        """A batch in 草稿 (roster editable), with its code, lead unit and 经办人填报 (HND-1); of the next
        year, as a code has one batch a year and the completed batch takes the handbook's year."""
        return make_batch(self.owner, year=self.next_year, code=self.code, unit_name=self.unit_name, number=self.draft_number)

    @cached_property
    def entry(self):
        # 非身份证: 【编辑】 shows every field (SPEC ROS-7); a 身份证 entry's form has its 手机号 only.
        return make_entry(self.draft_batch, name="张贺", id_type=IdType.OTHER, id_number="31AB99917X", birth_date=dt.date(1990, 1, 1))

    @cached_property
    def roster_import(self):
        # One bad row, so the marked copy exists (SPEC ROS-10).
        bad = wrong_check(resident_id("19850615", 202))
        content = template_xlsx([row(number=resident_id("19900101", 101)), row("李梅", number=bad)])
        return roster_import_start(batch=self.draft_batch, upload=upload(content), acting_user=self.owner)

    @cached_property
    def batch_attachment(self):
        return batch_attachment_add(batch=self.draft_batch, upload=png_upload(), kind=KIND_SITUATION.value, acting_user=self.owner)

    @cached_property
    def completed_batch(self):
        """参保已完成: premium confirmed, voucher with its proof approved (SPEC PAY-3)."""
        _ = self.draft_batch  # A's code, lead unit and 经办人填报 come from make_batch (a code's text)
        return paid(awaiting_payment_batch(year=self.year, account=self.owner), self.reviewer)

    @cached_property
    def completed_entry(self):
        return self.completed_batch.entries.order_by("pk").first()

    @cached_property
    def voucher(self):
        return Voucher.objects.get(account=self.owner, lines__batch=self.completed_batch)

    @cached_property
    def voucher_attachment(self):
        return attachments_of(self.voucher).get()

    @cached_property
    def receipt(self):
        return issued_receipt(self.completed_batch, self.reviewer)

    @cached_property
    def code_application(self):
        # 审核不通过: the only state whose attachments may be removed (SPEC CODE-4).
        return CodeApplication.objects.create(
            account=self.owner, unit_name=f"{self.unit_name}（新）", committee=self.committee, nature="企业",
            contact_name="丁一", address="上海市普陀区长寿路1号", contact_mobile="13812345678", postcode="200060",
            contact_email="dingyi@example.com", headcount=200, status=CodeApplication.Status.REJECTED,
        )

    @cached_property
    def code_application_attachment(self):
        return attachment_store(upload=png_upload("营业执照.png"), uploaded_by=self.owner, owner=self.code_application)

    @cached_property
    def change_request(self):
        return ChangeRequest.objects.create(
            account=self.owner, code=self.draft_batch.code, items=["address"], original_values={},
            new_values={"address": "新地址"}, contact_name="丁一", contact_mobile="13812345678",
        )

    @cached_property
    def change_request_attachment(self):
        return attachment_store(upload=png_upload("变更申请表.png"), uploaded_by=self.owner, owner=self.change_request)

    @cached_property
    def draft_attachment(self):
        return attachment_store(upload=png_upload(), uploaded_by=self.owner, draft_token=attachment_draft_token())

    @cached_property
    def export_job(self):
        """A finished export of A's roster (【导出】, UI.md "Long work"), its file ready."""
        client = PortalClient()
        client.force_login(self.owner)
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = client.get(reverse("rosters:roster_export", kwargs={"number": self.draft_batch.number}))
        assert response.status_code == 302, response.status_code
        return ExportJob.objects.get(pk=resolve(response["Location"]).kwargs["job_id"])


def _batch(world):
    return {"number": world.draft_batch.number}


def _entry(world):
    return {"number": world.draft_batch.number, "entry_id": world.entry.pk}


def _import(world):
    return {"number": world.draft_batch.number, "import_id": world.roster_import.pk}


def _batch_attachment(world):
    return {"number": world.draft_batch.number, "attachment_pk": world.batch_attachment.pk}


def _completed(world):
    return {"number": world.completed_batch.number}


def _code_application(world):
    return {"pk": world.code_application.pk}


def _code_application_attachment(world):
    return {"pk": world.code_application.pk, "attachment_pk": world.code_application_attachment.pk}


def _export_job(world):
    return {"job_id": world.export_job.pk}


def _api_token(world):
    """SPEC API-1: a token of the unit for the code of its draft batch (made once per World)."""
    if not hasattr(world, "api_token"):
        from api.services import api_token_create

        batch = world.draft_batch
        world.api_token, _ = api_token_create(
            account=world.owner, code_id=batch.code_id, name="人事系统", expires_on=dt.date.today() + dt.timedelta(days=30)
        )
    return {"token_id": world.api_token.pk}


# URL name → the values of its path parameters for a unit's objects (World). A new URL pattern with a
# parameter that names an object of a unit belongs here (and its view must answer another unit 404).
OBJECT_URLS = {
    "portal:attachment_draft_file": lambda world: {"pk": world.draft_attachment.pk},
    "portal:attachment_draft_delete": lambda world: {"pk": world.draft_attachment.pk},
    "enrollment:code_applications_detail": _code_application,
    "enrollment:code_applications_edit": _code_application,
    "enrollment:code_applications_attachment": _code_application_attachment,
    "enrollment:code_applications_attachment_delete": _code_application_attachment,
    "enrollment:handler_changes_detail": lambda world: {"pk": world.change_request.pk},
    "enrollment:handler_changes_attachment": lambda world: {
        "pk": world.change_request.pk, "attachment_pk": world.change_request_attachment.pk,
    },
    "enrollment:batches_detail": _batch,
    "enrollment:batches_delete": _batch,
    "rosters:roster": _batch,
    "rosters:roster_names": _batch,
    "rosters:roster_export": _batch,
    "rosters:roster_bulk_delete": _batch,
    "rosters:roster_bulk_set_active": _batch,
    "rosters:roster_entry": _entry,
    "rosters:roster_entry_edit": _entry,
    "rosters:roster_entry_set_active": _entry,
    "rosters:roster_entry_delete": _entry,
    "rosters:roster_import": _batch,
    "rosters:roster_import_template": _batch,
    "rosters:roster_import_upload": _batch,
    "rosters:roster_import_previous": _batch,
    "rosters:roster_import_members": _batch,
    "rosters:roster_import_result": _import,
    "rosters:roster_import_progress": _import,
    "rosters:roster_import_marked": _import,
    "rosters:validate": _batch,
    "rosters:validation_result": _batch,
    "rosters:validation_progress": _batch,
    "rosters:validation_remove": _batch,
    "rosters:validation_still_contributing": _batch,
    "rosters:validation_confirm_unmatched": _batch,
    "rosters:validation_attachment_upload": _batch,
    "rosters:validation_attachment": _batch_attachment,
    "rosters:validation_attachment_delete": _batch_attachment,
    "rosters:submit": _batch,
    "plans:selection": _completed,
    "plans:withdraw": _completed,
    "plans:premium_detail": _completed,
    "plans:premium_export": _completed,
    "plans:entry_items": lambda world: {"number": world.completed_batch.number, "entry_id": world.completed_entry.pk},
    "payments:voucher_detail": lambda world: {"pk": world.voucher.pk},
    "payments:voucher_attachment": lambda world: {"pk": world.voucher.pk, "attachment_pk": world.voucher_attachment.pk},
    "receipts:batch_receipts": _completed,
    "receipts:receipt_pdf": lambda world: {"pk": world.receipt.pk},
    "receipts:certificate_pdf": _completed,
    "exports:job": _export_job,
    "exports:job_progress": _export_job,
    "exports:job_download": _export_job,
    "api:tokens_created": _api_token,
    "api:tokens_revoke": _api_token,
}

# Patterns with a parameter that is not an object of a unit, each with the reason.
NOT_OBJECT_URLS = {
    "accounts:email_confirm": "a signed token from the confirmation e-mail, public (SPEC ACC-2)",
    "accounts:password_reset_confirm": "Django's signed reset link, public (SPEC ACC-3)",
    "receipts:verify": "the receipt's QR token, public by design: number, title and amount only (SPEC RCP-2)",
    "lookup:proof": "the 参保证明's QR token, public by design: year, unit, items, masked name, no ID (SPEC LOOK-2)",
    "captcha-image": "a captcha challenge key, public before login (SPEC ACC-1)",
    "captcha-image-2x": "a captcha challenge key, public before login (SPEC ACC-1)",
    "plans:price_table": "a coverage year: the same price table for every unit (SPEC PREM-1)",
    # SPEC API-1, API-2: the API authenticates by token only, never by the session this walk logs in
    # with (a session gets 401); another code's or account's batch is a 404 for a token there
    # (tests/api/test_endpoints.py: test_another_codes_or_accounts_batch_is_a_404).
    **{
        f"api_v1:{name}": "a roster API operation: token authentication only, tested in tests/api/ (SPEC API-1)"
        for name in (
            "batches_detail", "roster_imports_start", "roster_imports_detail", "validation_begin",
            "validation_result", "roster_list", "premium",
        )
    },
}


def _object_patterns() -> dict[str, str]:
    """URL name → sample URL of every portal pattern with a path parameter (captured from the path,
    not the extra kwargs a pattern may pass to its view)."""
    return {name: url for url, name, _ in _portal_pages() if resolve(url).captured_kwargs}


OBJECT_PATTERNS = _object_patterns()


def test_the_walk_finds_the_object_urls():
    # The walk cannot pass by finding nothing.
    assert {"enrollment:batches_detail", "rosters:roster_entry", "exports:job_download"} <= set(OBJECT_PATTERNS)


def test_the_tables_name_only_existing_patterns():
    stale = (set(OBJECT_URLS) | set(NOT_OBJECT_URLS)) - set(OBJECT_PATTERNS)
    assert not stale, f"no URL pattern with a parameter is named {sorted(stale)}: remove them from the tables"
    assert not set(OBJECT_URLS) & set(NOT_OBJECT_URLS)


@pytest.fixture
def next_year(handbook_year):
    return CoverageYearFactory(year=handbook_year.year + 1)


@pytest.fixture
def world(handbook_year, next_year, reviewer, union_organisations):
    """Unit A, whose objects the walk asks for."""
    return World(
        username="unit-a", code="0072J3", unit_name="上海长风示范科技有限公司", draft_number=f"{next_year.year}J900001",
        year=handbook_year, next_year=next_year, reviewer=reviewer, committee=union_organisations.first(),
    )


@pytest.fixture
def other_world(handbook_year, next_year, reviewer, union_organisations):
    """Unit B, who asks: a normal unit with objects of its own."""
    return World(
        username="unit-b", code="0A1B2C", unit_name="上海别的有限公司", draft_number=f"{next_year.year}J900002",
        year=handbook_year, next_year=next_year, reviewer=reviewer, committee=union_organisations.first(),
    )


@pytest.fixture
def other_unit(other_world):
    """Unit B's account and client. Its code, 经办人填报 and batch make it pass the pages' checks (a 302
    to 参保编码申请 would hide the answer under test)."""
    _ = other_world.draft_batch
    client = PortalClient()
    client.force_login(other_world.owner)
    return other_world.owner, client


def _denial_audited(account, path: str) -> bool:
    return LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS, actor=account, additional_data__path=path, additional_data__status=404
    ).exists()


def _values(name: str, world: World) -> dict:
    """The table's values of `name` for `world`'s unit; fails the test when the pattern is not in the walk."""
    if name in NOT_OBJECT_URLS:
        pytest.skip(f"not an object URL: {NOT_OBJECT_URLS[name]}")
    if name not in OBJECT_URLS:
        pytest.fail(
            f"URL pattern {name} ({OBJECT_PATTERNS[name]}) has a path parameter but is not in the walk: add it to "
            "OBJECT_URLS in tests/mutualaid/test_object_urls.py with unit A's values (and make its view answer "
            "another unit 404), or to NOT_OBJECT_URLS with the reason it names no object of a unit"
        )
    kwargs = OBJECT_URLS[name](world)
    assert set(kwargs) == set(resolve(OBJECT_PATTERNS[name]).captured_kwargs), f"{name}: the parameters changed"
    return kwargs


def _client_of(account) -> Client:
    client = PortalClient()
    client.force_login(account)
    return client


def _answers_other_than_404(url: str, *, asking: Client, owner: Client) -> dict[str, int]:
    """GET and POST of `url` by `asking`: the answers that are not 404, less a 405 the owner gets as well
    (the method refused before any look-up, whatever the id: see the module's docstring)."""
    answers = {method: getattr(asking, method)(url).status_code for method in ("get", "post")}
    return {
        method: status
        for method, status in answers.items()
        if status != 404 and not (status == 405 and getattr(owner, method)(url).status_code == 405)
    }


def _assert_owner_is_answered(name: str, url: str, owner: Client) -> None:
    """The owner's own answer, with the method the view accepts, proves the ids are real. Run after the
    other unit's requests: the owner's POST may change or delete the object."""
    status = owner.get(url).status_code
    method = "GET"
    if status == 405:
        method, status = "POST", owner.post(url).status_code
    assert status != 404, f"{name}: unit A got 404 on its own {url} ({method}): the walk's ids are wrong"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(OBJECT_PATTERNS))
def test_another_units_object_url_answers_404(name, world, other_unit):
    url = reverse(name, kwargs=_values(name, world))
    other, as_other = other_unit
    owner = _client_of(world.owner)

    leaks = _answers_other_than_404(url, asking=as_other, owner=owner)

    assert not leaks, f"{name}: unit B asked for unit A's {url} and got {leaks} instead of 404"
    assert _denial_audited(other, url), f"{name}: B's 404 on {url} is not in the audit trail (SPEC SEC-6)"
    _assert_owner_is_answered(name, url, owner)


# Views that answer an id their unit's own object does not hold exactly as they answer an id that
# never existed, on purpose: a second click of a 删除 finds nothing to delete and says so (a message,
# back to the page) instead of an error page. Another unit's id under one's own object gets that same
# answer: nothing changed and nothing told. The walk checks that it is the same answer.
SAME_AS_MISSING = {
    "rosters:roster_entry_delete": "a second click of 【删除】 says 该人员已不在参保清册中 (SPEC ROS-7)",
    "rosters:validation_attachment_delete": "a second click of an attachment's 【X】 finds nothing and does nothing",
    "enrollment:code_applications_attachment_delete": "a second click of a kept attachment's 【X】 does nothing (SPEC CODE-4)",
}
MISSING_ID = 999_999_999
INNER_MODELS = {"entry_id": RosterEntry, "attachment_pk": Attachment}

NESTED_PATTERNS = sorted(name for name, url in OBJECT_PATTERNS.items() if len(resolve(url).captured_kwargs) > 1)


@pytest.mark.django_db
@pytest.mark.parametrize("name", NESTED_PATTERNS)
def test_another_units_id_under_ones_own_object_answers_404(name, world, other_world, other_unit):
    # SPEC X-4: B's own batch (application, voucher, …) with A's entry (attachment, import, …) id.
    inner = list(resolve(OBJECT_PATTERNS[name]).captured_kwargs)[-1]
    kwargs = {**_values(name, other_world), inner: _values(name, world)[inner]}
    url = reverse(name, kwargs=kwargs)
    _, as_other = other_unit
    owner = _client_of(world.owner)

    if name in SAME_AS_MISSING:
        missing_url = reverse(name, kwargs={**kwargs, inner: MISSING_ID})
        for method in ("get", "post"):
            answer, missing = getattr(as_other, method)(url), getattr(as_other, method)(missing_url)
            assert (answer.status_code, answer.get("Location")) == (missing.status_code, missing.get("Location")), (
                f"{name}: {method.upper()} {url} with unit A's {inner} is not answered as a missing one"
            )
        assert INNER_MODELS[inner].objects.filter(pk=kwargs[inner]).exists(), f"{name}: unit B deleted unit A's {inner}"
    else:
        leaks = _answers_other_than_404(url, asking=as_other, owner=owner)
        assert not leaks, f"{name}: unit B asked for {url} with unit A's {inner} and got {leaks} instead of 404"
    _assert_owner_is_answered(name, reverse(name, kwargs=_values(name, world)), owner)


def test_the_exceptions_name_nested_object_urls():
    assert set(SAME_AS_MISSING) <= set(NESTED_PATTERNS) & set(OBJECT_URLS)


def test_a_pattern_left_out_of_the_tables_fails_the_walk_and_says_where_to_add_it(monkeypatch):
    monkeypatch.setitem(OBJECT_PATTERNS, "enrollment:things_detail", "/things/1/")

    with pytest.raises(pytest.fail.Exception, match="add it to OBJECT_URLS in tests/mutualaid/test_object_urls.py"):
        _values("enrollment:things_detail", world=None)
