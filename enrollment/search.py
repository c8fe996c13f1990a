"""The back office's search (SPEC BO-1, X-1): one box for a unit name, an enrollment code, a
batch number or a person's full ID number, at /backoffice/search/ (admin:backoffice_search).

- A resident ID (18 characters: 17 digits and a digit or X) is a person: its keyed hash is looked up
  in the year's enrolment registry (people held by a submitted batch, indexed by year and hash) and in
  the rosters of the batches that hold nobody (drafts, cancelled), never compared in clear. A 非身份证
  number cannot be told from a code or a batch number by its form, so a query of letters and digits
  that is neither an existing code nor batch number is looked up as one too.
- Every person look-up is written to the audit trail as an ACCESS event, with who and when: one entry
  on each batch found, or one on the searching account when none is. The number itself is never
  stored (neither in the trail nor in a log line); the URL carries it only in the reviewer's own
  browser history, as the roster search does.
- Anything else is a unit name (contains), an enrollment code or a batch number (exact), and finds
  参保编码, 参保批次 and 参保编码申请.

Reviewers only: union staff get 403, anonymous visitors the login (admin_view). enrollment may not import
rosters at module level (ARCHITECTURE.md, app order): the person look-up imports it inside.
"""
import re
import unicodedata
from dataclasses import dataclass, field

from auditlog.models import LogEntry
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse

from mutualaid.identifiers import canonical_id_number

from .models import Batch, CodeApplication, EnrollmentCode
from .states import HOLDING_STATES, STATE_BADGES

RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
# Passports, 港澳台 permits, foreign permanent residence cards: letters and digits, with at least one digit.
OTHER_ID = re.compile(r"(?=.*[0-9])[A-Z0-9()-]{6,24}")
LIMIT = 50  # rows per group; the reviewer narrows the query beyond that


@dataclass
class SearchResult:
    query: str
    person: bool = False  # the query was looked up as an ID number
    codes: list = field(default_factory=list)
    batches: list = field(default_factory=list)
    applications: list = field(default_factory=list)
    truncated: bool = False
    problem: str = ""  # SPEC SEC-1: why the query, meant as an ID number, was not looked up

    @property
    def empty(self) -> bool:
        return not (self.codes or self.batches or self.applications)


def may_search(user) -> bool:
    """Reviewers (and superusers): who may open codes and code applications. Union staff may not."""
    return user.has_perm("enrollment.view_enrollmentcode") and user.has_perm("enrollment.view_codeapplication")


def person_batch_ids(*, id_number: str) -> list[int]:
    """The batches whose roster holds the person with this full ID number, through its keyed hash
    (ARCHITECTURE.md: searching by 证件号码 is an exact match through the hash)."""
    from rosters.models import EnrolmentRegistry, RosterEntry  # enrollment comes before rosters
    from rosters.selectors import roster_id_hash

    id_hash = roster_id_hash(id_number)
    # The registry's unique (year, id_hash) index answers per year; there are few years.
    years = list(Batch.objects.order_by().values_list("coverage_year__year", flat=True).distinct())
    held = EnrolmentRegistry.objects.filter(year__in=years, id_hash=id_hash).values_list("batch_id", flat=True)
    not_held = RosterEntry.objects.filter(id_hash=id_hash).exclude(batch__state__in=HOLDING_STATES).values_list(
        "batch_id", flat=True
    )
    return sorted(set(held) | set(not_held))


def _audit_person_lookup(*, user, batches: list[Batch]) -> None:
    """SPEC X-1: who looked a person up, and when (the actor and time of the entry); never the number."""
    note = {"查询": "按证件号码查询", "结果": f"{len(batches)} 个参保批次"}
    for batch in batches:
        LogEntry.objects.log_create(batch, action=LogEntry.Action.ACCESS, force_log=True, additional_data=note)
    if not batches:
        LogEntry.objects.log_create(user, action=LogEntry.Action.ACCESS, force_log=True, additional_data=note)


def _looks_like_an_identifier(text: str) -> bool:
    """Digits of any script, letters and "-" only, as no unit name is: the reviewer meant an ID number
    or a code, and is told why it was refused rather than shown "not found"."""
    return all(
        char.isdigit() or char.isspace() or char == "-" or unicodedata.normalize("NFKC", char).isascii()
        for char in text
    )


def backoffice_search(*, query: str, user) -> SearchResult:
    """What the search box finds for `query` (see the module docstring); `user` is the reviewer, for
    the audit of a person look-up."""
    text = query.strip()
    result = SearchResult(query=text)
    if not text:
        return result
    number, problem = canonical_id_number(text)  # SPEC SEC-1: only a canonical number is hashed
    if problem:
        if _looks_like_an_identifier(text):
            result.problem = problem
            return result
        number = text  # a unit name: found by "contains" only; it matches no code, batch or ID
    batches = Batch.objects.select_related("coverage_year", "code").order_by("-coverage_year__year", "number")
    if RESIDENT_ID.fullmatch(number):
        result.person = True
        found = list(batches.filter(pk__in=person_batch_ids(id_number=number))[: LIMIT + 1])
        _audit_person_lookup(user=user, batches=found)
        result.batches = found
    else:
        codes = EnrollmentCode.objects.select_related("account").filter(
            Q(code=number) | Q(unit_name__contains=text) | Q(units__name__contains=text)
        ).distinct().order_by("code")
        result.codes = list(codes[: LIMIT + 1])
        result.batches = list(batches.filter(Q(number=number) | Q(code__code=number) | Q(unit_name__contains=text))[: LIMIT + 1])
        exact = any(code.code == number for code in result.codes) or any(batch.number == number for batch in result.batches)
        if not exact and OTHER_ID.fullmatch(number):
            result.person = True
            people = list(batches.filter(pk__in=person_batch_ids(id_number=number))[: LIMIT + 1])
            _audit_person_lookup(user=user, batches=people)
            known = {batch.pk for batch in result.batches}
            result.batches += [batch for batch in people if batch.pk not in known]
        result.applications = list(
            CodeApplication.objects.select_related("committee", "code")
            .filter(Q(unit_name__contains=text) | Q(uscc=number))
            .order_by("-submitted_at")[: LIMIT + 1]
        )
    result.truncated = any(len(rows) > LIMIT for rows in (result.codes, result.batches, result.applications))
    result.codes, result.batches, result.applications = result.codes[:LIMIT], result.batches[:LIMIT], result.applications[:LIMIT]
    return result


def batch_queue_links(*, batches: list[Batch], request, site=admin.site) -> dict[int, list[dict]]:
    """For each batch, the queues that hold it now (清册审核, 缴费凭证审核, 逾期未缴费批次, 专用收据审核):
    every registered queue admin says which of its waiting items concern these batches
    (AssignmentAdminMixin.pending_for_batches), so enrollment needs no import of a later app."""
    from .assignments import AssignmentAdminMixin

    links: dict[int, list[dict]] = {batch.pk: [] for batch in batches}
    if not batches:
        return links
    for model_admin in site._registry.values():
        if not isinstance(model_admin, AssignmentAdminMixin) or not model_admin.has_view_permission(request):
            continue
        opts = model_admin.opts
        for batch_id, items in model_admin.pending_for_batches(list(links)).items():
            for item in items:
                url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[item.pk], current_app=site.name)
                links[batch_id].append({"label": model_admin.queue_label(), "url": url})
    return links


def backoffice_search_view(request):
    """The page: the box, then 参保编码, 参保批次 and 参保编码申请 found."""
    if not may_search(request.user):
        raise PermissionDenied
    # The form posts, so a full ID number stays out of the address bar, the history and the access logs.
    query = request.POST.get("q", "") if request.method == "POST" else request.GET.get("q", "")
    result = backoffice_search(query=query, user=request.user) if query.strip() else SearchResult(query="")
    links = batch_queue_links(batches=result.batches, request=request)
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,
        "title": "综合查询",
        "result": result,
        "searched": bool(query.strip()),
        "batch_rows": [
            {"batch": batch, "badge": STATE_BADGES[batch.state].removeprefix("badge-state-"), "queues": links.get(batch.pk, [])}
            for batch in result.batches
        ],
        "limit": LIMIT,
    }
    return TemplateResponse(request, "admin/backoffice_search.html", context)
