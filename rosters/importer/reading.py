"""Reading the roster sheet of an upload (python-calamine) and finding the template's header row by name
(SPEC ROS-2); reading JSON rows posted to the roster API into the same Sheet (API-2)."""
from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from mutualaid.sealed import SealedFileError, open_sealed

from ..errors import RosterError
from ..reference import header_name
from .messages import (
    COLUMNS,
    EMPTY_FILE,
    HEADER_SEARCH_ROWS,
    NO_HEADER,
    PASSWORD_PROTECTED,
    REQUIRED_COLUMNS,
    ROWS_BAD_NUMBER,
    ROWS_FORMAT_HINT,
    ROWS_NESTED_VALUE,
    ROWS_NO_DATA,
    ROWS_NOT_JSON,
    ROWS_NOT_OBJECT,
    ROWS_NOT_ROWS,
    ROWS_NOT_UTF8,
    ROWS_TOO_DEEP,
    ROWS_UNREADABLE,
    UNREADABLE,
    missing_columns_message,
)
from .checks import spreadsheet_extension

logger = logging.getLogger(__package__)  # "rosters.importer", as before the package

# --- reading ---------------------------------------------------------------------------------------------


@dataclass
class Sheet:
    """The roster sheet as calamine reads it: `rows[i]` is spreadsheet row i + 1 (empty rows above the
    data included), its values starting at column `first_column` (0-based).

    JSON rows (`read_rows`, SPEC API-2) make a Sheet too: `rows[0]` is the header (the columns the
    document names) and `rows[i]` is the i-th element of its `rows` array, so `first_row_number` is 0
    and a problem's 行号 is the element's 1-based position in that array."""

    rows: list[list]
    first_column: int
    header_index: int = -1  # index in rows of the header row
    positions: dict[str, int] = field(default_factory=dict)  # column name → index in a row
    first_row_number: int = 1  # the row number (行号) of rows[0]

    def row_number(self, index: int) -> int:
        return index + self.first_row_number


def read_sheet(stream: BinaryIO) -> Sheet:
    """The roster sheet of the spreadsheet read from the binary `stream` (a stored upload through
    mutualaid.sealed.open_sealed), its header found (see `find_header`). The file is read into memory
    (uploads are at most ROSTER_UPLOAD_MAX_BYTES), so no plain copy of it is ever written to disk.
    Raises RosterError for an unreadable, password-protected or header-less file."""
    data = io.BytesIO(stream.read())
    spreadsheet_extension(data)  # again: a stored file is never unpacked unchecked
    try:
        workbook = CalamineWorkbook.from_filelike(data)
        try:
            return _roster_sheet(workbook)
        finally:
            workbook.close()
    except PasswordError:
        raise RosterError(PASSWORD_PROTECTED) from None
    except (CalamineError, ValueError, OSError, IndexError) as error:
        logger.info("roster file %s unreadable: %s", getattr(stream, "name", "?"), error)
        raise RosterError(UNREADABLE) from None


def _roster_sheet(workbook: CalamineWorkbook) -> Sheet:
    """SPEC ROS-2 [departure]: the first sheet that holds the template's header, so a workbook with a cover
    sheet, or with 填写说明 moved before 参保名单, is read like the template. A sheet whose header lacks a
    required column is refused at once (it is the roster); when no sheet has a header, the first sheet's
    reason (no header, or empty) is given."""
    first_refusal = None
    for index in range(len(workbook.sheet_names)):
        worksheet = workbook.get_sheet_by_index(index)
        sheet = Sheet(rows=list(worksheet.iter_rows()), first_column=(worksheet.start[1] if worksheet.start else 0) or 0)
        try:
            find_header(sheet)
            return sheet
        except RosterError as refusal:
            if refusal.message not in (NO_HEADER, EMPTY_FILE):
                raise
            first_refusal = first_refusal or refusal
    raise first_refusal or RosterError(EMPTY_FILE)


def _read_sealed(path: Path, read, unreadable: str):
    """`read(stream)` of a stored upload, sealed at rest (SPEC SEC-4); RosterError(`unreadable`) when it
    does not decrypt."""
    try:
        with open_sealed(path) as stream:
            return read(stream)
    except SealedFileError:
        logger.warning("roster upload %s does not decrypt", path)
        raise RosterError(unreadable) from None


def read_stored_sheet(path: Path) -> Sheet:
    """read_sheet of a stored spreadsheet upload."""
    return _read_sealed(path, read_sheet, UNREADABLE)


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
                raise RosterError(missing_columns_message(missing))
            sheet.header_index, sheet.positions = index, positions
            return
        if seen >= HEADER_SEARCH_ROWS:
            break
    if seen == 0:
        raise RosterError(EMPTY_FILE)
    raise RosterError(NO_HEADER)


# --- JSON rows (SPEC API-2) ------------------------------------------------------------------------------


def read_stored_rows(path: Path) -> Sheet:
    """read_rows of a stored upload.json."""
    return read_rows(_read_sealed(path, lambda stream: stream.read(), ROWS_UNREADABLE))


def read_rows(data: bytes) -> Sheet:
    """SPEC API-2: the JSON document `{"rows": [{"姓名": "张三", "证件号码": "…", …}, …]}` as a Sheet that
    `_validate_sheet` checks like a file's. A key names a column as a file's header cell does (its
    leading name: `*证件号码` and `证件号码` are both 证件号码, ROS-2); keys that name no template column
    are ignored like extra columns, and of two keys naming one column in an object the first counts.
    The header is the columns named anywhere in the document, in order of first appearance; a row
    without a key has the column empty. Values stay as they come (text, number, true/false, null):
    a number is a cell typed as a number in Excel, so an ID that does not fit a double exactly
    (3.1e+17) is the row error EXCEL_NUMBER (ROS-3), while a JSON integer keeps all its digits.
    A NUL character or a lone surrogate in a text becomes U+FFFD (they cannot be stored, SEC-1); other
    control characters are left for the column's checks.

    Raises RosterError for a document refused as a whole: not UTF-8, not JSON (NaN and Infinity
    included), not an object with a `rows` array, no filled element, an element that is not an
    object, an object or array as a column's value, or a required column named nowhere."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(ROWS_NOT_UTF8) from None
    del data
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise RosterError(ROWS_NOT_JSON.format(line=error.lineno, column=error.colno) + ROWS_FORMAT_HINT) from None
    except ValueError:  # NaN, Infinity, an integer of more than 4,300 digits
        raise RosterError(ROWS_BAD_NUMBER) from None
    except RecursionError:
        raise RosterError(ROWS_TOO_DEEP) from None
    del text
    elements = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(elements, list):
        raise RosterError(ROWS_NOT_ROWS)
    if not elements:
        raise RosterError(ROWS_NO_DATA)
    positions: dict[str, int] = {}  # column name → index in a row, in order of first appearance
    column_of: dict[str, str] = {}  # key → its column name, "" for a key that names none
    rows: list[list] = [[]]  # rows[0], the header, is filled in at the end
    for number, element in enumerate(elements, start=1):
        if not isinstance(element, dict):
            raise RosterError(ROWS_NOT_OBJECT.format(row=number) + ROWS_FORMAT_HINT)
        row: list = [None] * len(positions)
        filled = set()
        for key, value in element.items():
            name = column_of.get(key)
            if name is None:
                name = header_name(key)
                name = column_of[key] = name if name in COLUMNS else ""
            if not name or name in filled:
                continue
            filled.add(name)
            if isinstance(value, (dict, list)):
                raise RosterError(ROWS_NESTED_VALUE.format(row=number, column=name))
            if value.__class__ is str and not value.isprintable():
                value = _storable(value)
            position = positions.get(name)
            if position is None:
                position = positions[name] = len(positions)
                row.append(None)
            row[position] = value
        rows.append(row)
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        raise RosterError(missing_columns_message(missing))
    if all(_blank_row(row) for row in rows):
        raise RosterError(ROWS_NO_DATA)
    rows[0] = list(positions)
    return Sheet(rows=rows, first_column=0, header_index=0, positions=positions, first_row_number=0)


def _refuse_constant(name: str):
    raise ValueError(name)


def _storable(text: str) -> str:
    """`text` without what PostgreSQL cannot store in text or jsonb (NUL) or UTF-8 cannot encode (a
    lone surrogate, which JSON's \\ud800 escapes can make)."""
    return "".join("\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in text)
