"""Who works on a back-office queue item: 【领取】, 【释放】, "mine" and "unassigned" (SPEC BO-1).

Two reviewers must not work the same item. A reviewer takes an item (领取) from its review page; the
lists show its 处理人 and filter 分配: 我的 / 未分配; the 待办 panel counts both per queue. A decision
(approve, reject, cancel) releases the item.

Acting on an item another reviewer holds: refused, and the page offers 【领取】 with a confirmation
instead ("已由 X 领取，确认由您接手？"). Refusing outright would leave an item stuck while its holder is
away, and every queue has a working-day deadline; acting silently would defeat the assignment. So the
take-over is one deliberate, audited step (QueueAssignment is in the audit trail like every model), after
which the decision buttons are there as usual.

Items are named by content type + id, the proxy's own content type for BatchReview, OverdueBatch and
ReceiptReview (for_concrete_model=False): one batch can be in 清册审核 with one reviewer and later in
专用收据审核 with another.

The admin pieces (AssignmentFilter, AssignmentAdminMixin) live here too, so that every queue admin
(enrollment, rosters, payments, receipts) shares one implementation; they rely only on the methods of
enrollment.review_admin.BackOfficeAdmin (`_change_url`, `_with_filters`), never import it.
"""
import datetime as dt

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Min, Model, OuterRef, Q, QuerySet, Subquery
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from .models import Batch, QueueAssignment
from .services import EnrollmentError

# The list filter's query parameter and its values (the 待办 panel links to them).
ASSIGNMENT_PARAMETER = "assigned"
MINE, UNASSIGNED = "mine", "unassigned"


def _content_type(model) -> ContentType:
    # A proxy is its own queue (see the module docstring).
    return ContentType.objects.get_for_model(model, for_concrete_model=False)


def _holder_text(assignment: QueueAssignment) -> str:
    return assignment.reviewer.get_username()


def _assignments_of(obj: Model) -> QuerySet[QueueAssignment]:
    return QueueAssignment.objects.filter(content_type=_content_type(type(obj)), object_id=obj.pk)


# --- services ----------------------------------------------------------------------------------------


def queue_item_holder(*, obj: Model) -> QueueAssignment | None:
    """The assignment of `obj` (with its reviewer), or None when nobody holds it."""
    return _assignments_of(obj).select_related("reviewer").first()


def queue_item_take(*, obj: Model, reviewer) -> QueueAssignment:
    """【领取】: `reviewer` holds `obj` from now on. Taking an item one already holds changes nothing.
    Raises EnrollmentError "已由 X 领取" when another reviewer holds it (take it over with
    queue_item_take_over, after the reviewer confirmed). Two reviewers clicking at the same moment:
    the unique constraint lets one row in, the other gets the message."""
    content_type = _content_type(type(obj))
    try:
        with transaction.atomic():
            assignment, _created = QueueAssignment.objects.select_related("reviewer").get_or_create(
                content_type=content_type, object_id=obj.pk, defaults={"reviewer": reviewer}
            )
    except IntegrityError:  # pragma: no cover - get_or_create re-reads after losing the race
        assignment = QueueAssignment.objects.select_related("reviewer").get(content_type=content_type, object_id=obj.pk)
    if assignment.reviewer_id != reviewer.pk:
        raise EnrollmentError(
            f"已由 {_holder_text(assignment)} 领取（{timezone.localtime(assignment.assigned_at):%Y-%m-%d %H:%M}），"
            "如需接手请在确认后领取。"
        )
    return assignment


@transaction.atomic
def queue_item_take_over(*, obj: Model, reviewer) -> QueueAssignment:
    """【领取】 of an item another reviewer holds, after `reviewer` confirmed: the item changes hands
    (the audit trail records the old and new 处理人). Taking an unheld item works as queue_item_take."""
    content_type = _content_type(type(obj))
    assignment = QueueAssignment.objects.select_for_update().filter(content_type=content_type, object_id=obj.pk).first()
    if assignment is None:
        return queue_item_take(obj=obj, reviewer=reviewer)
    if assignment.reviewer_id != reviewer.pk:
        assignment.reviewer = reviewer
        assignment.assigned_at = timezone.now()
        assignment.save(update_fields=["reviewer", "assigned_at"])
    return assignment


@transaction.atomic
def queue_item_release(*, obj: Model, reviewer) -> bool:
    """【释放】: `reviewer` gives `obj` back to the queue (未分配). True if it was theirs; False when
    nobody held it (a second click). Raises EnrollmentError when another reviewer holds it."""
    assignment = _assignments_of(obj).select_for_update().select_related("reviewer").first()
    if assignment is None:
        return False
    if assignment.reviewer_id != reviewer.pk:
        raise EnrollmentError(f"已由 {_holder_text(assignment)} 领取，只有处理人本人可以释放。")
    assignment.delete()
    return True


def queue_item_decided(*, obj: Model) -> None:
    """A decision (审核通过, 审核不通过, 作废) ends the work on `obj`: whoever held it, it is released."""
    for assignment in _assignments_of(obj):
        assignment.delete()  # one by one, so the audit trail records each release


def queue_item_refusal(*, obj: Model, reviewer) -> str:
    """Why `reviewer` may not decide `obj` now ("" if they may): another reviewer holds it."""
    assignment = queue_item_holder(obj=obj)
    if assignment is None or assignment.reviewer_id == reviewer.pk:
        return ""
    return f"该事项已由 {_holder_text(assignment)} 领取，请先【领取】（确认接手）后再审核。"


# --- reads for the lists and the 待办 panel ------------------------------------------------------


def held_by(model, *, reviewer=None) -> Exists:
    """A condition for a queryset of `model`: the item is held (by `reviewer`, if given)."""
    assignments = QueueAssignment.objects.filter(content_type=_content_type(model), object_id=OuterRef("pk"))
    if reviewer is not None:
        assignments = assignments.filter(reviewer=reviewer)
    return Exists(assignments)


def holder_name(model) -> Subquery:
    """The 处理人's username of each row of a queryset of `model` (None: 未分配), as one subquery."""
    return Subquery(
        QueueAssignment.objects.filter(content_type=_content_type(model), object_id=OuterRef("pk")).values(
            "reviewer__username"
        )[:1]
    )


def queue_figures(*, pending: QuerySet, model, user, since) -> dict:
    """The 待办 panel's figures of one queue in one query: of the `pending` items, how many `user`
    holds (mine), how many nobody holds (unassigned), and the oldest moment an item waits since
    (`since`: a field or lookup of `model`, or an aggregate such as Min(..., filter=...); a date is
    taken as its 00:00; None for an empty queue)."""
    rows = model._base_manager.filter(pk__in=pending.order_by().values("pk"))
    figures = rows.aggregate(
        mine=Count("pk", filter=Q(held_by(model, reviewer=user)), distinct=True),
        unassigned=Count("pk", filter=~Q(held_by(model)), distinct=True),
        oldest=Min(since) if isinstance(since, str) else since,
    )
    oldest = figures["oldest"]
    if isinstance(oldest, dt.date) and not isinstance(oldest, dt.datetime):
        oldest = timezone.make_aware(dt.datetime.combine(oldest, dt.time.min))
    return {"mine": figures["mine"], "unassigned": figures["unassigned"], "oldest": oldest}


def with_assignment(url: str, value: str) -> str:
    """`url` (a queue's changelist, maybe with its filters) with the 分配 filter set to `value`."""
    return f"{url}{'&' if '?' in url else '?'}{ASSIGNMENT_PARAMETER}={value}"


# --- the admin pieces ------------------------------------------------------------------------------


class AssignmentFilter(admin.SimpleListFilter):
    """分配: 我的 (held by the reviewer looking) / 未分配 / 全部 (the admin's own "全部")."""

    title = "分配"
    parameter_name = ASSIGNMENT_PARAMETER

    def __init__(self, request, params, model, model_admin):
        self.queue_model = model  # the admin's model: a proxy stays itself (see the module docstring)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(MINE, "我的"), (UNASSIGNED, "未分配")]

    def queryset(self, request, queryset):
        if self.value() == MINE:
            return queryset.filter(held_by(self.queue_model, reviewer=request.user))
        if self.value() == UNASSIGNED:
            return queryset.exclude(held_by(self.queue_model))
        return queryset


class AssignmentAdminMixin:
    """A queue admin's assignment: the 处理人 column, the 分配 filter, 【领取】/【释放】 on the page
    (templates/admin/enrollment/_assignment.html) and their two POST views.

    A queue says which items are waiting (`pending_items`, also the 待办 panel's count) and the name
    of its page's decision flag (`decision_flag`: the context key that shows the decision buttons),
    which is turned off while another reviewer holds the item. Its decision views call
    `assignment_refusal` before deciding and `assignment_decided` after (both below)."""

    decision_flag = "may_review"
    queue_label_text = ""  # the queue's name where the model's is not it (缴费凭证 → 缴费凭证审核)

    @staticmethod
    def pending_items() -> QuerySet:  # pragma: no cover - each queue sets it
        raise NotImplementedError

    def may_take(self, request) -> bool:
        """Who may decide may take: the queue's change permission (accounts/roles.py)."""
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def queue_label(self) -> str:
        return self.queue_label_text or str(self.opts.verbose_name_plural)

    def pending_for_batches(self, batch_ids) -> dict[int, list]:
        """The waiting items of this queue that concern the given batches, by batch id (the search
        links a batch to the queues that hold it). The default serves queues of Batch proxies; a
        queue of other items concerns no batch unless it says otherwise."""
        if self.opts.concrete_model is not Batch:
            return {}
        return {item.pk: [item] for item in self.pending_items().filter(pk__in=batch_ids)}

    # --- the list ----------------------------------------------------------------------------------

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(queue_holder=holder_name(self.model))

    def get_list_display(self, request):
        return (*super().get_list_display(request), "holder_column")

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), AssignmentFilter)

    @admin.display(description="处理人")
    def holder_column(self, obj):
        holder = getattr(obj, "queue_holder", None)
        return holder or format_html('<span class="quiet">{}</span>', "未分配")

    # --- the page ----------------------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["assignment"] = self._assignment_context(request, obj)
            if context["assignment"]["held_by_other"]:
                context[self.decision_flag] = False  # 【领取】 with its confirmation comes first
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _assignment_context(self, request, obj) -> dict:
        assignment = queue_item_holder(obj=obj)
        mine = assignment is not None and assignment.reviewer_id == request.user.pk
        pending = self.pending_items().filter(pk=obj.pk).exists()
        return {
            "holder": _holder_text(assignment) if assignment else "",
            "assigned_at": timezone.localtime(assignment.assigned_at) if assignment else None,
            "mine": mine,
            "held_by_other": assignment is not None and not mine,
            "may_take": pending and not mine and self.may_take(request),
            "may_release": mine,
            "take_url": self._with_filters(request, self._assignment_url("take", obj)),
            "release_url": self._with_filters(request, self._assignment_url("release", obj)),
        }

    # --- 【领取】 and 【释放】 ------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view  # staff only, CSRF-checked, never cached
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/take/", wrap(self.take_view), name=f"{prefix}_take"),
            path("<path:object_id>/release/", wrap(self.release_view), name=f"{prefix}_release"),
        ] + super().get_urls()

    def _assignment_url(self, action: str, obj) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{action}", args=[obj.pk], current_app=self.admin_site.name
        )

    def _assignment_target(self, request, object_id):
        if not self.may_take(request):
            raise PermissionDenied
        return self.get_object(request, unquote(object_id))

    def take_view(self, request, object_id):
        obj = self._assignment_target(request, object_id)
        back = redirect(self._with_filters(request, self._change_url(obj)))
        if request.method != "POST":
            return back
        if not self.pending_items().filter(pk=obj.pk).exists():
            messages.warning(request, f"{obj} 已处理完毕，不在待处理事项中，无需领取。")
            return back
        try:
            if request.POST.get("take_over") == "1":
                queue_item_take_over(obj=obj, reviewer=request.user)
            else:
                queue_item_take(obj=obj, reviewer=request.user)
        except EnrollmentError as error:
            messages.error(request, error.message)
            return back
        messages.success(request, f"已领取：{obj}。在【分配】中选择“我的”可查看您领取的事项。")
        return back

    def release_view(self, request, object_id):
        obj = self._assignment_target(request, object_id)
        back = redirect(self._with_filters(request, self._change_url(obj)))
        if request.method != "POST":
            return back
        try:
            released = queue_item_release(obj=obj, reviewer=request.user)
        except EnrollmentError as error:
            messages.error(request, error.message)
            return back
        if released:
            messages.success(request, f"已释放：{obj}，其他审核人可以领取。")
        return back

    # --- for the decision views ------------------------------------------------------------------

    def assignment_refusal(self, request, obj) -> str:
        """"" if the user may decide `obj`, else the message (another reviewer holds it)."""
        return queue_item_refusal(obj=obj, reviewer=request.user)

    def assignment_decided(self, obj) -> None:
        queue_item_decided(obj=obj)
