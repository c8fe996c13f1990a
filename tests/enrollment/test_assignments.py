"""Who works on a queue item (SPEC BO-1, issue 10): 【领取】/【释放】, the 处理人 column, the 分配 filter
(我的 / 未分配), the 待办 panel's figures, and decisions that release — for every review queue: 参保编码申请,
参保信息变更申请, 清册审核, 缴费凭证审核, 逾期未缴费批次 and 专用收据审核.

Each queue is built with two waiting items (the older and the newer) and one that is not waiting, so
every test also checks that the queue lists exactly the objects in its state, oldest first.
"""
import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Callable

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import UnionOrganisation
from backoffice.views import backoffice_queues
from enrollment.assignments import (
    AssignmentFilter,
    queue_item_decided,
    queue_item_holder,
    queue_item_release,
    queue_item_take,
    queue_item_take_over,
)
from enrollment.models import ChangeRequest, CodeApplication, QueueAssignment
from enrollment.services import EnrollmentError
from enrollment.states import BatchState
from payments.models import OverdueBatch, Voucher
from payments.services import voucher_approve
from receipts.models import ReceiptReview
from receipts.services import receipts_approve
from rosters.models import BatchReview
from rosters.submission import batch_review_approve
from tests.enrollment.queue_helpers import make_application, make_change_request, make_code, shanghai
from tests.factories import SHANGHAI, UserFactory
from tests.payments.helpers import awaiting_payment_batch, paid as voucher_paid
from tests.receipts.helpers import paid as completed_batch, submitted as receipts_submitted
from tests.rosters.helpers import submitted_for_review
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

# 逾期未缴费批次: confirmed 10 and 11 June 2023 → due 25 and 26 June (PAY-1); seen on 28 June.
OVERDUE_SEEN = dt.datetime(2023, 6, 28, 10, 0, tzinfo=SHANGHAI)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- the queues, as data ----------------------------------------------------------------------------


@dataclass
class Queue:
    label: str  # the 待办 line
    model: type
    pending_query: str  # the list's filter of waiting items ("" for a list of waiting items only)
    build: Callable  # (year, reviewer) -> (older, newer, not_waiting)
    since: Callable  # item -> the moment it waits since (the panel's age)
    decide: Callable  # (client, item) -> response of the decision's POST
    decided: Callable  # item -> True once the decision took effect
    decision_button: str  # the page's decision button (hidden while another reviewer holds the item)
    moment: dt.datetime | None = None  # the clock for the whole test

    @property
    def name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}"

    def url(self, action: str, item=None) -> str:
        return reverse(f"admin:{self.name}_{action}", args=[item.pk] if item is not None else [])

    def clock(self):
        return time_machine.travel(self.moment, tick=False) if self.moment else contextlib.nullcontext()


def _applications(year, reviewer):
    committee = UnionOrganisation.objects.create(name="测试区总工会", short_name="测试区", level=1)
    older = make_application(committee, unit_name="上海甲机电有限公司", submitted_at=shanghai(2026, 9, 28, 10, 0))
    newer = make_application(committee, unit_name="上海乙机电有限公司", submitted_at=shanghai(2026, 9, 30, 10, 0))
    done = make_application(committee, unit_name="上海丙机电有限公司", submitted_at=shanghai(2026, 9, 27, 10, 0), status="rejected")
    return older, newer, done


def _change_requests(year, reviewer):
    code = make_code()
    older = make_change_request(code, ["address"], {"address": "上海市普陀区新地址1号"}, submitted_at=shanghai(2026, 10, 8, 9, 0))
    newer = make_change_request(code, ["address"], {"address": "上海市普陀区新地址2号"}, submitted_at=shanghai(2026, 10, 9, 9, 0))
    done = make_change_request(code, ["address"], {"address": "上海市普陀区新地址3号"}, submitted_at=shanghai(2026, 10, 7, 9, 0))
    ChangeRequest.objects.filter(pk=done.pk).update(status=ChangeRequest.Status.REJECTED)
    return older, newer, done


def _batch_reviews(year, reviewer):
    older = submitted_for_review(year, at=shanghai(2023, 6, 14, 9, 0), unit_name="上海甲科技有限公司")
    newer = submitted_for_review(year, at=shanghai(2023, 6, 15, 9, 0), unit_name="上海乙科技有限公司")
    done = submitted_for_review(year, at=shanghai(2023, 6, 13, 9, 0), unit_name="上海丙科技有限公司")
    batch_review_approve(batch=done, acting_user=reviewer)
    return tuple(BatchReview.objects.get(pk=batch.pk) for batch in (older, newer, done))


def _vouchers(year, reviewer):
    older = voucher_paid(year, at=shanghai(2023, 6, 12, 10, 0))
    newer = voucher_paid(year, at=shanghai(2023, 6, 13, 10, 0))
    done = voucher_paid(year, at=shanghai(2023, 6, 11, 10, 0))
    voucher_approve(voucher=done, acting_user=reviewer)
    return older, newer, done


def _overdue_batches(year, reviewer):
    older = awaiting_payment_batch(year=year, at=shanghai(2023, 6, 10, 10, 0))
    newer = awaiting_payment_batch(year=year, at=shanghai(2023, 6, 11, 10, 0))
    not_yet = awaiting_payment_batch(year=year, at=shanghai(2023, 6, 20, 10, 0))  # due 5 July
    return tuple(OverdueBatch.objects.get(pk=batch.pk) for batch in (older, newer, not_yet))


def _receipt_reviews(year, reviewer):
    older = receipts_submitted(completed_batch(awaiting_payment_batch(year=year), reviewer), at=shanghai(2023, 7, 3, 10, 0))
    newer = receipts_submitted(completed_batch(awaiting_payment_batch(year=year), reviewer), at=shanghai(2023, 7, 4, 10, 0))
    done = receipts_submitted(completed_batch(awaiting_payment_batch(year=year), reviewer), at=shanghai(2023, 7, 2, 10, 0))
    receipts_approve(batch=done, acting_user=reviewer)
    return tuple(ReceiptReview.objects.get(pk=batch.pk) for batch in (older, newer, done))


def _first_receipt_submitted(batch):
    return batch.receipts.filter(status="submitted").order_by("submitted_at").first().submitted_at


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=SHANGHAI)


QUEUES = [
    Queue(
        "参保编码申请", CodeApplication, "status__exact=pending", _applications, lambda item: item.submitted_at,
        lambda client, item: client.post(reverse("admin:enrollment_codeapplication_approve", args=[item.pk])),
        lambda item: CodeApplication.objects.get(pk=item.pk).status == CodeApplication.Status.APPROVED,
        'popovertarget="approve-dialog"',
    ),
    Queue(
        "参保信息变更申请", ChangeRequest, "status__exact=pending", _change_requests, lambda item: item.submitted_at,
        lambda client, item: client.post(reverse("admin:enrollment_changerequest_reject", args=[item.pk]), {"reason": "请加盖公章"}),
        lambda item: ChangeRequest.objects.get(pk=item.pk).status == ChangeRequest.Status.REJECTED,
        'popovertarget="approve-dialog"',
    ),
    Queue(
        "清册审核", BatchReview, "state=in_review", _batch_reviews, lambda item: item.submitted_at,
        lambda client, item: client.post(reverse("admin:rosters_batchreview_approve", args=[item.pk])),
        lambda item: BatchReview.objects.get(pk=item.pk).state == BatchState.REVIEW_APPROVED,
        'popovertarget="approve-dialog"',
    ),
    Queue(
        "缴费凭证审核", Voucher, "status__exact=submitted", _vouchers, lambda item: item.submitted_at,
        lambda client, item: client.post(reverse("admin:payments_voucher_reject", args=[item.pk]), {"reason": "金额不符"}),
        lambda item: Voucher.objects.get(pk=item.pk).status == Voucher.Status.REJECTED,
        'popovertarget="approve-dialog"',
    ),
    Queue(
        "逾期未缴费批次", OverdueBatch, "", _overdue_batches, lambda item: _local_midnight(item.premium.payment_due),
        lambda client, item: client.post(reverse("admin:payments_overduebatch_cancel", args=[item.pk]), {"reason": "逾期未缴费"}),
        lambda item: OverdueBatch.objects.get(pk=item.pk).state == BatchState.CANCELLED,
        'popovertarget="cancel-dialog"',
        moment=OVERDUE_SEEN,
    ),
    Queue(
        "专用收据审核", ReceiptReview, "receipts=pending", _receipt_reviews, _first_receipt_submitted,
        lambda client, item: client.post(reverse("admin:receipts_receiptreview_approve", args=[item.pk])),
        lambda item: not item.receipts.filter(status="submitted").exists(),
        'popovertarget="approve-dialog"',
    ),
]


@pytest.fixture(params=QUEUES, ids=lambda queue: queue.label)
def queue(request, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with request.param.clock():
        yield request.param


@pytest.fixture
def items(queue, handbook_year, reviewer):
    return queue.build(handbook_year, UserFactory(role="reviewer", username="builder"))


@pytest.fixture
def other_reviewer(db):
    return UserFactory(role="reviewer", username="reviewer-zhao")


def client_of(user) -> Client:
    client = PortalClient()
    client.force_login(user)
    return client


def listed(client, queue, query: str = "") -> list[int]:
    response = client.get(f"{queue.url('changelist')}?{query}")
    assert response.status_code == 200
    return [item.pk for item in response.context["cl"].result_list]


def with_pending(queue, query: str) -> str:
    return "&".join(part for part in (queue.pending_query, query) if part)


# --- services -------------------------------------------------------------------------------------


def test_take_release_and_conflict(reviewer, other_reviewer):
    application = _applications(None, reviewer)[0]
    assert queue_item_holder(obj=application) is None

    taken = queue_item_take(obj=application, reviewer=reviewer)
    assert queue_item_take(obj=application, reviewer=reviewer).pk == taken.pk  # a second click changes nothing
    assert queue_item_holder(obj=application).reviewer == reviewer

    with pytest.raises(EnrollmentError, match=f"已由 {reviewer.username} 领取"):
        queue_item_take(obj=application, reviewer=other_reviewer)
    with pytest.raises(EnrollmentError, match="只有处理人本人可以释放"):
        queue_item_release(obj=application, reviewer=other_reviewer)

    assert queue_item_release(obj=application, reviewer=reviewer) is True
    assert queue_item_release(obj=application, reviewer=reviewer) is False  # nothing left to release
    assert queue_item_holder(obj=application) is None


def test_take_over_after_confirmation_changes_the_holder(reviewer, other_reviewer):
    application = _applications(None, reviewer)[0]
    queue_item_take(obj=application, reviewer=other_reviewer)
    queue_item_take_over(obj=application, reviewer=reviewer)
    assert queue_item_holder(obj=application).reviewer == reviewer
    assert QueueAssignment.objects.count() == 1


def test_a_decision_releases_whoever_holds_it(reviewer):
    application = _applications(None, reviewer)[0]
    queue_item_take(obj=application, reviewer=reviewer)
    queue_item_decided(obj=application)
    assert queue_item_holder(obj=application) is None


def test_each_proxy_is_a_queue_of_its_own(handbook_year, reviewer, other_reviewer):
    """One batch in 清册审核 (BatchReview) and in 逾期未缴费批次 (OverdueBatch): two assignments."""
    batch = awaiting_payment_batch(year=handbook_year)
    queue_item_take(obj=BatchReview.objects.get(pk=batch.pk), reviewer=reviewer)
    queue_item_take(obj=OverdueBatch.objects.get(pk=batch.pk), reviewer=other_reviewer)
    content_types = set(QueueAssignment.objects.values_list("content_type", flat=True))
    assert content_types == {
        ContentType.objects.get_for_model(BatchReview, for_concrete_model=False).pk,
        ContentType.objects.get_for_model(OverdueBatch, for_concrete_model=False).pk,
    }


def test_the_filter_offers_mine_and_unassigned():
    assert AssignmentFilter.title == "分配"
    assert AssignmentFilter.lookups(None, None, None) == [("mine", "我的"), ("unassigned", "未分配")]


# --- every queue: what it lists, the filter, the panel --------------------------------------------


def test_the_queue_lists_exactly_its_waiting_items_oldest_first(queue, items, reviewer):
    older, newer, not_waiting = items
    client = client_of(reviewer)
    assert listed(client, queue, queue.pending_query) == [older.pk, newer.pk]
    whole = listed(client, queue)
    assert whole[:2] == [older.pk, newer.pk]  # waiting first, the oldest first
    if queue.pending_query:
        assert not_waiting.pk in whole[2:]
    else:
        assert not_waiting.pk not in whole  # 逾期未缴费批次 lists only the late ones


def test_mine_and_unassigned_filter_each_queue(queue, items, reviewer, other_reviewer):
    older, newer, _ = items
    queue_item_take(obj=older, reviewer=reviewer)
    client = client_of(reviewer)

    assert listed(client, queue, with_pending(queue, "assigned=mine")) == [older.pk]
    assert listed(client, queue, with_pending(queue, "assigned=unassigned")) == [newer.pk]
    assert listed(client_of(other_reviewer), queue, with_pending(queue, "assigned=mine")) == []

    response = client.get(f"{queue.url('changelist')}?{queue.pending_query}")
    content = response.content.decode()
    assert "处理人" in content and reviewer.username in content and "未分配" in content
    assert "分配" in content and "我的" in content


def test_the_panel_counts_mine_and_unassigned_with_the_oldest_age(queue, items, reviewer, other_reviewer):
    older, newer, _ = items
    queue_item_take(obj=newer, reviewer=other_reviewer)
    [line] = [line for line in backoffice_queues(reviewer) if line.label == queue.label]
    assert (line.count, line.mine, line.unassigned) == (2, 0, 1)
    assert line.oldest == queue.since(older)
    assert line.mine_url.endswith("assigned=mine") and line.unassigned_url.endswith("assigned=unassigned")

    queue_item_take(obj=older, reviewer=reviewer)
    [line] = [line for line in backoffice_queues(reviewer) if line.label == queue.label]
    assert (line.count, line.mine, line.unassigned) == (2, 1, 0)

    response = client_of(reviewer).get(reverse("admin:index"))
    assert f'href="{line.mine_url.replace("&", "&amp;")}"' in response.content.decode()
    assert "已等待" in response.content.decode()


# --- every queue: the page, 【领取】, 【释放】 and the decisions ------------------------------------------


def test_take_and_release_from_the_page(queue, items, reviewer):
    older, _, _ = items
    client = client_of(reviewer)
    page = client.get(queue.url("change", older))
    assert 'id="assignment-take"' in page.content.decode() and "未分配" in page.content.decode()

    response = client.post(queue.url("take", older))
    assert response.status_code == 302
    assert queue_item_holder(obj=older).reviewer == reviewer
    assert any(message.startswith("已领取") for message in messages_of(response))
    page = client.get(queue.url("change", older)).content.decode()
    assert 'id="assignment-release"' in page and queue.decision_button in page

    response = client.post(queue.url("release", older))
    assert queue_item_holder(obj=older) is None
    assert any(message.startswith("已释放") for message in messages_of(response))


def test_a_get_of_take_changes_nothing(queue, items, reviewer):
    older, _, _ = items
    assert client_of(reviewer).get(queue.url("take", older)).status_code == 302
    assert queue_item_holder(obj=older) is None


def test_an_item_no_longer_waiting_is_not_taken(queue, items, reviewer):
    _, _, not_waiting = items
    if not queue.pending_query:
        pytest.skip("逾期未缴费批次 has no page for a batch that is not late (404)")
    response = client_of(reviewer).post(queue.url("take", not_waiting))
    assert queue_item_holder(obj=not_waiting) is None
    assert any("无需领取" in message for message in messages_of(response))


def test_held_by_another_the_decision_waits_for_a_confirmed_take_over(
    queue, items, reviewer, other_reviewer, django_capture_on_commit_callbacks
):
    older, _, _ = items
    queue_item_take(obj=older, reviewer=other_reviewer)
    client = client_of(reviewer)

    page = client.get(queue.url("change", older)).content.decode()
    assert queue.decision_button not in page  # no decision while another reviewer holds it
    assert "确认接手" in page and other_reviewer.username in page

    response = queue.decide(client, older)
    assert not queue.decided(older)
    assert any(f"已由 {other_reviewer.username} 领取" in message for message in messages_of(response))

    client.post(queue.url("take", older))  # without the confirmation: refused
    assert queue_item_holder(obj=older).reviewer == other_reviewer
    client.post(queue.url("take", older), {"take_over": "1"})
    assert queue_item_holder(obj=older).reviewer == reviewer

    with django_capture_on_commit_callbacks(execute=True):
        queue.decide(client, older)
    assert queue.decided(older)
    assert queue_item_holder(obj=older) is None  # the decision released it


def test_a_decision_on_an_unassigned_item_needs_no_take(queue, items, reviewer, django_capture_on_commit_callbacks):
    _, newer, _ = items
    with django_capture_on_commit_callbacks(execute=True):
        queue.decide(client_of(reviewer), newer)
    assert queue.decided(newer)


def test_who_may_take(queue, items, union_staff, unit_admin):
    older, _, _ = items
    assert client_of(union_staff).post(queue.url("take", older)).status_code == 403
    assert client_of(union_staff).post(queue.url("release", older)).status_code == 403
    response = PortalClient().post(queue.url("take", older))
    assert response.status_code == 302 and "/login" in response["Location"]
    response = client_of(unit_admin).post(queue.url("take", older))
    assert response.status_code == 302 and "/login" in response["Location"]
    assert not QueueAssignment.objects.exists()
    # The CSRF check of the admin's views.
    csrf_client = PortalClient(enforce_csrf_checks=True)
    csrf_client.force_login(UserFactory(role="reviewer"))
    assert csrf_client.post(queue.url("take", older)).status_code == 403
