"""The rules of 清册校验 (SPEC VAL-1…VAL-6, ROS-5, BAT-4), each at its boundaries.

The handbook's 2023 year (handbook_year): coverage from 2023-07-01, women under 55 and men under 60,
headcount change ±10 %, SS ratio 75 %–100 %, small units ≤ 10 people at exactly 100 %.
"""
import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from enrollment.models import Batch
from enrollment.states import BatchKind, BatchState
from mutualaid.models import Attachment
from rosters import rules
from rosters.models import EnrolmentRegistry, RosterEntry, Sex, SsUnit, WorkStatus
from rosters.rules import (
    ATTACHMENT_KINDS,
    KIND_SITUATION,
    KIND_SS_FORM,
    ExtraFinding,
    ValidationOutcome,
    attachment_kind_choices,
    over_age_entries,
    retired_entries,
    unmatched_entries,
    validate_roster,
)
from tests.factories import SHANGHAI, make_batch
from tests.rosters.validation_data import add_people, attach, enrolled_last_year, ss_unit

pytestmark = pytest.mark.django_db

START = dt.date(2023, 7, 1)  # the handbook year's coverage start (SPEC VAL-2 reference date, centralised)


def hold_all(batch):
    """`batch` was submitted: its people are held in the year's registry (SPEC ROS-11)."""
    Batch.objects.filter(pk=batch.pk).update(state=BatchState.ROSTER_APPROVED)
    EnrolmentRegistry.objects.bulk_create(
        EnrolmentRegistry(year=batch.coverage_year.year, id_hash=entry.id_hash, batch=batch)
        for entry in RosterEntry.objects.filter(batch=batch)
    )


@pytest.fixture
def batch(handbook_year):
    return make_batch(year=handbook_year)


@pytest.fixture
def continuing(batch):
    """A unit that enrolled 100 people last year, with its SS unit code of 100 paying people."""
    enrolled_last_year(batch, 100)
    ss_unit(batch, "00108537", 100)
    return batch


# --- VAL-1 retired ------------------------------------------------------------------------------------


def test_val1_retired_people_are_counted_listed_and_block(continuing):
    add_people(continuing, 98)
    retired = add_people(continuing, 2, work_status=WorkStatus.RETIRED)
    outcome = validate_roster(batch=continuing)
    assert outcome.retired.count == 2
    assert list(retired_entries(continuing)) == retired
    assert outcome.blocking_reasons == ["有2位退休人员不能参保，请移除"]
    assert outcome.blocking


def test_val1_retired_people_are_not_listed_again_as_over_age_or_unmatched(continuing):
    add_people(continuing, 100)
    add_people(continuing, 1, work_status=WorkStatus.RETIRED, birth_date=dt.date(1950, 1, 1), ss_unit_code="")
    outcome = validate_roster(batch=continuing)
    assert (outcome.retired.count, outcome.over_age.total, outcome.unmatched.total) == (1, 0, 0)


# --- VAL-2 age limit ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "birth_date", "over"),
    [
        (Sex.FEMALE, dt.date(1968, 7, 1), True),  # exactly 55 on 2023-07-01
        (Sex.FEMALE, dt.date(1968, 7, 2), False),  # 55 the day after the start: still 54
        (Sex.MALE, dt.date(1963, 7, 1), True),  # exactly 60
        (Sex.MALE, dt.date(1963, 7, 2), False),
        (Sex.MALE, dt.date(1968, 7, 1), False),  # a man of 55 is under his limit
    ],
)
def test_val2_age_in_whole_years_on_the_coverage_start(continuing, sex, birth_date, over):
    # SPEC VAL-2: women under 55 and men under 60 on 07-01 for a centralised batch.
    [person] = add_people(continuing, 1, sex=sex, birth_date=birth_date, still_contributing=False)
    outcome = validate_roster(batch=continuing)
    assert outcome.reference_date == START
    assert outcome.over_age.total == int(over)
    assert (person in over_age_entries(continuing)) is over


def test_val2_the_limits_come_from_the_coverage_year(continuing, handbook_year):
    add_people(continuing, 1, sex=Sex.FEMALE, birth_date=dt.date(1968, 7, 1))
    handbook_year.female_age_limit = 56
    handbook_year.save()
    continuing.refresh_from_db()
    assert validate_roster(batch=continuing).over_age.total == 0


def test_val2_over_age_without_social_security_must_go_and_with_it_must_be_ticked(continuing):
    old = dt.date(1960, 1, 1)
    add_people(continuing, 97)
    add_people(continuing, 1, birth_date=old, has_social_security=False, ss_unit_code="", unmatched_confirmed=True)
    unticked = add_people(continuing, 1, birth_date=old)
    add_people(continuing, 1, birth_date=old, still_contributing=True)
    outcome = validate_roster(batch=continuing)
    assert (outcome.over_age.total, outcome.over_age.without_social_security, outcome.over_age.unticked) == (3, 1, 1)
    assert outcome.blocking_reasons == [
        "有1位在职超龄人员无社保，请移除",
        "在职超龄人员须勾选“社保尚在缴金”或移除（1人未勾选）",
    ]
    # Ticking the last one leaves only the person without 社保 to remove.
    RosterEntry.objects.filter(pk=unticked[0].pk).update(still_contributing=True)
    assert validate_roster(batch=continuing).blocking_reasons == ["有1位在职超龄人员无社保，请移除"]


def test_val2_an_instant_batch_is_judged_on_tomorrow_and_again_on_its_real_start(handbook_year):
    # SPEC VAL-2 [interpretation]: an instant batch counts ages on the day after the validation, and
    # 清册提交 checks again with the real start date (`on`): a man turning 60 in between is over age then.
    batch = make_batch(year=handbook_year, kind=BatchKind.INSTANT)
    enrolled_last_year(batch, 1)
    ss_unit(batch, "00108537", 1)
    add_people(batch, 1, birth_date=dt.date(1963, 9, 12))
    with time_machine.travel(dt.datetime(2023, 9, 10, 10, tzinfo=SHANGHAI)):
        validated = validate_roster(batch=batch)
    assert validated.reference_date == dt.date(2023, 9, 11)
    assert validated.over_age.total == 0 and not validated.blocking
    at_submission = validate_roster(batch=batch, on=dt.date(2023, 9, 12))
    assert at_submission.over_age.total == 1
    assert at_submission.blocking_reasons == ["在职超龄人员须勾选“社保尚在缴金”或移除（1人未勾选）"]


# --- VAL-3 headcount change ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("this_year", "percent", "within"),
    [
        (90, "10.00", True),  # −10 % exactly: inside
        (110, "-10.00", True),  # +10 % exactly: inside
        (89, "11.00", False),
        (111, "-11.00", False),
        (100, "0.00", True),
    ],
)
def test_val3_headcount_change_within_ten_percent_inclusive(continuing, this_year, percent, within):
    add_people(continuing, this_year)
    headcount = validate_roster(batch=continuing).headcount
    assert (headcount.last, headcount.this, headcount.percent) == (100, this_year, Decimal(percent))
    assert headcount.within_band is within
    assert not headcount.new_unit


def test_val3_percent_is_truncated_to_two_places_and_judged_as_shown(batch):
    enrolled_last_year(batch, 3)
    add_people(batch, 2)  # (3 − 2) / 3 = 33.333… %
    assert validate_roster(batch=batch).headcount.percent == Decimal("33.33")


def test_val3_a_code_without_previous_year_is_a_new_unit(batch):
    add_people(batch, 20)
    ss_unit(batch, "00108537", 20)
    outcome = validate_roster(batch=batch)
    assert outcome.headcount.new_unit
    assert (outcome.headcount.last, outcome.headcount.percent, outcome.headcount.within_band) == (0, None, False)
    assert outcome.ratio.applies  # SPEC VAL-3: a new unit goes to VAL-4


def test_val3_a_later_instant_batch_is_judged_with_the_centralised_one(handbook_year):
    # SPEC VAL-3 [interpretation]: this year's count = people already submitted by the code + this batch.
    centralised = make_batch(year=handbook_year)
    enrolled_last_year(centralised, 100)
    ss_unit(centralised, "00108537", 120)
    add_people(centralised, 95)
    hold_all(centralised)
    instant = make_batch(year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT)
    assert instant.code_id == centralised.code_id
    add_people(instant, 10)
    outcome = validate_roster(batch=instant)
    assert (outcome.headcount.this, outcome.headcount.percent, outcome.headcount.within_band) == (105, Decimal("-5.00"), True)
    # VAL-4 counts the held people too (105 of 120 = 87.5 %).
    assert (outcome.ratio.people, outcome.ratio.paying_headcount, outcome.ratio.percent) == (105, 120, Decimal("87.50"))


def test_val3_drafts_and_other_codes_hold_nobody(handbook_year, continuing):
    other_draft = make_batch(year=handbook_year, account=continuing.account, kind=BatchKind.INSTANT)
    add_people(other_draft, 30)  # a draft of the same code: not held (ROS-11)
    stranger = make_batch(year=handbook_year)
    add_people(stranger, 30)
    hold_all(stranger)  # another code's held people
    add_people(continuing, 100)
    assert validate_roster(batch=continuing).headcount.this == 100


def test_val3_a_resubmitted_batch_does_not_count_its_own_registry_rows_twice(continuing):
    add_people(continuing, 100)
    hold_all(continuing)
    Batch.objects.filter(pk=continuing.pk).update(state=BatchState.REVIEW_REJECTED)
    continuing.refresh_from_db()
    assert validate_roster(batch=continuing).headcount.this == 100


# --- VAL-4 SS ratio -----------------------------------------------------------------------------------


def test_val4_the_handbooks_first_example_65_percent(batch):
    # Handbook: 00106537 25 of 50 (50%), 00069277 40 of 50 (80%) → 65 100 65%.
    enrolled_last_year(batch, 200)  # far outside the band: VAL-4 applies
    ss_unit(batch, "00106537", 50)
    ss_unit(batch, "00069277", 50, "上海交通大学")
    add_people(batch, 25, ss_unit_code="00106537")
    add_people(batch, 40, ss_unit_code="00069277")
    ratio = validate_roster(batch=batch).ratio
    assert (ratio.people, ratio.paying_headcount, ratio.percent) == (65, 100, Decimal("65.00"))
    assert [(row.code, row.unit_name, row.people, row.paying_headcount, row.percent) for row in ratio.rows] == [
        ("00069277", "上海交通大学", 40, 50, Decimal("80.00")),
        ("00106537", "上海卓远人力资源发展有限公司", 25, 50, Decimal("50.00")),
    ]
    assert ratio.applies and not ratio.passes


def test_val4_the_handbooks_second_example_is_truncated_to_0_02_percent(batch):
    # Handbook: 1 of 1300 → 0.07%, 1 of 6207 → 0.01%, 2 of 7507 → 0.02% (0.0769, 0.0161, 0.0266 cut, not rounded).
    enrolled_last_year(batch, 200)
    ss_unit(batch, "00108537", 1300)
    ss_unit(batch, "00069277", 6207, "上海交通大学")
    add_people(batch, 1, ss_unit_code="00108537")
    add_people(batch, 1, ss_unit_code="00069277")
    ratio = validate_roster(batch=batch).ratio
    assert (ratio.people, ratio.paying_headcount, ratio.percent) == (2, 7507, Decimal("0.02"))
    assert {row.code: row.percent for row in ratio.rows} == {"00108537": Decimal("0.07"), "00069277": Decimal("0.01")}


@pytest.mark.parametrize(
    ("people", "paying", "passes"),
    [(15, 20, True), (14, 19, False), (20, 20, True), (21, 20, False)],  # 75 %, 73.68 %, 100 %, 105 %
)
def test_val4_the_band_is_75_to_100_percent_inclusive(batch, people, paying, passes):
    enrolled_last_year(batch, 200)
    ss_unit(batch, "00108537", paying)
    add_people(batch, people)
    outcome = validate_roster(batch=batch)
    assert outcome.ratio.passes is passes
    assert outcome.attachments.required == ([] if passes else [KIND_SITUATION.value])


def test_val4_ten_people_need_every_code_at_exactly_100_percent(batch):
    # SPEC VAL-4: ≤ 10 people → every SS unit code at 100 %; 5 of 5 and 5 of 6 is 90.9 % in total, yet fails.
    enrolled_last_year(batch, 20)
    ss_unit(batch, "00108537", 5)
    ss_unit(batch, "00069277", 6)
    add_people(batch, 5, ss_unit_code="00108537")
    add_people(batch, 5, ss_unit_code="00069277")
    ratio = validate_roster(batch=batch).ratio
    assert ratio.small_unit and ratio.percent == Decimal("90.90")
    assert not ratio.passes
    SsUnit.objects.filter(code="00069277").update(paying_headcount=5)
    assert validate_roster(batch=batch).ratio.passes


def test_val4_eleven_people_are_judged_on_the_band(batch):
    enrolled_last_year(batch, 20)
    ss_unit(batch, "00108537", 6)
    ss_unit(batch, "00069277", 6)
    add_people(batch, 6, ss_unit_code="00108537")
    add_people(batch, 5, ss_unit_code="00069277")
    ratio = validate_roster(batch=batch).ratio
    assert not ratio.small_unit
    assert ratio.percent == Decimal("91.66") and ratio.passes


def test_val4_a_small_unit_counts_the_whole_year(handbook_year):
    # 8 people held by the centralised batch + 3 now = 11: no longer a small unit.
    centralised = make_batch(year=handbook_year)
    enrolled_last_year(centralised, 30)
    ss_unit(centralised, "00108537", 12)
    add_people(centralised, 8)
    hold_all(centralised)
    instant = make_batch(year=handbook_year, account=centralised.account, kind=BatchKind.INSTANT)
    add_people(instant, 3)
    ratio = validate_roster(batch=instant).ratio
    assert not ratio.small_unit and ratio.percent == Decimal("91.66") and ratio.passes


def test_val4_unmatched_people_are_not_in_the_ratio_and_unknown_codes_count_no_paying_people(batch):
    enrolled_last_year(batch, 200)
    ss_unit(batch, "00108537", 10)
    add_people(batch, 8)
    add_people(batch, 5, ss_unit_code="", has_social_security=False, work_status=WorkStatus.UNKNOWN)
    add_people(batch, 2, ss_unit_code="99999999")  # not among the year's SS unit codes
    ratio = validate_roster(batch=batch).ratio
    assert (ratio.people, ratio.paying_headcount, ratio.percent) == (10, 10, Decimal("100.00"))
    assert ("99999999", "", 2, None, None) in [
        (row.code, row.unit_name, row.people, row.paying_headcount, row.percent) for row in ratio.rows
    ]


def test_val4_is_not_applied_inside_the_headcount_band(continuing):
    SsUnit.objects.filter(code="00108537").update(paying_headcount=1000)
    add_people(continuing, 95)
    outcome = validate_roster(batch=continuing)
    assert outcome.headcount.within_band
    assert not outcome.ratio.passes and not outcome.ratio.applies
    assert outcome.attachments.required == [] and not outcome.needs_review and not outcome.blocking


# --- VAL-6 attachments --------------------------------------------------------------------------------


def test_val6_a_continuing_unit_outside_both_bands_uploads_its_situation_statement(continuing):
    add_people(continuing, 50)  # −50 %, and 50 of 100 paying people
    outcome = validate_roster(batch=continuing)
    assert outcome.attachments.required == [KIND_SITUATION.value] == ["情况说明（加盖公章）"]
    assert outcome.attachments.missing == [KIND_SITUATION.value]
    assert outcome.blocking_reasons == ["请上传附件：情况说明（加盖公章）"]
    assert outcome.needs_review
    attach(continuing, "退工单 / 人员转出核定表")  # another type does not do
    assert validate_roster(batch=continuing).attachments.missing == [KIND_SITUATION.value]
    attach(continuing, KIND_SITUATION.value)
    outcome = validate_roster(batch=continuing)
    assert outcome.attachments.missing == [] and not outcome.blocking and outcome.needs_review
    assert outcome.attachments.uploaded == ["退工单 / 人员转出核定表", KIND_SITUATION.value]


def test_val6_a_new_unit_inside_the_ratio_band_still_uploads_its_ss_form(batch):
    ss_unit(batch, "00108537", 20)
    add_people(batch, 20)  # 100 %: passes, but the unit is new
    outcome = validate_roster(batch=batch)
    assert outcome.ratio.passes
    assert outcome.attachments.required == [KIND_SS_FORM.value]
    assert outcome.blocking_reasons == ["请上传附件：《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》"]
    attach(batch, KIND_SS_FORM.value)
    outcome = validate_roster(batch=batch)
    assert not outcome.blocking and outcome.needs_review


def test_val6_the_kinds_carry_the_handbooks_usage_texts():
    labels = [kind.label for kind in ATTACHMENT_KINDS]
    assert labels == [
        "情况说明（加盖公章）",
        "《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》",
        "退工单 / 人员转出核定表",
        "劳务派遣、人事代理单位开具的情况说明",
        "任命书",
        "人员转入核定表",
    ]
    helps = {kind.label: kind.help_text for kind in ATTACHMENT_KINDS}
    assert helps["任命书"] == "社保关系在其他单位，实际在本单位任职"
    assert helps["退工单 / 人员转出核定表"] == "系统中的社保关系仍在本单位，实际已离职"
    assert "请写明人员明细" in helps["劳务派遣、人事代理单位开具的情况说明"]
    assert attachment_kind_choices()[0] == ("情况说明（加盖公章）", "情况说明（加盖公章）")
    assert all(len(kind.value) <= Attachment._meta.get_field("kind").max_length for kind in ATTACHMENT_KINDS)


# --- VAL-5 unmatched, ROS-5 names ---------------------------------------------------------------------


def test_val5_people_without_ss_unit_code_are_confirmed_by_the_unit(continuing):
    add_people(continuing, 95)
    unmatched = add_people(continuing, 5, ss_unit_code="", has_social_security=False, work_status=WorkStatus.UNKNOWN)
    outcome = validate_roster(batch=continuing)
    assert (outcome.unmatched.total, outcome.unmatched.unconfirmed) == (5, 5)
    assert list(unmatched_entries(continuing)) == unmatched
    assert outcome.blocking_reasons == ["无单位社保编码人员尚未确认（5人），请点击【人员确认】"]
    RosterEntry.objects.filter(batch=continuing, ss_unit_code="").update(unmatched_confirmed=True)
    outcome = validate_roster(batch=continuing)
    assert (outcome.unmatched.total, outcome.unmatched.unconfirmed, outcome.blocking) == (5, 0, False)


def test_ros5_open_name_mismatches_block(continuing):
    add_people(continuing, 99)
    add_people(continuing, 1, name_mismatch=True)
    outcome = validate_roster(batch=continuing)
    assert outcome.name_mismatches.count == 1
    assert outcome.blocking_reasons == ["姓名匹配异常，请人工确认（1人）"]


def test_an_empty_roster_blocks(continuing):
    assert validate_roster(batch=continuing).blocking_reasons == ["参保清册中没有人员，请先添加参保人员"]


def test_a_clean_continuing_roster_passes_without_review(continuing):
    add_people(continuing, 100)
    outcome = validate_roster(batch=continuing)
    assert not outcome.blocking and not outcome.needs_review and outcome.blocking_reasons == []


# --- The hook, the stored form, progress, queries -----------------------------------------------------


def test_extra_rules_are_run_and_can_block(continuing, monkeypatch):
    # SPEC PLAN-3 (issue 8) appends its rule here; this app does not import plans.
    seen = []

    def no_basic_item(batch, on):
        seen.append((batch.pk, on))
        return ExtraFinding(rule="PLAN-3", title="无基本保障项目", count=2, blocking_reason="有2位人员没有基本保障项目")

    monkeypatch.setattr(rules, "EXTRA_RULES", [no_basic_item, lambda batch, on: None])
    add_people(continuing, 100)
    steps = []
    outcome = validate_roster(batch=continuing, progress=lambda done, total: steps.append((done, total)))
    assert seen == [(continuing.pk, START)]
    assert outcome.blocking_reasons == ["有2位人员没有基本保障项目"]
    assert steps == [(step, 9) for step in range(1, 10)]
    assert ValidationOutcome.from_json(outcome.as_json()).extra == outcome.extra


def test_progress_is_reported_after_each_rule(continuing):
    add_people(continuing, 100)
    steps = []
    validate_roster(batch=continuing, progress=lambda done, total: steps.append((done, total)))
    # Seven roster rules (RULE_STEPS) and the rules other apps hook in (SPEC PLAN-3 from plans).
    total = len(rules.RULE_STEPS) + len(rules.EXTRA_RULES)
    assert len(rules.RULE_STEPS) == 7 and rules.validation_steps_total() == total
    assert steps == [(step, total) for step in range(1, total + 1)]


def test_the_outcome_survives_json_with_decimals_as_strings(batch):
    enrolled_last_year(batch, 3)
    ss_unit(batch, "00108537", 1300)
    add_people(batch, 1)
    add_people(batch, 1, ss_unit_code="99999999")
    add_people(batch, 1, work_status=WorkStatus.RETIRED)
    outcome = validate_roster(batch=batch)
    stored = json.loads(json.dumps(outcome.as_json()))
    assert stored["ratio"]["percent"] == "0.23"  # 3 people of 1300 and stored["headcount"]["percent"] == "0.00"
    assert stored["ratio"]["rows"][1]["paying_headcount"] is None
    assert stored["reference_date"] == "2023-07-01"
    again = ValidationOutcome.from_json(stored)
    assert again == outcome
    assert again.blocking and again.needs_review is outcome.needs_review


def _queries(batch) -> int:
    with CaptureQueriesContext(connection) as captured:
        validate_roster(batch=Batch.objects.get(pk=batch.pk))
    return len(captured)


def test_the_query_count_does_not_depend_on_the_roster_size(handbook_year, django_assert_max_num_queries):
    small, large = make_batch(year=handbook_year), make_batch(year=handbook_year)
    for batch, size, first_code in ((small, 20, 10), (large, 500, 20)):
        enrolled_last_year(batch, size)
        for code in range(first_code, first_code + 4):
            ss_unit(batch, f"001085{code}", size)
            add_people(batch, size // 4, ss_unit_code=f"001085{code}")
        add_people(batch, size // 10, work_status=WorkStatus.RETIRED)
        add_people(batch, size // 10, birth_date=dt.date(1950, 1, 1), ss_unit_code="")
        attach(batch, KIND_SITUATION.value)
    with django_assert_max_num_queries(14):
        validate_roster(batch=Batch.objects.get(pk=small.pk))
    assert _queries(small) == _queries(large)
