"""The import's rules: what each good row becomes, from what the look-ups found (SPEC ROS-5..ROS-11)."""
from __future__ import annotations

from mutualaid.pii import ID_TYPE_OTHER, ID_TYPE_RESIDENT, mask_id_number, pii_decrypt

from ..models import IdType, WorkStatus
from ..services import HELD_UNNAMED_MESSAGE, held_by_message, held_names_match
from .people import _Collected, _Person
from .values import _same_name
from .lookups import _Found


# --- rules -----------------------------------------------------------------------------------------------------


_ACTIVE, _RETIRED, _UNKNOWN = WorkStatus.ACTIVE.value, WorkStatus.RETIRED.value, WorkStatus.UNKNOWN.value
_OTHER = IdType.OTHER.value


def _apply_rules(collected: _Collected, found: _Found) -> list[_Person]:
    """SPEC ROS-5 (names), ROS-8 (职退状态, 是否有社保), ROS-11 (held by another unit), ROS-12 (retired:
    imported, marked 退休).
    Returns the people to write, each with its `entry` (the values of _ENTRY_FIELDS, in order); the
    others become problems."""
    ready = []
    held, suggested_of = found.held, found.suggested
    previous_names, member_names = found.previous_names, found.member_names
    for person in collected.people:
        id_hash = person.id_hash
        holder = held.get(id_hash)
        if holder is not None:  # SPEC ROS-11
            unit_name, handler_name, handler_mobile_cipher, holder_batch, enrolled_name = holder
            if held_names_match(given=person.name, enrolled=enrolled_name):  # ROS-11 [departure]
                # Decrypted only here, for the few people a file names (SPEC SEC-4).
                handler_mobile = pii_decrypt(handler_mobile_cipher) if handler_mobile_cipher else ""
                message = held_by_message(unit_name=unit_name, handler_name=handler_name, handler_mobile=handler_mobile)
                collected.named.setdefault(holder_batch, []).append(person.row)
            else:
                message = HELD_UNNAMED_MESSAGE
            collected.fail(person.row, "证件号码", _masked(person), message)
            continue
        # SPEC ROS-12, VAL-1: a retired person enters the roster marked 退休, from every source;
        # 清册校验 lists them for removal and 清册提交 refuses them.
        suggested = suggested_of.get(id_hash)
        imported_name = person.name
        previous_name = previous_names.get(id_hash, "")
        member_name = member_names.get(id_hash, "")
        # SPEC ROS-5: the suggested roster's (social-security) name wins; a difference from the 会员库
        # name or last year's name is flagged for the unit to confirm.
        mismatch = bool(
            (previous_name and previous_name != imported_name and not _same_name(previous_name, imported_name))
            or (member_name and member_name != imported_name and not _same_name(member_name, imported_name))
        )
        # SPEC ROS-8: 职退状态 from the suggested roster ("-" when not found); 是否有社保 = 是 makes the
        # person 在职 with 社保; found 在职 with 医保享受在职待遇 counts as 社保 too.
        if suggested is not None:
            name = suggested.ss_name
            work_status = suggested.work_status
            medical_active = bool(suggested.medical_active)
            insured = work_status == _ACTIVE and medical_active
            ss_unit_code, personal_number = suggested.ss_unit_code, suggested.personal_ss_number
        else:
            name = imported_name
            work_status, insured, ss_unit_code, personal_number, medical_active = _UNKNOWN, False, "", "", False
        if person.says_insured and work_status != _RETIRED:  # 退休 from social security stays (ROS-12)
            work_status, insured = _ACTIVE, True
        person.entry = (
            name[:50], person.birth_date, person.sex, person.mobile_cipher, insured, work_status, suggested is not None,
            ss_unit_code, personal_number, medical_active, imported_name[:50], previous_name[:50], member_name[:50],
            mismatch,
        )
        ready.append(person)
    return ready


def _masked(person: _Person) -> str:
    return mask_id_number(person.number, ID_TYPE_OTHER if person.id_type == _OTHER else ID_TYPE_RESIDENT)
