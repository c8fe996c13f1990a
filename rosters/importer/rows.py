"""Validating the rows of a file (SPEC ROS-3, ROS-4 within the file), one function per column, and
hashing and encrypting the good rows' ID numbers and mobiles (SPEC SEC-4)."""
from __future__ import annotations

import datetime as dt
import time


from mutualaid.jobs import job_heartbeat
from mutualaid.pii import ID_TYPE_OTHER, ID_TYPE_RESIDENT, mask_id_number
from mutualaid.pii_bulk import BulkPiiProtector

from ..models import IdType, RosterImport
from ..errors import RosterError
from .messages import COLUMNS, EXCEL_NUMBER, NO_DATA, PROGRESS_EVERY_ROWS, PROGRESS_SECONDS
from .people import _Collected, _Person
from .reading import Sheet, _blank, _blank_row
from .values import _ID_TYPES, _OTHER_ID, _SEXES, _YES_NO, _birth_date, _folded, _id_text, _mobile, _name, _plain, _resident_check


# --- validating the rows of a file ---------------------------------------------------------------------------


class _Progress:
    """Writes rows_total once and rows_done at most every PROGRESS_SECONDS (a queryset update: no
    signal, so the audit trail keeps one event per import, SPEC X-2).

    Not `watched`: the import runs inside the request that started it (a small upload,
    roster_import_run), so no page can poll its progress before it ends: nothing is written
    (two queries fewer per upload); job_finish writes its rows_total and rows_done."""

    def __init__(self, roster_import: RosterImport, *, watched: bool = True):
        self.roster_import = roster_import
        self.written_at = time.monotonic()
        self.watched = watched

    def total(self, rows_total: int) -> None:
        if self.watched:
            job_heartbeat(self.roster_import, rows_total=rows_total, rows_done=0)

    def done(self, rows_done: int, *, force: bool = False) -> None:
        if not self.watched:
            return
        now = time.monotonic()
        if force or now - self.written_at >= PROGRESS_SECONDS:
            self.written_at = now
            job_heartbeat(self.roster_import, rows_done=rows_done)


def _validate_sheet(sheet: Sheet, progress: _Progress | None) -> _Collected:
    """Every data row under the header, normalised and checked (SPEC ROS-3, ROS-4 within the file).
    Rows whose cells are all empty are skipped and not counted."""
    columns = _Columns(sheet.positions)
    width = max(sheet.positions.values()) + 1
    collected = _Collected(people=[], problems=[], rows_read=0)
    first_row_of: dict[tuple[str, str], int] = {}
    data = sheet.rows[sheet.header_index + 1 :]
    if progress:
        progress.total(sum(1 for row in data if not _blank_row(row)))
    fail = collected.fail
    first_line = sheet.row_number(sheet.header_index + 1)
    for offset, row in enumerate(data):
        if len(row) < width:
            row = list(row) + [""] * (width - len(row))
        if _blank_row(row):
            continue
        collected.rows_read += 1
        if progress and collected.rows_read % PROGRESS_EVERY_ROWS == 0:
            progress.done(collected.rows_read)
        person = _validate_row(row, first_line + offset, columns, fail)
        if person is not None:
            _keep_first(person, collected, first_row_of)
    if collected.rows_read == 0:
        raise RosterError(NO_DATA)
    return collected


class _Columns:
    """Where each template column is in the sheet (-1 for an absent optional one)."""

    __slots__ = ("name", "id_type", "number", "insured", "birth", "sex", "mobile")

    def __init__(self, positions: dict[str, int]):
        at = {name: positions.get(name, -1) for name in COLUMNS}
        self.name, self.id_type, self.number, self.insured = at["姓名"], at["证件类型"], at["证件号码"], at["是否有社保"]
        self.birth, self.sex, self.mobile = at["出生日期"], at["性别"], at["手机号"]


def _validate_row(row, line: int, columns: _Columns, fail) -> _Person | None:
    """One row, every column checked (each problem is a row error, in the columns' order); the
    person, or None when anything failed."""
    name = _checked_name(row[columns.name], line, fail)
    id_type = _checked_id_type(row[columns.id_type], line, fail)
    number, birth_date, sex = _checked_number(row[columns.number], id_type, line, fail)
    if id_type == _OTHER_TYPE:
        # SPEC ROS-3: 出生日期 and 性别 are required for 非身份证; for 身份证 they come from the
        # number, and whatever the columns hold is ignored.
        birth_date = _checked_birth_date(row[columns.birth] if columns.birth >= 0 else "", line, fail)
        sex = _checked_sex(_plain(row[columns.sex]) if columns.sex >= 0 else "", line, fail)
    mobile = _checked_mobile(row[columns.mobile] if columns.mobile >= 0 else "", line, fail)
    insured = _checked_insured(row[columns.insured], line, fail)
    if None in (name, id_type, number, birth_date, sex, mobile, insured):
        return None
    return _Person(line, id_type, number, name, birth_date, sex, mobile, insured)


_RESIDENT_TYPE, _OTHER_TYPE = IdType.RESIDENT.value, IdType.OTHER.value


def _checked_name(value, line: int, fail) -> str | None:
    name = _name(value)
    if not name:
        fail(line, "姓名", "", "姓名为空，请填写后重新导入")
        return None
    if len(name) > 50:
        fail(line, "姓名", name[:50], "姓名超过50个字符，请核对后重新导入")
        return None
    return name


def _checked_id_type(type_text, line: int, fail) -> str | None:
    id_type = _ID_TYPES.get(type_text)
    if id_type is None:
        type_text = _plain(type_text)
        id_type = _ID_TYPES.get(type_text) or _ID_TYPES.get(_folded(type_text))
    if id_type is None:
        reason = "证件类型为空（应填“身份证”或“非身份证”）" if not type_text else "证件类型应为“身份证”或“非身份证”"
        fail(line, "证件类型", type_text, reason)
    return id_type


def _checked_number(raw_number, id_type: str | None, line: int, fail) -> tuple[str | None, dt.date | None, str | None]:
    """(number, birth date, sex): the birth date and sex of a resident ID come from its number, None
    otherwise; the number is None when it failed. Checked even when the type failed, so that the
    row's errors list every column."""
    canonical_number = _id_text(raw_number)
    number = canonical_number.value if canonical_number else ""
    mask_type = ID_TYPE_OTHER if id_type == _OTHER_TYPE else ID_TYPE_RESIDENT
    if canonical_number is None:  # SPEC ROS-3: a float has lost digits
        fail(line, "证件号码", mask_id_number(_plain(raw_number), mask_type), EXCEL_NUMBER)
        return None, None, None
    if canonical_number.problem:  # SPEC SEC-1: never validated, hashed or imported
        shown = "".join(char if char.isprintable() else "\ufffd" for char in _plain(raw_number))  # no control character reaches a page or a workbook
        fail(line, "证件号码", mask_id_number(shown, mask_type), f"{canonical_number.problem}，请核对后重新导入")
        return None, None, None
    if not number:
        fail(line, "证件号码", "", "证件号码为空，请填写后重新导入")
        return None, None, None
    if id_type == _RESIDENT_TYPE:
        checked = _resident_check(number)
        if checked.__class__ is str:
            fail(line, "证件号码", mask_id_number(number, ID_TYPE_RESIDENT), checked)
            return None, None, None
        birth_date, sex = checked
        return number, birth_date, sex
    if id_type == _OTHER_TYPE and not _OTHER_ID.fullmatch(number):
        fail(line, "证件号码", mask_id_number(number, ID_TYPE_OTHER), "非身份证号码应为4–30位字母、数字或“-”，请核对后重新导入")
        return None, None, None
    return number, None, None


def _checked_birth_date(raw_birth, line: int, fail) -> dt.date | None:
    if _blank(raw_birth):
        fail(line, "出生日期", "", "非身份证人员必须填写出生日期（格式例如1990-01-01）")
        return None
    birth_date = _birth_date(raw_birth)
    if isinstance(birth_date, str):
        fail(line, "出生日期", _plain(raw_birth), birth_date)
        return None
    return birth_date


def _checked_sex(raw_sex: str, line: int, fail) -> str | None:
    sex = _SEXES.get(raw_sex) or _SEXES.get(_folded(raw_sex))
    if sex is None:
        reason = "非身份证人员必须填写性别（男或女）" if not raw_sex else "性别应为“男”或“女”"
        fail(line, "性别", raw_sex, reason)
    return sex


def _checked_mobile(raw_mobile, line: int, fail) -> str | None:
    """The canonical mobile, "" when the cell is empty or the column absent, None when it failed."""
    if raw_mobile == "" or _blank(raw_mobile):
        return ""
    mobile, problem = _mobile(raw_mobile)
    if problem:
        # Shown as typed, not masked: a masked invalid number (139****4567) looks valid. The list is
        # the uploading unit's own (SPEC ROS-10: it gets its own file back); valid mobiles stay masked.
        fail(line, "手机号", _plain(raw_mobile), problem)
        return None
    return mobile


def _checked_insured(insured_text, line: int, fail) -> bool | None:
    insured = _YES_NO.get(insured_text)
    if insured is None:
        insured_text = _plain(insured_text)
        insured = _YES_NO.get(insured_text)
    if insured is None:
        insured = _YES_NO.get(_folded(insured_text))
    if insured is None:
        reason = "是否有社保为空（应填“是”或“否”）" if not insured_text else "是否有社保应填“是”或“否”"
        fail(line, "是否有社保", insured_text, reason)
    return insured


def _keep_first(person: _Person, collected: _Collected, first_row_of: dict[tuple[str, str], int]) -> None:
    """SPEC ROS-4: the same person twice in one file, the second is the error."""
    key = (person.id_type, person.number)
    first = first_row_of.get(key)
    if first is not None:
        mask_type = ID_TYPE_OTHER if person.id_type == _OTHER_TYPE else ID_TYPE_RESIDENT
        collected.fail(
            person.row, "证件号码", mask_id_number(person.number, mask_type), f"与第 {first} 行是同一人（证件号码重复），本行未导入"
        )
        return
    first_row_of[key] = person.row
    collected.people.append(person)


def _protect(people: list[_Person]) -> None:
    """Keyed hash (look-ups, the unique constraint) and cipher of every good row's number, and the
    cipher of its mobile (SPEC SEC-4: no hash, nothing looks people up by mobile), with the formats of
    mutualaid.pii (the reference loader's fast path: one HMAC state copy and one AES-GCM object for
    the whole file)."""
    protector = BulkPiiProtector.current()
    protect = protector.begin_chunk(len(people))
    seal = protector.begin_sealing(sum(1 for person in people if person.mobile))
    for person in people:
        person.id_hash, person.id_cipher, _digest = protect(person.number)
        if person.mobile:
            person.mobile_cipher = seal(person.mobile)
