"""The batch state machine (SPEC BAT-3), as data (STYLE.md §3).

`BatchState` holds every state with its handbook label; `ALLOWED_TRANSITIONS` is the one table of
moves (every move is listed here, nowhere else); `STATE_ACTIONS` says what a unit may do in each
state. `enrollment.services.batch_transition` is the only code that changes a batch's state; pages
and templates ask `batch.allows(action)` / `batch.actions` instead of repeating the table.
"""
from django.db import models


class BatchState(models.TextChoices):
    DRAFT = "draft", "清册待校验"
    VALIDATING = "validating", "清册校验中"  # SPEC BAT-3 [interpretation]: the handbook names no such state
    INVALID = "invalid", "清册校验不通过"
    IN_REVIEW = "in_review", "职保会待审核"
    REVIEW_REJECTED = "review_rejected", "职保会审核不通过"
    ROSTER_APPROVED = "roster_approved", "清册校验通过"
    REVIEW_APPROVED = "review_approved", "职保会审核通过"
    AWAITING_PAYMENT = "awaiting_payment", "缴费凭证待上传"
    PAYMENT_REVIEW = "payment_review", "缴费凭证待审核"
    PAYMENT_REJECTED = "payment_rejected", "缴费凭证审核不通过"
    COMPLETED = "completed", "参保已完成"
    CANCELLED = "cancelled", "已作废"


class BatchKind(models.TextChoices):
    CENTRALISED = "centralised", "集中参保"
    INSTANT = "instant", "即时参保"


S = BatchState

# SPEC BAT-3 "Transitions". Withdrawal (BAT-6) and cancellation (BAT-11) are listed with the moves
# they allow; each service still checks its own preconditions (a voucher uploaded, the window).
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.VALIDATING, S.ROSTER_APPROVED, S.IN_REVIEW}),
    S.VALIDATING: frozenset({S.DRAFT, S.INVALID}),
    S.INVALID: frozenset({S.VALIDATING, S.ROSTER_APPROVED, S.IN_REVIEW}),
    S.IN_REVIEW: frozenset({S.REVIEW_APPROVED, S.REVIEW_REJECTED}),
    S.REVIEW_REJECTED: frozenset({S.VALIDATING, S.ROSTER_APPROVED, S.IN_REVIEW}),
    S.ROSTER_APPROVED: frozenset({S.AWAITING_PAYMENT, S.DRAFT}),
    S.REVIEW_APPROVED: frozenset({S.AWAITING_PAYMENT, S.DRAFT}),
    S.AWAITING_PAYMENT: frozenset({S.PAYMENT_REVIEW, S.DRAFT, S.ROSTER_APPROVED, S.REVIEW_APPROVED, S.CANCELLED}),
    S.PAYMENT_REVIEW: frozenset({S.COMPLETED, S.PAYMENT_REJECTED}),
    S.PAYMENT_REJECTED: frozenset({S.PAYMENT_REVIEW, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}


class BatchAction(models.TextChoices):
    """What a unit can do with a batch; the labels are the handbook's buttons."""

    DETAIL = "detail", "查看详情"
    ROSTER = "roster", "参保清册"  # open the roster (read only unless EDIT_ROSTER is allowed too)
    EDIT_ROSTER = "edit_roster", "编辑参保清册"
    VALIDATE = "validate", "清册校验"
    SUBMIT = "submit", "清册提交"
    DELETE = "delete", "批次删除"
    SELECT_PLANS = "select_plans", "保障项目选择"
    WITHDRAW = "withdraw", "批次撤回"
    RECEIPTS = "receipts", "专用收据"  # 专用收据填报 (SPEC RCP-1)
    CERTIFICATE = "certificate", "保障单"  # the coverage certificate PDF (SPEC RCP-3)


A = BatchAction

# SPEC BAT-3 "actions". 清册校验中 shows progress only; SUBMIT in 清册待校验 also needs a current
# validation result (SPEC BAT-4), which Batch.allows checks.
STATE_ACTIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({A.DETAIL, A.ROSTER, A.EDIT_ROSTER, A.VALIDATE, A.DELETE}),
    S.VALIDATING: frozenset({A.DETAIL}),
    S.INVALID: frozenset({A.DETAIL, A.ROSTER, A.EDIT_ROSTER, A.VALIDATE, A.SUBMIT, A.DELETE}),
    S.IN_REVIEW: frozenset({A.DETAIL, A.ROSTER}),
    S.REVIEW_REJECTED: frozenset({A.DETAIL, A.ROSTER, A.EDIT_ROSTER, A.SUBMIT}),
    S.ROSTER_APPROVED: frozenset({A.DETAIL, A.ROSTER, A.SELECT_PLANS, A.WITHDRAW}),
    S.REVIEW_APPROVED: frozenset({A.DETAIL, A.ROSTER, A.SELECT_PLANS, A.WITHDRAW}),
    S.AWAITING_PAYMENT: frozenset({A.DETAIL, A.ROSTER, A.SELECT_PLANS, A.WITHDRAW}),
    # SPEC RCP-1 [interpretation]: receipts are asked for once a voucher is uploaded (the handbook's
    # step (六) follows (五)); they are issued when the payment is approved (receipts.services).
    S.PAYMENT_REVIEW: frozenset({A.DETAIL, A.ROSTER, A.RECEIPTS}),
    S.PAYMENT_REJECTED: frozenset({A.DETAIL, A.ROSTER, A.RECEIPTS}),
    S.COMPLETED: frozenset({A.DETAIL, A.ROSTER, A.RECEIPTS, A.CERTIFICATE}),
    S.CANCELLED: frozenset({A.DETAIL, A.ROSTER}),
}

# The order the 操作 column shows the allowed actions in.
ACTION_ORDER = [
    A.DETAIL, A.ROSTER, A.VALIDATE, A.SUBMIT, A.SELECT_PLANS, A.WITHDRAW, A.RECEIPTS, A.CERTIFICATE, A.DELETE
]

# UI.md "Lists": one colour per kind of state (draft grey, in progress blue, needs action orange,
# rejected red, done green); the classes are in static/css/portal.css.
STATE_BADGES: dict[str, str] = {
    S.DRAFT: "badge-state-draft",
    S.VALIDATING: "badge-state-progress",
    S.INVALID: "badge-state-rejected",
    S.IN_REVIEW: "badge-state-progress",
    S.REVIEW_REJECTED: "badge-state-rejected",
    S.ROSTER_APPROVED: "badge-state-action",
    S.REVIEW_APPROVED: "badge-state-action",
    S.AWAITING_PAYMENT: "badge-state-action",
    S.PAYMENT_REVIEW: "badge-state-progress",
    S.PAYMENT_REJECTED: "badge-state-rejected",
    S.COMPLETED: "badge-state-done",
    S.CANCELLED: "badge-state-draft",
}

# States whose batch holds its people in the year's registry (SPEC ROS-11): submitted and neither
# withdrawn to a draft nor cancelled.
HOLDING_STATES = frozenset(
    {
        S.IN_REVIEW, S.REVIEW_REJECTED, S.ROSTER_APPROVED, S.REVIEW_APPROVED, S.AWAITING_PAYMENT,
        S.PAYMENT_REVIEW, S.PAYMENT_REJECTED, S.COMPLETED,
    }
)

# The groups of states that services, selectors and pages ask about (one definition each).

# SPEC BAT-3: 【保障项目选择】 may still change the selection.
SELECTING_STATES = frozenset({S.ROSTER_APPROVED, S.REVIEW_APPROVED})
# 提交确认保费 and after (SPEC PREM-3): the premium stands confirmed. A withdrawal (BAT-6) drops it; a
# cancelled batch (BAT-11) keeps its figures but counts no longer. SPEC PREM-4 [interpretation]: a code
# "took part in the year's centralised enrolment" once its centralised batch is in one of these.
PREMIUM_CONFIRMED_STATES = frozenset({S.AWAITING_PAYMENT, S.PAYMENT_REVIEW, S.PAYMENT_REJECTED, S.COMPLETED})
# SPEC PAY-2: the batches a voucher may pay.
PAYABLE_STATES = frozenset({S.AWAITING_PAYMENT, S.PAYMENT_REJECTED})
# SPEC RCP-1: a unit fills in its 专用收据 once a voucher is uploaded.
RECEIPT_STATES = frozenset({S.PAYMENT_REVIEW, S.PAYMENT_REJECTED, S.COMPLETED})
# 职保会审核 (SPEC VAL-7): waiting for review and the states a review leaves, in the queue filter's order.
REVIEW_STATES = (S.IN_REVIEW, S.REVIEW_APPROVED, S.REVIEW_REJECTED)
