"""【清册提交】 (SPEC BAT-4, BAT-10, ROS-11, COV-1, COV-3, X-2): rosters.submission.batch_submit and the
view rosters:submit. The shared helpers (ready_batch, attach) live in tests/rosters/helpers.py."""
import datetime as dt
import threading

import pytest
from auditlog.models import LogEntry
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from enrollment.models import Batch, BatchLog
from enrollment.states import BatchKind, BatchState
from mutualaid.jobs import JobStatus
from mutualaid.pii import pii_hash
from rosters.models import EnrolmentRegistry, IdType, RosterEntry, Sex, SsUnit, ValidationRun, WorkStatus
from rosters.errors import RosterError
from rosters.rules import KIND_SITUATION, KIND_SS_FORM
from rosters.services import roster_entries_delete
from rosters.submission import (
    MESSAGE_NOT_AGREED,
    batch_review_reject,
    batch_submit,
    registry_release,
    submission_coverage,
)
from tests.factories import SHANGHAI, UserFactory, make_batch, make_entry, roster_audit_events
from tests.rosters.helpers import IN_CENTRALISED_WINDOW, SS_CODE, attach, ready_batch
from tests.rosters.importfiles import hold, previous
from tests.second_factor import PortalClient

S = BatchState
AFTER_CENTRALISED_WINDOW = dt.datetime(2023, 7, 1, 0, 0, tzinfo=SHANGHAI)
IN_INSTANT_WINDOW = dt.datetime(2023, 9, 10, 15, 30, tzinfo=SHANGHAI)


# --- helpers -------------------------------------------------------------------------------------


def registry_hashes(batch) -> set[str]:
    return set(EnrolmentRegistry.objects.filter(batch=batch).values_list("id_hash", flat=True))


def roster_hashes(batch) -> set[str]:
    return set(RosterEntry.objects.filter(batch=batch).values_list("id_hash", flat=True))


def assert_nothing_written(batch, state):
    batch.refresh_from_db()
    assert batch.state == state
    assert batch.submitted_at is None and batch.coverage_start is None and batch.coverage_end is None
    assert not EnrolmentRegistry.objects.filter(batch=batch).exists()
    assert not RosterEntry.objects.filter(batch=batch, coverage_start__isnull=False).exists()
    assert not BatchLog.objects.filter(batch=batch, action="清册提交").exists()


pytestmark = pytest.mark.django_db


@pytest.fixture
def centralised_window():
    with time_machine.travel(IN_CENTRALISED_WINDOW, tick=False):
        yield IN_CENTRALISED_WINDOW


# --- the registry, the dates, the transition (SPEC BAT-4, ROS-11, COV-1, COV-3) -------------------


def test_submission_registers_every_person_dates_the_roster_and_approves(handbook_year, centralised_window):
    batch = ready_batch(handbook_year, people=4)
    actor = batch.account

    submitted = batch_submit(batch=batch, acting_user=actor, agreed=True)

    assert submitted.state == S.ROSTER_APPROVED == batch.state
    # SPEC ROS-11: one registry row per entry, in the batch's year.
    assert EnrolmentRegistry.objects.filter(batch=batch).count() == 4
    assert registry_hashes(batch) == roster_hashes(batch)
    assert set(EnrolmentRegistry.objects.filter(batch=batch).values_list("year", flat=True)) == {2023}
    # SPEC COV-1, COV-3: a centralised batch covers the whole year, on the batch and every entry.
    submitted.refresh_from_db()
    assert (submitted.coverage_start, submitted.coverage_end) == (dt.date(2023, 7, 1), dt.date(2024, 6, 30))
    assert set(RosterEntry.objects.filter(batch=batch).values_list("coverage_start", "coverage_end")) == {
        (dt.date(2023, 7, 1), dt.date(2024, 6, 30))
    }
    assert submitted.submitted_at == IN_CENTRALISED_WINDOW
    # SPEC BAT-7: the 操作日志 row; SPEC X-2: one audit event with its counts.
    log = BatchLog.objects.get(batch=batch, action="清册提交")
    assert (log.from_state, log.to_state, log.actor) == (S.INVALID, S.ROSTER_APPROVED, actor)
    assert roster_audit_events(batch)[-1] == ["清册提交", "registered=4, coverage=2023-07-01~2024-06-30, state=清册校验通过"]
    # The rules' result at submission is kept for the reviewer and the result page.
    run = ValidationRun.objects.get(batch=batch)
    assert run.status == JobStatus.DONE and not run.blocking
    assert run.findings["total"] == 4 and run.findings["reference_date"] == "2023-07-01"


def test_a_validated_draft_is_submitted(handbook_year, centralised_window):
    batch = ready_batch(handbook_year, state=S.DRAFT)
    batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    assert batch.state == S.ROSTER_APPROVED


def test_a_new_unit_with_its_attachment_goes_to_review(handbook_year, centralised_window):
    # SPEC BAT-4, VAL-6: a new unit always uploads its SS form; the batch then waits for 职保会审核.
    batch = ready_batch(handbook_year, continuing=False)
    attach(batch)

    batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    assert batch.state == S.IN_REVIEW
    assert registry_hashes(batch) == roster_hashes(batch)
    assert BatchLog.objects.get(batch=batch, action="清册提交").to_state == S.IN_REVIEW


def test_a_continuing_unit_outside_both_bands_goes_to_review_with_its_situation_note(handbook_year, centralised_window):
    # SPEC VAL-3: 3 people after 20 last year (−85 %); VAL-4: 3 of 10 paying (30 %) → 情况说明, review.
    batch = ready_batch(handbook_year, people=3, paying_headcount=10)
    for sequence in range(17):
        previous(2022, batch.code.code, f"31010119800101{sequence:03d}X", f"去年{sequence}")
    with pytest.raises(RosterError, match="请上传附件：情况说明（加盖公章）"):
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    attach(batch, kind=KIND_SITUATION.value, name="情况说明.png")

    batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    assert batch.state == S.IN_REVIEW


# --- refusals: nothing is written -------------------------------------------------------------------


def test_without_the_commitment_letter_nothing_is_submitted(handbook_year, centralised_window):
    batch = ready_batch(handbook_year)
    with pytest.raises(RosterError) as refused:
        batch_submit(batch=batch, acting_user=batch.account, agreed=False)
    assert refused.value.message == MESSAGE_NOT_AGREED == "请阅读承诺书并勾选“我已阅读并同意”"
    assert_nothing_written(batch, S.INVALID)


def test_blocking_findings_are_listed_and_nothing_is_written(handbook_year, centralised_window):
    batch = ready_batch(handbook_year, continuing=False)  # a new unit without its attachment
    make_entry(batch, name="退休者", work_status=WorkStatus.RETIRED, has_social_security=True, ss_unit_code=SS_CODE)
    make_entry(  # SPEC VAL-2: 60 on 2023-07-01, with 社保 but not ticked
        batch, name="超龄者", birth_date=dt.date(1963, 7, 1), sex=Sex.MALE, work_status=WorkStatus.ACTIVE,
        has_social_security=True, ss_unit_code=SS_CODE,
    )

    with pytest.raises(RosterError) as refused:
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    message = refused.value.message
    assert message.startswith("清册校验未通过，暂不能提交：1. ")
    for reason in ["有1位退休人员不能参保，请移除：退休者（", "在职超龄人员须勾选“社保尚在缴金”或移除（1人未勾选）", f"请上传附件：{KIND_SS_FORM.value}"]:
        assert reason in message
    assert_nothing_written(batch, S.INVALID)


@pytest.mark.parametrize("state", [S.INVALID, S.DRAFT, S.REVIEW_REJECTED])
def test_a_roster_still_holding_a_retired_person_is_refused(handbook_year, centralised_window, state):
    # SPEC ROS-12, VAL-1: retired people may enter the roster (marked 退休) but 清册提交 refuses them,
    # naming them with their masked ID, in every state that offers 【清册提交】.
    batch = ready_batch(handbook_year, state=state)
    number = "310101196005020021"
    make_entry(batch, name="陈美珠", sex=Sex.FEMALE, id_number=number, work_status=WorkStatus.RETIRED)

    with pytest.raises(RosterError) as refused:
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    assert refused.value.message == (
        "清册校验未通过，暂不能提交：1. 有1位退休人员不能参保，请移除：陈美珠（3101*****0021）。"
        "请按清册校验结果处理后再点击【清册提交】。"
    )
    assert number not in refused.value.message
    assert_nothing_written(batch, state)
    # Removed (【移除】), the batch goes through: the submission re-ran the rules on the current roster.
    roster_entries_delete(
        batch=batch, entry_ids=list(RosterEntry.objects.filter(batch=batch, name="陈美珠").values_list("pk", flat=True)),
        acting_user=batch.account,
    )
    batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    assert batch.state == S.ROSTER_APPROVED


def test_fixing_the_findings_in_invalid_then_submits(handbook_year, centralised_window):
    # The FAQ: 不通过 → fix the roster (tick the over-age person), then 【清册提交】 again.
    batch = ready_batch(handbook_year, people=10)
    old = make_entry(
        batch, name="超龄者", birth_date=dt.date(1960, 1, 1), sex=Sex.FEMALE, work_status=WorkStatus.ACTIVE,
        has_social_security=True, ss_unit_code=SS_CODE,
    )
    with pytest.raises(RosterError, match="社保尚在缴金"):
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    RosterEntry.objects.filter(pk=old.pk).update(still_contributing=True)

    batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    assert batch.state == S.ROSTER_APPROVED
    assert pii_hash(old.id_number) in registry_hashes(batch)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (S.IN_REVIEW, "的清册已提交（当前状态：职保会待审核），无需重复提交。"),
        (S.ROSTER_APPROVED, "的清册已提交（当前状态：清册校验通过），无需重复提交。"),
        (S.COMPLETED, "的清册已提交（当前状态：参保已完成），无需重复提交。"),
        (S.VALIDATING, "清册正在校验中，请等待校验完成后再提交。"),
        (S.CANCELLED, "批次当前状态为“已作废”，不能进行【清册提交】操作。"),
    ],
)
def test_other_states_are_refused(handbook_year, centralised_window, state, message):
    batch = ready_batch(handbook_year, state=state)
    with pytest.raises(RosterError) as refused:
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    assert refused.value.message.endswith(message)
    assert_nothing_written(batch, state)


def test_a_draft_needs_a_current_validation(handbook_year, centralised_window):
    never = make_batch(year=handbook_year)
    make_entry(never)
    with pytest.raises(RosterError, match=r"^请先点击【清册校验】，校验通过后再提交清册。$"):
        batch_submit(batch=never, acting_user=never.account, agreed=True)

    stale = ready_batch(handbook_year, state=S.DRAFT)
    Batch.objects.filter(pk=stale.pk).update(roster_version=stale.roster_version + 1)  # someone was added
    with pytest.raises(RosterError, match="参保清册校验后有人员增减，请重新点击【清册校验】"):
        batch_submit(batch=stale, acting_user=stale.account, agreed=True)
    assert_nothing_written(stale, S.DRAFT)


def test_a_centralised_batch_cannot_be_submitted_after_the_window_closes(handbook_year):
    # SPEC BAT-10: 6月30日24时 closes the centralised channel, for submissions too.
    batch = ready_batch(handbook_year)
    with pytest.raises(RosterError) as refused:
        batch_submit(batch=batch, acting_user=batch.account, agreed=True, at=AFTER_CENTRALISED_WINDOW)
    assert refused.value.message == (
        "2023年度集中参保通道已关闭（截止2023年6月30日24时），集中参保批次不能再提交清册；遗漏的人员请通过【即时参保办理】参保。"
    )
    assert_nothing_written(batch, S.INVALID)
    # One moment earlier it goes through.
    batch_submit(batch=batch, acting_user=batch.account, agreed=True, at=AFTER_CENTRALISED_WINDOW - dt.timedelta(seconds=1))
    assert batch.state == S.ROSTER_APPROVED


# --- instant batches (SPEC COV-1, VAL-2) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "start"),
    [
        (dt.datetime(2023, 9, 10, 23, 59, tzinfo=SHANGHAI), dt.date(2023, 9, 11)),
        # 00:30 in Shanghai is still the previous day in UTC: the local date counts.
        (dt.datetime(2023, 9, 10, 16, 30, tzinfo=dt.timezone.utc), dt.date(2023, 9, 12)),
        (dt.datetime(2023, 7, 1, 0, 0, tzinfo=SHANGHAI), dt.date(2023, 7, 2)),
    ],
)
def test_an_instant_batch_is_covered_from_the_day_after_submission(handbook_year, moment, start):
    batch = ready_batch(handbook_year, kind=BatchKind.INSTANT)
    with time_machine.travel(moment, tick=False):
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    batch.refresh_from_db()
    assert (batch.coverage_start, batch.coverage_end) == (start, dt.date(2024, 6, 30))
    assert set(RosterEntry.objects.filter(batch=batch).values_list("coverage_start", "coverage_end")) == {
        (start, dt.date(2024, 6, 30))
    }


def test_an_instant_batch_is_not_submitted_without_a_day_of_coverage_left(handbook_year):
    batch = ready_batch(handbook_year, kind=BatchKind.INSTANT)
    with pytest.raises(RosterError, match="2023年度保障期至2024年6月30日结束"):
        batch_submit(batch=batch, acting_user=batch.account, agreed=True, at=dt.datetime(2024, 6, 30, 9, tzinfo=SHANGHAI))
    assert_nothing_written(batch, S.INVALID)


def test_an_instant_batch_is_checked_again_with_its_real_start_date(handbook_year):
    # SPEC VAL-2 [interpretation]: validated on 9 September (start 10 September, he is 59); submitted
    # on 11 September, coverage starts on the 12th, his 60th birthday: he is over age now.
    batch = ready_batch(handbook_year, kind=BatchKind.INSTANT, people=10)
    make_entry(
        batch, name="六十岁", birth_date=dt.date(1963, 9, 12), sex=Sex.MALE, work_status=WorkStatus.ACTIVE,
        has_social_security=True, ss_unit_code=SS_CODE,
    )
    assert submission_coverage(batch=batch, at=dt.datetime(2023, 9, 9, 10, tzinfo=SHANGHAI))[0] == dt.date(2023, 9, 10)
    with pytest.raises(RosterError, match="在职超龄人员须勾选“社保尚在缴金”或移除（1人未勾选）"):
        batch_submit(batch=batch, acting_user=batch.account, agreed=True, at=dt.datetime(2023, 9, 11, 10, tzinfo=SHANGHAI))
    assert_nothing_written(batch, S.INVALID)
    # The day before, coverage would start on the 11th: he is 59 and the batch goes through.
    batch_submit(batch=batch, acting_user=batch.account, agreed=True, at=dt.datetime(2023, 9, 10, 10, tzinfo=SHANGHAI))
    assert batch.state == S.ROSTER_APPROVED


# --- one enrolment per person and year (SPEC ROS-11) ----------------------------------------------------


def test_a_person_held_by_another_unit_is_named_with_that_unit_and_nothing_is_written(handbook_year, centralised_window):
    # SPEC ROS-11 [departure]: named because this roster's name is the one the holder enrolled.
    other = make_batch(year=handbook_year, unit_name="上海别的有限公司", state=S.ROSTER_APPROVED)
    batch = ready_batch(handbook_year, people=10)
    taken = make_entry(
        batch, name="李四", birth_date=dt.date(1990, 3, 7), sex=Sex.MALE, id_number="310101199003074271",
        work_status=WorkStatus.ACTIVE, has_social_security=True, ss_unit_code=SS_CODE,
    )
    hold(other, taken.id_number, "李 四")

    with pytest.raises(RosterError) as refused:
        batch_submit(batch=batch, acting_user=batch.account, agreed=True, remote_addr="203.0.113.9")

    assert refused.value.message == (
        "李四（3101*****4271）身份信息被上海别的有限公司单位占用（经办人：王经办，联系电话：139****5678）。"
        "同一人员每个保障年度只能参保一次，请将以上人员移出参保清册后重新提交。"
    )
    assert_nothing_written(batch, S.INVALID)
    assert not ValidationRun.objects.filter(batch=batch).exists()
    # SPEC ROS-11, SEC-3: the naming is audited on the named batch (who, whom, when, IP).
    [audit] = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__has_key="named_batch")
    assert (audit.actor, audit.object_pk, audit.remote_addr) == (batch.account, str(other.pk), "203.0.113.9")
    assert audit.additional_data == {
        "named_unit": "上海别的有限公司", "named_batch": other.number, "ip": "203.0.113.9", "submitted_batch": batch.number,
    }
    # Removing the person (the handbook's remedy) lets the batch through.
    roster_entries_delete(batch=batch, entry_ids=[taken.pk], acting_user=batch.account)
    batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    assert batch.state == S.ROSTER_APPROVED


def test_many_held_people_are_counted_after_the_first_five(handbook_year, centralised_window):
    other = make_batch(year=handbook_year, unit_name="上海别的有限公司", state=S.ROSTER_APPROVED)
    batch = ready_batch(handbook_year, people=7)
    for entry in RosterEntry.objects.filter(batch=batch):
        hold(other, entry.id_number, entry.name)
    with pytest.raises(RosterError) as refused:
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    message = refused.value.message
    assert message.count("身份信息被上海别的有限公司单位占用") == 5
    assert "；另有2人被其他单位占用。同一人员每个保障年度只能参保一次" in message
    assert_nothing_written(batch, S.INVALID)


def test_a_person_held_under_another_name_is_not_named_and_nothing_is_audited(handbook_year, centralised_window):
    # SPEC ROS-11 [departure]: the ID alone does not reveal who holds the person.
    other = make_batch(year=handbook_year, unit_name="上海别的有限公司", state=S.ROSTER_APPROVED)
    batch = ready_batch(handbook_year, people=10)
    taken = make_entry(
        batch, name="李四", birth_date=dt.date(1990, 3, 7), sex=Sex.MALE, id_number="310101199003074271",
        work_status=WorkStatus.ACTIVE, has_social_security=True, ss_unit_code=SS_CODE,
    )
    hold(other, taken.id_number, "李思")
    with pytest.raises(RosterError) as refused:
        batch_submit(batch=batch, acting_user=batch.account, agreed=True, remote_addr="203.0.113.9")
    assert refused.value.message == (
        "李四（3101*****4271）该人员本年度已在其他单位参保，请核实。"
        "同一人员每个保障年度只能参保一次，请将以上人员移出参保清册后重新提交。"
    )
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__has_key="named_batch").exists()
    assert_nothing_written(batch, S.INVALID)


def test_a_number_entered_twice_in_one_batch_is_named(handbook_year, centralised_window):
    batch = ready_batch(handbook_year, people=10, paying_headcount=12)
    for id_type in (IdType.RESIDENT, IdType.OTHER):
        make_entry(
            batch, name="王五", id_type=id_type, id_number="310101199003074271", work_status=WorkStatus.ACTIVE,
            has_social_security=True, ss_unit_code=SS_CODE,
        )
    with pytest.raises(RosterError, match="王五（.*）在本批次清册中以“身份证”和“非身份证”各登记了一次"):
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    assert_nothing_written(batch, S.INVALID)


def test_a_resubmission_after_rejection_replaces_the_registry_rows(handbook_year, centralised_window, reviewer):
    batch = ready_batch(handbook_year, continuing=False, people=4)
    attach(batch)
    batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    batch_review_reject(batch=batch, acting_user=reviewer, reason="申报表不清晰，请重新上传")
    batch.refresh_from_db()
    assert batch.state == S.REVIEW_REJECTED
    assert EnrolmentRegistry.objects.filter(batch=batch).count() == 4  # still held while being corrected
    # The unit removes one person and adds another, then submits again.
    gone = RosterEntry.objects.filter(batch=batch).order_by("pk").first()
    roster_entries_delete(batch=batch, entry_ids=[gone.pk], acting_user=batch.account)
    make_entry(batch, name="新人", work_status=WorkStatus.ACTIVE, has_social_security=True, ss_unit_code=SS_CODE)
    Batch.objects.filter(pk=batch.pk).update(roster_version=batch.roster_version + 1)
    SsUnit.objects.filter(year=2023, code=SS_CODE).update(paying_headcount=4)

    batch_submit(batch=batch, acting_user=batch.account, agreed=True)

    assert batch.state == S.IN_REVIEW
    assert registry_hashes(batch) == roster_hashes(batch)
    assert EnrolmentRegistry.objects.filter(batch=batch).count() == 4
    assert pii_hash(gone.id_number) not in set(EnrolmentRegistry.objects.values_list("id_hash", flat=True))
    # The person added after the rejection gets the dates too (SPEC COV-3).
    assert set(RosterEntry.objects.filter(batch=batch).values_list("coverage_start", "coverage_end")) == {
        (dt.date(2023, 7, 1), dt.date(2024, 6, 30))
    }


def test_registry_release_frees_the_batchs_people(handbook_year, centralised_window):
    batch = ready_batch(handbook_year)
    other = ready_batch(handbook_year, account=UserFactory(), unit_name="上海别的有限公司")
    batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    batch_submit(batch=other, acting_user=other.account, agreed=True)

    assert registry_release(batch=batch) == 3

    assert not EnrolmentRegistry.objects.filter(batch=batch).exists()
    assert EnrolmentRegistry.objects.filter(batch=other).count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two submissions at once need PostgreSQL's row locks and unique index waits")
def test_two_units_submitting_the_same_person_at_once_one_wins(handbook_year):
    """SPEC ROS-11: the unique index decides. Both requests run at the same moment in two threads;
    exactly one batch holds the person, the other gets the conflict message, neither answers 500."""
    shared, also_shared = "310101199003074271", "310101198805120028"
    batches = []
    # Two people in both rosters, added in opposite orders (the inserts must not deadlock).
    for unit_name, people in (("上海甲有限公司", [(shared, "李四"), (also_shared, "赵六")]), ("上海乙有限公司", [(also_shared, "赵六"), (shared, "李四")])):
        batch = ready_batch(handbook_year, account=UserFactory(), unit_name=unit_name, people=10, paying_headcount=12)
        for number, name in people:
            make_entry(
                batch, name=name, id_number=number, work_status=WorkStatus.ACTIVE, has_social_security=True,
                ss_unit_code=SS_CODE,
            )
        batches.append(batch)
    barrier = threading.Barrier(2)
    responses = {}

    def submit(batch):
        browser = PortalClient()
        browser.force_login(batch.account)
        barrier.wait()
        try:
            responses[batch.number] = browser.post(reverse("rosters:submit", kwargs={"number": batch.number}), {"agreed": "1"})
        finally:
            connection.close()

    with time_machine.travel(IN_CENTRALISED_WINDOW, tick=True):
        threads = [threading.Thread(target=submit, args=(batch,)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert [responses[batch.number].status_code for batch in batches] == [302, 302]
    for batch in batches:
        batch.refresh_from_db()
    winners = [batch for batch in batches if batch.state == S.ROSTER_APPROVED]
    losers = [batch for batch in batches if batch.state == S.INVALID]
    assert len(winners) == 1 and len(losers) == 1
    winner, loser = winners[0], losers[0]
    assert EnrolmentRegistry.objects.get(id_hash=pii_hash(shared)).batch_id == winner.pk
    assert EnrolmentRegistry.objects.get(id_hash=pii_hash(also_shared)).batch_id == winner.pk
    assert not EnrolmentRegistry.objects.filter(batch=loser).exists()
    [message] = [str(message) for message in get_messages(responses[loser.number].wsgi_request)]
    holder = f"身份信息被{winner.unit_name}单位占用（经办人：王经办，联系电话：139****5678）"
    assert f"李四（3101*****4271）{holder}" in message and f"赵六（3101*****0028）{holder}" in message
    # SPEC ROS-11, SEC-3: the view passes the client's address to the audit of the naming.
    [audit] = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, additional_data__has_key="named_batch")
    assert (audit.actor, audit.object_pk, audit.additional_data["ip"]) == (loser.account, str(winner.pk), "127.0.0.1")


# --- the view rosters:submit -------------------------------------------------------------------------------


def submit_url(batch) -> str:
    return reverse("rosters:submit", kwargs={"number": batch.number})


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def batch(handbook_year):
    return ready_batch(handbook_year)


@pytest.fixture
def unit_client(batch):
    client = PortalClient()
    client.force_login(batch.account)
    return client


def test_the_view_submits_and_goes_to_the_batch_list(unit_client, batch, centralised_window):
    response = unit_client.post(submit_url(batch), {"agreed": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("enrollment:batches")
    assert messages_of(response) == ["清册已提交，可点击【保障项目选择】继续办理。"]
    batch.refresh_from_db()
    assert batch.state == S.ROSTER_APPROVED


def test_the_view_says_to_wait_for_the_review(handbook_year, centralised_window):
    batch = ready_batch(handbook_year, continuing=False)
    attach(batch)
    client = PortalClient()
    client.force_login(batch.account)
    response = client.post(submit_url(batch), {"agreed": "on"})
    assert response["Location"] == reverse("enrollment:batches")
    assert messages_of(response) == ["清册已提交，请等待职保会审核（2个工作日内）。"]


def test_a_refusal_goes_back_to_the_result_page_with_the_reason(unit_client, batch, centralised_window):
    response = unit_client.post(submit_url(batch), {})
    assert response.status_code == 302
    assert response["Location"] in {
        reverse(name, kwargs={"number": batch.number}) for name in ("rosters:validation_result", "rosters:roster")
        if _resolves(name, batch)
    }
    assert messages_of(response) == [MESSAGE_NOT_AGREED]
    batch.refresh_from_db()
    assert batch.state == S.INVALID


def test_the_view_refuses_a_retired_person_with_the_reason_on_the_result_page(unit_client, batch, centralised_window):
    # SPEC ROS-12, X-3: the refusal names the person (masked, X-1) where the unit can 【移除】 them.
    make_entry(batch, name="陈美珠", sex=Sex.FEMALE, id_number="310101196005020021", work_status=WorkStatus.RETIRED)
    response = unit_client.post(submit_url(batch), {"agreed": "1"})
    assert response["Location"] == reverse("rosters:validation_result", kwargs={"number": batch.number})
    [message] = messages_of(response)
    assert "有1位退休人员不能参保，请移除：陈美珠（3101*****0021）" in message
    batch.refresh_from_db()
    assert batch.state == S.INVALID and not EnrolmentRegistry.objects.filter(batch=batch).exists()


def _resolves(name, batch) -> bool:
    from django.urls import NoReverseMatch

    try:
        reverse(name, kwargs={"number": batch.number})
    except NoReverseMatch:
        return False
    return True


def test_a_double_click_submits_once_and_says_so(unit_client, batch, centralised_window):
    first = unit_client.post(submit_url(batch), {"agreed": "1"})
    second = unit_client.post(submit_url(batch), {"agreed": "1"})
    assert first.status_code == second.status_code == 302
    assert second["Location"] == reverse("enrollment:batches")
    assert messages_of(second)[-1] == f"批次 {batch.number} 的清册已提交（当前状态：清册校验通过），无需重复提交。"
    assert BatchLog.objects.filter(batch=batch, action="清册提交").count() == 1
    assert EnrolmentRegistry.objects.filter(batch=batch).count() == 3


def test_a_get_opens_the_result_page(unit_client, batch):
    response = unit_client.get(submit_url(batch))
    assert response.status_code == 302
    assert response["Location"] != reverse("enrollment:batches")
    batch.refresh_from_db()
    assert batch.state == S.INVALID


# --- access (STYLE.md §10) --------------------------------------------------------------------------------


def test_anonymous_is_sent_to_the_login(client, batch):
    response = client.post(submit_url(batch), {"agreed": "1"})
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    batch.refresh_from_db()
    assert batch.state == S.INVALID


def test_another_units_batch_is_not_found(client, batch, handbook_year, centralised_window):
    other = make_batch(year=handbook_year, unit_name="上海别的有限公司")
    client.force_login(other.account)
    assert client.post(submit_url(batch), {"agreed": "1"}).status_code == 404
    batch.refresh_from_db()
    assert batch.state == S.INVALID


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_back_office_roles_are_forbidden(client, batch, role, centralised_window):
    client.force_login(UserFactory(role=role))
    assert client.post(submit_url(batch), {"agreed": "1"}).status_code == 403
    batch.refresh_from_db()
    assert batch.state == S.INVALID
