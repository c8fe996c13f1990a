"""The batch state machine and the batch services (SPEC BAT-2, BAT-3, BAT-5, BAT-7, BAT-9, BAT-10,
CODE-5, HND-1): enrollment/states.py and enrollment.services batch_open, batch_transition,
batch_delete, batch_number_next, batch_window_check."""
import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
import time_machine
from auditlog.models import LogEntry
from django.db import IntegrityError, transaction
from django.utils import timezone

from enrollment.models import Batch, BatchLog, BatchSequence, HandlerInfo
from enrollment.services import (
    HANDLER_INFO_MISSING,
    EnrollmentError,
    HandlerInfoMissing,
    batch_delete,
    batch_locked,
    batch_number_next,
    batch_open,
    batch_transition,
    batch_window_check,
)
from enrollment.states import (
    ACTION_ORDER,
    ALLOWED_TRANSITIONS,
    HOLDING_STATES,
    STATE_ACTIONS,
    STATE_BADGES,
    BatchAction,
    BatchKind,
    BatchState,
)
from rosters.models import RosterEntry
from tests.enrollment.helpers import make_code, make_handler_info
from tests.factories import UNIT_NAME, UserFactory, make_batch, make_entry

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
S = BatchState
CENTRALISED, INSTANT = BatchKind.CENTRALISED, BatchKind.INSTANT
IN_CENTRALISED_WINDOW = dt.datetime(2023, 6, 15, 10, 0, tzinfo=SHANGHAI)
IN_INSTANT_WINDOW = dt.datetime(2023, 8, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def account(db):
    return UserFactory(username="cf-unit", first_name="丁一")


@pytest.fixture
def code(account):
    return make_code(account)


@pytest.fixture
def ready_code(code):
    """An approved code with its 经办人填报 saved: batches can be opened."""
    make_handler_info(code)
    return code


# --- SPEC BAT-3: the state machine as data ----------------------------------------------------------------

ALLOWED_PAIRS = [(source, target) for source, targets in ALLOWED_TRANSITIONS.items() for target in sorted(targets)]
REFUSED_PAIRS = [
    (source, target) for source, target in itertools.product(S.values, S.values)
    if target not in ALLOWED_TRANSITIONS[source]
]


def test_every_state_has_its_handbook_label_its_moves_its_actions_and_its_badge():
    """SPEC BAT-3: the twelve states with their labels; one entry each in every table."""
    assert dict(S.choices) == {
        "draft": "清册待校验", "validating": "清册校验中", "invalid": "清册校验不通过", "in_review": "职保会待审核",
        "review_rejected": "职保会审核不通过", "roster_approved": "清册校验通过", "review_approved": "职保会审核通过",
        "awaiting_payment": "缴费凭证待上传", "payment_review": "缴费凭证待审核", "payment_rejected": "缴费凭证审核不通过",
        "completed": "参保已完成", "cancelled": "已作废",
    }
    for table in (ALLOWED_TRANSITIONS, STATE_ACTIONS, STATE_BADGES):
        assert set(table) == set(S.values)
    assert all(targets <= set(S.values) for targets in ALLOWED_TRANSITIONS.values())
    assert set(ACTION_ORDER) | {BatchAction.EDIT_ROSTER} == set(BatchAction.values)


def test_the_transitions_of_spec_bat_3():
    """SPEC BAT-3 "Transitions" (withdrawal BAT-6, cancellation BAT-11): each move is in the table."""
    expected = {
        (S.DRAFT, S.VALIDATING), (S.INVALID, S.VALIDATING), (S.VALIDATING, S.DRAFT), (S.VALIDATING, S.INVALID),
        (S.DRAFT, S.ROSTER_APPROVED), (S.DRAFT, S.IN_REVIEW), (S.INVALID, S.ROSTER_APPROVED), (S.INVALID, S.IN_REVIEW),
        (S.IN_REVIEW, S.REVIEW_APPROVED), (S.IN_REVIEW, S.REVIEW_REJECTED), (S.REVIEW_REJECTED, S.IN_REVIEW),
        (S.REVIEW_REJECTED, S.ROSTER_APPROVED), (S.ROSTER_APPROVED, S.AWAITING_PAYMENT),
        (S.REVIEW_APPROVED, S.AWAITING_PAYMENT), (S.AWAITING_PAYMENT, S.PAYMENT_REVIEW),
        (S.PAYMENT_REVIEW, S.COMPLETED), (S.PAYMENT_REVIEW, S.PAYMENT_REJECTED), (S.PAYMENT_REJECTED, S.PAYMENT_REVIEW),
        # BAT-6 withdrawal: 重新整理清册 → 清册待校验, 重新选择保障项目 → the approved state.
        (S.ROSTER_APPROVED, S.DRAFT), (S.REVIEW_APPROVED, S.DRAFT), (S.AWAITING_PAYMENT, S.DRAFT),
        (S.AWAITING_PAYMENT, S.ROSTER_APPROVED), (S.AWAITING_PAYMENT, S.REVIEW_APPROVED),
        # BAT-11: an unpaid batch past its deadline may be cancelled.
        (S.AWAITING_PAYMENT, S.CANCELLED),
    }
    assert expected <= set(ALLOWED_PAIRS)
    assert not ALLOWED_TRANSITIONS[S.COMPLETED] and not ALLOWED_TRANSITIONS[S.CANCELLED]
    # Nothing goes back to a state that the handbook's screens reach only forwards.
    assert not any(target in {S.COMPLETED} for source, target in ALLOWED_PAIRS if source != S.PAYMENT_REVIEW)


def test_what_each_state_allows_the_unit():
    """SPEC BAT-3 "actions", BAT-5 (删除 only in 清册待校验/清册校验不通过), BAT-6 (撤回), BAT-8."""
    def states_allowing(action):
        return {state for state, actions in STATE_ACTIONS.items() if action in actions}

    assert states_allowing(BatchAction.DETAIL) == set(S.values)
    assert states_allowing(BatchAction.DELETE) == {S.DRAFT, S.INVALID}
    assert states_allowing(BatchAction.EDIT_ROSTER) == {S.DRAFT, S.INVALID, S.REVIEW_REJECTED}
    assert states_allowing(BatchAction.VALIDATE) == {S.DRAFT, S.INVALID}
    assert states_allowing(BatchAction.SUBMIT) == {S.INVALID, S.REVIEW_REJECTED}
    assert states_allowing(BatchAction.WITHDRAW) == {S.ROSTER_APPROVED, S.REVIEW_APPROVED, S.AWAITING_PAYMENT}
    assert states_allowing(BatchAction.SELECT_PLANS) == {S.ROSTER_APPROVED, S.REVIEW_APPROVED, S.AWAITING_PAYMENT}
    assert STATE_ACTIONS[S.VALIDATING] == {BatchAction.DETAIL}  # progress only
    assert states_allowing(BatchAction.ROSTER) == set(S.values) - {S.VALIDATING}
    # SPEC RCP-1: 专用收据 once a voucher is uploaded; RCP-3: the 保障单 of a completed batch.
    assert states_allowing(BatchAction.RECEIPTS) == {S.PAYMENT_REVIEW, S.PAYMENT_REJECTED, S.COMPLETED}
    assert states_allowing(BatchAction.CERTIFICATE) == {S.COMPLETED}


def test_badges_follow_ui_md_colours():
    """UI.md "Lists": draft grey, in progress blue, needs action orange, rejected red, done green."""
    assert STATE_BADGES[S.DRAFT] == "badge-state-draft"
    assert {STATE_BADGES[s] for s in (S.VALIDATING, S.IN_REVIEW, S.PAYMENT_REVIEW)} == {"badge-state-progress"}
    assert {STATE_BADGES[s] for s in (S.ROSTER_APPROVED, S.REVIEW_APPROVED, S.AWAITING_PAYMENT)} == {"badge-state-action"}
    assert {STATE_BADGES[s] for s in (S.INVALID, S.REVIEW_REJECTED, S.PAYMENT_REJECTED)} == {"badge-state-rejected"}
    assert STATE_BADGES[S.COMPLETED] == "badge-state-done"


def test_holding_states_are_the_submitted_ones():
    """SPEC ROS-11: drafts hold nobody; withdrawal to a draft and cancellation release."""
    assert HOLDING_STATES == set(S.values) - {S.DRAFT, S.VALIDATING, S.INVALID, S.CANCELLED}


def test_the_batch_answers_for_its_state(code, handbook_year):
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=S.INVALID)
    assert batch.allows(BatchAction.DELETE) and batch.roster_editable
    assert batch.actions == [
        BatchAction.DETAIL, BatchAction.ROSTER, BatchAction.VALIDATE, BatchAction.SUBMIT, BatchAction.DELETE
    ]
    assert batch.badge_class == "badge-state-rejected"
    batch.state = S.IN_REVIEW
    assert batch.actions == [BatchAction.DETAIL, BatchAction.ROSTER]
    assert not batch.roster_editable and not batch.allows(BatchAction.DELETE)


@pytest.mark.parametrize(("source", "target"), ALLOWED_PAIRS)
def test_every_allowed_transition_moves_the_batch_and_writes_its_log(code, handbook_year, reviewer, source, target):
    """SPEC BAT-3, BAT-7: the move, and a 操作日志 row with who, when, from, to and why."""
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=source)
    before = timezone.now()

    moved = batch_transition(batch=batch, to=target, acting_user=reviewer, action="测试操作", reason="原因说明")

    assert moved.state == target and batch.state == target
    assert Batch.objects.get(pk=batch.pk).state == target
    log = BatchLog.objects.get(batch=batch)
    assert (log.actor, log.action, log.from_state, log.to_state, log.reason) == (reviewer, "测试操作", source, target, "原因说明")
    assert before <= log.at <= timezone.now()


@pytest.mark.parametrize(("source", "target"), REFUSED_PAIRS)
def test_a_move_the_table_does_not_allow_is_refused_and_logs_nothing(code, handbook_year, account, source, target):
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=source)
    updated_at = batch.updated_at

    with pytest.raises(EnrollmentError) as refused:
        batch_transition(batch=batch, to=target, acting_user=account, action="清册提交")

    assert refused.value.message == f"批次当前状态为“{S(source).label}”，不能清册提交。"
    batch.refresh_from_db()
    assert batch.state == source and batch.updated_at == updated_at
    assert not BatchLog.objects.exists()


def test_a_second_click_seeing_the_old_state_is_refused(code, handbook_year, account):
    """STYLE.md §9: batch_locked locks the row and reads it again, so the table decides on the
    state in the database, not the one the page showed."""
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=S.DRAFT)
    stale = Batch.objects.get(pk=batch.pk)

    batch_transition(batch=batch_locked(batch), to=S.VALIDATING, acting_user=account, action="清册校验")
    with pytest.raises(EnrollmentError) as refused:
        batch_transition(batch=batch_locked(stale), to=S.VALIDATING, acting_user=account, action="清册校验")

    assert refused.value.message == "批次当前状态为“清册校验中”，不能清册校验。"
    assert BatchLog.objects.filter(batch=batch).count() == 1


def test_locking_checks_the_action_against_the_current_state(code, handbook_year, account):
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=S.DRAFT)
    stale = Batch.objects.get(pk=batch.pk)
    Batch.objects.filter(pk=batch.pk).update(state=S.VALIDATING)

    with pytest.raises(EnrollmentError) as refused:
        batch_locked(stale, action=BatchAction.VALIDATE)

    assert refused.value.message == "批次当前状态为“清册校验中”，不能进行【清册校验】操作。"
    assert batch_locked(stale, action=BatchAction.DETAIL).state == S.VALIDATING


def test_locking_a_deleted_batch_is_refused(code, handbook_year, account):
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=S.DRAFT)
    Batch.objects.filter(pk=batch.pk).delete()
    with pytest.raises(EnrollmentError, match=f"批次 {batch.number} 已删除"):
        batch_locked(batch)


def test_a_transition_is_audited_with_its_actor(code, handbook_year, reviewer):
    """SPEC X-2: the state change is in the audit trail too, with who made it."""
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=S.IN_REVIEW)
    batch_transition(batch=batch, to=S.REVIEW_REJECTED, acting_user=reviewer, action="审核不通过", reason="附件不清晰")
    entry = LogEntry.objects.get_for_object(batch).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert entry.actor == reviewer
    assert entry.changes_dict["state"] == ["in_review", "review_rejected"]


# --- SPEC BAT-9: batch numbers ------------------------------------------------------------------------------


def test_batch_numbers_are_year_kind_and_six_digits_consecutive_per_kind(handbook_year, account, ready_code):
    other = make_code(UserFactory(), code="0072J4", unit_name="上海另一家公司")
    make_handler_info(other)

    first = batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)
    second = batch_open(account=other.account, kind=CENTRALISED, code="0072J4", unit_name="上海另一家公司", at=IN_CENTRALISED_WINDOW)
    instant = [
        batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)
        for _ in range(3)
    ]

    assert [first.number, second.number] == ["2023J000001", "2023J000002"]
    assert [batch.number for batch in instant] == ["2023S000001", "2023S000002", "2023S000003"]


def test_a_refused_batch_does_not_use_up_a_number(handbook_year, account, ready_code):
    batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)
    with pytest.raises(EnrollmentError):
        batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)
    assert BatchSequence.objects.get(year=2023, kind=CENTRALISED).last == 1


def test_the_sequence_is_per_year(db):
    with transaction.atomic():
        numbers = [batch_number_next(year=2023, kind=INSTANT), batch_number_next(year=2024, kind=INSTANT),
                   batch_number_next(year=2023, kind=INSTANT), batch_number_next(year=2024, kind=CENTRALISED)]
    assert numbers == ["2023S000001", "2024S000001", "2023S000002", "2024J000001"]


# --- SPEC BAT-2, CODE-5, HND-1: batch_open --------------------------------------------------------------------


def test_a_batch_for_the_accounts_own_code(handbook_year, account, ready_code):
    batch = batch_open(
        account=account, kind=CENTRALISED, code=" 0072j3 ", unit_name=" 上海长风示范科技有限公司 ", at=IN_CENTRALISED_WINDOW
    )

    assert (batch.code, batch.account, batch.coverage_year, batch.kind, batch.state) == (
        ready_code, account, handbook_year, CENTRALISED, S.DRAFT
    )
    assert batch.unit_name == UNIT_NAME  # SPEC CODE-6: the code's registered unit
    log = BatchLog.objects.get(batch=batch)
    assert (log.actor, log.action, log.from_state, log.to_state) == (account, "集中参保办理", "", S.DRAFT)


def test_the_unit_name_is_compared_width_folded_and_without_spaces(handbook_year, account, ready_code):
    """SPEC CODE-3 [interpretation], applied to the dialog's name as well."""
    name = "上海长风示范科技有限公司".replace("科技", "科 技")
    batch = batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=name, at=IN_INSTANT_WINDOW)
    assert batch.unit_name == UNIT_NAME


def test_an_imported_code_is_bound_by_its_first_batch_with_the_matching_name(handbook_year, account):
    """SPEC CODE-5: an imported code is bound to the first account that opens a batch with it."""
    imported = make_code(None, source="imported")
    make_handler_info(imported, account=account)

    batch = batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)

    imported.refresh_from_db()
    assert imported.account == account and imported.bound_at is not None
    assert batch.code == imported


def test_a_wrong_unit_name_is_refused_and_binds_nothing(handbook_year, account):
    imported = make_code(None, source="imported")
    make_handler_info(imported, account=account)

    with pytest.raises(EnrollmentError) as refused:
        batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name="上海长风科技有限公司", at=IN_CENTRALISED_WINDOW)

    assert refused.value.field == "unit_name"
    assert "参保单位名称与参保编码登记的单位名称不一致" in refused.value.message
    assert "若单位名称有误，请至职保中心五楼营业大厅“信息修改”窗口办理更新！" in refused.value.message
    imported.refresh_from_db()
    assert imported.account is None
    assert not Batch.objects.exists()


def test_a_code_of_another_account_is_refused(handbook_year, ready_code):
    stranger = UserFactory()
    with pytest.raises(EnrollmentError) as refused:
        batch_open(account=stranger, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)
    assert (refused.value.message, refused.value.field) == ("该参保编码已在其他平台账号中使用", "code")
    assert not Batch.objects.exists()


def test_an_unknown_code_is_refused_beside_the_code(handbook_year, account):
    with pytest.raises(EnrollmentError) as refused:
        batch_open(account=account, kind=INSTANT, code="ZZZZZZ", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)
    assert refused.value.field == "code" and refused.value.message.startswith("参保编码不存在")


def test_without_handler_information_the_batch_is_refused_but_the_binding_stays(handbook_year, account):
    """SPEC HND-1: no batch before 经办人填报; the imported code stays bound so the unit can fill it in."""
    imported = make_code(None, source="imported")

    with pytest.raises(HandlerInfoMissing) as refused:
        batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)

    assert refused.value.message == HANDLER_INFO_MISSING == "请先完成【经办人填报】并保存，才可以进行后续操作。"
    imported.refresh_from_db()
    assert imported.account == account
    assert not Batch.objects.exists()


def test_a_code_has_one_centralised_batch_a_year(handbook_year, account, ready_code):
    """SPEC BAT-2; instant batches are not limited."""
    batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)

    with pytest.raises(EnrollmentError) as refused:
        batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)

    assert refused.value.message == "该参保编码本年度已办理过集中参保，请在原批次中继续操作；遗漏的人员可在即时参保通道开启后办理。"
    assert Batch.objects.filter(kind=CENTRALISED).count() == 1
    assert batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)
    assert batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)


def test_the_database_keeps_one_centralised_batch_per_code_and_year(code, handbook_year):
    """STYLE.md §9: the constraint is the last word when two requests pass the check at once."""
    make_batch(code=code, year=handbook_year, kind=CENTRALISED)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_batch(code=code, year=handbook_year, kind=CENTRALISED)


def test_an_unknown_kind_is_refused(handbook_year, account, ready_code):
    with pytest.raises(EnrollmentError, match="请选择参保类型"):
        batch_open(account=account, kind="other", code="0072J3", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)


# --- SPEC BAT-2, BAT-10: the windows --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "at", "message"),
    [
        (CENTRALISED, dt.datetime(2023, 6, 1, 0, 0, tzinfo=SHANGHAI), None),
        (CENTRALISED, dt.datetime(2023, 6, 30, 23, 59, 59, tzinfo=SHANGHAI), None),
        (CENTRALISED, dt.datetime(2023, 7, 1, 0, 0, tzinfo=SHANGHAI),
         "2023年度集中参保通道已关闭（截止2023年6月30日24时），请通过【即时参保办理】参保。"),
        (CENTRALISED, dt.datetime(2023, 5, 31, 23, 59, tzinfo=SHANGHAI),
         "2023年度集中参保通道将于2023年6月1日开启，请届时办理。"),
        (INSTANT, dt.datetime(2023, 6, 30, 23, 59, 59, tzinfo=SHANGHAI), "即时参保通道将于2023年7月1日开启，请届时办理。"),
        (INSTANT, dt.datetime(2023, 7, 1, 0, 0, tzinfo=SHANGHAI), None),
        (INSTANT, dt.datetime(2024, 6, 30, 23, 59, 59, tzinfo=SHANGHAI), None),
        (INSTANT, dt.datetime(2024, 7, 1, 0, 0, tzinfo=SHANGHAI),
         "2023年度保障期已于2024年6月30日结束，请在下一保障年度的参保通道开启后办理。"),
    ],
)
def test_the_windows_of_the_handbook_year(handbook_year, kind, at, message):
    """SPEC YEAR-1, YEAR-2 (6月30日24时 = 7月1日 0时), BAT-2, BAT-10."""
    if message is None:
        batch_window_check(coverage_year=handbook_year, kind=kind, at=at)
    else:
        with pytest.raises(EnrollmentError) as refused:
            batch_window_check(coverage_year=handbook_year, kind=kind, at=at)
        assert refused.value.message == message


def test_batch_open_keeps_to_the_windows(handbook_year, account, ready_code):
    """SPEC BAT-10: once the centralised window closes, no centralised batch; instant from 7月1日."""
    with pytest.raises(EnrollmentError, match="集中参保通道已关闭"):
        batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)
    with pytest.raises(EnrollmentError, match="即时参保通道将于2023年7月1日开启"):
        batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)
    with pytest.raises(EnrollmentError, match="当前没有开放的保障年度"):
        batch_open(
            account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME,
            at=dt.datetime(2023, 5, 1, tzinfo=SHANGHAI),
        )
    assert not Batch.objects.exists()


def test_batch_open_reads_the_clock_when_no_time_is_given(handbook_year, account, ready_code):
    with time_machine.travel(dt.datetime(2023, 6, 30, 23, 59, tzinfo=SHANGHAI), tick=False):
        assert batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME).number == "2023J000001"
    with time_machine.travel(dt.datetime(2023, 7, 1, 0, 0, tzinfo=SHANGHAI), tick=False):
        with pytest.raises(EnrollmentError, match="集中参保通道已关闭"):
            batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME)
        assert batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=UNIT_NAME).number == "2023S000001"


# --- SPEC BAT-5, CODE-5: batch_delete ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", [S.DRAFT, S.INVALID])
def test_a_batch_is_deleted_with_its_roster_and_keeps_its_log(code, handbook_year, account, state):
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=state)
    make_entry(batch)
    make_entry(batch, id_number="310101199003074271", name="李四")
    BatchLog.objects.create(batch=batch, actor=account, action="即时参保办理", to_state=S.DRAFT)
    kept = make_batch(code=code, year=handbook_year, kind=INSTANT)
    make_entry(kept)

    batch_delete(batch=batch, acting_user=account)

    assert not Batch.objects.filter(pk=batch.pk).exists()
    assert not RosterEntry.objects.filter(batch_id=batch.pk).exists()
    # SPEC SEC-9: the 操作日志 stays, under the batch's number, with who deleted it and when.
    log = list(BatchLog.objects.filter(batch_id=batch.pk).order_by("pk"))
    assert [(row.batch_number, row.action, row.from_state, row.to_state) for row in log] == [
        (batch.number, "即时参保办理", "", S.DRAFT),
        (batch.number, "批次删除", state, ""),
    ]
    assert log[-1].actor == account
    assert str(log[-1]) == f"{batch.number} 批次删除"
    assert RosterEntry.objects.filter(batch=kept).count() == 1
    # SPEC X-2: the deletion is in the audit trail with who did it.
    entry = LogEntry.objects.filter(object_pk=str(batch.pk), action=LogEntry.Action.DELETE, object_repr=batch.number).get()
    assert entry.actor == account


@pytest.mark.parametrize("state", sorted(set(S.values) - {S.DRAFT, S.INVALID}))
def test_other_states_refuse_deletion(code, handbook_year, account, state):
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT, state=state)
    with pytest.raises(EnrollmentError) as refused:
        batch_delete(batch=batch, acting_user=account)
    assert refused.value.message == f"批次当前状态为“{S(state).label}”，不能进行【批次删除】操作。"
    assert Batch.objects.filter(pk=batch.pk).exists()


def test_deleting_twice_says_it_is_deleted(code, handbook_year, account):
    batch = make_batch(code=code, year=handbook_year, kind=INSTANT)
    batch_delete(batch=batch, acting_user=account)
    with pytest.raises(EnrollmentError) as refused:
        batch_delete(batch=batch, acting_user=account)
    assert refused.value.message == f"批次 {batch.number} 已删除。"


def test_deleting_the_batch_that_bound_an_imported_code_releases_it(handbook_year, account):
    """SPEC CODE-5: the handbook's remedy for 用错参保编码; another account can then bind the code."""
    imported = make_code(None, source="imported")
    make_handler_info(imported, account=account)
    batch = batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)

    batch_delete(batch=batch, acting_user=account)

    imported.refresh_from_db()
    assert imported.account is None and imported.bound_at is None
    # The handler this account entered is not shown to the next account that binds the code.
    assert not HandlerInfo.objects.filter(code=imported).exists()
    rightful = UserFactory()
    with pytest.raises(HandlerInfoMissing):
        batch_open(account=rightful, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)
    make_handler_info(imported, account=rightful)
    assert batch_open(
        account=rightful, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW
    ).account == rightful


def test_releasing_a_code_keeps_handler_info_another_account_saved(handbook_year, account):
    """Only what the releasing account entered goes: an imported 经办人填报 (legacy data) stays."""
    imported = make_code(None, source="imported")
    legacy = HandlerInfo.objects.create(
        code=imported, handler_name="丁一", handler_mobile="13912345678", handler_email="dingyi@example.com",
        economic_type="私营", address="上海市普陀区长风路1号", industry="I", headcount=120, saved_by=None,
    )
    batch = batch_open(account=account, kind=CENTRALISED, code="0072J3", unit_name=UNIT_NAME, at=IN_CENTRALISED_WINDOW)
    batch_delete(batch=batch, acting_user=account)
    assert HandlerInfo.objects.filter(pk=legacy.pk).exists()


def test_an_imported_code_with_another_batch_stays_bound(handbook_year, account):
    imported = make_code(None, source="imported")
    make_handler_info(imported, account=account)
    first = batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)
    batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)

    batch_delete(batch=first, acting_user=account)

    imported.refresh_from_db()
    assert imported.account == account


def test_an_approved_code_stays_with_its_account(handbook_year, account, ready_code):
    batch = batch_open(account=account, kind=INSTANT, code="0072J3", unit_name=UNIT_NAME, at=IN_INSTANT_WINDOW)
    batch_delete(batch=batch, acting_user=account)
    ready_code.refresh_from_db()
    assert ready_code.account == account
