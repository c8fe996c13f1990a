"""What every back-office page shares, for each app's admin to build on (SPEC BO-1, YEAR-3).

- `BackOfficeAdmin`: 15 rows a page with the handbook's footer, the pages' styles, 403 without the
  permission and 404 for an object that is not there.
- `ReviewPageAdmin`: a review page with its 【审核通过】/【审核不通过】 views, the decision's `Decided`, the
  object's attachments and the queue assignment (enrollment.assignments).
- `OverdueFilter` and `overdue_cutoff`: 审核期限 → 已超期 by working days.
- `QueueLine`: one line of the 待办 panel (the back office's index); each app's queue selector returns one.
- `batch_badge`, `local_text`, `deadline_text`: the pages' pieces (with mutualaid/admin_pages.py's).

It lives in enrollment, the lowest app with a review page, so that rosters, plans, payments and receipts
can subclass it without an import running up the chain (ARCHITECTURE.md).
"""
import datetime as dt
from dataclasses import dataclass, field

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from mutualaid.admin_pages import PAGE_CONTEXT, with_page_styles
from mutualaid.attachments import attachment_response, attachments_of
from mutualaid.workdays import WorkingCalendar

from .assignments import MINE, UNASSIGNED, AssignmentAdminMixin, with_assignment
from .services import EnrollmentError
from .states import STATE_BADGES


def local_text(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "-"


def deadline_text(deadline: dt.datetime) -> str:
    """SPEC YEAR-2: a deadline is "24:00" of its last day, which is stored as 00:00 of the next."""
    local = timezone.localtime(deadline)
    if local.time() == dt.time.min:
        return f"{local.date() - dt.timedelta(days=1):%Y-%m-%d} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def overdue_cutoff(*, working_days: int, now: dt.datetime | None = None) -> dt.datetime:
    """Still-pending work submitted before this moment is past its deadline (SPEC YEAR-3).

    A deadline of N working days has passed once N whole working days after the day of submission
    are over, so the cutoff is 00:00 of the Nth working day before today. This is the same rule as
    working_deadline(), read backwards: one calendar query instead of one per submission day.
    """
    now = now or timezone.now()
    shanghai = timezone.get_default_timezone()
    # now > 00:00 of a day means that day has begun: at exactly midnight, "today" is still yesterday.
    today = timezone.localtime(now - dt.timedelta(microseconds=1), shanghai).date()
    span = working_days * 3 + 30
    window_start = today - dt.timedelta(days=span)
    calendar = WorkingCalendar(window_start, today)
    found, day = 0, today
    while found < working_days:
        day -= dt.timedelta(days=1)
        if day < window_start:
            window_start = day - dt.timedelta(days=span)
            calendar = WorkingCalendar(window_start, day)
        if calendar.is_working_day(day):
            found += 1
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), shanghai)


class BackOfficeAdmin(admin.ModelAdmin):
    """What the enrollment back-office pages share: 15 rows a page with the handbook's footer, the
    pages' styles, 403 without the permission and 404 for an object that is not there."""

    list_per_page = 15  # UI.md, "Lists"
    # SPEC OPS-3: no COUNT(*) of the whole table beside the filtered one on every page (150,000 vouchers
    # and batches a year); the search bar offers 显示全部 instead of the total.
    show_full_result_count = False
    change_list_template = "admin/enrollment/base_change_list.html"
    list_note = ""  # one line above the list saying what it holds

    def get_list_note(self, request) -> str:
        return self.list_note

    def get_object(self, request, object_id, from_field=None):
        # The admin would redirect to its index for a missing object; answer as every other page does.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"没有找到该{self.opts.verbose_name}。")
        return obj

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        # For the footer UI.md asks for: 显示第 1 到第 15 条记录，总共 N 条记录.
        changelist.first_row = (changelist.page_num - 1) * changelist.list_per_page + 1 if rows else 0
        changelist.last_row = changelist.first_row + len(rows) - 1 if rows else 0
        return changelist

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **PAGE_CONTEXT,
            "title": self.opts.verbose_name_plural,
            "list_note": self.get_list_note(request),
            **(extra_context or {}),
        }
        return with_page_styles(super().changelist_view(request, extra_context))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**PAGE_CONTEXT, **(extra_context or {})}
        return with_page_styles(super().changeform_view(request, object_id, form_url, extra_context))

    def _permission(self, action: str) -> str:
        return f"{self.opts.app_label}.{action}_{self.opts.model_name}"

    def _change_url(self, obj) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk], current_app=self.admin_site.name)

    def _changelist_url(self, request) -> str:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist", current_app=self.admin_site.name)
        preserved = request.GET.get("_changelist_filters")
        return f"{url}?{preserved}" if preserved else url

    def _with_filters(self, request, url: str) -> str:
        preserved = self.get_preserved_filters(request)
        return f"{url}?{preserved}" if preserved else url


@dataclass(frozen=True)
class Decided:
    """What a review decision did: the message shown to the reviewer and, if it differs, the one
    written to the object's history."""

    message: str
    log: str = ""


class ReadOnlyAdmin(BackOfficeAdmin):
    """A back-office list and page nobody adds to, changes or deletes from through the admin's forms:
    what changes goes through the page's own buttons and their services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReviewPageAdmin(AssignmentAdminMixin, ReadOnlyAdmin):
    """What every review page shares (SPEC BO-1): the decision needs the model's change permission,
    its views are `<object>/<action>/` URLs named admin:<app>_<model>_<action>, and the object's
    attachments are served only through its own page (another object's attachment id answers 404)."""

    review_actions = ("approve", "reject")
    serves_attachments = True
    actions = None

    def may_review(self, request) -> bool:
        return request.user.has_perm(self._permission("change"))

    def page_paths(self, wrap) -> list:
        """Further views of a review page (e.g. a receipt's PDF), wrapped with `wrap`."""
        return []

    def get_urls(self):
        wrap = self.admin_site.admin_view  # staff only, CSRF-checked, never cached
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        paths = [
            path(f"<path:object_id>/{action}/", wrap(getattr(self, f"{action}_view")), name=f"{prefix}_{action}")
            for action in self.review_actions
        ]
        if self.serves_attachments:
            paths.append(
                path("<path:object_id>/attachments/<int:attachment_id>/", wrap(self.attachment_view), name=f"{prefix}_attachment")
            )
        return paths + self.page_paths(wrap) + super().get_urls()

    def _url(self, action: str, obj, *extra) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{action}", args=[obj.pk, *extra],
            current_app=self.admin_site.name,
        )

    def _reviewable(self, request, object_id):
        if not self.may_review(request):
            raise PermissionDenied
        return self.get_object(request, unquote(object_id))

    def _back_to_page(self, request, obj):
        return redirect(self._with_filters(request, self._change_url(obj)))

    def attachment_view(self, request, object_id, attachment_id):
        obj = self.get_object(request, unquote(object_id))  # 403 without the view permission
        attachment = get_object_or_404(attachments_of(obj), pk=attachment_id)
        return attachment_response(attachment, download=request.GET.get("download") == "1")

    # --- 【审核通过】 / 【审核不通过】: each page says what its decision does ---------------------------

    # The domain errors a decision may raise; their message goes back to the page.
    decision_errors: tuple[type[Exception], ...] = (EnrollmentError,)

    def approve_decision(self, request, obj) -> "Decided | HttpResponse":  # pragma: no cover - each page defines it
        raise NotImplementedError

    def reject_decision(self, request, obj, reason: str) -> "Decided | HttpResponse":  # pragma: no cover
        raise NotImplementedError

    def approve_view(self, request, object_id):
        return self._decision_view(request, object_id, self.approve_decision)

    def reject_view(self, request, object_id):
        reason = request.POST.get("reason", "")
        return self._decision_view(request, object_id, lambda request, obj: self.reject_decision(request, obj, reason))

    def _decision_view(self, request, object_id, decide):
        """POST only (the confirmation is the dialog on the page); refused while another reviewer holds
        the item; a domain error goes back to the page; a decision returns what to say (Decided), or a
        response of its own when it found the item decided already (a double click, a second reviewer)."""
        obj = self._reviewable(request, object_id)
        if request.method != "POST":
            return self._back_to_page(request, obj)
        if refusal := self.assignment_refusal(request, obj):  # another reviewer holds it (assignments.py)
            messages.error(request, refusal)
            return self._back_to_page(request, obj)
        try:
            decided = decide(request, obj)
        except self.decision_errors as error:
            messages.error(request, error.message)
            return self._back_to_page(request, obj)
        self.assignment_decided(obj)
        if isinstance(decided, HttpResponse):
            return decided
        self.log_change(request, obj, decided.log or decided.message)
        messages.success(request, decided.message)
        return redirect(self._changelist_url(request))


class OverdueFilter(admin.SimpleListFilter):
    """审核期限 → 已超期 (SPEC BO-1, YEAR-3): the pending items past their working-day deadline. Each
    queue subclasses it with `overdue_items`, a function giving the queryset of its overdue items."""

    title = "审核期限"
    parameter_name = "overdue"

    @staticmethod
    def overdue_items():
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [("yes", "已超期")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        return queryset.filter(pk__in=self.overdue_items().values("pk"))


@dataclass(frozen=True)
class QueueLine:
    """One line of the 待办 panel: a queue, the link to its pending items and their counts.

    `mine`, `unassigned` and `oldest` (enrollment.assignments.queue_figures) depend on who looks and
    on the clock, so a line is equal to another by its queue's figures alone (compare=False)."""

    label: str
    url: str
    count: int
    overdue: int | None  # None: the queue has no deadline to be past
    overdue_url: str = ""
    mine: int | None = field(default=None, compare=False)  # None: the queue is not assignable
    unassigned: int | None = field(default=None, compare=False)
    oldest: dt.datetime | None = field(default=None, compare=False)  # since when the oldest item waits

    @property
    def mine_url(self) -> str:
        return with_assignment(self.url, MINE)

    @property
    def unassigned_url(self) -> str:
        return with_assignment(self.url, UNASSIGNED)



def batch_badge(batch) -> str:
    """The portal's badge colour of the state (UI.md), in the back office's badge classes."""
    colour = STATE_BADGES[batch.state].removeprefix("badge-state-")
    return format_html('<span class="state-badge state-{}">{}</span>', colour, batch.get_state_display())
