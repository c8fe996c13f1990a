"""Roster row actions and reads as services (SPEC ROS-5, ROS-6, ROS-7, ROS-8, VAL-2, BAT-3, BAT-8, X-1, X-2)."""
import datetime as dt

import pytest
import time_machine

from enrollment.states import BatchKind, BatchState
from mutualaid.pii import pii_decrypt
from rosters.models import IdType, RosterEntry, Sex, WorkStatus
from rosters.errors import RosterError
from rosters.selectors import (
    OVER_AGE,
    UNDER_AGE,
    roster_entry_names,
    roster_export_rows,
    roster_over_age_q,
    roster_reference_date,
    roster_search,
)
from rosters.services import (
    roster_entries_delete,
    roster_entries_set_active,
    roster_entry_update,
    roster_names_confirm,
)
from tests.factories import SHANGHAI, make_batch, make_entry, resident_id, roster_audit_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(handbook_year):
    return make_batch(year=handbook_year)


@pytest.fixture
def actor(batch):
    return batch.account


# --- 设置在职 (SPEC ROS-8) ---------------------------------------------------------------------------


def test_set_active_makes_unknown_and_uninsured_people_active_with_social_security(batch, actor):
    # SPEC ROS-8: "-" with 社保 否 → 在职 with 社保; 在职 without 社保 too; already 在职+社保 and 退休 untouched.
    unknown = make_entry(batch, name="甲", work_status=WorkStatus.UNKNOWN)
    uninsured = make_entry(batch, name="乙", work_status=WorkStatus.ACTIVE, has_social_security=False)
    already = make_entry(batch, name="丙", work_status=WorkStatus.ACTIVE, has_social_security=True)
    retired = make_entry(batch, name="丁", work_status=WorkStatus.RETIRED, has_social_security=True)
    version = batch.roster_version

    changed = roster_entries_set_active(
        batch=batch, entry_ids=[unknown.pk, uninsured.pk, already.pk, retired.pk], acting_user=actor
    )

    assert changed == 2
    for entry in (unknown, uninsured, already):
        entry.refresh_from_db()
        assert (entry.work_status, entry.has_social_security) == (WorkStatus.ACTIVE, True)
    retired.refresh_from_db()
    assert retired.work_status == WorkStatus.RETIRED  # SPEC ROS-12: retired people are removed, not re-labelled
    batch.refresh_from_db()
    assert batch.roster_version == version  # nobody added or removed: a validation result stays current
    assert roster_audit_events(batch) == [["设置在职", "updated=2"]]  # SPEC X-2: one event with its count


def test_set_active_ignores_ids_of_another_batch(batch, actor, handbook_year):
    other = make_entry(make_batch(year=handbook_year), name="外单位")
    mine = make_entry(batch, name="本单位")

    assert roster_entries_set_active(batch=batch, entry_ids=[other.pk, mine.pk], acting_user=actor) == 1

    other.refresh_from_db()
    assert other.work_status == WorkStatus.UNKNOWN  # SPEC X-4


@pytest.mark.parametrize("state", [BatchState.IN_REVIEW, BatchState.ROSTER_APPROVED, BatchState.AWAITING_PAYMENT, BatchState.PAYMENT_REVIEW, BatchState.COMPLETED])
def test_services_refuse_a_roster_locked_by_its_state(handbook_year, state):
    # SPEC BAT-3, BAT-8: the services check the state themselves, not just the buttons.
    batch = make_batch(year=handbook_year, state=state)
    actor = batch.account
    entry = make_entry(batch, name="锁定", id_type=IdType.OTHER, name_mismatch=True, member_name="锁定甲")

    with pytest.raises(RosterError, match="参保清册不能修改"):
        roster_entries_set_active(batch=batch, entry_ids=[entry.pk], acting_user=actor)
    with pytest.raises(RosterError, match="参保清册不能修改"):
        roster_entries_delete(batch=batch, entry_ids=[entry.pk], acting_user=actor)
    with pytest.raises(RosterError, match="参保清册不能修改"):
        roster_entry_update(entry=entry, fields={"name": "改名"}, acting_user=actor)
    with pytest.raises(RosterError, match="参保清册不能修改"):
        roster_names_confirm(batch=batch, choices={entry.pk: "锁定甲"}, acting_user=actor)

    entry.refresh_from_db()
    assert (entry.name, entry.work_status, entry.name_mismatch) == ("锁定", WorkStatus.UNKNOWN, True)
    assert roster_audit_events(batch) == []


# --- 删除 (SPEC ROS-7) -------------------------------------------------------------------------------


def test_delete_bumps_the_roster_version_and_ignores_other_batches(batch, actor, handbook_year):
    other = make_entry(make_batch(year=handbook_year), name="外单位")
    first, second, kept = make_entry(batch, name="甲"), make_entry(batch, name="乙"), make_entry(batch, name="丙")

    assert roster_entries_delete(batch=batch, entry_ids=[first.pk, second.pk, other.pk], acting_user=actor) == 2

    assert list(RosterEntry.objects.filter(batch=batch)) == [kept]
    assert RosterEntry.objects.filter(pk=other.pk).exists()
    batch.refresh_from_db()
    assert batch.roster_version == 1  # people removed: a stored validation result is stale (SPEC VAL)
    assert roster_audit_events(batch) == [["删除参保人员", "removed=2"]]


# --- 编辑 (SPEC ROS-7) -------------------------------------------------------------------------------


def test_edit_changes_the_fields_of_a_non_resident_entry(batch, actor):
    entry = make_entry(batch, name="JOHN SMITH", id_type=IdType.OTHER, id_number="E12345678", birth_date=dt.date(1980, 1, 2))

    updated = roster_entry_update(
        entry=entry,
        fields={"name": "JOHN A SMITH", "birth_date": dt.date(1981, 2, 3), "sex": Sex.FEMALE, "mobile": "13900001111", "has_social_security": True},
        acting_user=actor,
    )

    entry.refresh_from_db()
    assert updated == entry
    assert (entry.name, entry.birth_date, entry.sex, entry.mobile, entry.has_social_security) == (
        "JOHN A SMITH", dt.date(1981, 2, 3), Sex.FEMALE, "13900001111", True
    )
    # SPEC ROS-8: 是否有社保 = 是 makes an unknown 职退状态 在职, as at import.
    assert entry.work_status == WorkStatus.ACTIVE
    assert (entry.id_type, pii_decrypt(entry.id_cipher)) == (IdType.OTHER, "E12345678")  # never changes
    batch.refresh_from_db()
    assert batch.roster_version == 0
    assert roster_audit_events(batch) == [["编辑参保人员", "edited=1, fields=姓名、出生日期、性别、手机号、是否有社保、职退状态"]]


def test_edit_keeps_a_retired_status(batch, actor):
    entry = make_entry(batch, id_type=IdType.OTHER, work_status=WorkStatus.RETIRED)
    roster_entry_update(entry=entry, fields={"has_social_security": True}, acting_user=actor)
    entry.refresh_from_db()
    assert entry.work_status == WorkStatus.RETIRED  # from social security (ROS-8, ROS-12)


def test_edit_of_a_resident_entry_changes_its_mobile_only(batch, actor):
    """SPEC ROS-7 [departure] (参保查询, LOOK-1): a 身份证 entry's 手机号 can be filled or changed; its
    name, birth date and sex come from the number and stay as they are."""
    resident = make_entry(batch, name="李四", work_status=WorkStatus.UNKNOWN)

    roster_entry_update(entry=resident, fields={"mobile": "13900001111"}, acting_user=actor)

    resident.refresh_from_db()
    assert resident.mobile == "13900001111" and pii_decrypt(resident.mobile_cipher) == "13900001111"
    assert (resident.name, resident.work_status) == ("李四", WorkStatus.UNKNOWN)
    batch.refresh_from_db()
    assert batch.roster_version == 0
    assert roster_audit_events(batch) == [["编辑参保人员", "edited=1, fields=手机号"]]


def test_edit_refuses_resident_id_entries_and_the_id_fields(batch, actor):
    resident = make_entry(batch, name="李四")
    other = make_entry(batch, name="PAUL", id_type=IdType.OTHER)

    for field, value in (("name", "李四四"), ("birth_date", dt.date(1990, 1, 1)), ("sex", Sex.FEMALE), ("has_social_security", True)):
        with pytest.raises(RosterError, match="身份证人员只能修改手机号"):
            roster_entry_update(entry=resident, fields={field: value, "mobile": "13900001111"}, acting_user=actor)
    for field in ("id_type", "id_number", "id_hash", "work_status"):
        with pytest.raises(RosterError, match="不能修改"):
            roster_entry_update(entry=other, fields={field: "x"}, acting_user=actor)

    resident.refresh_from_db()
    assert (resident.name, resident.mobile) == ("李四", "")
    assert roster_audit_events(batch) == []


def test_edit_without_a_change_writes_nothing(batch, actor):
    entry = make_entry(batch, name="PAUL", id_type=IdType.OTHER)
    roster_entry_update(entry=entry, fields={"name": "PAUL"}, acting_user=actor)
    assert roster_audit_events(batch) == []


# --- 姓名匹配异常 (SPEC ROS-5) -------------------------------------------------------------------------


def test_names_confirm_sets_the_chosen_name_and_closes_the_mismatch(batch, actor, handbook_year):
    wang = make_entry(batch, name="王梅", imported_name="王梅晓", member_name="王梅", name_mismatch=True)
    li = make_entry(batch, name="李雷", imported_name="李雷", previous_name="李蕾", name_mismatch=True)
    other = make_entry(make_batch(year=handbook_year), name="外", imported_name="外", member_name="外人", name_mismatch=True)

    confirmed = roster_names_confirm(
        batch=batch, choices={wang.pk: "王梅晓", li.pk: "李雷", other.pk: "外人"}, acting_user=actor
    )

    assert confirmed == 2
    wang.refresh_from_db(), li.refresh_from_db(), other.refresh_from_db()
    assert (wang.name, wang.name_mismatch) == ("王梅晓", False)
    assert (li.name, li.name_mismatch) == ("李雷", False)
    assert (other.name, other.name_mismatch) == ("外", True)  # another batch's entry: ignored
    assert roster_audit_events(batch) == [["姓名匹配确认", "confirmed=2"]]


def test_names_confirm_refuses_a_name_that_is_not_one_of_the_entry(batch, actor):
    wang = make_entry(batch, name="王梅", imported_name="王梅晓", member_name="王梅", name_mismatch=True)
    li = make_entry(batch, name="李雷", imported_name="李雷", previous_name="李蕾", name_mismatch=True)

    with pytest.raises(RosterError, match="候选姓名"):
        roster_names_confirm(batch=batch, choices={li.pk: "李蕾", wang.pk: "王小梅"}, acting_user=actor)

    li.refresh_from_db()
    assert (li.name, li.name_mismatch) == ("李雷", True)  # nothing saved


def test_entry_names_are_the_non_empty_distinct_ones(batch):
    entry = make_entry(batch, name="王梅", imported_name="王梅晓", member_name="王梅", previous_name="")
    assert roster_entry_names(entry) == ["王梅", "王梅晓"]


# --- 是否超龄 (SPEC VAL-2) ---------------------------------------------------------------------------


def test_reference_date_is_the_coverage_start_for_centralised_batches(handbook_year):
    batch = make_batch(year=handbook_year, kind=BatchKind.CENTRALISED)
    assert roster_reference_date(batch=batch) == dt.date(2023, 7, 1)


def test_reference_date_is_tomorrow_for_instant_batches(handbook_year):
    batch = make_batch(year=handbook_year, kind=BatchKind.INSTANT)
    # 23:30 in Shanghai is already the next day in UTC's terms for nobody: the local date counts.
    with time_machine.travel(dt.datetime(2023, 9, 14, 23, 30, tzinfo=SHANGHAI), tick=False):
        assert roster_reference_date(batch=batch) == dt.date(2023, 9, 15)


def _over_age_names(batch, on=None):
    over = set(RosterEntry.objects.filter(batch=batch).filter(roster_over_age_q(batch=batch, on=on)).values_list("name", flat=True))
    return over


def test_over_age_at_and_just_under_the_limits_of_both_sexes_on_the_coverage_start(handbook_year):
    # SPEC VAL-2: women under 55 and men under 60 on 2023-07-01 (centralised).
    batch = make_batch(year=handbook_year)
    make_entry(batch, name="女满55", sex=Sex.FEMALE, birth_date=dt.date(1968, 7, 1))
    make_entry(batch, name="女差一天", sex=Sex.FEMALE, birth_date=dt.date(1968, 7, 2))
    make_entry(batch, name="男满60", sex=Sex.MALE, birth_date=dt.date(1963, 7, 1))
    make_entry(batch, name="男差一天", sex=Sex.MALE, birth_date=dt.date(1963, 7, 2))
    make_entry(batch, name="男58", sex=Sex.MALE, birth_date=dt.date(1965, 1, 1))  # over for a woman, not a man

    assert _over_age_names(batch) == {"女满55", "男满60"}
    under = set(roster_search(batch=batch, over_age=UNDER_AGE).values_list("name", flat=True))
    assert under == {"女差一天", "男差一天", "男58"}
    assert set(roster_search(batch=batch, over_age=OVER_AGE).values_list("name", flat=True)) == {"女满55", "男满60"}


def test_over_age_of_instant_batches_counts_on_tomorrow(handbook_year):
    batch = make_batch(year=handbook_year, kind=BatchKind.INSTANT)
    make_entry(batch, name="明天满55", sex=Sex.FEMALE, birth_date=dt.date(1968, 9, 15))
    make_entry(batch, name="后天满55", sex=Sex.FEMALE, birth_date=dt.date(1968, 9, 16))
    with time_machine.travel(dt.datetime(2023, 9, 14, 10, 0, tzinfo=SHANGHAI), tick=False):
        assert _over_age_names(batch) == {"明天满55"}


def test_over_age_follows_the_years_limits(handbook_year):
    handbook_year.female_age_limit = 50
    handbook_year.save()
    batch = make_batch(year=handbook_year)
    make_entry(batch, name="女52", sex=Sex.FEMALE, birth_date=dt.date(1971, 1, 1))
    assert _over_age_names(batch) == {"女52"}


def test_over_age_on_29_february(handbook_year):
    # Born 28 Feb 1969: 55 on 29 Feb 2024 (the birthday has passed); born 1 Mar 1969: not yet.
    batch = make_batch(year=handbook_year)
    make_entry(batch, name="二月二十八", sex=Sex.FEMALE, birth_date=dt.date(1969, 2, 28))
    make_entry(batch, name="三月一日", sex=Sex.FEMALE, birth_date=dt.date(1969, 3, 1))
    assert _over_age_names(batch, on=dt.date(2024, 2, 29)) == {"二月二十八"}


# --- search (SPEC ROS-6) ------------------------------------------------------------------------------


def test_search_by_id_number_matches_the_hash_after_normalising(batch):
    number = resident_id(dt.date(1990, 5, 6), 123)
    if not number.endswith("X"):
        number = next(
            resident_id(dt.date(1990, 5, 6), sequence) for sequence in range(1, 999) if resident_id(dt.date(1990, 5, 6), sequence).endswith("X")
        )
    make_entry(batch, name="带X", id_number=number)
    make_entry(batch, name="护照", id_type=IdType.OTHER, id_number="EA1234567")
    make_entry(batch, name="别人")

    typed = " " + number[:17].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "x "
    assert [entry.name for entry in roster_search(batch=batch, id_number=typed)] == ["带X"]
    assert [entry.name for entry in roster_search(batch=batch, id_number="ea1234567")] == ["护照"]
    assert list(roster_search(batch=batch, id_number=number[:10])) == []  # exact match only


def test_search_by_name_ss_unit_code_and_work_status(batch):
    make_entry(batch, name="王小梅", ss_unit_code="00108537", work_status=WorkStatus.ACTIVE)
    make_entry(batch, name="王大梅", ss_unit_code="00108538", work_status=WorkStatus.RETIRED)
    make_entry(batch, name="李雷", ss_unit_code="00108537")

    assert [e.name for e in roster_search(batch=batch, name="梅")] == ["王小梅", "王大梅"]
    assert [e.name for e in roster_search(batch=batch, ss_unit_code="00108537")] == ["王小梅", "李雷"]
    assert [e.name for e in roster_search(batch=batch, work_status=WorkStatus.UNKNOWN)] == ["李雷"]
    assert [e.name for e in roster_search(batch=batch, name="梅", work_status=WorkStatus.RETIRED)] == ["王大梅"]


# --- 导出 (SPEC ROS-6, X-1) -----------------------------------------------------------------------------


def test_export_rows_mask_ids_mobiles_and_resident_birth_dates(batch):
    number = resident_id(dt.date(1985, 3, 14), 427)
    make_entry(batch, name="胡庆庆", id_number=number, mobile="13912345678", has_social_security=True, work_status=WorkStatus.ACTIVE)
    make_entry(batch, name="张贺", id_type=IdType.OTHER, id_number="31AB99917X", birth_date=dt.date(1990, 1, 1), sex=Sex.MALE)

    rows = list(roster_export_rows(batch=batch))

    assert rows[0][:9] == ("胡庆庆", number[:4] + "*****" + number[-4:], "身份证", "男", "1985年**月**日", "139****5678", "否", "在职", "是")
    assert rows[1][:6] == ("张贺", "31*****17X", "非身份证", "男", "1990-01-01", "")
    assert rows[0][-2:] == ("-", "-")
