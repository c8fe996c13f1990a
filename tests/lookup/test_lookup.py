"""参保查询 (SPEC LOOK-1, LOOK-2, SEC-1, SEC-3, SEC-5, COV-2, X-1): every outcome of step 1, the neutral
and the positive path doing the same work, the SMS step (wrong, five tries, expired), the result page
and its dates, the 参保证明 PDF and its verification page, the limits and the audit rows."""
import datetime as dt
import re
import zlib

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from enrollment.states import BatchKind, BatchState
from lookup.models import CoverageProof, LookupAudit, LookupRequest
from lookup.services import NEUTRAL_MESSAGE
from lookup.selectors import mask_name
from mutualaid import sms
from plans.services import premium_confirm
from rosters.models import EnrolmentRegistry, RosterEntry, WorkStatus
from tests.factories import SHANGHAI, CoverageYearFactory, make_batch, make_entry, resident_id
from tests.plans.helpers import approved_batch
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2023, 10, 10, 10, 0, tzinfo=SHANGHAI)  # inside the 2023 coverage year
MOBILE = "13912345678"
ID_NUMBER = resident_id(dt.date(1985, 3, 14), 131)
OTHER_ID = resident_id(dt.date(1990, 5, 1), 233)
OUTCOME = LookupAudit.Outcome


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def clean_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def previous_year(db):
    return CoverageYearFactory(year=2022)


def enrol(year, *, name="张三", id_number=ID_NUMBER, mobile=MOBILE, state=BatchState.COMPLETED, registry=True,
          kind=BatchKind.CENTRALISED):
    """A person enrolled by a submitted batch of `year` in `state`, held in the registry (ROS-11)."""
    batch = make_batch(year=year, state=state, kind=kind, unit_name="上海长风示范科技有限公司")
    batch.coverage_start, batch.coverage_end = year.coverage_start, year.coverage_end
    batch.save(update_fields=["coverage_start", "coverage_end"])
    entry = make_entry(
        batch, name=name, id_number=id_number, mobile=mobile, work_status=WorkStatus.ACTIVE, has_social_security=True,
        coverage_start=year.coverage_start, coverage_end=year.coverage_end,
    )
    if registry:
        EnrolmentRegistry.objects.create(year=year.year, id_hash=entry.id_hash, batch=batch)
    return entry


def confirmed_items(batch, codes=("A0", "B0", "C0"), at=None):
    """Confirm the batch's 保费信息 (SPEC PREM-3) with `codes` and put it in `state` afterwards."""
    state = batch.state
    batch.state = BatchState.ROSTER_APPROVED
    batch.save(update_fields=["state"])
    premium_confirm(batch=batch, codes=list(codes), acting_user=batch.account, at=at or batch.coverage_year.centralised_opens_at)
    type(batch).objects.filter(pk=batch.pk).update(state=state)


def step1(client, *, name="张三", id_number=ID_NUMBER, id_type="身份证"):
    return client.post(
        reverse("lookup:start"),
        {"name": name, "id_type": id_type, "id_number": id_number, "captcha_0": "test", "captcha_1": "PASSED"},
    )


def look_up(client, capture, **fields):
    """Step 1 with the queued task run (as a worker would after commit)."""
    with capture(execute=True):
        return step1(client, **fields)


def sent_code() -> str:
    assert sms.outbox, "no SMS was sent"
    mobile, text = sms.outbox[-1]
    return re.search(r"验证码为(\d{6})", text).group(1)


def enter_code(client, code):
    return client.post(reverse("lookup:code"), {"code": code})


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- step 1: every outcome (SPEC LOOK-1, LOOK-2) -------------------------------------------------------


def test_pages_are_public_and_linked_from_login_and_help(client):
    for name in ("accounts:login", "accounts:faq", "accounts:support"):
        html = client.get(reverse(name)).content.decode()
        assert f'href="{reverse("lookup:start")}"' in html and "参保查询" in html, name
    response = client.get(reverse("lookup:start"))
    assert response.status_code == 200
    text = page_text(response)
    assert "证件类型" in text and "证件号码" in text and "图形验证码" in text and "隐私说明" in text
    assert "no-store" in response["Cache-Control"]


def test_enrolled_person_with_a_mobile_gets_a_code(client, handbook_year, django_capture_on_commit_callbacks):
    entry = enrol(handbook_year)

    response = look_up(client, django_capture_on_commit_callbacks)

    assert response.status_code == 302 and response["Location"] == reverse("lookup:code")
    assert sms.outbox[-1][0] == MOBILE and sent_code()
    page = client.get(reverse("lookup:code"))
    assert NEUTRAL_MESSAGE in page.content.decode()
    assert "139****5678" not in page.content.decode()  # LOOK-2: never before a right code
    assert LookupRequest.objects.get().entry == entry
    assert list(LookupAudit.objects.values_list("outcome", flat=True)) == [OUTCOME.CODE_QUEUED]


@pytest.mark.parametrize(
    "case, outcome",
    [
        ("not_enrolled", OUTCOME.NOT_ENROLLED),
        ("name_mismatch", OUTCOME.NAME_MISMATCH),
        ("no_mobile", OUTCOME.NO_MOBILE),
        ("cancelled", OUTCOME.NOT_ENROLLED),
        ("withdrawn", OUTCOME.NOT_ENROLLED),
        ("draft_without_registry", OUTCOME.NOT_ENROLLED),
        ("wrong_id_type", OUTCOME.NOT_ENROLLED),
        ("two_years_ago", OUTCOME.NOT_ENROLLED),
    ],
)
def test_every_other_outcome_gives_the_neutral_answer_and_sends_nothing(
    client, handbook_year, django_capture_on_commit_callbacks, case, outcome
):
    fields = {}
    if case == "name_mismatch":
        enrol(handbook_year, name="李四")
    elif case == "no_mobile":
        enrol(handbook_year, mobile="")
    elif case == "cancelled":  # BAT-11 released the registry, and a stale row would not count either
        enrol(handbook_year, state=BatchState.CANCELLED)
    elif case == "withdrawn":  # BAT-6: back to 清册待校验
        enrol(handbook_year, state=BatchState.DRAFT)
    elif case == "draft_without_registry":
        enrol(handbook_year, state=BatchState.DRAFT, registry=False)
    elif case == "wrong_id_type":
        enrol(handbook_year)
        fields = {"id_type": "非身份证"}
    elif case == "two_years_ago":
        enrol(CoverageYearFactory(year=2021))

    response = look_up(client, django_capture_on_commit_callbacks, **fields)

    assert response.status_code == 302 and response["Location"] == reverse("lookup:code")
    assert sms.outbox == []
    page = client.get(reverse("lookup:code")).content.decode()
    assert NEUTRAL_MESSAGE in page
    assert list(LookupAudit.objects.values_list("outcome", flat=True)) == [outcome]
    assert LookupRequest.objects.get().entry is None


def test_name_compared_as_rosters_compare_it(client, handbook_year, django_capture_on_commit_callbacks):
    # held_names_match: NFKC, white space removed
    enrol(handbook_year, name="张三")
    look_up(client, django_capture_on_commit_callbacks, name=" 张 三 ")
    assert sent_code()


def test_previous_year_counts(client, handbook_year, previous_year, django_capture_on_commit_callbacks):
    entry = enrol(previous_year)
    look_up(client, django_capture_on_commit_callbacks)
    enter_code(client, sent_code())
    text = page_text(client.get(reverse("lookup:result")))
    assert "2022年度" in text and entry.batch.unit_name in text


def test_the_page_is_the_same_on_both_paths(handbook_year, django_capture_on_commit_callbacks):
    enrol(handbook_year)
    pages = []
    for id_number in (ID_NUMBER, OTHER_ID):
        client = PortalClient()
        look_up(client, django_capture_on_commit_callbacks, id_number=id_number)
        html = client.get(reverse("lookup:code")).content.decode()
        pages.append(re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html))
    assert pages[0] == pages[1]


def test_neutral_and_positive_paths_do_the_same_work(handbook_year, django_capture_on_commit_callbacks):
    """SPEC LOOK-2 by construction: the same queries (count and tables) and one queued task on every path."""
    enrol(handbook_year)
    enrol(handbook_year, name="李四", id_number=resident_id(dt.date(1970, 1, 1), 11))
    enrol(handbook_year, name="王五", id_number=resident_id(dt.date(1971, 1, 1), 13), mobile="")
    step1(PortalClient(), id_number=resident_id(dt.date(1999, 9, 9), 99))  # warm caches (content types)
    cases = {
        "enrolled": {},
        "not_enrolled": {"id_number": OTHER_ID},
        "name_mismatch": {"id_number": resident_id(dt.date(1970, 1, 1), 11)},
        "no_mobile": {"id_number": resident_id(dt.date(1971, 1, 1), 13), "name": "王五"},
    }
    work = {}
    for case, fields in cases.items():
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
            response = step1(PortalClient(), **fields)
        assert response.status_code == 302, case
        tables = [re.findall(r'(?:FROM|INTO|UPDATE) "(\w+)"', query["sql"]) for query in queries.captured_queries]
        work[case] = (len(queries), len(callbacks), tables)
    assert work["enrolled"][1] == 1
    assert len({(count, tasks, repr(tables)) for count, tasks, tables in work.values()}) == 1, work
    looked = [t for tables in work["enrolled"][2] for t in tables if t in ("rosters_enrolmentregistry", "rosters_rosterentry")]
    assert looked == ["rosters_enrolmentregistry", "rosters_rosterentry"]  # two indexed look-ups, no scan


# --- step 2: the SMS code (SPEC LOOK-1) ---------------------------------------------------------------


def test_wrong_code_is_refused_and_the_right_one_shows_the_result(client, handbook_year, django_capture_on_commit_callbacks):
    enrol(handbook_year)
    look_up(client, django_capture_on_commit_callbacks)
    code = sent_code()
    wrong = "000000" if code != "000000" else "111111"

    response = enter_code(client, wrong)
    assert response.status_code == 200 and "验证码错误" in page_text(response) and "还可尝试4次" in page_text(response)
    assert client.get(reverse("lookup:result"))["Location"] == reverse("lookup:start")

    response = enter_code(client, code)
    assert response["Location"] == reverse("lookup:result")
    outcomes = list(LookupAudit.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [OUTCOME.CODE_QUEUED, OUTCOME.WRONG_CODE, OUTCOME.VERIFIED]


def test_five_wrong_tries_spend_the_lookup(client, handbook_year, django_capture_on_commit_callbacks):
    enrol(handbook_year)
    look_up(client, django_capture_on_commit_callbacks)
    code = sent_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        enter_code(client, wrong)
    response = enter_code(client, code)
    assert "验证码错误次数过多，请重新查询" in page_text(response)
    assert client.get(reverse("lookup:result"))["Location"] == reverse("lookup:start")


def test_expired_code_is_refused(client, handbook_year, django_capture_on_commit_callbacks, clock):
    enrol(handbook_year)
    look_up(client, django_capture_on_commit_callbacks)
    code = sent_code()
    clock.shift(dt.timedelta(minutes=5, seconds=1))
    response = enter_code(client, code)
    assert "验证码已过期" in page_text(response)


def test_neutral_path_answers_codes_like_a_mistyped_code(handbook_year, django_capture_on_commit_callbacks):
    """SPEC LOOK-2: wrong, sixth and late codes read the same whether or not anything was sent."""
    enrol(handbook_year)
    answers = []
    for id_number in (ID_NUMBER, OTHER_ID):
        client = PortalClient()
        sms.outbox.clear()
        look_up(client, django_capture_on_commit_callbacks, id_number=id_number)
        wrong = "000000" if not sms.outbox or sent_code() != "000000" else "111111"
        answers.append([page_text(enter_code(client, wrong)) for _ in range(6)])
    assert answers[0] == answers[1]


def test_code_step_without_step_one_goes_back(client):
    assert client.get(reverse("lookup:code"))["Location"] == reverse("lookup:start")
    assert client.get(reverse("lookup:result"))["Location"] == reverse("lookup:start")
    assert client.get(reverse("lookup:proof_pdf"))["Location"] == reverse("lookup:start")


# --- step 3: the result (SPEC LOOK-1, COV-2) ---------------------------------------------------------


def verified(client, capture, **fields):
    look_up(client, capture, **fields)
    assert enter_code(client, sent_code())["Location"] == reverse("lookup:result")


def test_result_of_a_completed_centralised_batch(client, handbook_year, django_capture_on_commit_callbacks):
    entry = enrol(handbook_year)
    confirmed_items(entry.batch, codes=("A0", "B0", "C0"))
    verified(client, django_capture_on_commit_callbacks)

    response = client.get(reverse("lookup:result"))

    text = page_text(response)
    assert "2023年度" in text and "上海长风示范科技有限公司" in text and "参保已完成" in text
    for code in ("A0", "B0", "C0"):
        assert re.search(rf"{code} \S+ \S+ 2023-07-01 2024-06-30", text), code
    assert "139****5678" in text  # shown only now, after the right code
    assert ID_NUMBER not in response.content.decode() and "元" not in text  # no ID, no amounts
    assert "no-store" in response["Cache-Control"]


def instant_result(client, capture, year, *, start: dt.date, confirmed_at: dt.datetime) -> str:
    """The result page's text for the one person of an instant batch starting on `start` (A0 B0 C0
    confirmed at `confirmed_at`), looked up and verified."""
    batch = approved_batch(year=year, kind=BatchKind.INSTANT, social_security=1, start=start)
    confirmed_items(batch, codes=("A0", "B0", "C0"), at=confirmed_at)
    entry = RosterEntry.objects.get(batch=batch)
    entry.mobile = MOBILE
    entry.save()
    EnrolmentRegistry.objects.create(year=2023, id_hash=entry.id_hash, batch=batch)
    verified(client, capture, name=entry.name, id_number=entry.id_number)
    return page_text(client.get(reverse("lookup:result")))


def test_result_in_progress_with_waiting_periods(client, handbook_year, django_capture_on_commit_callbacks):
    # SPEC COV-2: an instant batch from 2023-09-15: A 30 days, B 60, C none.
    text = instant_result(
        client, django_capture_on_commit_callbacks, handbook_year,
        start=dt.date(2023, 9, 15), confirmed_at=dt.datetime(2023, 9, 14, 10, 0, tzinfo=SHANGHAI),
    )

    assert "参保办理中（单位缴费后生效）" in text
    assert re.search(r"A0 \S+ \S+ 2023-10-15 2024-06-30", text)
    assert re.search(r"B0 \S+ \S+ 2023-11-14 2024-06-30", text)
    assert re.search(r"C0 \S+ \S+ 2023-09-15 2024-06-30", text)


def test_waiting_period_outlasting_the_coverage_says_never(client, handbook_year, django_capture_on_commit_callbacks, clock):
    clock.move_to(dt.datetime(2024, 6, 2, 10, 0, tzinfo=SHANGHAI))
    text = instant_result(
        client, django_capture_on_commit_callbacks, handbook_year,
        start=dt.date(2024, 6, 1), confirmed_at=dt.datetime(2024, 5, 31, 10, 0, tzinfo=SHANGHAI),
    )

    assert re.search(r"A0 \S+ \S+ 不生效 2024-06-30", text) and re.search(r"B0 \S+ \S+ 不生效 2024-06-30", text)
    assert re.search(r"C0 \S+ \S+ 2024-06-01 2024-06-30", text)


def test_result_before_items_are_chosen(client, handbook_year, django_capture_on_commit_callbacks):
    enrol(handbook_year, state=BatchState.IN_REVIEW)
    verified(client, django_capture_on_commit_callbacks)
    text = page_text(client.get(reverse("lookup:result")))
    assert "单位尚未选择保障项目" in text and "参保办理中" in text


# --- the 参保证明 and its verification page (SPEC LOOK-2) -------------------------------------------


def pdf_pages(content: bytes) -> int:
    """Page objects of a PDF, also inside compressed object streams (no PDF library in the lock).

    A stream is decompressed without its checksum: when its last byte is a carriage return the pattern
    takes it for the line end before `endstream`, and zlib.decompress then refused the whole stream (the
    page count was 0 about once in 256 PDFs)."""
    parts = [content]
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", content, re.S):
        try:
            parts.append(zlib.decompressobj().decompress(stream))
        except zlib.error:
            pass
    return sum(len(re.findall(rb"/Type\s*/Page(?![s\w])", part)) for part in parts)


def test_proof_pdf_has_one_page_and_a_working_verification_page(client, handbook_year, django_capture_on_commit_callbacks):
    entry = enrol(handbook_year)
    confirmed_items(entry.batch)
    verified(client, django_capture_on_commit_callbacks)

    response = client.get(reverse("lookup:proof_pdf"))

    if response.status_code == 503:
        pytest.skip("WeasyPrint's system libraries are missing")
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert pdf_pages(response.content) == 1
    proof = CoverageProof.objects.get()
    assert len(proof.token) >= 40 and proof.entry == entry
    page = client.__class__().get(reverse("lookup:proof", kwargs={"token": proof.token}))  # anyone, no session
    html = page.content.decode()
    text = page_text(page)
    assert page.status_code == 200 and "张*" in text and "2023年度" in text and "上海长风示范科技有限公司" in text
    assert "A0" in text and "张三" not in html
    assert ID_NUMBER not in html and ID_NUMBER[:4] + "*" not in html and ID_NUMBER[-4:] not in html


def test_verification_page_of_a_cancelled_batch_says_invalid(client, handbook_year):
    entry = enrol(handbook_year)
    proof = CoverageProof.objects.create(batch=entry.batch, entry=entry)
    type(entry.batch).objects.filter(pk=entry.batch.pk).update(state=BatchState.CANCELLED)
    text = page_text(client.get(reverse("lookup:proof", kwargs={"token": proof.token})))
    assert "已失效" in text and "张*" not in text


def test_unknown_proof_token_is_404(client):
    assert client.get(reverse("lookup:proof", kwargs={"token": "x" * 43})).status_code == 404


def test_mask_name():
    assert [mask_name(n) for n in ("张三", "欧阳娜娜", "李", "")] == ["张*", "欧***", "*", ""]


# --- limits and audit (SPEC SEC-3, LOOK-2) -----------------------------------------------------------


def test_limit_per_id_number_per_hour(client, handbook_year, settings, django_capture_on_commit_callbacks):
    settings.LOOKUP_PER_ID_PER_HOUR = 2
    for _ in range(2):
        assert look_up(PortalClient(), django_capture_on_commit_callbacks, id_number=OTHER_ID).status_code == 302
    response = step1(PortalClient(), id_number=OTHER_ID)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "查询过于频繁" in response.content.decode()
    assert step1(PortalClient(), id_number=ID_NUMBER).status_code == 302  # another ID still may
    assert LookupAudit.objects.filter(outcome=OUTCOME.LIMITED).count() == 1


def test_limit_per_id_number_per_day(handbook_year, settings, clock):
    settings.LOOKUP_PER_ID_PER_DAY = 2
    for hour in range(2):
        assert step1(PortalClient(), id_number=OTHER_ID).status_code == 302
        clock.shift(dt.timedelta(hours=1))
    assert step1(PortalClient(), id_number=OTHER_ID).status_code == 429


def test_limit_per_ip(handbook_year, settings):
    settings.LOOKUP_PER_IP_PER_HOUR = 2
    for number in range(2):
        assert step1(PortalClient(), id_number=resident_id(dt.date(1980, 1, 1), 101 + 2 * number)).status_code == 302
    response = step1(PortalClient(), id_number=resident_id(dt.date(1980, 1, 1), 111))
    assert response.status_code == 429 and response["Retry-After"]
    other = PortalClient(REMOTE_ADDR="10.0.0.9")
    assert step1(other, id_number=resident_id(dt.date(1980, 1, 1), 113)).status_code == 302


def test_limit_per_ip_per_day(handbook_year, settings, clock):
    settings.LOOKUP_PER_IP_PER_DAY = 1
    assert step1(PortalClient(), id_number=resident_id(dt.date(1980, 1, 1), 101)).status_code == 302
    clock.shift(dt.timedelta(hours=2))
    assert step1(PortalClient(), id_number=resident_id(dt.date(1980, 1, 1), 103)).status_code == 429


def test_limit_is_the_same_for_enrolled_and_unknown_ids(handbook_year, settings):
    """SPEC LOOK-2: a refusal does not depend on whether the ID is enrolled."""
    settings.LOOKUP_PER_ID_PER_HOUR = 1
    enrol(handbook_year)
    for id_number in (ID_NUMBER, OTHER_ID):
        assert step1(PortalClient(), id_number=id_number).status_code == 302
        assert step1(PortalClient(), id_number=id_number).status_code == 429


def test_audit_and_lookup_rows_hold_no_clear_id(client, handbook_year, django_capture_on_commit_callbacks):
    enrol(handbook_year)
    verified(client, django_capture_on_commit_callbacks)
    look_up(PortalClient(), django_capture_on_commit_callbacks, id_number=OTHER_ID)
    rows = list(LookupAudit.objects.values()) + list(LookupRequest.objects.values())
    assert len(rows) >= 5
    for row in rows:
        for value in row.values():
            for number in (ID_NUMBER, OTHER_ID):
                assert number not in str(value) and number[-8:] not in str(value)
    assert all(row["ip"] == "127.0.0.1" for row in LookupAudit.objects.values("ip"))
    assert all(len(row["id_hash"]) >= 64 for row in LookupAudit.objects.values("id_hash"))  # the keyed hash


def test_audit_rows_are_append_only(handbook_year):
    row = LookupAudit.objects.create(id_hash="1:" + "0" * 64, ip="127.0.0.1", outcome=OUTCOME.NOT_ENROLLED)
    row.outcome = OUTCOME.VERIFIED
    with pytest.raises(ValueError):
        row.save()
    with pytest.raises(ValueError):
        row.delete()


def test_a_task_delivered_again_after_a_dead_worker_sends_one_code(client, handbook_year, django_capture_on_commit_callbacks):
    # The task is acks_late: a worker killed after sending but before acknowledging gets the message
    # delivered again; the person still receives one code, and that code still works (SPEC LOOK-1).
    from lookup.tasks import send_lookup_code

    enrol(handbook_year)
    look_up(client, django_capture_on_commit_callbacks)
    request = LookupRequest.objects.get()

    assert send_lookup_code(request.pk) is False  # the redelivered message: no second SMS
    assert len(sms.outbox) == 1
    assert enter_code(client, sent_code())["Location"] == reverse("lookup:result")


def test_a_task_for_a_look_up_gone_sends_nothing(handbook_year):
    from lookup.tasks import send_lookup_code

    assert send_lookup_code(999_999) is False and not sms.outbox


# --- hostile input (SPEC SEC-1, SEC-5) ----------------------------------------------------------------


def test_full_width_id_number_is_normalised(client, handbook_year, django_capture_on_commit_callbacks):
    enrol(handbook_year)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in ID_NUMBER.lower())
    look_up(client, django_capture_on_commit_callbacks, id_number=full_width)
    assert sent_code()


@pytest.mark.parametrize(
    "fields",
    [
        {"id_number": "٣١٠١٠١١٩٨٥٠٣١٤١٣١X"},  # digits of another script
        {"id_number": ID_NUMBER[:10] + "\x00" + ID_NUMBER[10:]},
        {"id_number": ID_NUMBER[:10] + "\x07" + ID_NUMBER[10:]},
        {"name": "张\x00三"},
        {"name": "张\x1b三"},
        {"id_number": "3.10101E+17"},
        {"id_number": "x" * 5000},
        {"id_type": "护照"},
        {"id_number": ID_NUMBER[:-1] + "0" if ID_NUMBER[-1] != "0" else ID_NUMBER[:-1] + "1"},
    ],
)
def test_hostile_input_never_500(client, handbook_year, fields):
    enrol(handbook_year)
    response = step1(client, **fields)
    assert response.status_code in (200, 400)
    assert not sms.outbox and not LookupRequest.objects.exists()
    if response.status_code == 200:
        assert "证件" in page_text(response) or "姓名" in page_text(response)


@pytest.mark.parametrize("code", ["１２３４５６", "12345", "\x00\x00", "٣٣٣٣٣٣", "a" * 3000])
def test_hostile_codes_never_500(client, handbook_year, django_capture_on_commit_callbacks, code):
    enrol(handbook_year)
    look_up(client, django_capture_on_commit_callbacks)
    response = enter_code(client, code)
    assert response.status_code in (200, 302, 400)


def test_other_id_type_is_found_by_its_own_number(client, handbook_year, django_capture_on_commit_callbacks):
    enrol(handbook_year)  # keeps the registry busy with another person
    batch = make_batch(year=handbook_year, state=BatchState.COMPLETED)
    entry = make_entry(batch, name="JOHN SMITH", id_type="非身份证", id_number="E12345678", mobile="13800001111")
    EnrolmentRegistry.objects.create(year=2023, id_hash=entry.id_hash, batch=batch)
    look_up(client, django_capture_on_commit_callbacks, name="john smith".upper(), id_type="非身份证", id_number="e1234-5678".replace("-", ""))
    assert sms.outbox[-1][0] == "13800001111"


def test_a_second_download_reuses_the_proof_token(client, handbook_year, django_capture_on_commit_callbacks):
    entry = enrol(handbook_year)
    verified(client, django_capture_on_commit_callbacks)
    first = client.get(reverse("lookup:proof_pdf"))
    if first.status_code == 503:
        pytest.skip("WeasyPrint's system libraries are missing")
    client.get(reverse("lookup:proof_pdf"))
    assert CoverageProof.objects.filter(entry=entry).count() == 1
    assert LookupAudit.objects.filter(outcome=OUTCOME.PROOF).count() == 2


def test_held_in_both_years_the_current_one_is_shown(client, handbook_year, previous_year, django_capture_on_commit_callbacks):
    enrol(previous_year)
    enrol(handbook_year)
    verified(client, django_capture_on_commit_callbacks)
    assert "2023年度" in page_text(client.get(reverse("lookup:result")))
