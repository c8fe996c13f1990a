"""The two sources besides a file: the previous year's enrolment and the union's members (SPEC ROS-6,
ROS-7)."""
from __future__ import annotations

from enrollment.models import Batch
from mutualaid.pii import ID_TYPE_OTHER, cipher_prefix, mask_id_number, pii_decrypt, pii_encrypt, pii_hash, pii_hash_aliases, pii_hash_key_id, pii_key_id, hash_key_id_of
from mutualaid.validators import resident_id_birth_and_sex

from ..models import IdType, PreviousEnrolment, RosterEntry, UnionMember
from ..errors import RosterError
from .people import _Collected, _Person
from .lookups import _hash_in, _unit_keys


def _under_current_keys(number: str, id_hash: str, cipher: str) -> tuple[str, str]:
    """SPEC SEC-10: the reference row's hash and cipher, made again with the current keys when a
    rotation has not reached the row yet: a roster entry is always written under the current keys,
    so a rotation that has passed its batch need not come back to it."""
    if hash_key_id_of(id_hash) != pii_hash_key_id():
        id_hash = pii_hash(number)
    if not cipher.startswith(cipher_prefix(pii_key_id())):
        cipher = pii_encrypt(number)
    return id_hash, cipher


def _collect_previous(batch: Batch) -> _Collected:
    """【获取上年度参保名单】 (SPEC ROS-1, REF-4): whom this code enrolled in the previous coverage year.
    The list holds no birth date or sex: a resident ID gives them; for 非身份证 they come from last
    year's roster entries of the code, or the row is reported (the unit uploads those people)."""
    year = batch.coverage_year.year - 1
    rows = list(
        PreviousEnrolment.objects.filter(year=year, code=batch.code.code)
        .order_by("name", "id_hash")
        .values_list("id_hash", "id_cipher", "id_type", "name")
    )
    if not rows:
        raise RosterError(
            f"未找到本参保编码（{batch.code.code}）{year}年度的参保名单（新参保单位没有上年度名单）。"
            "请通过【上传本地参保名单文件】导入。"
        )
    numbers = {id_hash: pii_decrypt(cipher) for id_hash, cipher, _id_type, _name in rows}
    others = [numbers[id_hash] for id_hash, _cipher, id_type, _name in rows if id_type == IdType.OTHER]
    known = {}
    if others:
        # SPEC SEC-10: last year's entries and this list may be under different hash keys during a
        # rotation: looked up by every active key's hash, known by the number.
        aliases = pii_hash_aliases(others)
        number_of = {pii_hash(number): number for number in others}
        known = {
            number_of[aliases[id_hash]]: (birth_date, sex)
            for id_hash, birth_date, sex in RosterEntry.objects.filter(
                _hash_in(RosterEntry, list(aliases)), batch__code=batch.code, batch__coverage_year__year=year, id_type=IdType.OTHER
            ).values_list("id_hash", "birth_date", "sex")
        }
    collected = _Collected(people=[], problems=[], rows_read=len(rows))
    for position, (id_hash, cipher, id_type, name) in enumerate(rows, start=1):
        number = numbers[id_hash]
        id_hash, cipher = _under_current_keys(number, id_hash, cipher)
        if id_type == IdType.OTHER:
            if number not in known:
                collected.fail(
                    position, "证件号码", mask_id_number(number, ID_TYPE_OTHER),
                    "非身份证人员的出生日期和性别在上年度名单中没有，请通过【上传本地参保名单文件】导入该人员",
                )
                continue
            birth_date, sex = known[number]
        else:
            id_type = IdType.RESIDENT
            birth_date, sex = resident_id_birth_and_sex(number)
        collected.people.append(_Person(position, id_type, number, name, birth_date, sex, "", False, id_hash, cipher))
    return collected


def _collect_members(batch: Batch) -> _Collected:
    """【获取“会员库”本单位工会会员名单】 (SPEC ROS-1, REF-3): the unit's union members of the batch's year."""
    keys = _unit_keys(batch)
    members: dict[str, tuple] = {}
    for id_hash, cipher, name in (
        UnionMember.objects.filter(year=batch.coverage_year.year, unit_key__in=keys)
        .order_by("name", "id_hash")
        .values_list("id_hash", "id_cipher", "name")
    ):
        # Known by code and by USCC: once, by the current hash (SPEC SEC-10: during a hash rotation
        # the two rows of one person may be under different keys).
        number = pii_decrypt(cipher)
        id_hash, cipher = _under_current_keys(number, id_hash, cipher)
        members.setdefault(id_hash, (number, cipher, name))
    if not members:
        raise RosterError(
            f"会员库中没有本单位{batch.coverage_year.year}年度的工会会员（参保编码 {batch.code.code}"
            f"{'，统一社会信用代码 ' + '、'.join(keys[1:]) if len(keys) > 1 else ''}）。"
            "请通过【获取上年度参保名单】或【上传本地参保名单文件】导入。"
        )
    collected = _Collected(people=[], problems=[], rows_read=len(members))
    for position, (id_hash, (number, cipher, name)) in enumerate(members.items(), start=1):
        birth_date, sex = resident_id_birth_and_sex(number)  # the register holds resident IDs only (REF-3)
        collected.people.append(_Person(position, IdType.RESIDENT, number, name, birth_date, sex, "", False, id_hash, cipher))
    return collected
