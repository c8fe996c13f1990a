"""Reading a reference file (CSV, CSV.gz, XLSX) in chunks of whole rows, and finding the kind's columns
in its header by name."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import RosterError
from .kinds import KindSpec

READ_BYTES = 1024 * 1024
MAX_CHUNK_BYTES = 64 * 1024 * 1024  # a stray quote character must not make one chunk of a whole file


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
