"""SPEC SEC-10: manage.py rotate_pii_key and rotate_hash_key (payments/key_rotation.py): every cipher
and every hash moves to the current key, in batches, resumable after a crash without doing a row
twice, while look-ups, imports and submissions keep finding people under either hash."""
import base64
import io
import os

import pytest
from django.core.management import call_command

from enrollment.models import ChangeRequest, HandlerInfo
from enrollment.states import BatchState
from mutualaid.pii import pii_decrypt, pii_hash
from mutualaid.sealed import open_sealed, seal_stream, sealed_key_id
from payments.key_rotation import hash_key_rotate, pii_key_rotate
from payments.models import Voucher
from rosters.models import EnrolmentRegistry, PreviousEnrolment, RosterEntry, SuggestedPerson, UnionMember
from rosters.selectors import person_batch_ids
from tests.factories import UserFactory, VoucherFactory, make_batch, make_entry
from tests.rosters.importfiles import hold, member, previous, resident_id, row, suggest, template_xlsx, upload

pytestmark = pytest.mark.django_db

PEOPLE = [resident_id("19800101", sequence) for sequence in range(101, 121, 2)]  # ten men
MOBILE = "13912345678"


class Crash(Exception):
    pass


def crash_after(batches: int):
    """An after_batch hook that kills the run after `batches` committed batches."""
    seen = {"batches": 0}

    def hook():
        seen["batches"] += 1
        if seen["batches"] == batches:
            raise Crash

    return hook


@pytest.fixture
def data(handbook_year, media_root):
    """A bit of everything that holds a cipher or a hash, all written under key id 1."""
    year = handbook_year.year
    held = make_batch(year=handbook_year, state=BatchState.IN_REVIEW, handler_mobile="13812345678")
    for index, number in enumerate(PEOPLE[:4]):
        hold(held, number, f"职工{index}")
    RosterEntry.objects.filter(batch=held).update(mobile_cipher=RosterEntry(mobile=MOBILE).mobile_cipher)
    draft = make_batch(year=handbook_year, unit_name="上海另一家有限公司")
    make_entry(draft, name="草稿", id_number=PEOPLE[9])
    for index, number in enumerate(PEOPLE):
        suggest(year, number, f"职工{index}")
        member(year, "310000000000000001", number, f"职工{index}")
        previous(year - 1, held.code.code, number, f"职工{index}")
    voucher = VoucherFactory()
    voucher.refund_account_number = "6222020200112233445"
    voucher.save()
    ChangeRequest.objects.create(
        account=held.account, code=held.code, items=[ChangeRequest.Item.HANDLER_MOBILE],
        original_values=ChangeRequest.stored_values({ChangeRequest.Item.HANDLER_MOBILE: "13812345678"}),
        new_values=ChangeRequest.stored_values({ChangeRequest.Item.HANDLER_MOBILE: "13700001111"}),
        contact_name="丁一", contact_mobile="13812345678",
    )
    folder = media_root / "private" / "exports"
    folder.mkdir(parents=True)
    for index in range(3):
        seal_stream([f"证件号码,{PEOPLE[index]}\n".encode() * 1000], folder / f"export-{index}.csv")
    return {"held": held, "draft": draft, "year": handbook_year}


def all_ciphers() -> list[str]:
    values = []
    for model in (SuggestedPerson, UnionMember, PreviousEnrolment):
        values += list(model.objects.values_list("id_cipher", flat=True))
    for cipher, mobile in RosterEntry.objects.values_list("id_cipher", "mobile_cipher"):
        values += [cipher] + ([mobile] if mobile else [])
    values += list(HandlerInfo.objects.values_list("handler_mobile_cipher", flat=True))
    values += [value for value in Voucher.objects.values_list("refund_account_cipher", flat=True) if value]
    for request in ChangeRequest.objects.all():
        values += [value for values in (request.original_values, request.new_values) for value in values.values() if value]
    return values


def all_hashes() -> list[str]:
    values = []
    for model in (SuggestedPerson, UnionMember, PreviousEnrolment, RosterEntry, EnrolmentRegistry):
        values += list(model.objects.values_list("id_hash", flat=True))
    return values


def sealed_files(media_root) -> list:
    return sorted((media_root / "private").rglob("*.csv"))


@pytest.fixture
def new_pii_key(settings):
    settings.PII_KEYS = {2: base64.b64encode(os.urandom(32)).decode()}
    settings.PII_KEY_ID = 2
    return settings


@pytest.fixture
def new_hash_key(settings):
    settings.PII_HASH_KEYS = {2: "the second hash key, not the first"}
    settings.PII_HASH_KEY_ID = 2
    return settings


# --- rotate_pii_key -----------------------------------------------------------------------------


def test_rotate_pii_key_re_encrypts_everything_and_the_old_key_can_then_go(data, new_pii_key, media_root):
    ciphers = all_ciphers()
    assert ciphers and all(value.startswith("1:") for value in ciphers)
    before = [pii_decrypt(value) for value in ciphers]
    out = io.StringIO()

    call_command("rotate_pii_key", "--batch-size", "3", stdout=out)

    after = all_ciphers()
    assert after and all(value.startswith("2:") for value in after)
    assert sorted(pii_decrypt(value) for value in after) == sorted(before)
    assert {sealed_key_id(path) for path in sealed_files(media_root)} == {2}
    assert "完成" in out.getvalue() and "/" in out.getvalue()  # progress lines "name：done/total"
    # SPEC SEC-10: the old key retired, everything still reads.
    new_pii_key.PII_KEY = ""
    assert sorted(pii_decrypt(value) for value in all_ciphers()) == sorted(before)
    entry = RosterEntry.objects.filter(batch=data["held"]).order_by("pk").first()
    assert entry.id_number == PEOPLE[0] and entry.mobile == MOBILE
    with open(sealed_files(media_root)[0], "rb"):
        with open_sealed(sealed_files(media_root)[0]) as stream:
            assert stream.read().startswith("证件号码".encode())


def test_rotate_pii_key_resumes_after_a_crash_without_doing_a_row_twice(data, new_pii_key):
    pending = len(all_ciphers())
    with pytest.raises(Crash):
        pii_key_rotate(batch_size=2, after_batch=crash_after(4), files=False)
    done = [value for value in all_ciphers() if value.startswith("2:")]
    assert 0 < len(done) < pending  # four batches of two rows committed, the rest not
    untouched = dict.fromkeys(done)

    steps = pii_key_rotate(batch_size=2, files=False)

    assert all(value.startswith("2:") for value in all_ciphers())
    assert set(untouched) <= set(all_ciphers())  # rows done before the crash were not rewritten
    assert sum(step.rewritten for step in steps[:3]) == SuggestedPerson.objects.count() * 3 - 8


# --- rotate_hash_key ----------------------------------------------------------------------------


def test_rotate_hash_key_re_hashes_everything(data, new_hash_key):
    numbers = {value: None for value in all_hashes()}
    assert numbers and not any(":" in value for value in numbers)
    out = io.StringIO()

    call_command("rotate_hash_key", "--batch-size", "3", stdout=out)

    hashes = all_hashes()
    assert hashes and all(value.startswith("2:") for value in hashes)
    assert "PII_HASH_KEYS_RETIRED" in out.getvalue()
    # Every table's hash is the new key's hash of its number, and registry rows still match their entries.
    for person in SuggestedPerson.objects.all():
        assert person.id_hash == pii_hash(person.id_number)
    held = data["held"]
    assert set(EnrolmentRegistry.objects.filter(batch=held).values_list("id_hash", flat=True)) == set(
        RosterEntry.objects.filter(batch=held).values_list("id_hash", flat=True)
    )
    # The switch: the old key retired, look-ups use the new one only and still find people.
    new_hash_key.PII_HASH_KEYS_RETIRED = [1]
    assert person_batch_ids(id_number=PEOPLE[0]) == [held.pk]
    assert SuggestedPerson.objects.filter(id_hash=pii_hash(PEOPLE[5])).count() == 1


def test_rotate_hash_key_resumes_after_a_crash_without_doing_a_row_twice(data, new_hash_key):
    total = len(all_hashes())
    with pytest.raises(Crash):
        hash_key_rotate(batch_size=4, after_batch=crash_after(3))
    done = [value for value in all_hashes() if value.startswith("2:")]
    assert len(done) == 10  # the suggested roster's batches of 4, 4 and 2 rows were committed

    steps = hash_key_rotate(batch_size=4)

    assert all(value.startswith("2:") for value in all_hashes())
    assert sum(step.rewritten for step in steps) == total - 10
    assert steps[0].rewritten == 0  # the suggested roster was not done again
    assert not any(step.problems for step in steps)


# --- the portal during a hash rotation (between batches) -----------------------------------------


@pytest.fixture
def mid_rotation(data, new_hash_key):
    """A hash rotation stopped between batches: some suggested-roster rows under the new key, the
    rest of the reference data, the rosters and the registry still under the old one."""
    with pytest.raises(Crash):
        hash_key_rotate(batch_size=3, after_batch=crash_after(1))
    suggested = SuggestedPerson.objects.values_list("id_hash", flat=True)
    assert {value.startswith("2:") for value in suggested} == {True, False}
    assert not any(value.startswith("2:") for value in EnrolmentRegistry.objects.values_list("id_hash", flat=True))
    return data


def test_look_ups_find_people_under_either_hash(mid_rotation):
    held, draft = mid_rotation["held"], mid_rotation["draft"]
    assert person_batch_ids(id_number=PEOPLE[0]) == [held.pk]
    assert person_batch_ids(id_number=PEOPLE[9]) == [draft.pk]


def test_an_import_finds_suggested_and_held_people_under_either_hash(mid_rotation):
    from rosters.importer import roster_import_start

    year = mid_rotation["year"]
    account = UserFactory(username="rotating-unit")
    batch = make_batch(account, year=year, code="0R0T01", unit_name="上海轮换测试有限公司")
    by_key = {person.id_number: person.id_hash for person in SuggestedPerson.objects.all()}
    rotated = next(number for number, value in by_key.items() if value.startswith("2:") and number not in PEOPLE[:4])
    not_rotated = next(number for number, value in by_key.items() if ":" not in value and number not in PEOPLE[:4])
    result = roster_import_start(
        batch=batch,
        upload=upload(template_xlsx([row("甲", number=rotated), row("乙", number=not_rotated), row("职工0", number=PEOPLE[0])])),
        acting_user=account,
    )
    entries = {entry.id_number: entry for entry in RosterEntry.objects.filter(batch=batch)}
    # SPEC ROS-5: both found in the suggested roster (their names win), whatever key their row has.
    assert entries[rotated].is_suggested and entries[not_rotated].is_suggested
    assert entries[rotated].name != "甲" and entries[not_rotated].name != "乙"
    # SPEC ROS-11: the person held under the old hash is found and not imported.
    assert PEOPLE[0] not in entries
    assert [problem["row"] for problem in result.problems] and "占用" in result.problems[0]["reason"]
    # New rows are written under the current key only.
    assert all(entry.id_hash.startswith("2:") for entry in entries.values())
    # Importing the same people again updates them, never adds them twice.
    roster_import_start(batch=batch, upload=upload(template_xlsx([row("甲", number=rotated)])), acting_user=account)
    assert RosterEntry.objects.filter(batch=batch).count() == 2


def test_a_submission_is_refused_for_a_person_held_under_the_old_hash(mid_rotation, settings):
    import time_machine

    from rosters.errors import RosterError
    from rosters.submission import batch_submit
    from rosters.rules import KIND_SITUATION
    from tests.rosters.helpers import IN_CENTRALISED_WINDOW, attach, ready_batch

    year = mid_rotation["year"]
    with time_machine.travel(IN_CENTRALISED_WINDOW, tick=False):
        batch = ready_batch(year, people=2, unit_name="上海重复参保有限公司")
        attach(batch, KIND_SITUATION.value, "情况说明.png")  # the fixture's suggested roster moves VAL-4's figures
        entry = RosterEntry.objects.filter(batch=batch).order_by("pk").first()
        # The same person as a row of the holder, which is still under the old key.
        RosterEntry.objects.filter(pk=entry.pk).update(id_cipher=RosterEntry(id_number=PEOPLE[1]).id_cipher, id_hash=pii_hash(PEOPLE[1]))
        with pytest.raises(RosterError, match="占用"):
            batch_submit(batch=batch, acting_user=batch.account, agreed=True)
        assert not EnrolmentRegistry.objects.filter(batch=batch).exists()
        # Without that person, the batch goes through, registered under the current key.
        RosterEntry.objects.filter(pk=entry.pk).delete()
        batch_submit(batch=batch, acting_user=batch.account, agreed=True)
    assert all(value.startswith("2:") for value in EnrolmentRegistry.objects.filter(batch=batch).values_list("id_hash", flat=True))


def test_audit_rows_keep_the_key_they_were_written_with(data, new_pii_key):
    # SPEC SEC-10, SEC-9: the audit trail is not rewritten; its ciphers name their key, so the old
    # key, kept for reading, still opens them.
    from auditlog.models import LogEntry

    handler = HandlerInfo.objects.first()
    handler.handler_mobile = "13600001111"  # under key 2 now, and audited so
    handler.save()
    trail = {entry.pk: entry.changes for entry in LogEntry.objects.all()}
    call_command("rotate_pii_key", stdout=io.StringIO())
    assert {entry.pk: entry.changes for entry in LogEntry.objects.all()} == trail
    written = [
        value for changes in trail.values() for old_new in changes.values() if isinstance(old_new, list)
        for value in old_new if isinstance(value, str) and value[:2] in ("1:", "2:") and len(value) > 40
    ]
    assert {value[:2] for value in written} == {"1:", "2:"}
    assert "13600001111" in [pii_decrypt(value) for value in written]


def test_a_value_the_portal_writes_during_the_rotation_is_never_overwritten(data, new_pii_key, monkeypatch):
    # SPEC SEC-10: the rotation runs while the portal serves. A handler's mobile changed between the
    # rotation's read and its write keeps the new value (the write compares the cipher it read).
    from mutualaid import key_rotation
    from mutualaid.key_rotation import rotate_cipher_columns
    from mutualaid.pii import pii_encrypt

    real = key_rotation.pii_reencrypter

    def racing_reencrypter():
        reencrypt = real()
        raced = []

        def reencrypt_after_a_portal_write(token):
            if not raced:
                raced.append(True)
                HandlerInfo.objects.update(handler_mobile_cipher=pii_encrypt("13900000000"))
            return reencrypt(token)

        return reencrypt_after_a_portal_write

    monkeypatch.setattr(key_rotation, "pii_reencrypter", racing_reencrypter)
    step = rotate_cipher_columns(HandlerInfo, keys=("id",), columns=("handler_mobile_cipher",))
    assert {handler.handler_mobile for handler in HandlerInfo.objects.all()} == {"13900000000"}
    assert step.rewritten == 0  # every row had changed under it: nothing of the rotation's was written


def test_rotate_pii_key_without_the_old_key_stops_cleanly_and_resumes(data, new_pii_key):
    from django.core.management.base import CommandError

    old = new_pii_key.PII_KEY
    new_pii_key.PII_KEY = ""  # key id 1 forgotten in the settings
    with pytest.raises(CommandError, match="密钥 1 未配置"):
        call_command("rotate_pii_key", stdout=io.StringIO())
    new_pii_key.PII_KEY = old
    call_command("rotate_pii_key", stdout=io.StringIO())
    assert all(value.startswith("2:") for value in all_ciphers())


def test_registry_rows_follow_their_entries_and_orphans_are_reported(data, new_hash_key):
    # SPEC SEC-10, ROS-11: a registry row takes its entry's new hash, even when the entry is under
    # the new key already; a row whose entry is gone cannot be re-hashed and is reported.
    from rosters.key_rotation import roster_batches_rehash

    held = data["held"]
    entry = RosterEntry.objects.filter(batch=held).order_by("pk").first()
    RosterEntry.objects.filter(pk=entry.pk).update(id_hash=pii_hash(entry.id_number))  # under key 2 already
    orphan = EnrolmentRegistry.objects.create(year=held.coverage_year.year, id_hash=pii_hash(PEOPLE[8], key_id=1), batch=held)

    result = roster_batches_rehash()

    assert set(EnrolmentRegistry.objects.filter(batch=held).exclude(pk=orphan.pk).values_list("id_hash", flat=True)) == set(
        RosterEntry.objects.filter(batch=held).values_list("id_hash", flat=True)
    )
    orphan.refresh_from_db()
    assert ":" not in orphan.id_hash
    assert result.problems == [f"批次 {held.pk}：1 条参保登记找不到对应的参保人员，未能重新计算摘要"]
