"""导入人员名单 (SPEC ROS-1…ROS-12, X-1): the roster import pipeline of STYLE.md §6.

    read → normalise → validate every row (row, column, reason) → look up (set-based) → rules →
    one short transaction (lock the batch, insert new, update known people, counts, audit) → report

Four sources feed the same look-up, rules and write stages: an uploaded spreadsheet
(`roster_import_start` / `roster_import_run`), JSON rows posted to the roster API
(`roster_import_start_rows`, SPEC API-2), the code's previous-year enrolment
(`roster_import_previous`, 【获取上年度参保名单】) and the unit's union members
(`roster_import_members`, 【获取“会员库”本单位工会会员名单】). Each run is a RosterImport row: the
progress the page polls, the handbook's summary line, the bad rows, and (with the batch's audit
event, rosters.services.roster_audit) the bulk operation's record (SPEC X-2).

Files. .xlsx, .xls, .ods (and .xlsb) are read with python-calamine, the first sheet with the
template's header (a cover sheet before it is passed over). What a file is comes from its bytes,
not its name; a zip's directory is checked for a suspicious unpacked size or ratio before anything
is unpacked, and an Office file encrypted with a password (a CFB container holding an
`EncryptedPackage` stream) is refused. The upload is kept under MEDIA_ROOT/roster_imports/<id>/ for
7 days so the uploader can download it marked (rosters/workbooks.py), then purged (X-1).

JSON rows (SPEC API-2). `{"rows": [{"姓名": "张三", "证件类型": "身份证", "证件号码": "…", "是否有社保": "是"}, …]}`:
each element is one person, its keys the template's column names (the full header text or its leading
name, as a file's header is read; other keys are ignored like extra columns). The body is streamed
sealed to disk as upload.json (its own limit, ROSTER_API_MAX_BYTES: RosterUploadTooLarge, nothing
kept), read back by `read_stored_rows` into a `Sheet` and validated by the very code that validates a
file. For JSON rows, 行号 is the element's 1-based position in the `rows` array (`Sheet.row_number`).
A document that is not UTF-8 JSON of that shape ends the import "refused" with its message; there is
no marked copy (X-1 is for spreadsheets), so upload.json is deleted once the run is done.

Numbers typed into Excel. A cell that holds a number (not text) is read as its digits only when the
number is exact: an int, or a float that is a whole number below 2^53. An 18-digit resident ID never
fits there (doubles keep 15–16 digits), so it is always the row error "证件号码被Excel转换为数字…"; a
15-digit old ID typed as a number still gets the 15-digit message, and a numeric passport number of
a few digits is accepted. A number in JSON rows is read the same way (3.1e+17 is that row error; a
JSON integer keeps every digit).

No query per row (STYLE.md §6). A look-up passes all hashes of the file as one parameter (an array on
PostgreSQL, a JSON array read with json_each on SQLite), or, for a large file, reads the unit's or the
batch's own rows whole (SCOPE_INSTEAD_OF_HASHES), so a 50,000-row file costs the same number of queries
as a 50-row one. IDs are hashed and encrypted, mobiles encrypted (SPEC SEC-4), with
`mutualaid.pii_bulk.BulkPiiProtector` (same keys and formats as mutualaid.pii, without its per-value overhead): one
implementation for both bulk paths. Writes: COPY (new people) and COPY into a temporary table + one
UPDATE … FROM (known people) on PostgreSQL; on SQLite one INSERT … SELECT and one UPDATE … FROM over json_each
(SQLite ≥ 3.33), because bulk_create/bulk_update there are capped at 999 parameters a statement and
their query count would grow with the file.

The package by job: `messages` (limits and messages), `checks` (what an upload is: macros,
passwords, zip bombs), `reading` (the sheet and its header, and JSON rows as a sheet), `values` and `rows` (normalising and
validating every row), `sources` (previous year, union members), `lookups`, `decisions` (the rules
of a row against what was found), `writing`, and `service` (the services and their job).
"""
from .checks import spreadsheet_extension, workbook_has_macros
from .messages import (
    EMPTY_FILE,
    EXCEL_NUMBER,
    FAILED_UNEXPECTEDLY,
    MACRO_WORKBOOK,
    NO_DATA,
    NO_HEADER,
    NOT_A_SPREADSHEET,
    PASSWORD_PROTECTED,
    UNREADABLE,
    problem_message,
    rows_too_large_message,
    state_message,
    too_large_message,
)
from ..errors import RosterUploadTooLarge
from .reading import Sheet, find_header, read_rows, read_sheet, read_stored_rows, read_stored_sheet
from .service import (
    INLINE_MAX_BYTES,
    UPLOAD_DIR,
    UPLOAD_KEEP,
    marked_copy_available,
    roster_import_members,
    roster_import_previous,
    roster_import_run,
    roster_import_start,
    roster_import_start_rows,
    roster_import_work,
    roster_imports_purge,
    stored_path,
    upload_folder,
)

__all__ = [
    "EMPTY_FILE",
    "EXCEL_NUMBER",
    "FAILED_UNEXPECTEDLY",
    "INLINE_MAX_BYTES",
    "MACRO_WORKBOOK",
    "NOT_A_SPREADSHEET",
    "NO_DATA",
    "NO_HEADER",
    "PASSWORD_PROTECTED",
    "RosterUploadTooLarge",
    "UNREADABLE",
    "UPLOAD_DIR",
    "UPLOAD_KEEP",
    "Sheet",
    "find_header",
    "marked_copy_available",
    "problem_message",
    "read_rows",
    "read_sheet",
    "read_stored_rows",
    "read_stored_sheet",
    "roster_import_members",
    "roster_import_previous",
    "roster_import_run",
    "roster_import_start",
    "roster_import_start_rows",
    "roster_import_work",
    "roster_imports_purge",
    "rows_too_large_message",
    "spreadsheet_extension",
    "state_message",
    "stored_path",
    "too_large_message",
    "upload_folder",
    "workbook_has_macros",
]
