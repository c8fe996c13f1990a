"""Reference data loads (SPEC REF-1..REF-4, X-2) and the set-based look-up of the suggested roster.

`reference_load` reads one file of one kind for one coverage year and replaces that year's data:

    read (CSV, CSV.gz, XLSX) → normalise → validate every row (line, Chinese reason; never dropped
    silently) → hash and encrypt ID numbers → load

The whole city is loaded every year (millions of rows), so the pipeline streams in chunks of about
CHUNK_ROWS rows and never holds the file:

- PostgreSQL (ARCHITECTURE.md "Bulk data"): the tables are LIST-partitioned by year (migration 0002).
  Rows are COPYed (FREEZE: frozen, and all-visible for the look-up's Index Only Scan, see
  suggested_people_by_hash) into an unindexed staging table created in the same transaction, which
  is then analysed, indexed like the parent (two indexes at once, on two connections), and swapped
  in within one short transaction (DETACH the year's old partition, ATTACH the staging table, DROP
  the old one). Until then readers see the previous data; a failure anywhere before the swap drops
  the staging table and leaves that data as it was.
- Elsewhere (SQLite, the demo): one transaction deletes the year's rows and bulk-creates the new ones.

Hashing (HMAC-SHA256) and encryption (AES-GCM) of every ID dominate the cost: they use
mutualaid.pii_bulk, the keys and formats of mutualaid.pii with the per-value overhead cut down (tests
check that pii_hash finds and pii_decrypt reads what a load writes), and on PostgreSQL large files are prepared by a small pool of
processes while the main process COPYs. The main process also checks for duplicates across the
whole file, exactly (a set of 16-byte keys: about 130 bytes a row, 0.9 GB for 6,000,000 rows).

A load is audited as one event with its counts (SPEC X-2): its ReferenceLoad row, which the upload
task (rosters/tasks.py) or `reference_load_recorded` (the management command) keeps.
"""
from __future__ import annotations

import array
import calendar
import codecs
import concurrent.futures
import contextlib
import csv
import ctypes
import ctypes.util
import datetime as dt
import gc
import gzip
import hashlib
import io
import logging
import multiprocessing
import os
import re
import signal
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from mutualaid.audit import acting_as
from mutualaid.identifiers import canonical, canonical_id_number, canonical_uscc
from mutualaid.validators import RESIDENT_ID_CHECK, resident_id_problem, validate_uscc

from .errors import RosterError
from .models import PreviousEnrolment, ReferenceLoad, SsUnit, SuggestedPerson, UnionMember, WorkStatus
from mutualaid.jobs import job_fail, job_finish, job_run
from mutualaid.pii_bulk import BulkPiiProtector
from mutualaid.sealed import SealedWriter

logger = logging.getLogger(__name__)

Kind = ReferenceLoad.Kind

CHUNK_ROWS = 50_000  # rows per chunk: the unit of work, of COPY and of progress reports
REJECTED_IN_MEMORY = 100_000  # rejected rows kept in LoadResult; the report file has them all
REJECTED_DIR = "private/reference/rejected"  # under MEDIA_ROOT, next to the uploads (rosters/admin.py)
POOL_PROCESSES = 2
POOL_MIN_BYTES = 16 * 1024 * 1024  # below this (about 200,000 rows) a pool costs more than it saves
INDEX_BUILD_MEMORY = "512MB"  # maintenance_work_mem of each index build (two at once); 1–2 GB measured no faster
SWAP_LOCK_TIMEOUT = "5s"  # the swap waits this long for readers of the table, then tries again
SWAP_ATTEMPTS = 6
ADVISORY_LOCK_CLASS = 0x52454644  # pg_advisory_lock(class, id): one load per (kind, year) at a time
READ_BYTES = 1024 * 1024
MAX_CHUNK_BYTES = 64 * 1024 * 1024  # a stray quote character must not make one chunk of a whole file


@dataclass
class LoadResult:
    """What one load did: 读取 N 行，导入 M 行，错误 F 行, and where the rejected lines are."""

    kind: str
    year: int
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    # (line, reason, raw values), in line order; at most REJECTED_IN_MEMORY of them
    rejected_rows: list[tuple[int, str, tuple[str, ...]]] = field(default_factory=list)
    rejected_path: Path | None = None  # the full list as CSV (under MEDIA_ROOT), None when nothing was rejected
    seconds: float = 0.0
    # Seconds of each phase, in order (the loader logs them too): "rows" (read, check, hash,
    # encrypt, COPY), and on PostgreSQL "analyse", "indexes", "swap".
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return f"读取 {self.read} 行，导入 {self.loaded} 行，错误 {self.rejected} 行"

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


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


# --- reading files ---------------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls, and any password-protected Office file
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_ABSENT = 1 << 30  # the position of an absent optional column: no row is that long
_NOT_A_TABLE = "无法读取该文件：请上传 CSV（UTF-8 或 GB18030 编码）、gzip 压缩的 CSV（.csv.gz）或 XLSX 文件。"


def header_name(value) -> str:
    """The name of a header cell, as SPEC ROS-2 reads template headers: without "*", spaces, a BOM
    or anything from the first bracket on (`*证件号码` and `证件号码 (必填)` are both 证件号码)."""
    text = "" if value is None else str(value)
    text = re.split(r"[(（]", text, maxsplit=1)[0]
    return re.sub(r"[\s*\ufeff]+", "", text)


@dataclass
class _Job:
    """A chunk of the file for one worker: CSV bytes (whole lines) or XLSX rows (strings)."""

    first_line: int
    data: bytes | None = None
    rows: list[list[str]] | None = None


class _CsvSource:
    def __init__(self, path: Path, *, compressed: bool):
        self.path = path
        self.compressed = compressed
        self._stream = gzip.open(path, "rb") if compressed else open(path, "rb")  # noqa: SIM115
        try:
            head = self._read(READ_BYTES)
        except RosterError:
            self._stream.close()
            raise
        self.encoding, bom = self._detect_encoding(head)
        self._header_line, self._rest = self._split_header(head[bom:])
        self.header = next(csv.reader([self._header_line.decode(self.encoding, "replace")]), [])
        # Plain CSV: counting lines first costs a fraction of a second per million rows.
        self.total = None if compressed else max(self._count_lines() - 1, 0)

    def _read(self, size: int) -> bytes:
        if not self.compressed:
            return self._stream.read(size)
        try:
            return self._stream.read(size)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise RosterError("压缩文件已损坏，无法解压（原有数据未改变）。") from error

    @staticmethod
    def _detect_encoding(head: bytes) -> tuple[str, int]:
        """The encoding and the length of its BOM, judged from the first megabyte."""
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8", 3
        if head.startswith(_UTF16_BOMS):
            raise RosterError("文件是 UTF-16 编码的文本：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再上传。")
        if head.startswith((_ZIP_MAGIC, _OLE_MAGIC, _GZIP_MAGIC)) or b"\0" in head:
            raise RosterError(_NOT_A_TABLE)
        for encoding in ("utf-8", "gb18030"):
            try:
                codecs.getincrementaldecoder(encoding)().decode(head, final=False)  # may end mid-character
                return encoding, 0
            except UnicodeDecodeError:
                continue
        raise RosterError("无法识别文件的字符编码：请保存为 UTF-8 或 GB18030（GBK）编码的 CSV。")

    def _split_header(self, head: bytes) -> tuple[bytes, bytes]:
        while True:
            end = head.find(b"\n")
            if end >= 0:
                return head[: end + 1], head[end + 1 :]
            more = self._read(READ_BYTES)
            if not more:
                return head, b""
            head += more
            if len(head) > MAX_CHUNK_BYTES:
                raise RosterError(_NOT_A_TABLE)

    def _count_lines(self) -> int:
        lines, last = 0, b"\n"
        with open(self.path, "rb") as stream:
            while block := stream.read(8 * READ_BYTES):
                lines += block.count(b"\n")
                last = block[-1:]
        return lines + (last != b"\n")  # a last line without its line break

    def _pieces(self, size: int) -> Iterator[bytes]:
        """The file after the header in pieces of `size` bytes (the first from what was read already)."""
        rest, self._rest = self._rest, b""
        for start in range(0, len(rest), size):
            yield rest[start : start + size]
        while piece := self._read(size):
            yield piece

    def jobs(self, chunk_rows: int) -> Iterator[_Job]:
        """Whole lines, about `chunk_rows` of them per job, never cutting a quoted value that holds a
        line break (the quotes before a cut must pair up)."""
        line = 2  # the header is line 1
        pieces, newlines = [], 0
        for piece in self._pieces(max(256, min(READ_BYTES, chunk_rows * 64))):
            pieces.append(piece)
            newlines += piece.count(b"\n")
            if newlines < chunk_rows:
                continue
            data = b"".join(pieces)
            cut = data.rfind(b"\n") + 1
            block = data[:cut]
            if block.count(b'"') % 2 and len(data) < MAX_CHUNK_BYTES:
                pieces = [data]
                continue
            yield _Job(first_line=line, data=block)
            line += block.count(b"\n")
            pieces, newlines = [data[cut:]], 0
        data = b"".join(pieces)
        if data.strip():
            yield _Job(first_line=line, data=data)

    def close(self) -> None:
        self._stream.close()


def _cell_text(value) -> str:
    """A spreadsheet cell as the text a person typed. An ID typed as a number arrives as a float:
    above 2^53 it keeps its float form so that the check reports it (SPEC ROS-3)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


class _XlsxSource:
    """The first sheet of an XLSX file. python-calamine holds the sheet's cells (XLSX allows about a
    million rows) and hands out rows one by one; a file of millions of people comes as CSV."""

    compressed = False
    encoding = ""

    def __init__(self, path: Path):
        from python_calamine import CalamineError, CalamineWorkbook

        try:
            self._workbook = CalamineWorkbook.from_path(str(path))
            sheet = self._workbook.get_sheet_by_index(0)
            self._rows = sheet.iter_rows()  # from the sheet's row 1, empty rows above the data included
        except (CalamineError, ValueError, OSError) as error:
            raise RosterError("无法读取该 Excel 文件（可能已损坏或设置了密码）：请另存为 XLSX 或 CSV 后再上传。") from error
        self.header, self._header_row = [], 0
        for self._header_row, row in enumerate(self._rows, start=1):  # the first row with a value
            if any(value not in (None, "") for value in row):
                self.header = [_cell_text(value) for value in row]
                break
        self.total = max(sheet.height - 1, 0)  # height counts from the first row with a value

    def jobs(self, chunk_rows: int) -> Iterator[_Job]:
        line = self._header_row + 1
        rows: list[list[str]] = []
        for row in self._rows:
            rows.append([_cell_text(value) for value in row])
            if len(rows) >= chunk_rows:
                yield _Job(first_line=line, rows=rows)
                line += len(rows)
                rows = []
        if rows:
            yield _Job(first_line=line, rows=rows)

    def close(self) -> None:
        self._workbook.close()


def _open_source(path: Path):
    """The reader for `path`, by what the file holds (not its name), or RosterError."""
    try:
        with open(path, "rb") as stream:
            magic = stream.read(4)
    except FileNotFoundError:
        raise RosterError(f"找不到文件 {path}。") from None
    except OSError as error:
        raise RosterError(f"无法打开文件 {path}（{error.strerror}）。") from None
    if not magic:
        raise RosterError("文件是空的。")
    if magic.startswith(_GZIP_MAGIC):
        return _CsvSource(path, compressed=True)
    if magic.startswith(_ZIP_MAGIC):
        return _XlsxSource(path)
    if magic.startswith(_OLE_MAGIC):
        raise RosterError("不支持旧版 Excel（.xls）或设置了密码的文件：请另存为 XLSX（无密码）或 CSV 后再上传。")
    return _CsvSource(path, compressed=False)


def _positions(spec: KindSpec, header: list) -> list[int]:
    """Where each of the kind's fields is in the header; RosterError names what is missing."""
    names = [header_name(value) for value in header]
    if not any(names):
        raise RosterError("文件第1行应为标题行（列名），但它是空的。")
    positions: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in spec.fields:
            if name in positions:
                raise RosterError(f"列“{name}”出现了两次，请只保留一列。")
            positions[name] = index
    missing = [name for name in spec.required if name not in positions]
    if missing:
        raise RosterError(f"文件缺少必需的列：{'、'.join(missing)}。第1行应为标题行，列名见导入说明。")
    if spec.one_of and not any(name in positions for name in spec.one_of):
        raise RosterError(f"文件缺少必需的列：{' 或 '.join(spec.one_of)}（至少需要其中一列）。")
    return [positions.get(name, _ABSENT) for name in spec.fields]


# --- preparing chunks (in this process or in a pool of worker processes) ---------------------------


@dataclass
class _Context:
    """What preparing a chunk needs, picklable (keys as text): built once, sent to each worker."""

    kind: str
    year: int
    positions: list[int]
    encoding: str
    copy_text: bool  # PostgreSQL: one COPY text block; otherwise the records (tab-separated strings)
    hash_key: str
    encryption_key: str


@dataclass
class _Prepared:
    rows_read: int
    payload: bytes | list  # COPY text, or the records (tab-separated values)
    keys: list[bytes]  # 16 bytes per record
    lines: array.array  # the line of each record
    rejected: list  # (line, reason, raw values)


class _ChunkPreparer:
    def __init__(self, context: _Context):
        self.context = context
        self.spec = SPECS[context.kind]
        self.protector = BulkPiiProtector(hash_key=context.hash_key, encryption_key=context.encryption_key)
        self._getter = itemgetter(*context.positions)
        self._year_prefix = f"{context.year}\t"

    def rows(self, job: _Job) -> list[tuple[int, list[str] | RowProblem]]:
        """(line, raw values) of the job's rows without blank lines. A row whose values are all
        empty may remain (the caller skips it); a line that cannot be read comes as a RowProblem,
        never skipped."""
        first_line = job.first_line
        if job.rows is not None:
            return [(first_line + offset, row) for offset, row in enumerate(job.rows)]
        try:
            text = job.data.decode(self.context.encoding)
        except UnicodeDecodeError:
            return list(self._rows_line_by_line(job))
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if '"' not in text and "\r" not in text:
            # Without quotes a line is a row and a comma a separator: str.split beats csv here.
            return [(first_line + offset, line.split(",")) for offset, line in enumerate(text.split("\n")) if line]
        rows = []
        reader = csv.reader(io.StringIO(text, newline=""))
        previous_end = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return rows
            except csv.Error as error:
                rows.append((first_line + previous_end, RowProblem(f"CSV格式错误：{error}")))
                previous_end = reader.line_num
                continue
            if row:
                rows.append((first_line + previous_end, row))
            previous_end = reader.line_num

    def _rows_line_by_line(self, job: _Job):
        for offset, raw_line in enumerate(job.data.splitlines()):
            try:
                text = raw_line.decode(self.context.encoding)
            except UnicodeDecodeError:
                yield job.first_line + offset, RowProblem(
                    f"含有无法识别的字符（文件应为 {self.context.encoding.upper()} 编码）"
                )
                continue
            row = next(csv.reader([text]), [])
            if row and any(row):
                yield job.first_line + offset, row

    def __call__(self, job: _Job) -> _Prepared:
        # A chunk makes about ten lists, tuples and strings a row and no reference cycle: the cyclic
        # collector would only walk them again and again (8.1 → 6.6 µs a row measured without it).
        with _collector_paused():
            return self._prepare(job)

    def _prepare(self, job: _Job) -> _Prepared:
        rows = self.rows(job)
        protect = self.protector.begin_chunk(len(rows))
        prepare, getter, positions = self.spec.prepare, self._getter, self.context.positions
        records, keys, lines, rejected = [], [], array.array("L"), []
        blank = 0
        for line, raw in rows:
            if raw.__class__ is RowProblem:
                rejected.append((line, raw.reason, ()))
                continue
            try:
                values = getter(raw)
            except IndexError:  # a short row, or an absent optional column
                values = tuple(raw[index] if index < len(raw) else "" for index in positions)
            try:
                record, key = prepare(values, protect)
            except RowProblem as problem:
                if not any(raw):  # a row of empty cells (",,,,") is no row
                    blank += 1
                else:
                    rejected.append((line, problem.reason, tuple(raw)))
                continue
            records.append(record)
            keys.append(key)
            lines.append(line)
        payload = records
        if self.context.copy_text:
            prefix = self._year_prefix
            # Values hold no tab, line break or control character (_text, _code): only a
            # backslash needs COPY's escape.
            text = "".join([prefix + record + "\n" for record in records])
            if "\\" in text:
                text = text.replace("\\", "\\\\")
            payload = text.encode()
        return _Prepared(len(rows) - blank, payload, keys, lines, rejected)


@contextlib.contextmanager
def _collector_paused():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


_worker_preparer: _ChunkPreparer | None = None
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent() -> None:
    """SPEC SEC-2: a pool worker is killed when the process that forked it dies, even by SIGKILL
    (Linux's PR_SET_PDEATHSIG), so a dead loader leaves no orphans hashing its file. Elsewhere the
    pool's own shutdown is all there is."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the line above
        os._exit(1)


def _pool_start(context: _Context) -> None:
    global _worker_preparer
    _die_with_parent()
    _worker_preparer = _ChunkPreparer(context)


def _pool_prepare(job: _Job) -> _Prepared:
    return _worker_preparer(job)


def _pool_possible() -> bool:
    # Forked workers inherit the loaded code and need no Django set-up. A Celery prefork worker
    # is a daemon process, which may not have children: there the load runs in one process.
    return "fork" in multiprocessing.get_all_start_methods() and not multiprocessing.current_process().daemon


def _prepared_chunks(source, preparer: _ChunkPreparer, *, use_pool: bool) -> Iterator[tuple[_Job, _Prepared]]:
    """The prepared chunks in file order; with a pool, a few jobs ahead (never the whole file)."""
    jobs = source.jobs(CHUNK_ROWS)
    if not use_pool:
        for job in jobs:
            yield job, preparer(job)
        return
    with multiprocessing.get_context("fork").Pool(
        POOL_PROCESSES, initializer=_pool_start, initargs=(preparer.context,)
    ) as pool:  # leaving the block (also on an error) terminates the workers
        pending: deque = deque()
        for job in jobs:
            pending.append((job, pool.apply_async(_pool_prepare, (job,))))
            if len(pending) > 2 * POOL_PROCESSES:
                waiting_job, result = pending.popleft()
                yield waiting_job, result.get()
        while pending:
            waiting_job, result = pending.popleft()
            yield waiting_job, result.get()


# --- writing ---------------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class _ParentIndex(NamedTuple):
    """An index of a partitioned reference table, as the catalogue defines it."""

    name: str
    primary: bool
    unique: bool
    method: str
    key: list[str]  # the key columns as pg_get_indexdef writes them (COLLATE, operator class…)
    included: list[str]
    predicate: str | None


def _parent_indexes(cursor, table: str) -> list[_ParentIndex]:
    """The indexes of the partitioned `table`, the primary key first, read from the catalogue:
    a new partition gets exactly these, as ATTACH adopts an index only if it matches the
    parent's (or builds another one while holding the table's lock). The catalogue, not the
    model, because migrations shape some of them beyond what the model says: the suggested
    roster's key INCLUDEs the other columns and leads with id_hash, its unit index leads with
    ss_unit_code (migrations 0005, 0010)."""
    cursor.execute(
        """
        SELECT index.relname, ind.indisprimary, ind.indisunique, method.amname,
               ARRAY(SELECT pg_get_indexdef(ind.indexrelid, k, false) FROM generate_series(1, ind.indnatts) AS k ORDER BY k),
               ind.indnkeyatts, pg_get_expr(ind.indpred, ind.indrelid)
        FROM pg_index AS ind
        JOIN pg_class AS index ON index.oid = ind.indexrelid
        JOIN pg_am AS method ON method.oid = index.relam
        WHERE ind.indrelid = %s::regclass
        ORDER BY ind.indisprimary DESC, index.relname
        """,
        [table],
    )
    return [
        _ParentIndex(name, primary, unique, method, columns[:key_count], columns[key_count:], predicate)
        for name, primary, unique, method, columns, key_count, predicate in cursor.fetchall()
    ]


class _PostgresWriter:
    """COPY into `<table>_load_<year>`, index it, then swap it in as `<table>_y<year>` (see the
    module docstring).

    The staging table is created and filled in one transaction, so that COPY may FREEZE its rows:
    they are written frozen and all-visible, with the visibility map set, as an Index Only Scan of
    the suggested roster's covering key (migration 0005) needs. A VACUUM would otherwise set them,
    writing the whole table a second time (1.3 s for 6,000,000 rows, and 1.2 GB for the disk while
    the indexes are built). Frozen rows are visible to any snapshot, but no other session sees a
    table that no committed transaction has created.

    Outside a transaction (the upload task, the command) the table is filled on a second
    connection, so that this one stays free for the progress the caller writes to the database,
    and the two connections then build the indexes side by side (_build_indexes). Inside a
    caller's transaction (the tests) everything runs on this connection, the filling in one
    savepoint and the indexes one after the other. A failure during the filling rolls it back,
    which removes the table; a later one drops it."""

    copy_text = True

    def __init__(self, spec: KindSpec, year: int):
        self.spec = spec
        self.year = year
        self.table = spec.model._meta.db_table
        self.staging = f"{self.table}_load_{year}"
        self.partition = f"{self.table}_y{year}"
        self.lock_id = year * 8 + list(SPECS).index(spec.kind)
        self._locked = False
        self._second = None  # the second connection, outside a transaction
        self._savepoint = None  # the filling's atomic block, inside one
        self._filling = False  # the filling's transaction (or savepoint) is open
        self._parent_indexes: list[_ParentIndex] = []
        self._copy_sql = (
            f"COPY {_quote(self.staging)} (year, {', '.join(_quote(column) for column in spec.columns)}) "
            "FROM STDIN WITH (FREEZE)"
        )

    @property
    def _filler(self):
        """The connection that fills the staging table."""
        return self._second if self._second is not None else connection

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_LOCK_CLASS, self.lock_id])
            self._locked = cursor.fetchone()[0]
        if not self._locked:
            raise RosterError(f"{self.year}年度的{self.spec.kind.label}正在导入，请等它完成后再试。")
        try:
            self._begin_filling()
        except BaseException as error:
            self._release(error)
            raise
        return self

    def _begin_filling(self) -> None:
        if connection.get_autocommit():  # False inside any transaction
            self._second = connection.copy()
            self._second.set_autocommit(False)
        else:
            self._savepoint = transaction.atomic()
            self._savepoint.__enter__()
        self._filling = True
        table, staging = _quote(self.table), _quote(self.staging)
        with self._filler.cursor() as cursor:
            # The advisory lock makes any table of this name the remains of a load that died.
            cursor.execute(f"DROP TABLE IF EXISTS {staging}")
            cursor.execute(f"CREATE TABLE {staging} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            # Checked row by row as COPY writes (cheap), and lets ATTACH skip its scan of the table.
            cursor.execute(
                f"ALTER TABLE {staging} ADD CONSTRAINT {_quote(self.partition + '_year')} CHECK (year = {int(self.year)})"
            )

    def _end_filling(self, error: BaseException | None) -> None:
        """Commit the filling (error None), or roll it back, which removes the staging table."""
        if not self._filling:
            return
        self._filling = False
        if self._savepoint is not None:
            savepoint, self._savepoint = self._savepoint, None
            savepoint.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)
        elif error is None:
            self._second.commit()
            self._second.set_autocommit(True)
        else:
            self._second.rollback()

    def write(self, payload: bytes) -> None:
        with self._filler.cursor() as cursor, cursor.copy(self._copy_sql) as copy:
            copy.write(payload)

    def finish(self) -> dict[str, float]:
        """Analyse, index and swap in the staging table; returns the seconds of each phase."""
        started = time.monotonic()
        with connection.cursor() as cursor:
            self._parent_indexes = _parent_indexes(cursor, self.table)
        with self._filler.cursor() as cursor:
            cursor.execute(f"ANALYZE {_quote(self.staging)}")  # the planner's statistics, in the filling
        self._end_filling(None)
        indexing = time.monotonic()
        self._build_indexes()
        swapping = time.monotonic()
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            try:
                self._swap()
                phases = {"analyse": indexing - started, "indexes": swapping - indexing, "swap": time.monotonic() - swapping}
                logger.info(
                    "reference load %s %s: analyse and commit %.1f s, indexes %.1f s (%s), swap %.1f s",
                    self.spec.kind.value, self.year, phases["analyse"], phases["indexes"],
                    "side by side" if self._second else "one after the other", phases["swap"],
                )
                return phases
            except OperationalError as error:
                if attempt == SWAP_ATTEMPTS or getattr(error.__cause__, "sqlstate", "") != "55P03":  # lock_not_available
                    raise
                logger.warning("reference load %s %s: table busy, swap attempt %s", self.spec.kind, self.year, attempt)
                time.sleep(attempt)

    def _index_statements(self) -> tuple[str, list[str]]:
        """CREATE INDEX of the staging table's primary key, as a unique index (ADD CONSTRAINT …
        USING INDEX then makes it the key: building it as a constraint would lock the table against
        the other builds), and of its other indexes, each like the parent's (_parent_indexes)."""
        primary, others = "", []
        for index in self._parent_indexes:
            statement = (
                f"CREATE {'UNIQUE ' if index.unique else ''}INDEX {_quote(self._index_name(self.staging, index.name))} "
                f"ON {_quote(self.staging)} USING {index.method} ({', '.join(index.key)})"
                + (f" INCLUDE ({', '.join(index.included)})" if index.included else "")
                + (f" WHERE {index.predicate}" if index.predicate else "")
            )
            if index.primary:
                primary = statement
            else:
                others.append(statement)
        return primary, others

    def _build_indexes(self) -> None:
        """Outside a transaction the other indexes are built on the second connection, in a thread
        (psycopg waits for the server without holding the GIL), while this one builds the key.
        A build spreads its sort over the machine's cores (parallel workers), but then merges the
        sorted runs and writes its pages in one process; side by side, the other build uses the
        idle core meanwhile. Measured for 6,000,000 suggested-roster people (indexes of migration
        0010, 2 cores): 6.6–6.8 s side by side, 8.4–10.6 s one after the other."""
        primary, others = self._index_statements()
        key = _quote(self._index_name(self.staging, next(index.name for index in self._parent_indexes if index.primary)))
        memory = f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'"
        if self._second is None or not others:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(memory)
                for statement in [primary, *others]:
                    cursor.execute(statement)
                cursor.execute(f"ALTER TABLE {_quote(self.staging)} ADD CONSTRAINT {key} PRIMARY KEY USING INDEX {key}")
            return
        second = self._second
        second.inc_thread_sharing()
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
                # The key, the largest, keeps the server's parallel workers; the others run alone.
                alone = "SET LOCAL max_parallel_maintenance_workers = 0"
                others_built = executor.submit(self._run_in_transaction, second, [memory, alone, *others])
                try:
                    with transaction.atomic(), connection.cursor() as cursor:
                        cursor.execute(memory)
                        cursor.execute(primary)
                except BaseException:
                    second.connection.cancel_safe()  # rather than wait for the other build to end
                    raise
                others_built.result()  # raises what the other build raised (a Django error)
        finally:
            second.dec_thread_sharing()
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {_quote(self.staging)} ADD CONSTRAINT {key} PRIMARY KEY USING INDEX {key}")

    @staticmethod
    def _run_in_transaction(database, statements: list[str]) -> None:
        database.set_autocommit(False)
        try:
            with database.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
            database.commit()
        except BaseException:
            database.rollback()
            raise
        finally:
            database.set_autocommit(True)

    def _index_name(self, table: str, parent_index: str) -> str:
        return f"{table}_pkey" if parent_index == f"{self.table}_pkey" else f"{table}_{parent_index}"

    def _swap(self) -> None:
        """DETACH the year's old partition, ATTACH the staging table, DROP the old one: one short
        transaction. Rows of the year that went to the DEFAULT partition (written before the year
        had a partition) are replaced as well."""
        table, staging, year = _quote(self.table), _quote(self.staging), int(self.year)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
            cursor.execute(
                """
                SELECT child.relname, pg_get_expr(child.relpartbound, child.oid)
                FROM pg_inherits JOIN pg_class child ON child.oid = pg_inherits.inhrelid
                WHERE pg_inherits.inhparent = %s::regclass
                """,
                [self.table],
            )
            partitions = cursor.fetchall()
            old = [name for name, bound in partitions if bound == f"FOR VALUES IN ('{year}')"]
            for name, bound in partitions:
                if bound == "DEFAULT":
                    cursor.execute(f"DELETE FROM {_quote(name)} WHERE year = %s", [year])
            for name in old:
                cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {_quote(name)}")
            cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {staging} FOR VALUES IN ({year})")
            for name in old:
                cursor.execute(f"DROP TABLE {_quote(name)}")
            cursor.execute(f"ALTER TABLE {staging} RENAME TO {_quote(self.partition)}")
            for index in self._parent_indexes:
                cursor.execute(
                    f"ALTER INDEX {_quote(self._index_name(self.staging, index.name))} "
                    f"RENAME TO {_quote(self._index_name(self.partition, index.name))}"
                )

    def __exit__(self, error_type, error, traceback):
        self._release(error)
        return False

    def _release(self, error: BaseException | None) -> None:
        """Roll back an unfinished filling, drop the staging table after a failure, close the second
        connection, release the lock: without hiding the error that brought us here. If a connection
        itself is gone, PostgreSQL has rolled its transaction back and released its lock, and the
        next load drops a staging table left behind."""
        steps = []
        if error is not None:
            steps += [("filling not rolled back", lambda: self._end_filling(error)), ("staging table not dropped", self._drop_staging)]
        if self._second is not None:
            steps.append(("second connection not closed", self._second.close))
        if self._locked:
            steps.append(("advisory lock not released", self._unlock))
        for problem, step in steps:
            try:
                step()
            except Exception:  # noqa: BLE001
                if error is None:
                    raise
                logger.exception("reference load %s %s: %s", self.spec.kind, self.year, problem)

    def _drop_staging(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_quote(self.staging)}")

    def _unlock(self) -> None:
        self._locked = False
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_LOCK_CLASS, self.lock_id])


class _GenericWriter:
    """One transaction: delete the year's rows, bulk-create the new ones chunk by chunk (the demo
    on SQLite). A failure rolls everything back."""

    copy_text = False

    def __init__(self, spec: KindSpec, year: int):
        self.spec = spec
        self.year = year
        self._atomic = transaction.atomic()

    def __enter__(self):
        self._atomic.__enter__()
        try:
            self.spec.model.objects.filter(year=self.year).delete()
        except BaseException as error:
            self._atomic.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def write(self, records: list) -> None:
        model, columns, year = self.spec.model, self.spec.columns, self.year
        model.objects.bulk_create(
            [model(year=year, **dict(zip(columns, record.split("\t")))) for record in records], batch_size=500
        )

    def finish(self) -> dict[str, float]:
        return {}

    def __exit__(self, error_type, error, traceback):
        return self._atomic.__exit__(error_type, error, traceback)


def _chunk_write(writer, payload) -> None:
    """One chunk to the database (a seam for the tests that make a load fail half-way)."""
    writer.write(payload)


class _RejectedReport:
    """The rejected rows: all of them in a CSV file (UTF-8 with BOM, for Excel), the first
    REJECTED_IN_MEMORY in the result. The file holds ID numbers as the uploader wrote them, so it
    is sealed (mutualaid.sealed), lives under MEDIA_ROOT/private and is served only to reviewers
    (rosters/admin.py)."""

    def __init__(self, *, kind: str, year: int, header: list):
        self.kind, self.year, self.header = kind, year, [str(value) for value in header]
        self.count = 0
        self.kept: list[tuple[int, str, tuple[str, ...]]] = []
        self.path: Path | None = None
        self._stream = None
        self._writer = None

    def add(self, rows: list[tuple[int, str, tuple[str, ...]]]) -> None:
        if not rows:
            return
        if self._writer is None:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
            self.path = Path(settings.MEDIA_ROOT) / REJECTED_DIR / f"{self.kind}-{self.year}-{stamp}-{uuid.uuid4().hex[:8]}.csv"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # SPEC SEC-4: sealed at rest like the upload it comes from.
            self._stream = io.TextIOWrapper(io.BufferedWriter(SealedWriter(self.path)), encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._stream)
            self._writer.writerow(["行号", "错误原因", *self.header])
        self._writer.writerows([line, reason, *raw] for line, reason, raw in rows)
        room = REJECTED_IN_MEMORY - len(self.kept)
        if room > 0:
            self.kept.extend(rows[:room])
        self.count += len(rows)

    def close(self, *, keep: bool) -> None:
        if self._stream is not None:
            self._stream.close()
            if not keep:
                self.path.unlink(missing_ok=True)
                self.path = None


# --- the service -----------------------------------------------------------------------------------


def _drop_duplicates(prepared: _Prepared, seen: set) -> list[int]:
    """Add the chunk's keys to `seen`; return the indexes of records seen before (in this file)."""
    chunk_keys = prepared.keys
    if seen.isdisjoint(chunk_keys):  # the usual case, at C speed
        before = len(seen)
        seen.update(chunk_keys)
        if len(seen) - before == len(chunk_keys):
            return []
        seen.difference_update(chunk_keys)  # none of them was there before: start the chunk again
    duplicates = []
    for index, key in enumerate(chunk_keys):
        if key in seen:
            duplicates.append(index)
        else:
            seen.add(key)
    return duplicates


def _without(prepared: _Prepared, indexes: list[int]):
    drop = set(indexes)
    if isinstance(prepared.payload, bytes):
        lines = prepared.payload.split(b"\n")[:-1]
        return b"".join(line + b"\n" for index, line in enumerate(lines) if index not in drop)
    return [record for index, record in enumerate(prepared.payload) if index not in drop]


def reference_load(
    *,
    kind: str,
    path: str | Path,
    year: int,
    acting_user=None,
    progress: Callable[[int, int | None], None] | None = None,
) -> LoadResult:
    """Replace `year`'s reference data of `kind` by the rows of the file at `path` (SPEC REF).

    The file is CSV (UTF-8 with or without BOM, or GB18030), gzip-compressed CSV or XLSX, with a
    header row; columns are found by name in any order, extra columns are ignored. Bad rows are
    rejected with their line and reason, the good ones loaded. `progress(rows_done, rows_total)`
    is called about every CHUNK_ROWS rows (the total is None when unknown, e.g. for .csv.gz), at
    moments when the database connection is free: it may write progress to the database.

    Raises RosterError (with a Chinese `message`) when the file is refused as a whole (unreadable,
    a required column missing, no data row, no good row) or when the same kind and year is being
    loaded already; the year's previous data is then unchanged, as it is after any other failure.
    Call it outside a transaction: on PostgreSQL each step commits on its own (see above).
    The caller records the load (a ReferenceLoad row: the audit event, SPEC X-2).
    """
    spec = reference_spec(kind)
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise RosterError(f"保障年度“{year}”不正确。")
    path = Path(path)
    started = time.monotonic()
    source = _open_source(path)
    report = None
    try:
        positions = _positions(spec, source.header)
        report = _RejectedReport(kind=spec.kind.value, year=year, header=source.header)
        postgres = connection.vendor == "postgresql"
        writer_class = _PostgresWriter if postgres else _GenericWriter
        context = _Context(
            kind=spec.kind.value,
            year=year,
            positions=positions,
            encoding=source.encoding,
            copy_text=writer_class.copy_text,
            hash_key=settings.PII_HASH_KEY,
            encryption_key=settings.PII_KEY,
        )
        preparer = _ChunkPreparer(context)
        use_pool = postgres and path.stat().st_size >= POOL_MIN_BYTES and _pool_possible()
        result = LoadResult(kind=spec.kind.value, year=year)
        seen: set[bytes] = set()
        if progress:
            progress(0, source.total)
        chunks = _prepared_chunks(source, preparer, use_pool=use_pool)
        with writer_class(spec, year) as writer, contextlib.closing(chunks):
            for job, prepared in chunks:
                rejected = prepared.rejected
                duplicates = _drop_duplicates(prepared, seen)
                if duplicates:
                    raw_by_line = dict(preparer.rows(job))
                    rejected = sorted(
                        rejected
                        + [
                            (prepared.lines[index], spec.duplicate_reason, tuple(raw_by_line.get(prepared.lines[index], ())))
                            for index in duplicates
                        ]
                    )
                    payload = _without(prepared, duplicates)
                else:
                    payload = prepared.payload
                loaded = len(prepared.lines) - len(duplicates)
                if loaded:
                    _chunk_write(writer, payload)
                report.add(rejected)
                result.read += prepared.rows_read
                result.loaded += loaded
                if progress:
                    progress(result.read, source.total)
            if result.read == 0:
                raise RosterError("文件中没有数据行（第1行为标题行，数据从第2行开始）。")
            if result.loaded == 0:
                line, reason, _raw = report.kept[0]
                raise RosterError(
                    f"文件中的 {result.read} 行全部有错误，没有导入，原有数据未改变。第{line}行：{reason}"
                )
            result.phases["rows"] = time.monotonic() - started
            result.phases.update(writer.finish())
    except BaseException:
        if report is not None:
            report.close(keep=False)
        raise
    finally:
        source.close()
    report.close(keep=True)
    result.rejected = report.count
    result.rejected_rows = report.kept
    result.rejected_path = report.path
    result.seconds = time.monotonic() - started
    if progress:
        progress(result.read, result.read)
    logger.info(
        "reference load %s %s from %s by %s: %s in %.1f s",
        spec.kind.value, year, path.name, getattr(acting_user, "pk", None), result.summary, result.seconds,
    )
    return result


def _media_relative(path: Path | None) -> str:
    """Where a report lies, relative to MEDIA_ROOT like ReferenceLoad.stored_file (rosters/admin.py
    resolves it again)."""
    if path is None:
        return ""
    try:
        return str(path.relative_to(Path(settings.MEDIA_ROOT)))
    except ValueError:
        return str(path)


FAILED_UNEXPECTEDLY = "导入失败：系统处理文件时出错，原有数据未改变。请稍后重新上传；如仍失败，请联系技术支持（导入编号 {id}）。"


def reference_load_job(load: ReferenceLoad, *, path: str | Path, progress=None) -> LoadResult:
    """One attempt at the claimed ReferenceLoad `load` (SPEC SEC-2, mutualaid.jobs): load the file at
    `path` into its kind and year, then finish the job with the counts: its audit event (X-2). On
    a failure the job fails with the Chinese message (RosterError's, or a general one naming the
    load) and the error is raised again. Each attempt starts clean: a load commits only its swap."""
    try:
        result = reference_load(
            kind=load.kind, path=path, year=load.year, acting_user=load.started_by, progress=progress
        )
    except BaseException as error:
        job_fail(load, getattr(error, "message", "") or FAILED_UNEXPECTEDLY.format(id=load.pk))
        raise
    job_finish(
        load,
        audited=True,
        rows_read=result.read,
        rows_loaded=result.loaded,
        rows_rejected=result.rejected,
        rejected_report=_media_relative(result.rejected_path),
    )
    return result


def reference_load_recorded(
    *,
    kind: str,
    path: str | Path,
    year: int,
    acting_user=None,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[ReferenceLoad, LoadResult]:
    """reference_load with its ReferenceLoad row, for a load started outside the back office (the
    management command): the row is the load's audit event with its counts (SPEC X-2), like the
    row the upload page keeps, and a job like theirs (SEC-2). On failure the row is marked failed
    and the error raised again."""
    spec = reference_spec(kind)
    path = Path(path)
    with acting_as(acting_user):
        record = ReferenceLoad.objects.create(kind=spec.kind, year=year, file_name=path.name[:255], started_by=acting_user)
    outcome = {}

    def body(load: ReferenceLoad) -> None:
        outcome["result"] = reference_load_job(load, path=path, progress=progress)

    job_run(ReferenceLoad, record.pk, body)
    record.refresh_from_db()
    return record, outcome["result"]


# --- look-up ---------------------------------------------------------------------------------------


_HASH = re.compile(r"[0-9a-f]{64}")


class SuggestedPersonRow(NamedTuple):
    """A suggested-roster person as suggested_people_by_hash returns it: the fields of SuggestedPerson
    under the same names (a test keeps them in step), all but id_cipher. The cipher is the one
    column the primary key does not INCLUDE (migration 0010: its largest column, which no look-up
    needs), so reading it would fetch a heap page per person; a page that shows a person's ID
    reads SuggestedPerson. A tuple, not a model: building 50,000 model instances costs more than
    the query that finds them."""

    year: int
    id_hash: str
    ss_name: str
    ss_unit_code: str
    personal_ss_number: str
    work_status: str
    medical_active: bool
    birth_date: dt.date
    sex: str


def suggested_people_by_hash(*, year: int, id_hashes: Iterable[str]) -> dict[str, SuggestedPersonRow]:
    """The suggested-roster people of `year` among `id_hashes` (pii_hash of normalised IDs), by hash,
    in one set-based query: `= ANY(array)` on PostgreSQL, chunks within SQLite's parameter limit
    elsewhere. People not in the roster, and values that are no hash at all, are absent from the
    result.

    On PostgreSQL (issue 5: 50,000 people against a city's 6,000,000 in under 0.6 s) the query
    reads the year's partition by its primary key, which INCLUDEs every column returned (migrations
    0005, 0010): an Index Only Scan, one leaf page per person and no heap page, the loader having
    set the visibility map (COPY FREEZE). That halves the pages read (about 45,000 instead of 84,000 for 50,000 people
    against 6,000,000, most of them outside shared_buffers) and is most of the gain; the rest are
    measured trims of a few tens of milliseconds each, noted where they are made.
    """
    hashes = _distinct_hashes(id_hashes)
    if not hashes:
        return {}
    fields = SuggestedPersonRow._fields
    if connection.vendor == "postgresql":
        model = SuggestedPerson
        columns = ", ".join(_quote(model._meta.get_field(name).column) for name in fields)
        with _server_cursor() as cursor:
            # One array value, not a list: a list would become 50,000 parameters for the server
            # to handle one by one; hex needs no quoting inside the array literal. The sub-select
            # hides the array from the planner, which would otherwise estimate each of its 50,000
            # elements (12 ms) to arrive at the same plan; not knowing the size, it can only
            # choose to probe the key. The hashes come sorted (_distinct_hashes): the index scan
            # sorts its array to probe the key in order, and finds it sorted in one pass.
            cursor.execute(
                f"SELECT {columns} FROM {_quote(model._meta.db_table)} "
                "WHERE year = %s AND id_hash = ANY((SELECT %s::varchar[])::varchar[])",
                [year, "{" + ",".join(hashes) + "}"],
            )
            # 50,000 new tuples and no cycle: the collector would only walk them (about 0.1 s).
            with _collector_paused():
                new = tuple.__new__
                return {row[1]: new(SuggestedPersonRow, row) for row in cursor.fetchall()}
    size = max(1, (connection.features.max_query_params or 999) - 1)
    found: dict[str, SuggestedPersonRow] = {}
    for start in range(0, len(hashes), size):
        rows = SuggestedPerson.objects.filter(year=year, id_hash__in=hashes[start : start + size]).values_list(*fields)
        found.update((row[1], SuggestedPersonRow._make(row)) for row in rows)
    return found


def _distinct_hashes(values: Iterable[str]) -> list[str]:
    """The distinct values that are pii_hash values (64 lower-case hex digits), sorted.

    The usual case, all of them hashes, is recognised by a few passes in C over all of them (about
    10 ms for 50,000, where a regular expression per value takes 30 ms): every value is a string
    of 64 characters, and their concatenation holds hex digits only. Anything else is sorted out
    one value at a time. Sorting costs 11 ms and saves the server 30 ms (suggested_people_by_hash):
    hex digits compare alike in Python and in any collation."""
    distinct = list(dict.fromkeys(values))
    try:
        digits = "".join(distinct).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        digits = None
    if digits is None or set(map(len, distinct)) != {64} or digits.translate(None, b"0123456789abcdef"):
        distinct = [value for value in distinct if isinstance(value, str) and _HASH.fullmatch(value)]
    distinct.sort()
    return distinct


@contextlib.contextmanager
def _server_cursor():
    """A Django cursor (queries counted and logged as usual, the SQL with $1, $2… where the values
    go) whose parameters travel apart from the SQL text (PostgreSQL's extended protocol). Django's
    own cursors bind parameters in the client, which for a look-up puts 3 MB of hashes into the
    statement text for the server to scan: about 25 ms of 0.5 s, measured."""
    import psycopg  # the PostgreSQL driver; imported only where PostgreSQL is used

    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = psycopg.Cursor(connection.connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    with cursor:
        yield cursor
