"""manage.py check_identifiers (SPEC SEC-1): stored identifiers that are not canonical, or
whose hash does not match, are reported; --fix repairs what is safe and reports the conflicts."""
import datetime as dt
import io

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command

from mutualaid.pii import pii_decrypt, pii_encrypt, pii_hash
from rosters.identifier_check import identifiers_check, repaired
from rosters.models import EnrolmentRegistry, PreviousEnrolment, RosterEntry, SuggestedPerson
from tests.factories import UserFactory, make_batch
from tests.rosters.importfiles import resident_id

pytestmark = pytest.mark.django_db

PERSON = resident_id("19900101", 101)
PERSON_WITH_ARABIC_ZERO = PERSON.replace("0", "\u0660", 1)  # as the old importer stored it
WITH_X = next(number for number in (resident_id("19850615", n) for n in range(100, 300)) if number.endswith("X"))


def store_entry(batch, number: str, *, id_type="身份证", register: bool = False) -> RosterEntry:
    """A roster entry written as the code before SEC-1 could write it: cipher and hash of `number`
    exactly as given (pii_property now refuses a value that is not canonical)."""
    entry = RosterEntry.objects.create(
        batch=batch, id_type=id_type, id_hash=pii_hash(number), id_cipher=pii_encrypt(number), name="张三",
        birth_date=dt.date(1990, 1, 1), sex="男",
    )
    if register:
        EnrolmentRegistry.objects.create(year=batch.coverage_year.year, id_hash=entry.id_hash, batch=batch)
    return entry


@pytest.fixture
def batches(handbook_year):
    first = make_batch(UserFactory(username="sec1-a"), year=handbook_year, code="0072J3", number="B-SEC1-A")
    second = make_batch(UserFactory(username="sec1-b"), year=handbook_year, code="0090AB", number="B-SEC1-B")
    return first, second


def test_the_repair_maps_only_what_is_certain():
    assert repaired(PERSON_WITH_ARABIC_ZERO, resident=True) == PERSON
    assert repaired(WITH_X.lower(), resident=True) == WITH_X
    assert repaired("e1234567", resident=False) == "E1234567"
    assert repaired("张三", resident=True) is None
    assert repaired(PERSON[:17] + "\u00b2", resident=True) is None  # a superscript was never an accepted digit


def test_clean_data_has_no_findings(batches):
    store_entry(batches[0], PERSON, register=True)
    report = identifiers_check()
    assert report.findings == []
    assert report.checked["参保清册"] == 1 and report.checked["年度参保登记"] == 1
    assert report.registry_without_entry == 0


def test_stored_mobiles_are_decrypted_and_checked(batches):
    """SPEC SEC-1, SEC-4: roster mobiles are ciphers; a non-canonical one (stored before SEC-1 and
    encrypted as it was by rosters 0013) and one that does not decrypt are reported, never guessed."""
    good, disguised, damaged = (
        store_entry(batches[0], number) for number in (PERSON, resident_id("19850615", 202), resident_id("19780320", 303))
    )
    RosterEntry.objects.filter(pk=good.pk).update(mobile_cipher=pii_encrypt("13912345678"))
    RosterEntry.objects.filter(pk=disguised.pk).update(mobile_cipher=pii_encrypt("139-1234-5678"))
    RosterEntry.objects.filter(pk=damaged.pk).update(mobile_cipher="1:AAAA")

    report = identifiers_check(fix=True)

    assert sorted((f.where, f.problem, f.fixed) for f in report.findings) == [
        (f"参保批次 B-SEC1-A 人员 #{disguised.pk}", "手机号非规范形式", False),
        (f"参保批次 B-SEC1-A 人员 #{damaged.pk}", "手机号无法解密", False),
    ]
    assert RosterEntry.objects.get(pk=disguised.pk).mobile == "139-1234-5678"


def test_a_non_canonical_value_is_fixed_with_its_registry_row(batches):
    entry = store_entry(batches[0], WITH_X.lower(), register=True)

    found = identifiers_check()
    assert [(f.table, f.problem) for f in found.findings] == [
        ("参保清册", "非规范形式"),
        ("年度参保登记", "所属清册人员的证件号码非规范，登记摘要随之有误"),
    ]

    fixed = identifiers_check(fix=True)
    entry.refresh_from_db()
    assert entry.id_number == WITH_X and entry.id_hash == pii_hash(WITH_X)
    assert EnrolmentRegistry.objects.get().id_hash == pii_hash(WITH_X)
    assert fixed.count(fixed=True) == 1
    assert LogEntry.objects.filter(object_pk="check_identifiers").count() == 1  # SPEC X-2: one audit event
    assert identifiers_check().findings == []  # a second run finds nothing


def test_two_registry_rows_that_are_one_person_are_a_conflict_left_alone(batches):
    # The case: unit A enrolled the person with "٠", unit B with plain digits, same year.
    disguised = store_entry(batches[0], PERSON_WITH_ARABIC_ZERO, register=True)
    store_entry(batches[1], PERSON, register=True)

    found = identifiers_check()
    registry = [f for f in found.findings if f.table == "年度参保登记"]
    assert registry[0].problem.endswith("与参保批次 B-SEC1-B 的登记为同一人")

    result = identifiers_check(fix=True)
    [conflict] = [f for f in result.findings if f.table == "参保清册"]
    assert not conflict.fixed
    assert conflict.problem == f"冲突：{batches[0].coverage_year.year} 年度参保登记中此人已由参保批次 B-SEC1-B 占用（两条为同一人），未修正"
    assert result.count(conflict=True) == 1
    disguised.refresh_from_db()
    assert pii_decrypt(disguised.id_cipher) == PERSON_WITH_ARABIC_ZERO  # untouched, for a person to decide
    assert EnrolmentRegistry.objects.count() == 2


def test_a_duplicate_within_one_batch_is_a_conflict(batches):
    store_entry(batches[0], PERSON_WITH_ARABIC_ZERO)
    store_entry(batches[0], PERSON)
    [finding] = identifiers_check(fix=True).findings
    assert finding.problem == "冲突：同一批次中已有此人（两条为同一人），未修正" and not finding.fixed


def test_an_unrepairable_value_and_a_wrong_hash(batches):
    unreadable = store_entry(batches[0], "张三")
    wrong_hash = store_entry(batches[1], PERSON)
    RosterEntry.objects.filter(pk=wrong_hash.pk).update(id_hash=pii_hash("something else"))

    result = identifiers_check(fix=True)
    problems = {f.where: (f.problem, f.fixed) for f in result.findings}
    assert problems[f"参保批次 B-SEC1-A 人员 #{unreadable.pk}"] == ("非规范形式；无法确定规范号码，未修正", False)
    assert problems[f"参保批次 B-SEC1-B 人员 #{wrong_hash.pk}"] == ("摘要与号码不符", True)
    wrong_hash.refresh_from_db()
    assert wrong_hash.id_hash == pii_hash(PERSON)


def test_reference_data_is_checked_and_fixed(handbook_year):
    year = handbook_year.year
    full_width = PERSON.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    SuggestedPerson.objects.create(
        year=year, id_hash=pii_hash(full_width), id_cipher=pii_encrypt(full_width), ss_name="张三", ss_unit_code="001",
        work_status="在职", birth_date=dt.date(1990, 1, 1), sex="男",
    )
    PreviousEnrolment.objects.create(year=year, code="0072J3", id_hash=pii_hash("e12345"), id_cipher=pii_encrypt("e12345"), id_type="非身份证", name="KIM")

    found = identifiers_check()
    assert {(f.table, f.problem) for f in found.findings} == {("建议清册", "非规范形式"), ("上年度参保名单", "非规范形式")}

    identifiers_check(fix=True)
    assert SuggestedPerson.objects.get().id_hash == pii_hash(PERSON)
    assert pii_decrypt(SuggestedPerson.objects.get().id_cipher) == PERSON
    assert PreviousEnrolment.objects.get().id_hash == pii_hash("E12345")


def test_the_command_prints_progress_findings_and_counts(batches):
    store_entry(batches[0], PERSON)
    store_entry(batches[1], WITH_X.lower())
    out, err = io.StringIO(), io.StringIO()
    call_command("check_identifiers", "--chunk", "1", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert "参保清册：已检查 1/2" in lines and "参保清册：已检查 2/2" in lines
    assert any(line.startswith("[发现] 参保清册 参保批次 B-SEC1-B") and line.endswith("非规范形式") for line in lines)
    assert lines[-1].startswith("已检查：参保清册 2 条") and "发现问题 1 条，已修正 0 条" in lines[-1]
    assert "仍有 1 条问题需要处理" in err.getvalue()

    out = io.StringIO()
    call_command("check_identifiers", "--fix", stdout=out, stderr=io.StringIO())
    assert "[已修正] 参保清册 参保批次 B-SEC1-B" in out.getvalue()
    assert "已修正 1 条" in out.getvalue()
