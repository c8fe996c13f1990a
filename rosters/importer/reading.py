"""Reading the first sheet of an upload (python-calamine) and finding the template's header row by name
(SPEC ROS-2)."""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_calamine import CalamineError, CalamineWorkbook, PasswordError

from mutualaid.sealed import SealedFileError, open_sealed

from ..errors import RosterError
from ..reference import header_name
from .messages import COLUMNS, EMPTY_FILE, HEADER_SEARCH_ROWS, NO_HEADER, PASSWORD_PROTECTED, REQUIRED_COLUMNS, TEMPLATE_HINT, UNREADABLE
from .checks import spreadsheet_extension

logger = logging.getLogger(__package__)  # "rosters.importer", as before the package

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
