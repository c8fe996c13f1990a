"""导入人员名单 (SPEC ROS-1…ROS-12, X-1): the roster import pipeline of STYLE.md §6.

    read → normalise → validate every row (row, column, reason) → look up (set-based) → rules →
    one short transaction (lock the batch, insert new, update known people, counts, audit) → report

Three sources feed the same look-up, rules and write stages: an uploaded spreadsheet
(`roster_import_start` / `roster_import_run`), the code's previous-year enrolment
(`roster_import_previous`, 【获取上年度参保名单】) and the unit's union members
(`roster_import_members`, 【获取“会员库”本单位工会会员名单】). Each run is a RosterImport row: the
progress the page polls, the handbook's summary line, the bad rows, and (with the batch's audit
event, rosters.services.roster_audit) the bulk operation's record (SPEC X-2).

Files. .xlsx, .xls, .ods (and .xlsb) are read with python-calamine, first sheet. What a file is comes
from its bytes, not its name; a zip's directory is checked for a suspicious unpacked size or ratio
before anything is unpacked, and an Office file encrypted with a password (a CFB container holding an
`EncryptedPackage` stream) is refused. The upload is kept under MEDIA_ROOT/roster_imports/<id>/ for
7 days so the uploader can download it marked (rosters/workbooks.py), then purged (X-1).

Numbers typed into Excel. A cell that holds a number (not text) is read as its digits only when the
number is exact: an int, or a float that is a whole number below 2^53. An 18-digit resident ID never
fits there (doubles keep 15–16 digits), so it is always the row error "证件号码被Excel转换为数字…"; a
15-digit old ID typed as a number still gets the 15-digit message, and a numeric passport number of
a few digits is accepted.

No query per row (STYLE.md §6). A look-up passes all hashes of the file as one parameter (an array on
PostgreSQL, a JSON array read with json_each on SQLite), or, for a large file, reads the unit's or the
batch's own rows whole (SCOPE_INSTEAD_OF_HASHES), so a 50,000-row file costs the same number of queries
as a 50-row one. IDs are hashed and encrypted, mobiles encrypted (SPEC SEC-4), with
`mutualaid.pii_bulk.BulkPiiProtector` (same keys and formats as mutualaid.pii, without its per-value overhead): one
implementation for both bulk paths. Writes: COPY (new people) and COPY into a temporary table + one
UPDATE … FROM (known people) on PostgreSQL; on SQLite one INSERT … SELECT and one UPDATE … FROM over json_each
(SQLite ≥ 3.33), because bulk_create/bulk_update there are capped at 999 parameters a statement and
their query count would grow with the file.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import shutil
import time
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, OuterRef, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone
from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from enrollment.models import Batch, Unit
from mutualaid.audit import acting_as
from mutualaid.identifiers import Canonical, canonical_id_number, canonical_mobile
from mutualaid.sealed import SealedFileError, open_sealed, seal_stream
from mutualaid.pii import ID_TYPE_OTHER, ID_TYPE_RESIDENT, mask_id_number, mask_mobile, pii_decrypt
from mutualaid.pii_bulk import BulkPiiProtector
from mutualaid.validators import MOBILE_PATTERN, resident_id_birth_and_sex, resident_id_problem
from mutualaid.tasks import enqueue_on_commit

from .models import (
    EnrolmentRegistry,
    IdType,
    PreviousEnrolment,
    RosterEntry,
    RosterImport,
    SuggestedPerson,
    UnionMember,
    WorkStatus,
)
from .errors import RosterError
from .reference import header_name
from .services import (
    HELD_UNNAMED_MESSAGE,
    held_by_message,
    held_names_match,
    held_naming_audit,
    roster_audit,
    roster_lock_for_edit,
    roster_version_bump,
)
from mutualaid.jobs import JobLost, JobStatus, job_fail, job_finish, job_heartbeat, job_run

logger = logging.getLogger(__name__)

# --- limits --------------------------------------------------------------------------------------------

UPLOAD_DIR = "roster_imports"  # MEDIA_ROOT/roster_imports/<RosterImport id>-<created>/upload.<ext>
UPLOAD_KEEP = dt.timedelta(days=7)  # SPEC X-1: the marked copy is offered 7 days, then purged
# Smaller files run inside the request (about 6,000 rows of the template, well under a second);
# larger ones run as a Celery task while the page shows the progress (UI.md "Long work").
INLINE_MAX_BYTES = 256 * 1024
PROGRESS_SECONDS = 1.0  # rows_done is written at most this often
PROGRESS_EVERY_ROWS = 2_000  # how often validation looks at the clock
HEADER_SEARCH_ROWS = 20  # the header may sit under a title row or two
PROBLEMS_KEPT = 100_000  # bad rows kept on the RosterImport (every one is counted)
# Zip checks, from the directory only (SPEC ROS-10): a real roster of 1,000,000 rows unpacks to about
# 300 MB; sheets compress about 10:1 (XML of repeated cells, measured 10.5 for the template filled by
# openpyxl); a zip bomb reaches 1000:1.
ZIP_UNPACKED_MAX_BYTES = 512 * 1024 * 1024
ZIP_RATIO_MAX = 100
ZIP_RATIO_FROM_BYTES = 1024 * 1024  # small members may compress oddly; only large ones are judged
ZIP_MEMBERS_MAX = 10_000

REQUIRED_COLUMNS = ("姓名", "证件类型", "证件号码", "是否有社保")  # SPEC ROS-2
OPTIONAL_COLUMNS = ("出生日期", "性别", "手机号")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# --- messages ------------------------------------------------------------------------------------------

TEMPLATE_HINT = "请用【点击下载参保名单导入模板】下载模板，按模板填写后重新导入。"
NOT_A_SPREADSHEET = "无法读取该文件：它不是Excel表格（支持 .xlsx、.xls、.ods）。" + TEMPLATE_HINT
PASSWORD_PROTECTED = "文件设置了打开密码，无法读取：请在Excel中取消密码（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后重新导入。"
MACRO_WORKBOOK = "文件含有宏（VBA），为安全起见未导入：请在Excel中另存为“Excel 工作簿(*.xlsx)”（不含宏）后重新导入。"  # SPEC SEC-5
ZIP_SUSPICIOUS = "文件解压后的大小或压缩比例异常（文件可能已损坏），未导入。" + TEMPLATE_HINT
UNREADABLE = "无法读取该Excel文件（文件可能已损坏）：请在Excel中打开后另存为 .xlsx 再导入。"
EMPTY_FILE = "文件是空的，请填写参保人员后重新导入。"
NO_HEADER = "未找到标题行：文件中应有模板的标题行（*姓名、*证件类型、*证件号码、*是否有社保 等）。" + TEMPLATE_HINT
NO_DATA = "文件中没有参保人员数据：标题行下面没有填写任何人员，请填写后重新导入。"
EXCEL_NUMBER = "证件号码被Excel转换为数字，请将该列设置为文本格式后重新填写"
FAILED_UNEXPECTEDLY = "导入失败：系统处理时出错，参保清册未改变。请稍后重试；如仍失败，请联系技术支持（导入编号 {id}）。"


def too_large_message() -> str:
    return f"文件过大：单个文件不能超过 {settings.ROSTER_UPLOAD_MAX_BYTES // (1024 * 1024)}MB，请分成多个文件逐个导入。"


def state_message(batch: Batch) -> str:
    return f"批次当前状态为“{batch.get_state_display()}”，参保清册不能修改。"


def problem_message(problem: dict) -> str:
    """UI.md: `第 12 行：证件号码校验位错误（应为 X），请核对后重新导入`."""
    return f"第 {problem['row']} 行：{problem['reason']}"


# --- one person on their way to the roster ---------------------------------------------------------------


class _Person:
    """A good row: normalised values, then what the look-ups and rules add. Plain slots: a 50,000-row
    file makes 50,000 of them."""

    __slots__ = (
        "row", "id_type", "number", "name", "birth_date", "sex", "mobile", "says_insured", "id_hash",
        "id_cipher", "mobile_cipher", "entry",
    )

    def __init__(self, row, id_type, number, name, birth_date, sex, mobile, says_insured, id_hash="", id_cipher=""):
        self.row = row
        self.id_type = id_type
        self.number = number
        self.name = name
        self.birth_date = birth_date
        self.sex = sex
        self.mobile = mobile
        self.says_insured = says_insured  # 是否有社保 = 是 (SPEC ROS-8)
        self.id_hash = id_hash
        self.id_cipher = id_cipher
        self.mobile_cipher = ""  # SPEC SEC-4: the mobile is written encrypted (_protect)
        self.entry = None  # the RosterEntry column values, once the rules have run


@dataclass
class _Collected:
    """What a source yields: the good people, the bad rows and the number of rows read."""

    people: list[_Person]
    problems: list[dict]
    rows_read: int
    failed_rows: set[int] = field(default_factory=set)
    # SPEC ROS-11: holding batch id → the rows whose message named it (audited at the write).
    named: dict[int, list[int]] = field(default_factory=dict)

    def fail(self, row: int, column: str, value: str, reason: str) -> None:
        self.failed_rows.add(row)
        self.problems.append({"row": row, "column": column, "value": value, "reason": reason})


# --- recognising a file (before anything is unpacked) ------------------------------------------------------

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound file: .xls, or an encrypted .xlsx
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")  # a CFB directory entry name
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_VBA_STREAM = "_VBA_PROJECT".encode("utf-16-le")  # the VBA storage of an .xls with macros
_MACRO_CONTENT_TYPE = b"macroEnabled"  # [Content_Types].xml of an .xlsm / .xlsb with macros


def workbook_has_macros(stream) -> bool:
    """SPEC SEC-5: whether a workbook (a binary file object) carries macros: a zip (.xlsm, .xlsb) with a
    `vbaProject.bin` part or a macro-enabled content type, or an .xls with a VBA project. Reads the
    zip's directory (and its small [Content_Types].xml) or scans the CFB's bytes; never the whole
    workbook into memory."""
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    try:
        if head.startswith(_ZIP_MAGIC):
            try:
                archive = zipfile.ZipFile(stream)
                names = archive.namelist()
                if any(name.lower().endswith("vbaproject.bin") for name in names):
                    return True
                types = archive.getinfo("[Content_Types].xml") if "[Content_Types].xml" in names else None
                return bool(types and types.file_size < 1024 * 1024 and _MACRO_CONTENT_TYPE in archive.read(types))
            except (zipfile.BadZipFile, KeyError, OSError, RuntimeError):
                return False  # not a readable zip: the format checks say what is wrong with it
        if head.startswith(_CFB_MAGIC):
            return _cfb_names(stream, _VBA_STREAM)
        return False
    finally:
        stream.seek(0)


def spreadsheet_extension(stream) -> str:
    """The extension calamine should read `stream` (a binary file object) as: ".xlsx", ".xlsb",
    ".ods" or ".xls", judged from its bytes. Raises RosterError for anything else (a CSV or a text
    renamed .xlsx, a Word file), a password-protected file, or a zip whose directory declares a
    suspicious unpacked size or ratio (SPEC ROS-10) — decided from the directory alone."""
    stream.seek(0)
    head = stream.read(8)
    stream.seek(0)
    if not head:
        raise RosterError(EMPTY_FILE)
    if workbook_has_macros(stream):
        raise RosterError(MACRO_WORKBOOK)
    if head.startswith(_ZIP_MAGIC):
        try:
            archive = zipfile.ZipFile(stream)
            members = archive.infolist()
            _check_zip_directory(members)
            names = {member.filename for member in members}
            if "xl/workbook.xml" in names:
                return ".xlsx"
            if "xl/workbook.bin" in names:
                return ".xlsb"
            mimetype = archive.getinfo("mimetype") if "mimetype" in names else None
            if mimetype is not None and mimetype.file_size < 200 and archive.read(mimetype).startswith(_ODS_MIMETYPE):
                return ".ods"
        except zipfile.BadZipFile:
            raise RosterError(NOT_A_SPREADSHEET) from None
        finally:
            stream.seek(0)
        raise RosterError(NOT_A_SPREADSHEET)
    if head.startswith(_CFB_MAGIC):
        if _holds_encrypted_package(stream):
            raise RosterError(PASSWORD_PROTECTED)
        return ".xls"
    raise RosterError(NOT_A_SPREADSHEET)


def _check_zip_directory(members: list[zipfile.ZipInfo]) -> None:
    if len(members) > ZIP_MEMBERS_MAX:
        raise RosterError(ZIP_SUSPICIOUS)
    unpacked = sum(member.file_size for member in members)
    if unpacked > ZIP_UNPACKED_MAX_BYTES:
        raise RosterError(ZIP_SUSPICIOUS)
    for member in members:
        if member.file_size >= ZIP_RATIO_FROM_BYTES and member.file_size > ZIP_RATIO_MAX * max(member.compress_size, 1):
            raise RosterError(ZIP_SUSPICIOUS)


def _holds_encrypted_package(stream) -> bool:
    """Whether a CFB file names an `EncryptedPackage` stream, which is how Office stores a document
    protected by a password."""
    return _cfb_names(stream, _ENCRYPTED_STREAM)


def _cfb_names(stream, name: bytes) -> bool:
    """Whether a CFB file holds a directory entry `name` (UTF-16LE). The name is searched in the raw
    bytes, with an overlap so a name across two blocks is found too."""
    stream.seek(0)
    tail = b""
    try:
        while block := stream.read(1024 * 1024):
            if name in tail + block:
                return True
            tail = block[-len(name) :]
    finally:
        stream.seek(0)
    return False


# --- reading ---------------------------------------------------------------------------------------------


@dataclass
class Sheet:
    """The first sheet as calamine reads it: `rows[i]` is spreadsheet row i + 1 (empty rows above the
    data included), its values starting at column `first_column` (0-based)."""

    rows: list[list]
    first_column: int
    header_index: int = -1  # index in rows of the header row
    positions: dict[str, int] = field(default_factory=dict)  # column name → index in a row

    def row_number(self, index: int) -> int:
        return index + 1


def read_sheet(stream: BinaryIO) -> Sheet:
    """The first sheet of the spreadsheet read from the binary `stream` (a stored upload through
    mutualaid.sealed.open_sealed), its header found (see `find_header`). The file is read into memory
    (uploads are at most ROSTER_UPLOAD_MAX_BYTES), so no plain copy of it is ever written to disk.
    Raises RosterError for an unreadable, password-protected or header-less file."""
    data = io.BytesIO(stream.read())
    spreadsheet_extension(data)  # again: a stored file is never unpacked unchecked
    try:
        workbook = CalamineWorkbook.from_filelike(data)
        try:
            worksheet = workbook.get_sheet_by_index(0)
            first_column = worksheet.start[1] if worksheet.start else 0
            rows = list(worksheet.iter_rows())
        finally:
            workbook.close()
    except PasswordError:
        raise RosterError(PASSWORD_PROTECTED) from None
    except (CalamineError, ValueError, OSError, IndexError) as error:
        logger.info("roster file %s unreadable: %s", getattr(stream, "name", "?"), error)
        raise RosterError(UNREADABLE) from None
    sheet = Sheet(rows=rows, first_column=first_column or 0)
    find_header(sheet)
    return sheet


def read_stored_sheet(path: Path) -> Sheet:
    """read_sheet of a stored upload, sealed at rest (SPEC SEC-4); RosterError when it does not decrypt."""
    try:
        with open_sealed(path) as stream:
            return read_sheet(stream)
    except SealedFileError:
        logger.warning("roster upload %s does not decrypt", path)
        raise RosterError(UNREADABLE) from None


def _blank(value) -> bool:
    return value is None or value == "" or (isinstance(value, str) and not value.strip())


def _blank_row(row) -> bool:
    """All cells empty or white space. A filled row answers at its first cell (usually the name)."""
    for value in row:
        if value.__class__ is str:
            if value and not value.isspace():
                return False
        elif value is not None:
            return False
    return True


def find_header(sheet: Sheet) -> None:
    """SPEC ROS-2 [departure]: the header is the first of the first non-empty rows that names at
    least two of the template's columns (by leading name: `*证件类型 (身份证、非身份证)` is 证件类型);
    columns in any order, extra ones ignored. Raises RosterError naming a missing required column."""
    seen = 0
    for index, row in enumerate(sheet.rows):
        if all(_blank(value) for value in row):
            continue
        seen += 1
        names = [header_name(value if isinstance(value, str) else "") for value in row]
        known = [name for name in names if name in COLUMNS]
        if len(set(known)) >= 2:
            positions: dict[str, int] = {}
            for position, name in enumerate(names):
                if name in COLUMNS and name not in positions:  # a repeated column: the first counts
                    positions[name] = position
            missing = [name for name in REQUIRED_COLUMNS if name not in positions]
            if missing:
                listed = "、".join(f"“{name}”" for name in missing)
                raise RosterError(f"缺少必填列{listed}：请保持模板的标题行不变（列的顺序可以调整）。" + TEMPLATE_HINT)
            sheet.header_index, sheet.positions = index, positions
            return
        if seen >= HEADER_SEARCH_ROWS:
            break
    if seen == 0:
        raise RosterError(EMPTY_FILE)
    raise RosterError(NO_HEADER)


# --- normalising one value ---------------------------------------------------------------------------------

_EXACT_FLOAT_LIMIT = 2**53
_FLOAT_LIKE = re.compile(r"^\d(\.\d+)?E[+-]?\d+$")
_OTHER_ID = re.compile(r"[0-9A-Z-]{4,30}")
_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_DATE_DIGITS = re.compile(r"(\d{4})(\d{2})(\d{2})")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
# Ethnic-minority and foreign names are written with a middle dot; keyboards give several look-alikes.
_MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "･": "·", "‧": "·", "∙": "·", "●": "·"})
_YES_NO = {"是": True, "否": False}
_SEXES = {"男": "男", "女": "女", "男性": "男", "女性": "女"}
_ID_TYPES = {"身份证": IdType.RESIDENT.value, "居民身份证": IdType.RESIDENT.value, "非身份证": IdType.OTHER.value}


def _plain(value) -> str:
    """A cell as the text a person sees, trimmed; whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _folded(text: str) -> str:
    """Full-width → half-width (NFKC), without any white space or invisible format character, and a
    leading apostrophe (Excel's "this is text" mark) dropped."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = "".join(text.split())
    return text.lstrip("'")


def _id_text(value) -> Canonical | None:
    """The ID cell in its canonical form (SPEC SEC-1: folded, X upper-case, ASCII only, else a
    problem naming the column); None when Excel turned it into a number that has lost digits (see
    the module docstring)."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
            return Canonical(str(int(value)))
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return Canonical(str(value))
    text = value if isinstance(value, str) else _plain(value)
    if len(text) == 18 and text.isascii() and text.isalnum():  # the usual case
        return Canonical(text.upper())
    return canonical_id_number(text.strip().lstrip("'"))


def _resident_check(number: str) -> tuple[dt.date, str] | str:
    """SPEC ROS-3: birth date and sex (男/女) of a valid 18-character resident ID, or the row's reason
    (a str) why `number` is none."""
    if len(number) == 18 and number.isascii() and number[:17].isdigit():
        # The usual case, checked without resident_id_problem's string work: GB 11643 weights are
        # 2^(17-i) mod 11, and 13 ≡ 2 (mod 11), so the weighted sum is 2·int(first 17, base 13) mod 11.
        expected = "10X98765432"[(2 * int(number[:17], 13)) % 11]
        if number[17] == expected:
            try:
                birth_date = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            except ValueError:
                pass
            else:
                return birth_date, "男" if number[16] in "13579" else "女"
    if _FLOAT_LIKE.match(number) or number.endswith(".0"):
        return EXCEL_NUMBER
    problem = resident_id_problem(number)
    if problem is None:  # never reached for a number the fast path refused; kept for safety
        return resident_id_birth_and_sex(number)
    if "校验位" in problem:
        expected = "10X98765432"[(2 * int(number[:17], 13)) % 11]
        return f"证件号码校验位错误（应为 {expected}），请核对后重新导入"
    return f"{problem}，请核对后重新导入"


def _birth_date(value) -> dt.date | str:
    """A birth date from an Excel date, a serial number or a string (1990-01-01, 1990/1/1, 19900101,
    1990.01.01, 1990年1月1日); a str is the reason it is none."""
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
            number = int(value)
            if 19000101 <= number <= 21001231:
                value = str(number)
            elif 1 <= number < 80_000:  # a date cell without its date format: Excel's serial day
                return _reasonable_date(_EXCEL_EPOCH + dt.timedelta(days=number))
        text = _folded(_plain(value)) if not isinstance(value, str) or not value.isascii() else value.strip()
        text = re.split(r"[T\s]|(?<=日)", text, maxsplit=1)[0] if text else text
        match = _DATE_TEXT.fullmatch(text) or _DATE_DIGITS.fullmatch(text)
        if match is None:
            return "出生日期格式不正确（应为1990-01-01），请核对后重新导入"
        try:
            day = dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return f"出生日期{text}不存在，请核对后重新导入"
    return _reasonable_date(day)


def _reasonable_date(day: dt.date) -> dt.date | str:
    if day.year < 1900 or day > timezone.localdate():
        return f"出生日期{day.isoformat()}不合理，请核对后重新导入"
    return day


_MOBILE_FORMAT = "手机号应为11位数字（以1开头），请核对后重新导入"


def _mobile(value) -> Canonical:
    """SPEC ROS-3 (mobile optional): 11 digits starting with 1, spaces and "-" ignored, in canonical
    form (SPEC SEC-1); the problem says why not."""
    text = _plain(value)
    if not (len(text) == 11 and text.isascii() and text.isdigit()):
        text, problem = canonical_mobile(text)
        if problem:
            return Canonical("", f"{problem}，请核对后重新导入")
        if text.startswith("+86"):
            text = text[3:]
    return Canonical(text) if MOBILE_PATTERN.fullmatch(text) else Canonical("", _MOBILE_FORMAT)


def _name(value) -> str:
    text = value.strip() if value.__class__ is str else _plain(value)
    if not text.isprintable() or "  " in text:
        text = " ".join("".join(char if char.isprintable() else " " for char in text).split())
    return text.translate(_MIDDLE_DOTS)


def _same_name(first: str, second: str) -> bool:
    return "".join(first.split()) == "".join(second.split())


# --- validating the rows of a file ---------------------------------------------------------------------------


class _Progress:
    """Writes rows_total once and rows_done at most every PROGRESS_SECONDS (a queryset update: no
    signal, so the audit trail keeps one event per import, SPEC X-2)."""

    def __init__(self, roster_import: RosterImport):
        self.roster_import = roster_import
        self.written_at = time.monotonic()

    def total(self, rows_total: int) -> None:
        job_heartbeat(self.roster_import, rows_total=rows_total, rows_done=0)

    def done(self, rows_done: int, *, force: bool = False) -> None:
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
        shown = _plain(raw_mobile)
        fail(line, "手机号", mask_mobile(shown) if shown.isdigit() else shown, problem)
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
    protector = BulkPiiProtector(hash_key=settings.PII_HASH_KEY, encryption_key=settings.PII_KEY)
    protect = protector.begin_chunk(len(people))
    seal = protector.begin_sealing(sum(1 for person in people if person.mobile))
    for person in people:
        person.id_hash, person.id_cipher, _digest = protect(person.number)
        if person.mobile:
            person.mobile_cipher = seal(person.mobile)


# --- the other two sources ------------------------------------------------------------------------------------


def _unit_keys(batch: Batch) -> list[str]:
    """How the 会员库 knows the unit (SPEC REF-3): its enrollment code or a USCC of its units."""
    code = batch.code
    usccs = set(Unit.objects.filter(code=code).exclude(uscc="").values_list("uscc", flat=True))
    if code.uscc:
        usccs.add(code.uscc)
    return [code.code, *sorted(usccs)]


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
    others = [id_hash for id_hash, _cipher, id_type, _name in rows if id_type == IdType.OTHER]
    known = {}
    if others:
        known = {
            id_hash: (birth_date, sex)
            for id_hash, birth_date, sex in RosterEntry.objects.filter(
                _hash_in(RosterEntry, others), batch__code=batch.code, batch__coverage_year__year=year, id_type=IdType.OTHER
            ).values_list("id_hash", "birth_date", "sex")
        }
    collected = _Collected(people=[], problems=[], rows_read=len(rows))
    for position, (id_hash, cipher, id_type, name) in enumerate(rows, start=1):
        number = pii_decrypt(cipher)
        if id_type == IdType.OTHER:
            if id_hash not in known:
                collected.fail(
                    position, "证件号码", mask_id_number(number, ID_TYPE_OTHER),
                    "非身份证人员的出生日期和性别在上年度名单中没有，请通过【上传本地参保名单文件】导入该人员",
                )
                continue
            birth_date, sex = known[id_hash]
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
        members.setdefault(id_hash, (cipher, name))  # known by code and by USCC: once
    if not members:
        raise RosterError(
            f"会员库中没有本单位{batch.coverage_year.year}年度的工会会员（参保编码 {batch.code.code}"
            f"{'，统一社会信用代码 ' + '、'.join(keys[1:]) if len(keys) > 1 else ''}）。"
            "请通过【获取上年度参保名单】或【上传本地参保名单文件】导入。"
        )
    collected = _Collected(people=[], problems=[], rows_read=len(members))
    for position, (id_hash, (cipher, name)) in enumerate(members.items(), start=1):
        number = pii_decrypt(cipher)
        birth_date, sex = resident_id_birth_and_sex(number)  # the register holds resident IDs only (REF-3)
        collected.people.append(_Person(position, IdType.RESIDENT, number, name, birth_date, sex, "", False, id_hash, cipher))
    return collected


# --- look-ups (set-based) --------------------------------------------------------------------------------------


def _hash_in(model, hashes: list[str]) -> RawSQL:
    """A condition `<model's table>.id_hash ∈ hashes` with all of them as ONE parameter (see the
    module docstring), for .filter(). Hashes are hex, so the array literal needs no quoting."""
    column = f"{connection.ops.quote_name(model._meta.db_table)}.{connection.ops.quote_name('id_hash')}"
    if connection.vendor == "postgresql":
        return RawSQL(f"{column} = ANY(%s::varchar[])", ["{" + ",".join(hashes) + "}"], output_field=BooleanField())
    return RawSQL(f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(hashes)], output_field=BooleanField())


# Above this many people, the look-ups scoped to the unit or the batch (last year's list of the code, its
# union members, the batch's own entries) fetch the whole scope instead of passing every hash: the
# scope is bounded by the unit's size, while parsing an array of 50,000 hashes costs the server ~50 ms
# a query. Below it, the hashes are the smaller side.
SCOPE_INSTEAD_OF_HASHES = 2_000


def _of_hashes(queryset, model, hashes: list[str]):
    """`queryset` (already scoped to a unit or batch) narrowed to `hashes` when that is cheaper."""
    if len(hashes) > SCOPE_INSTEAD_OF_HASHES:
        return queryset
    return queryset.filter(_hash_in(model, hashes))


class _SuggestedRow(NamedTuple):
    id_hash: str
    ss_name: str
    ss_unit_code: str
    personal_ss_number: str
    work_status: str
    medical_active: bool


@dataclass
class _Found:
    suggested: dict[str, _SuggestedRow]
    previous_names: dict[str, str]
    member_names: dict[str, str]
    # id_hash → (unit name, handler name, handler mobile cipher, holding batch id, name in its roster)
    held: dict[str, tuple[str, str, str, int, str]]


def _look_up(batch: Batch, people: list[_Person], *, member_names: dict | None = None) -> _Found:
    """SPEC ROS-5, ROS-8, ROS-11, ROS-12: everything the rules need, in at most five queries whatever
    the number of people (the suggested roster and the registry by hash; last year's list and the
    会员库 within the unit)."""
    year = batch.coverage_year.year
    resident = [person.id_hash for person in people if person.id_type == IdType.RESIDENT]
    hashes = [person.id_hash for person in people]
    if not hashes:
        return _Found({}, {}, {}, {})
    suggested = {}
    if resident:
        # Only what the rules use (not the cipher): about half the bytes of suggested_people_by_hash.
        rows = (
            SuggestedPerson.objects.filter(_hash_in(SuggestedPerson, resident), year=year)
            .values_list(*_SuggestedRow._fields)
        )
        new = tuple.__new__
        suggested = {row[0]: new(_SuggestedRow, row) for row in rows}
    wanted = set(hashes)
    previous_names = {
        id_hash: name
        for id_hash, name in _of_hashes(
            PreviousEnrolment.objects.filter(year=year - 1, code=batch.code.code), PreviousEnrolment, hashes
        ).values_list("id_hash", "name")
        if id_hash in wanted
    }
    if member_names is None:
        member_names = {}
        if resident:
            for id_hash, name in _of_hashes(
                UnionMember.objects.filter(year=year, unit_key__in=_unit_keys(batch)), UnionMember, resident
            ).values_list("id_hash", "name"):
                if id_hash in wanted:
                    member_names.setdefault(id_hash, name)
    # SPEC ROS-11: the name the holder enrolled comes with each registry row (a correlated look-up
    # on the roster's (batch, id_hash, id_type) index, in the same query: still one query per file).
    holder_name = RosterEntry.objects.filter(batch=OuterRef("batch_id"), id_hash=OuterRef("id_hash")).values("name")[:1]
    held = {
        id_hash: (unit_name, handler_name or "", handler_mobile_cipher or "", holder_batch, enrolled_name or "")
        for id_hash, unit_name, handler_name, handler_mobile_cipher, holder_batch, enrolled_name in (
            EnrolmentRegistry.objects.filter(_hash_in(EnrolmentRegistry, hashes), year=year)
            .exclude(batch_id=batch.pk)
            .annotate(enrolled_name=Subquery(holder_name))
            .values_list(
                "id_hash", "batch__unit_name", "batch__code__handler_info__handler_name",
                "batch__code__handler_info__handler_mobile_cipher", "batch_id", "enrolled_name",
            )
        )
    }
    return _Found(suggested, previous_names, member_names, held)


# --- rules -----------------------------------------------------------------------------------------------------


_ACTIVE, _RETIRED, _UNKNOWN = WorkStatus.ACTIVE.value, WorkStatus.RETIRED.value, WorkStatus.UNKNOWN.value
_OTHER = IdType.OTHER.value


def _apply_rules(collected: _Collected, found: _Found) -> list[_Person]:
    """SPEC ROS-5 (names), ROS-8 (职退状态, 是否有社保), ROS-11 (held by another unit), ROS-12 (retired).
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
        suggested = suggested_of.get(id_hash)
        if suggested is not None and suggested.work_status == _RETIRED:  # SPEC ROS-12
            collected.fail(person.row, "证件号码", _masked(person), "该人员在建议清册中的职退状态为“退休”，退休人员不能参保")
            continue
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
        if person.says_insured:
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


def _merge(entry: tuple, current: tuple) -> tuple:
    """SPEC ROS-4: a person already in the batch is updated. What the unit settled stays settled: a
    name mismatch it confirmed (same three names, closed) keeps its chosen name; 在职 with 社保 it set
    (【设置在职】 or an earlier 是) is not taken back by a later file; a mobile left empty keeps the old one
    (both are ciphers here, "" for none)."""
    (_pk, name, mobile_cipher, insured, work_status, imported_name, previous_name, member_name, mismatch) = current
    merged = dict(zip(_ENTRY_FIELDS, entry))
    names_unchanged = (imported_name, previous_name, member_name) == (
        merged["imported_name"], merged["previous_name"], merged["member_name"]
    )
    if names_unchanged and not mismatch and merged["name_mismatch"]:
        merged["name"], merged["name_mismatch"] = name, False
    if insured and work_status == _ACTIVE and merged["work_status"] != _RETIRED:
        merged["work_status"], merged["has_social_security"] = _ACTIVE, True
    if not merged["mobile_cipher"]:
        merged["mobile_cipher"] = mobile_cipher
    return tuple(merged[name] for name in _ENTRY_FIELDS)


# --- writing ---------------------------------------------------------------------------------------------------

_ENTRY_FIELDS = (
    "name", "birth_date", "sex", "mobile_cipher", "has_social_security", "work_status", "is_suggested", "ss_unit_code",
    "personal_ss_number", "medical_active", "imported_name", "previous_name", "member_name", "name_mismatch",
)
_INSERT_COLUMNS = ("batch_id", "id_type", "id_hash", "id_cipher", *_ENTRY_FIELDS, "created_at", "updated_at")
_UPDATE_COLUMNS = ("id", *_ENTRY_FIELDS, "updated_at")
_CURRENT_FIELDS = (
    "pk", "name", "mobile_cipher", "has_social_security", "work_status", "imported_name", "previous_name", "member_name",
    "name_mismatch",
)


def _quoted(columns) -> str:
    return ", ".join(connection.ops.quote_name(column) for column in columns)


def _insert(rows: list[tuple]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(RosterEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({_quoted(_INSERT_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            picks = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(_INSERT_COLUMNS)))
            cursor.execute(
                f"INSERT INTO {table} ({_quoted(_INSERT_COLUMNS)}) SELECT {picks} FROM json_each(%s)",
                [json.dumps(rows, default=str)],
            )


def _update(rows: list[tuple]) -> None:
    if not rows:
        return
    table = connection.ops.quote_name(RosterEntry._meta.db_table)
    assignments_from = lambda source: ", ".join(  # noqa: E731
        f"{connection.ops.quote_name(column)} = {source(index)}" for index, column in enumerate(_UPDATE_COLUMNS) if index
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            staging = "roster_import_update"
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{staging}")
            cursor.execute(
                f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS SELECT {_quoted(_UPDATE_COLUMNS)} FROM {table} WITH NO DATA"
            )
            with cursor.copy(f"COPY {staging} ({_quoted(_UPDATE_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            sets = assignments_from(lambda index: f"staged.{connection.ops.quote_name(_UPDATE_COLUMNS[index])}")
            cursor.execute(f"UPDATE {table} AS roster SET {sets} FROM {staging} AS staged WHERE roster.id = staged.id")
            cursor.execute(f"DROP TABLE {staging}")
        else:
            sets = assignments_from(lambda index: f"json_extract(staged.value, '$[{index}]')")
            cursor.execute(
                f"UPDATE {table} SET {sets} FROM json_each(%s) AS staged "
                f"WHERE {table}.id = json_extract(staged.value, '$[0]')",
                [json.dumps(rows, default=str)],
            )


def _row_adapter():
    """How a row's values go to the database: as they are for COPY (PostgreSQL); for json_each
    (SQLite, where Django keeps dates and datetimes as text and booleans as 0/1) converted."""
    if connection.vendor == "postgresql":
        return tuple
    adapt_datetime = connection.ops.adapt_datetimefield_value

    def adapt(values):
        row = []
        for value in values:
            if value is True or value is False:
                value = int(value)
            elif isinstance(value, dt.datetime):
                value = adapt_datetime(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            row.append(value)
        return row

    return adapt


@dataclass
class _Written:
    added: int
    updated: int


def _write(*, roster_import: RosterImport, people: list[_Person], collected: _Collected, acting_user, timings: dict) -> _Written:
    """One short transaction (STYLE.md §6): lock the batch (refused if its state forbids editing),
    find who is in it already, insert the others, update the known, bump roster_version if anyone was
    added, one audit event with the counts (X-2), and the RosterImport's result."""
    started = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        batch = roster_lock_for_edit(batch=roster_import.batch)
        current = {}
        if people:
            for row in _of_hashes(
                RosterEntry.objects.filter(batch=batch), RosterEntry, [person.id_hash for person in people]
            ).values_list("id_hash", "id_type", *_CURRENT_FIELDS):
                current[(row[0], row[1])] = row[2:]
        new_rows, update_rows = [], []
        adapt = _row_adapter()
        batch_pk = batch.pk
        for person in people:
            known = current.get((person.id_hash, person.id_type))
            if known is None:
                new_rows.append(adapt((batch_pk, person.id_type, person.id_hash, person.id_cipher, *person.entry, now, now)))
            else:
                update_rows.append(adapt((known[0], *_merge(person.entry, known), now)))
        _insert(new_rows)
        _update(update_rows)
        if new_rows:
            roster_version_bump(batch=batch)
        timings["write"] = time.perf_counter() - started

        started = time.perf_counter()
        problems = sorted(collected.problems, key=lambda problem: problem["row"])[:PROBLEMS_KEPT]
        written = _Written(added=len(new_rows), updated=len(update_rows))
        failed = len(collected.failed_rows)
        roster_audit(
            batch=batch,
            acting_user=acting_user,
            action=f"导入参保人员（{roster_import.get_source_display()}）",
            read=collected.rows_read,
            added=written.added,
            updated=written.updated,
            failed=failed,
        )
        _audit_namings(roster_import=roster_import, named=collected.named, acting_user=acting_user)
        job_finish(
            roster_import,
            rows_total=collected.rows_read,
            rows_done=collected.rows_read,
            rows_read=collected.rows_read,
            rows_imported=written.added + written.updated,
            rows_added=written.added,
            rows_updated=written.updated,
            rows_failed=failed,
            problems=problems,
        )
    timings["report"] = time.perf_counter() - started
    return written


def _audit_namings(*, roster_import: RosterImport, named: dict[int, list[int]], acting_user) -> None:
    """SPEC ROS-11, SEC-3: one audit entry per holding batch this import named (its rows listed), in
    the write's transaction; a query per named batch, not per row."""
    for holder in Batch.objects.filter(pk__in=list(named)).order_by("pk"):
        rows = named[holder.pk]
        held_naming_audit(
            holder=holder,
            acting_user=acting_user,
            remote_addr=roster_import.remote_addr,
            roster_import=roster_import.pk,
            rows=rows[:1000],
            rows_named=len(rows),
        )


# --- the services ----------------------------------------------------------------------------------------------


def upload_folder(roster_import: RosterImport) -> Path:
    """The import's own folder. Its name carries the moment the import was recorded besides its id, so a
    database restored without its media (ids used again) never meets an old folder (SPEC SEC-4)."""
    return Path(settings.MEDIA_ROOT) / UPLOAD_DIR / f"{roster_import.pk}-{roster_import.created_at:%Y%m%d%H%M%S%f}"


def stored_path(roster_import: RosterImport) -> Path | None:
    """Where the upload of `roster_import` lies, or None once purged (or never stored)."""
    if not roster_import.stored_file:
        return None
    return Path(settings.MEDIA_ROOT) / roster_import.stored_file


def marked_copy_available(roster_import: RosterImport, *, now=None) -> bool:
    """SPEC X-1: the marked copy exists for a finished file import with bad rows, for 7 days."""
    now = now or timezone.now()
    path = stored_path(roster_import)
    return bool(
        roster_import.source == RosterImport.Source.FILE
        and roster_import.status == JobStatus.DONE
        and roster_import.rows_failed
        and path is not None
        and roster_import.created_at > now - UPLOAD_KEEP
        and path.exists()
    )


def roster_import_start(*, batch: Batch, upload, acting_user, remote_addr: str | None = None) -> RosterImport:
    """【上传本地参保名单文件】 (SPEC ROS-1, ROS-9, ROS-10): check the upload, keep it under
    MEDIA_ROOT/roster_imports/<id>/ and import it — inline when small (INLINE_MAX_BYTES), otherwise as
    a Celery task started on commit (the page polls rows_done / rows_total).

    Raises RosterError, with nothing recorded and nothing changed, when the batch's state forbids
    editing, the file is empty or too large, not a spreadsheet, password-protected or a suspicious zip.
    A file refused later (no header, a required column missing, no data rows) comes back as a
    RosterImport with status "refused" and its message in `error`."""
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    size = upload.size
    if not size:
        raise RosterError(EMPTY_FILE)
    if size > settings.ROSTER_UPLOAD_MAX_BYTES:
        raise RosterError(too_large_message())
    extension = spreadsheet_extension(upload)
    with acting_as(acting_user):
        roster_import = RosterImport.objects.create(
            batch=batch,
            account=acting_user,
            source=RosterImport.Source.FILE,
            file_name=Path(upload.name or "").name[:255],
            rows_total=None,
            remote_addr=remote_addr or None,
        )
    folder = upload_folder(roster_import)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"upload{extension}"
    try:
        seal_stream(upload.chunks(1024 * 1024), target)  # SPEC SEC-4: sealed at rest
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        RosterImport.objects.filter(pk=roster_import.pk).update(
            status=JobStatus.FAILED, error=FAILED_UNEXPECTEDLY.format(id=roster_import.pk), finished_at=timezone.now()
        )
        raise RosterError("服务器保存文件失败，参保清册未改变。请稍后重试，或联系技术支持。") from None
    roster_import.stored_file = str(target.relative_to(Path(settings.MEDIA_ROOT)))
    RosterImport.objects.filter(pk=roster_import.pk).update(stored_file=roster_import.stored_file)
    if size < INLINE_MAX_BYTES:
        return roster_import_run(roster_import=roster_import)
    from .tasks import run_roster_import

    enqueue_on_commit(run_roster_import, roster_import.pk)
    roster_import.refresh_from_db()  # with no broker the task has run already
    return roster_import


def roster_import_run(*, roster_import: RosterImport) -> RosterImport:
    """Run one queued RosterImport through the whole pipeline and return it, finished (STYLE.md §6).

    Safe to run twice (SPEC SEC-2, mutualaid.jobs): a finished import is returned as it is, one whose
    worker died is run again from the start (its write is one transaction: nothing half-written).
    A file refused as a whole (or a batch whose state no longer allows editing) ends "refused" with
    its Chinese message in `error`, the roster unchanged; an unexpected error ends "failed" (logged),
    the roster unchanged. The returned object carries `timings` (seconds per phase: read, validate,
    lookup, write, report) for the benchmark. Raises JobBusy while another live worker runs it."""
    timings: dict[str, float] = {}
    job_run(RosterImport, roster_import.pk, lambda claimed: roster_import_work(claimed, timings=timings))
    result = RosterImport.objects.select_related("batch").get(pk=roster_import.pk)
    result.timings = timings
    return result


def roster_import_work(roster_import: RosterImport, *, timings: dict | None = None) -> None:
    """One attempt at a claimed import (mutualaid.jobs.job_run calls it)."""
    timings = {} if timings is None else timings
    claimed = (
        RosterImport.objects.select_related("batch__code", "batch__coverage_year", "account").get(pk=roster_import.pk)
    )
    claimed.attempts = roster_import.attempts  # the attempt that holds the job (its fencing token)
    try:
        _run(claimed, timings)
    except RosterError as error:
        job_finish(claimed, status=JobStatus.REFUSED, error=error.message)
        if claimed.source == RosterImport.Source.FILE:
            _remove_upload(claimed)  # nothing to mark in a refused file
        return
    except JobLost:
        raise
    except Exception:
        logger.exception("roster import %s failed", claimed.pk)
        job_fail(claimed, FAILED_UNEXPECTEDLY.format(id=claimed.pk))
        return
    if claimed.source == RosterImport.Source.FILE and not claimed.rows_failed:
        _remove_upload(claimed)  # no bad row: no marked copy to offer, and the file holds IDs in clear


def _run(roster_import: RosterImport, timings: dict) -> None:
    batch = roster_import.batch
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    member_names = None
    started = time.perf_counter()
    if roster_import.source == RosterImport.Source.FILE:
        progress = _Progress(roster_import)
        path = stored_path(roster_import)
        if path is None or not path.exists():
            raise RosterError("上传的文件已不在服务器上，请重新导入。")
        sheet = read_stored_sheet(path)
        timings["read"] = time.perf_counter() - started
        started = time.perf_counter()
        collected = _validate_sheet(sheet, progress)
        del sheet
        _protect(collected.people)
        progress.done(collected.rows_read, force=True)
    elif roster_import.source == RosterImport.Source.PREVIOUS:
        collected = _collect_previous(batch)
        timings["read"] = time.perf_counter() - started
        started = time.perf_counter()
    else:
        collected = _collect_members(batch)
        member_names = {person.id_hash: person.name for person in collected.people}
        timings["read"] = time.perf_counter() - started
        started = time.perf_counter()
    timings["validate"] = time.perf_counter() - started
    started = time.perf_counter()
    found = _look_up(batch, collected.people, member_names=member_names)
    ready = _apply_rules(collected, found)
    timings["lookup"] = time.perf_counter() - started
    _write(roster_import=roster_import, people=ready, collected=collected, acting_user=roster_import.account, timings=timings)


def _remove_upload(roster_import: RosterImport) -> None:
    if roster_import.pk:
        shutil.rmtree(upload_folder(roster_import), ignore_errors=True)
        RosterImport.objects.filter(pk=roster_import.pk).update(stored_file="")


def _import_from(*, batch: Batch, acting_user, source: str, remote_addr: str | None) -> RosterImport:
    if not batch.roster_editable:
        raise RosterError(state_message(batch))
    with acting_as(acting_user):
        roster_import = RosterImport.objects.create(
            batch=batch, account=acting_user, source=source, remote_addr=remote_addr or None
        )
    return roster_import_run(roster_import=roster_import)


def roster_import_previous(*, batch: Batch, acting_user, remote_addr: str | None = None) -> RosterImport:
    """【获取上年度参保名单】 (SPEC ROS-1, REF-4): the people this code enrolled in the previous coverage
    year, through the same look-ups, rules and write as a file. Raises RosterError if the state forbids
    editing; no previous-year list ends the RosterImport "refused" with the reason."""
    return _import_from(
        batch=batch, acting_user=acting_user, source=RosterImport.Source.PREVIOUS, remote_addr=remote_addr
    )


def roster_import_members(*, batch: Batch, acting_user, remote_addr: str | None = None) -> RosterImport:
    """【获取“会员库”本单位工会会员名单】 (SPEC ROS-1, REF-3): the unit's union members of the year (by
    enrollment code or USCC), like roster_import_previous."""
    return _import_from(
        batch=batch, acting_user=acting_user, source=RosterImport.Source.MEMBERS, remote_addr=remote_addr
    )


def roster_imports_purge(*, older_than: dt.timedelta = UPLOAD_KEEP) -> int:
    """SPEC X-1: delete the uploads kept for the marked copy once they are `older_than`, and clear
    their problems (they hold the rows' values). Returns how many imports were purged."""
    cutoff = timezone.now() - older_than
    stale = RosterImport.objects.filter(created_at__lt=cutoff).exclude(stored_file="", problems=[])
    purged = 0
    for roster_import in stale.only("pk", "stored_file", "created_at").iterator():
        shutil.rmtree(upload_folder(roster_import), ignore_errors=True)
        RosterImport.objects.filter(pk=roster_import.pk).update(stored_file="", problems=[])
        purged += 1
    return purged
