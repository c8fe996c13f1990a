"""The rules of 清册校验 (SPEC VAL, ROS-5, BAT-4): one small function per rule, each with its SPEC id.

Every rule reads its numbers from the batch's coverage year (SPEC YEAR-1: age limits, the headcount
tolerance, the SS ratio band, the small-unit threshold) and works set-based on the whole roster: a
handful of aggregate queries whatever the roster's size, never a query per person (STYLE.md §6).

`validate_roster` runs them all and returns a `ValidationOutcome`: counts and the VAL-3 / VAL-4 tables,
which rosters.validation stores as ValidationRun.findings (`as_json`). The outcome holds no lists of
people: the result page lists them live with the same querysets (`retired_entries`,
`over_age_entries`, `unmatched_entries`), so a removed person simply disappears and ticks show at once.

A finding is blocking when the unit must still act before 【清册提交】 (SPEC BAT-4): retired people
present (VAL-1), over-age people without 社保 or not ticked (VAL-2), unmatched people not confirmed
(VAL-5), open name mismatches (ROS-5), a required attachment missing (VAL-6) — and an empty roster.

Percentages (VAL-3, VAL-4) are truncated to two places, as the handbook's screens show them
(1 / 1300 → 0.07 %, 1 / 6207 → 0.01 %, 2 / 7507 → 0.02 %: 0.0769, 0.0161, 0.0266 cut, not rounded),
and judged as shown, so a page never shows a number inside the band next to a failing result.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.db import connection
from django.db.models import Count, Q, QuerySet

from enrollment.models import Batch
from enrollment.states import HOLDING_STATES
from mutualaid.attachments import attachments_of

from .models import EnrolmentRegistry, PreviousEnrolment, RosterEntry, Sex, SsUnit, WorkStatus
from .selectors import roster_over_age_born_by, roster_over_age_q, roster_reference_date

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def _percent(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator in %, truncated to two places (the handbook's display); None for /0."""
    if not denominator:
        return None
    return (Decimal(numerator) * HUNDRED / Decimal(denominator)).quantize(CENT, rounding=ROUND_DOWN)


# --- VAL-6 attachment kinds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentKind:
    """A type of the 【上传附件】 drop-down; `value` is what Attachment.kind stores (the label itself,
    readable in the back office), `help_text` the handbook's 使用情况."""

    value: str
    help_text: str

    @property
    def label(self) -> str:
        return self.value


# SPEC VAL-6: the continuing unit outside the band uploads this one.
KIND_SITUATION = AttachmentKind("情况说明（加盖公章）", "续保单位社保比例小于75%或大于100%时上传，须加盖单位公章")
# SPEC VAL-6: a new unit always uploads one of the two forms (one type: the handbook offers one slot).
KIND_SS_FORM = AttachmentKind(
    "《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》",
    "新参保单位无论社保比例是否在75%~100%之间均须上传，须显示社保缴费总人数",
)
ATTACHMENT_KINDS: tuple[AttachmentKind, ...] = (
    KIND_SITUATION,
    KIND_SS_FORM,
    AttachmentKind("退工单 / 人员转出核定表", "系统中的社保关系仍在本单位，实际已离职"),
    AttachmentKind(
        "劳务派遣、人事代理单位开具的情况说明",
        "单位中有劳务派遣人员，劳务派遣、人事代理单位开具的情况说明请写明人员明细",
    ),
    AttachmentKind("任命书", "社保关系在其他单位，实际在本单位任职"),
    AttachmentKind("人员转入核定表", "系统内的社保关系还未转入本单位，实际社保关系已转入本单位"),
)


def attachment_kind_choices() -> list[tuple[str, str]]:
    """(value, label) pairs for the attachment component's type drop-down (includes/attachments.html)."""
    return [(kind.value, kind.label) for kind in ATTACHMENT_KINDS]


# --- Findings -----------------------------------------------------------------------------------------


@dataclass
class RetiredFinding:
    """SPEC VAL-1."""

    count: int = 0


@dataclass
class OverAgeFinding:
    """SPEC VAL-2: 在职超龄 (retired people are VAL-1's). `without_social_security` must be removed;
    `unticked` have 社保 but 社保尚在缴金 is not ticked yet."""

    total: int = 0
    without_social_security: int = 0
    unticked: int = 0


@dataclass
class HeadcountFinding:
    """SPEC VAL-3: (last − this) / last within ±tolerance_percent. `new_unit`: no enrolment of the
    code in the previous year (last = 0, percent None, not within the band)."""

    last: int = 0
    this: int = 0
    percent: Decimal | None = None
    within_band: bool = False
    new_unit: bool = True
    tolerance_percent: Decimal = Decimal("10.00")


@dataclass
class RatioRow:
    """One row of 每个单位社保比例校验结果 (SPEC VAL-4). `paying_headcount` None: the code is not in the
    year's SS unit codes (REF-2)."""

    code: str
    unit_name: str
    people: int
    paying_headcount: int | None
    percent: Decimal | None


@dataclass
class RatioFinding:
    """SPEC VAL-4: 拟参保人数 (people matched to an SS unit code) / 社保编码的缴费人数之和. `applies` when
    VAL-3 is outside its band or the unit is new; `small_unit`: the code enrols ≤ threshold people
    this year, so every SS unit code must be at exactly 100 %."""

    applies: bool = False
    people: int = 0
    paying_headcount: int = 0
    percent: Decimal | None = None
    passes: bool = False
    small_unit: bool = False
    min_percent: Decimal = Decimal("75.00")
    max_percent: Decimal = Decimal("100.00")
    rows: list[RatioRow] = field(default_factory=list)


@dataclass
class UnmatchedFinding:
    """SPEC VAL-5: 无单位社保编码 — people without an SS unit code (retired ones are VAL-1's)."""

    total: int = 0
    unconfirmed: int = 0


@dataclass
class NameMismatchFinding:
    """SPEC ROS-5: 姓名匹配异常 not confirmed yet."""

    count: int = 0


@dataclass
class AttachmentFinding:
    """SPEC VAL-6: the kinds (AttachmentKind.value) required, those of them missing, and every kind
    uploaded (one entry per kind)."""

    required: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)


@dataclass
class ExtraFinding:
    """A finding of a rule another app hooks in (EXTRA_RULES), e.g. PLAN-3. `blocking_reason` empty
    means the finding is shown but does not block."""

    rule: str
    title: str
    count: int = 0
    blocking_reason: str = ""


# Rules other apps append (SPEC PLAN-3: people without any basic item in a locked instant
# batch): functions (batch, on) → ExtraFinding or None. This app never imports plans (ARCHITECTURE.md).
EXTRA_RULES: list[Callable[[Batch, dt.date], ExtraFinding | None]] = []


# --- The rules ----------------------------------------------------------------------------------------


# The people each finding is about, as conditions on a batch's entries: the lists below and the one
# aggregate of roster_findings (清册校验结果's live counts) read the same definitions.
RETIRED_Q = Q(work_status=WorkStatus.RETIRED)
NOT_RETIRED_Q = ~RETIRED_Q
UNMATCHED_Q = Q(ss_unit_code="") & NOT_RETIRED_Q
NAME_MISMATCH_Q = Q(name_mismatch=True)


def _over_age_q(batch: Batch, on: dt.date | None) -> Q:
    return roster_over_age_q(batch=batch, on=on) & NOT_RETIRED_Q


def retired_entries(batch: Batch) -> QuerySet[RosterEntry]:
    """SPEC VAL-1, ROS-12: the retired people (职退状态 退休), to be removed; in the order added."""
    return RosterEntry.objects.filter(RETIRED_Q, batch=batch).order_by("pk")



def over_age_entries(batch: Batch, on: dt.date | None = None) -> QuerySet[RosterEntry]:
    """SPEC VAL-2: 在职超龄 — people at or over the year's age limit on `on` (default: the batch's
    reference date, rosters.selectors.roster_reference_date), retired ones excepted (VAL-1 lists them)."""
    return RosterEntry.objects.filter(_over_age_q(batch, on), batch=batch).order_by("pk")



@dataclass
class RosterFindings:
    """The counts of VAL-1, VAL-2, VAL-5 and ROS-5 with the roster's size, from one aggregate."""

    total: int
    retired: RetiredFinding
    over_age: OverAgeFinding
    unmatched: UnmatchedFinding
    name_mismatches: NameMismatchFinding


def _findings_sql() -> str:
    """roster_findings' statement: RETIRED_Q, NOT_RETIRED_Q, UNMATCHED_Q, NAME_MISMATCH_Q and
    roster_over_age_q written out once in SQL, per row in the inner query and counted in the outer one."""
    table = RosterEntry._meta.db_table
    return f"""
        SELECT COUNT(*), COUNT(*) FILTER (WHERE retired), COUNT(*) FILTER (WHERE over_age),
               COUNT(*) FILTER (WHERE over_age AND NOT has_social_security),
               COUNT(*) FILTER (WHERE over_age AND has_social_security AND NOT still_contributing),
               COUNT(*) FILTER (WHERE unmatched), COUNT(*) FILTER (WHERE unmatched AND NOT unmatched_confirmed),
               COUNT(*) FILTER (WHERE name_mismatch)
        FROM (
            SELECT work_status = %(retired)s AS retired,
                   work_status <> %(retired)s AND ((sex = %(female)s AND birth_date <= %(female_born_by)s)
                                                   OR (sex = %(male)s AND birth_date <= %(male_born_by)s)) AS over_age,
                   work_status <> %(retired)s AND ss_unit_code = '' AS unmatched,
                   has_social_security, still_contributing, unmatched_confirmed, name_mismatch
            FROM {table} WHERE batch_id = %(batch)s
        ) AS entry"""


def roster_findings(*, batch: Batch, on: dt.date | None = None) -> RosterFindings:
    """SPEC VAL-1, VAL-2, VAL-5, ROS-5 in one pass over the batch's entries (one query: 清册校验结果 reads
    them again on every view, SPEC BAT-4).

    Written in SQL (SPEC OPS-3), as enrollment.selectors.account_first_code: Django compiling the same
    aggregate of eight filtered counts cost 5 ms of CPU a view, ten times what PostgreSQL needs to answer
    it. The conditions are the lists' (retired_entries, over_age_entries, unmatched_entries, the name
    mismatches); tests/rosters/test_findings.py compares the two on every combination."""
    born_by = roster_over_age_born_by(batch=batch, on=on)
    adapt = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _findings_sql(),
            {
                "batch": batch.pk, "retired": WorkStatus.RETIRED.value, "female": Sex.FEMALE.value,
                "male": Sex.MALE.value, "female_born_by": adapt(born_by[Sex.FEMALE]), "male_born_by": adapt(born_by[Sex.MALE]),
            },
        )
        total, retired, over_age, without, unticked, unmatched, unconfirmed, mismatches = cursor.fetchone()
    return RosterFindings(
        total=total,
        retired=RetiredFinding(count=retired),
        over_age=OverAgeFinding(total=over_age, without_social_security=without, unticked=unticked),
        unmatched=UnmatchedFinding(total=unmatched, unconfirmed=unconfirmed),
        name_mismatches=NameMismatchFinding(count=mismatches),
    )


def _held_elsewhere_q(batch: Batch) -> Q:
    """The code's other batches of the year that hold their people (SPEC ROS-11: submitted, neither
    withdrawn nor cancelled), e.g. the centralised batch when an instant one is validated."""
    return Q(code_id=batch.code_id, coverage_year_id=batch.coverage_year_id, state__in=HOLDING_STATES) & ~Q(pk=batch.pk)


def _held_elsewhere(batch: Batch) -> QuerySet[Batch]:
    return Batch.objects.filter(_held_elsewhere_q(batch)).values("pk")


def check_headcount(*, batch: Batch, batch_count: int) -> HeadcountFinding:
    """SPEC VAL-3 over the code's whole year: last year's count is the code's previous-year enrolment
    (PreviousEnrolment of year − 1); this year's is the people the code's other batches hold in the
    year's registry plus `batch_count` (this batch's people), so a later instant batch is judged with
    the centralised one. Within ±tolerance inclusive. No previous year: a new unit (VAL-4 applies)."""
    year = batch.coverage_year
    last = PreviousEnrolment.objects.filter(year=year.year - 1, code=batch.code.code).count()
    held = EnrolmentRegistry.objects.filter(year=year.year, batch__in=_held_elsewhere(batch)).count()
    this = held + batch_count
    tolerance = Decimal(year.headcount_change_percent).quantize(CENT)
    if not last:
        return HeadcountFinding(last=0, this=this, percent=None, within_band=False, new_unit=True, tolerance_percent=tolerance)
    percent = _percent(last - this, last)
    return HeadcountFinding(
        last=last, this=this, percent=percent, within_band=abs(percent) <= tolerance, new_unit=False,
        tolerance_percent=tolerance,
    )


def check_ratio(*, batch: Batch, headcount: HeadcountFinding) -> RatioFinding:
    """SPEC VAL-4 by enrollment code: the people of this batch and of the code's other held batches
    this year (as VAL-3 counts them), grouped by SS unit code; per code 拟参保人数 / 社保在职人数; in total
    the people matched to a code over the sum of those codes' paying headcounts, passing within
    [min, max] inclusive. A code enrolling ≤ small_unit_threshold people this year passes only with
    every SS unit code at exactly 100 %. Computed always (the tab shows it); applied when VAL-3 is
    outside its band or the unit is new."""
    year = batch.coverage_year
    # One set of batch ids (this one and the held ones), not an OR of two conditions: the entries are
    # then read through their (batch, ss_unit_code) index instead of a scan of every roster.
    batches = Batch.objects.filter(Q(pk=batch.pk) | _held_elsewhere_q(batch)).values("pk")
    matched = RosterEntry.objects.filter(batch__in=batches).exclude(ss_unit_code="")
    per_code = dict(matched.values_list("ss_unit_code").annotate(people=Count("pk")).order_by())
    # The codes just counted, as a list: the SS units are looked up by them without grouping the
    # entries a second time in a subquery (and not at all when no one has a code).
    units = {}
    if per_code:
        units = {
            code: (unit_name, paying)
            for code, unit_name, paying in SsUnit.objects.filter(year=year.year, code__in=list(per_code)).values_list(
                "code", "unit_name", "paying_headcount"
            )
        }
    rows = []
    for code, people in per_code.items():
        unit_name, paying = units.get(code, ("", None))
        rows.append(RatioRow(code=code, unit_name=unit_name, people=people, paying_headcount=paying, percent=_percent(people, paying or 0)))
    rows.sort(key=lambda row: (-row.people, row.code))
    people = sum(per_code.values())
    paying_total = sum(row.paying_headcount or 0 for row in rows)
    percent = _percent(people, paying_total)
    low, high = Decimal(year.ss_ratio_min_percent).quantize(CENT), Decimal(year.ss_ratio_max_percent).quantize(CENT)
    small_unit = headcount.this <= year.small_unit_threshold
    if small_unit:
        passes = bool(rows) and all(row.percent == HUNDRED for row in rows)
    else:
        passes = percent is not None and low <= percent <= high
    return RatioFinding(
        applies=headcount.new_unit or not headcount.within_band,
        people=people,
        paying_headcount=paying_total,
        percent=percent,
        passes=passes,
        small_unit=small_unit,
        min_percent=low,
        max_percent=high,
        rows=rows,
    )


def unmatched_entries(batch: Batch) -> QuerySet[RosterEntry]:
    """SPEC VAL-5: 无单位社保编码 — people without an SS unit code (not found in the suggested roster, or
    found without a code), retired ones excepted (VAL-1 lists them); in the order added."""
    return RosterEntry.objects.filter(UNMATCHED_Q, batch=batch).order_by("pk")




def check_attachments(
    *, batch: Batch, headcount: HeadcountFinding, ratio: RatioFinding, attachments: list | None = None
) -> AttachmentFinding:
    """SPEC VAL-6: a new unit always uploads 《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》,
    whatever its ratio; a continuing unit outside the VAL-3 band whose VAL-4 ratio fails uploads
    情况说明（加盖公章）. Which of them are missing among the batch's attachments (Attachment.kind).
    `attachments`: the batch's attachments (list(attachments_of(batch))) when the caller has read them
    already (清册校验结果 lists them); otherwise their kinds are read here."""
    required = []
    if headcount.new_unit:
        required.append(KIND_SS_FORM.value)
    elif ratio.applies and not ratio.passes:
        required.append(KIND_SITUATION.value)
    if attachments is None:
        kinds = attachments_of(batch).values_list("kind", flat=True)
    else:
        kinds = [attachment.kind for attachment in attachments]
    uploaded = list(dict.fromkeys(kinds))
    return AttachmentFinding(required=required, missing=[kind for kind in required if kind not in uploaded], uploaded=uploaded)


# --- The outcome --------------------------------------------------------------------------------------


@dataclass
class ValidationOutcome:
    """Everything one 清册校验 found (SPEC VAL), as ValidationRun.findings stores it (`as_json`)."""

    reference_date: dt.date
    total: int
    retired: RetiredFinding
    over_age: OverAgeFinding
    headcount: HeadcountFinding
    ratio: RatioFinding
    unmatched: UnmatchedFinding
    name_mismatches: NameMismatchFinding
    attachments: AttachmentFinding
    extra: list[ExtraFinding] = field(default_factory=list)
    blocking_reasons: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """Must the unit still act before 【清册提交】 (SPEC BAT-4)?"""
        return bool(self.blocking_reasons)

    @property
    def needs_review(self) -> bool:
        """Attachments are required (VAL-4 outside the band for a continuing unit, or a new unit), so
        清册提交 leads to 职保会待审核 instead of 清册校验通过 (SPEC BAT-4, VAL-6)."""
        return bool(self.attachments.required)

    def as_json(self) -> dict:
        """A JSON-safe dict: Decimals as strings ("65.00"), the date as ISO text."""
        return _jsonable(asdict(self))

    @classmethod
    def from_json(cls, data: dict) -> ValidationOutcome:
        ratio = dict(data["ratio"])
        ratio["rows"] = [
            RatioRow(**{**row, "percent": _decimal(row["percent"])}) for row in ratio.get("rows", [])
        ]
        for key in ("percent", "min_percent", "max_percent"):
            ratio[key] = _decimal(ratio[key])
        headcount = dict(data["headcount"])
        headcount["percent"] = _decimal(headcount["percent"])
        headcount["tolerance_percent"] = _decimal(headcount["tolerance_percent"])
        return cls(
            reference_date=dt.date.fromisoformat(data["reference_date"]),
            total=data["total"],
            retired=RetiredFinding(**data["retired"]),
            over_age=OverAgeFinding(**data["over_age"]),
            headcount=HeadcountFinding(**headcount),
            ratio=RatioFinding(**ratio),
            unmatched=UnmatchedFinding(**data["unmatched"]),
            name_mismatches=NameMismatchFinding(**data["name_mismatches"]),
            attachments=AttachmentFinding(**data["attachments"]),
            extra=[ExtraFinding(**item) for item in data.get("extra", [])],
            blocking_reasons=list(data.get("blocking_reasons", [])),
        )


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def retired_reason(count: int) -> str:
    """SPEC VAL-1, ROS-12: the blocking reason while retired people are in the roster."""
    return f"有{count}位退休人员不能参保，请移除"


def blocking_reasons_of(outcome: ValidationOutcome) -> list[str]:
    """The Chinese sentences of everything the unit must still do (SPEC BAT-4), in the page's order."""
    if not outcome.total:  # nothing else to say about an empty roster
        return ["参保清册中没有人员，请先添加参保人员"]
    reasons = []
    if outcome.retired.count:  # SPEC VAL-1, ROS-12 (the list above the tabs has the handbook's heading)
        reasons.append(retired_reason(outcome.retired.count))
    if outcome.over_age.without_social_security:  # SPEC VAL-2
        reasons.append(f"有{outcome.over_age.without_social_security}位在职超龄人员无社保，请移除")
    if outcome.over_age.unticked:
        reasons.append(f"在职超龄人员须勾选“社保尚在缴金”或移除（{outcome.over_age.unticked}人未勾选）")
    if outcome.unmatched.unconfirmed:  # SPEC VAL-5
        reasons.append(f"无单位社保编码人员尚未确认（{outcome.unmatched.unconfirmed}人），请点击【人员确认】")
    if outcome.name_mismatches.count:  # SPEC ROS-5
        reasons.append(f"姓名匹配异常，请人工确认（{outcome.name_mismatches.count}人）")
    for kind in outcome.attachments.missing:  # SPEC VAL-6
        reasons.append(f"请上传附件：{kind}")
    reasons.extend(finding.blocking_reason for finding in outcome.extra if finding.blocking_reason)
    return reasons


# The steps validate_roster reports progress after (the EXTRA_RULES come on top).
RULE_STEPS = ("VAL-1", "VAL-2", "VAL-3", "VAL-4", "VAL-5", "ROS-5", "VAL-6")


def validation_steps_total() -> int:
    """How many progress steps validate_roster reports (ValidationRun.steps_total)."""
    return len(RULE_STEPS) + len(EXTRA_RULES)


def validate_roster(
    *, batch: Batch, on: dt.date | None = None, progress: Callable[[int, int], None] | None = None
) -> ValidationOutcome:
    """Run every rule on the batch's current roster (SPEC VAL, ROS-5, BAT-4) and return the outcome.

    `on` is the day ages are counted on (SPEC VAL-2): by default rosters.selectors.roster_reference_date
    (07-01 for a centralised batch, tomorrow for an instant one); 清册提交 passes the real start date.
    `progress(step, total)` is called after each rule. Reads only; about a dozen queries whatever the
    roster's size."""
    on = on or roster_reference_date(batch=batch)
    total_steps = validation_steps_total()
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total_steps)

    counts = roster_findings(batch=batch, on=on)  # VAL-1, VAL-2, VAL-5, ROS-5
    step()
    step()
    batch_count = counts.total
    headcount = check_headcount(batch=batch, batch_count=batch_count)
    step()
    ratio = check_ratio(batch=batch, headcount=headcount)
    step()
    step()
    step()
    attachments = check_attachments(batch=batch, headcount=headcount, ratio=ratio)
    step()
    extra = []
    for rule in EXTRA_RULES:
        finding = rule(batch, on)
        if finding is not None:
            extra.append(finding)
        step()
    outcome = ValidationOutcome(
        reference_date=on,
        total=batch_count,
        retired=counts.retired,
        over_age=counts.over_age,
        headcount=headcount,
        ratio=ratio,
        unmatched=counts.unmatched,
        name_mismatches=counts.name_mismatches,
        attachments=attachments,
        extra=extra,
    )
    outcome.blocking_reasons = blocking_reasons_of(outcome)
    return outcome
