"""The four kinds of reference data (SPEC REF-1..REF-4): how one value is normalised and checked, how
one row becomes a record for the table, and which columns each kind reads and writes."""
from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from mutualaid.identifiers import canonical, canonical_id_number, canonical_uscc
from mutualaid.validators import RESIDENT_ID_CHECK, resident_id_problem, validate_uscc

from ..errors import RosterError
from ..models import PreviousEnrolment, ReferenceLoad, SsUnit, SuggestedPerson, UnionMember, WorkStatus

Kind = ReferenceLoad.Kind


# --- normalising and checking one value ------------------------------------------------------------


class RowProblem(Exception):
    """Why one row is rejected: `reason` names the column and the problem, in Chinese."""

    def __init__(self, reason: str):
        self.reason = reason


# The real dates 1900–2099 as YYYYMMDD, for the IDs' fast path; an ID outside them still gets
# resident_id_problem's verdict.
_BIRTH_DATES = frozenset(
    f"{year}{month:02d}{day:02d}"
    for year in range(1900, 2100)
    for month in range(1, 13)
    for day in range(1, calendar.monthrange(year, month)[1] + 1)
)


def _resident_number(value: str, column: str = "证件号码") -> str:
    """The canonical resident ID of `value` (SPEC SEC-1), or RowProblem (SPEC ROS-3).

    The fast path accepts only what resident_id_check accepts (a test compares them): 17 ASCII
    digits, a real date and the right check character. The GB 11643 weights are 2^(17-i) mod 11,
    and 13 ≡ 2 (mod 11), so the weighted sum is 2·int(first 17, base 13) mod 11: one C call
    instead of a Python loop. Anything else goes the slow way for its exact reason.
    """
    if len(value) == 18 and value.isascii():
        number = value if value[17] != "x" else value[:17] + "X"
        first17 = number[:17]
        if (
            first17.isdigit()
            and number[6:14] in _BIRTH_DATES
            and RESIDENT_ID_CHECK[(2 * int(first17, 13)) % 11] == number[17]
        ):
            return number
    number, problem = canonical_id_number(value, column)  # SPEC SEC-1
    if problem:
        raise RowProblem(problem)
    if not number:
        raise RowProblem(f"{column}为空")
    problem = resident_id_problem(number)
    if problem:
        raise RowProblem(f"{column}：{problem}")
    return number


_OTHER_ID = re.compile(r"[0-9A-Z-]{4,30}")


def _other_number(value: str, column: str = "证件号码") -> str:
    """A 非身份证 number (SPEC ROS-3): 4–30 letters, digits or "-", upper-cased, no checksum."""
    number, problem = canonical_id_number(value, column)  # SPEC SEC-1
    if problem:
        raise RowProblem(problem)
    if not number:
        raise RowProblem(f"{column}为空")
    if not _OTHER_ID.fullmatch(number):
        raise RowProblem(f"{column}：非身份证号码应为4–30位字母、数字或“-”")
    return number


def _text(value: str, column: str, limit: int, *, required: bool = True) -> str:
    """Whitespace runs become one space and invisible characters go (so a value never carries a tab
    or line break into COPY); empty or longer than `limit` is a row problem."""
    text = " ".join(value.split())
    if not text.isprintable():
        text = "".join(char for char in text if char.isprintable())
    if not text:
        if required:
            raise RowProblem(f"{column}为空")
        return ""
    if len(text) > limit:
        raise RowProblem(f"{column}超过{limit}个字符")
    return text


_CODE = re.compile(r"[0-9A-Z-]+")


def _code(value: str, column: str, limit: int, *, required: bool = True) -> str:
    """A code in canonical form (SPEC SEC-1: spaces removed, full-width folded, upper case, ASCII);
    letters, digits and "-" only."""
    if value.isdecimal() and value.isascii() and len(value) <= limit:  # the usual case
        return value
    if not value and not required:
        return ""
    code, problem = canonical(value, column=column)
    if problem:
        raise RowProblem(problem)
    if not code:
        if required:
            raise RowProblem(f"{column}为空")
        return ""
    if len(code) > limit:
        raise RowProblem(f"{column}超过{limit}个字符")
    if not _CODE.fullmatch(code):
        raise RowProblem(f"{column}“{code}”含有无效字符（只能是字母、数字或“-”）")
    return code


_ENROLLMENT_CODE = re.compile(r"[0-9A-Z]{6}")  # SPEC CODE-8 (older codes may hold I and O)


def _enrollment_code(value: str, *, required: bool = True) -> str:
    code = _code(value, "参保编码", 6, required=required)
    if code and not _ENROLLMENT_CODE.fullmatch(code):
        raise RowProblem(f"参保编码“{code}”应为6位字母或数字")
    return code


_WORK_STATUSES = {status.value: status.value for status in WorkStatus}
_YES_NO = {"是": "t", "否": "f", "": "f"}
_ID_TYPES = {"身份证": "身份证", "非身份证": "非身份证", "": "身份证"}
_HEADCOUNT = re.compile(r"\d+(?:\.0+)?")
_MAX_INTEGER = 2_147_483_647


def _work_status(value: str) -> str:
    status = _WORK_STATUSES.get(value)
    if status is None:
        status = _WORK_STATUSES.get(value.strip())
        if status is None:
            shown = value.strip()
            raise RowProblem(f"未知的职退状态“{shown}”（应为 在职、退休 或 -）" if shown else "职退状态为空（应为 在职、退休 或 -）")
    return status


def _yes_no(value: str, column: str) -> str:
    answer = _YES_NO.get(value)
    if answer is None:
        answer = _YES_NO.get(value.strip())
        if answer is None:
            raise RowProblem(f"{column}应为“是”或“否”")
    return answer


def _headcount(value: str) -> str:
    text = value.replace(",", "").strip()
    if not _HEADCOUNT.fullmatch(text) or int(text.partition(".")[0]) > _MAX_INTEGER:
        raise RowProblem("社保在职人数应为不小于0的整数")
    return str(int(text.partition(".")[0]))


# --- duplicate keys ----------------------------------------------------------------------------------


def _pair_key(prefix: str, digest: bytes) -> bytes:
    """The duplicate key of (unit, person): 16 bytes, so a city's worth of them fits in memory."""
    return hashlib.blake2b(prefix.encode() + b"\0" + digest, digest_size=16).digest()


# --- the four kinds --------------------------------------------------------------------------------
# Each prepare function gets the values of the kind's `fields` (header names, in that order; "" for
# an absent optional column) and the chunk's protect function (BulkPiiProtector.begin_chunk). It returns
# the record, the values of `columns` in COPY's text form joined by tabs (one f-string is cheaper
# than a tuple and a join, and no value holds a tab: _text, _code), and a 16-byte key that is the
# same for two rows only if they are the same row of the table.


def _prepare_suggested(values, protect):  # SPEC REF-1
    id_value, name, unit_code, personal_number, status, medical = values
    number = _resident_number(id_value)
    record_name = _text(name, "社保姓名", 50)
    unit = _code(unit_code, "单位社保编码", 20, required=False)  # ~5 % of people have none
    personal = _code(personal_number, "个人社保登记号", 30, required=False)
    work_status = _work_status(status)
    medical_active = _yes_no(medical, "医保享受在职待遇")
    id_hash, cipher, digest = protect(number)
    return (
        f"{id_hash}\t{cipher}\t{record_name}\t{unit}\t{personal}\t{work_status}\t{medical_active}\t"
        f"{number[6:10]}-{number[10:12]}-{number[12:14]}\t{'男' if number[16] in '13579' else '女'}"
    ), digest[:16]


def _prepare_ss_unit(values, protect):  # SPEC REF-2
    code_value, name, headcount = values
    code = _code(code_value, "单位社保编码", 20)
    record = f"{code}\t{_text(name, '单位名称', 200)}\t{_headcount(headcount)}"
    return record, hashlib.blake2b(code.encode(), digest_size=16).digest()


def _prepare_member(values, protect):  # SPEC REF-3
    code_value, uscc_value, name, id_value = values
    unit_key = _enrollment_code(code_value, required=False)
    if not unit_key:
        unit_key, problem = canonical_uscc(uscc_value)  # SPEC SEC-1
        if problem:
            raise RowProblem(problem)
        if not unit_key:
            raise RowProblem("参保编码和统一社会信用代码均为空（至少填写一项）")
        try:
            validate_uscc(unit_key)
        except ValidationError as error:
            raise RowProblem(f"统一社会信用代码：{error.messages[0]}") from None
    member_name = _text(name, "姓名", 50)
    number = _resident_number(id_value)
    id_hash, cipher, digest = protect(number)
    return f"{unit_key}\t{id_hash}\t{cipher}\t{member_name}", _pair_key(unit_key, digest)


def _prepare_previous(values, protect):  # SPEC REF-4
    code_value, name, id_value, id_type_value = values
    code = _enrollment_code(code_value)
    person_name = _text(name, "姓名", 50)
    id_type = _ID_TYPES.get(id_type_value.strip())
    if id_type is None:
        raise RowProblem("证件类型应为“身份证”或“非身份证”")
    number = _resident_number(id_value) if id_type == "身份证" else _other_number(id_value)
    id_hash, cipher, digest = protect(number)
    return f"{code}\t{id_hash}\t{cipher}\t{id_type}\t{person_name}", _pair_key(code, digest)


@dataclass(frozen=True)
class KindSpec:
    kind: str
    model: type
    fields: tuple[str, ...]  # header names the prepare function reads, in its order
    required: tuple[str, ...]  # header names that must be present
    one_of: tuple[str, ...]  # at least one of these must be present (may be empty)
    columns: tuple[str, ...]  # table columns of a record (tab-separated values), after year
    prepare: Callable
    duplicate_reason: str


SPECS = {
    Kind.SUGGESTED: KindSpec(
        kind=Kind.SUGGESTED,
        model=SuggestedPerson,
        fields=("证件号码", "社保姓名", "单位社保编码", "个人社保登记号", "职退状态", "医保享受在职待遇"),
        required=("证件号码", "社保姓名", "单位社保编码", "职退状态"),
        one_of=(),
        columns=(
            "id_hash", "id_cipher", "ss_name", "ss_unit_code", "personal_ss_number", "work_status",
            "medical_active", "birth_date", "sex",
        ),
        prepare=_prepare_suggested,
        duplicate_reason="证件号码：在文件中重复出现（只导入第一次出现的行）",
    ),
    Kind.SS_UNITS: KindSpec(
        kind=Kind.SS_UNITS,
        model=SsUnit,
        fields=("单位社保编码", "单位名称", "社保在职人数"),
        required=("单位社保编码", "单位名称", "社保在职人数"),
        one_of=(),
        columns=("code", "unit_name", "paying_headcount"),
        prepare=_prepare_ss_unit,
        duplicate_reason="单位社保编码：在文件中重复出现（只导入第一次出现的行）",
    ),
    Kind.MEMBERS: KindSpec(
        kind=Kind.MEMBERS,
        model=UnionMember,
        fields=("参保编码", "统一社会信用代码", "姓名", "证件号码"),
        required=("姓名", "证件号码"),
        one_of=("参保编码", "统一社会信用代码"),
        columns=("unit_key", "id_hash", "id_cipher", "name"),
        prepare=_prepare_member,
        duplicate_reason="证件号码：同一单位的会员在文件中重复出现（只导入第一次出现的行）",
    ),
    Kind.PREVIOUS: KindSpec(
        kind=Kind.PREVIOUS,
        model=PreviousEnrolment,
        fields=("参保编码", "姓名", "证件号码", "证件类型"),
        required=("参保编码", "姓名", "证件号码"),
        one_of=(),
        columns=("code", "id_hash", "id_cipher", "id_type", "name"),
        prepare=_prepare_previous,
        duplicate_reason="证件号码：同一参保编码下在文件中重复出现（只导入第一次出现的行）",
    ),
}


def reference_spec(kind: str) -> KindSpec:
    try:
        return SPECS[Kind(kind)]
    except ValueError:
        raise RosterError(f"未知的参考数据类型“{kind}”。") from None
