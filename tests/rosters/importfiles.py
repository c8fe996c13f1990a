"""Spreadsheets and batches for the roster import tests, built at test time (one file per case).

- `resident_id(...)`: a valid 18-character resident ID (GB 11643) of a chosen birth date and sex;
- `template_xlsx(rows, ...)`: a workbook with the template's header (or another) and these rows;
- `encrypted_office()`, `zip_bomb()`, `zip_declaring(...)`: the bad files of SPEC ROS-10;
- `suggest(...)`, `member(...)`, `previous(...)`, `hold(...)`: reference data and registry rows.
"""
import datetime as dt
import io
import struct
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from enrollment.models import Batch
from mutualaid.pii import pii_encrypt, pii_hash
from mutualaid.validators import RESIDENT_ID_CHECK, RESIDENT_ID_WEIGHTS, resident_id_birth_and_sex
from rosters.models import EnrolmentRegistry, PreviousEnrolment, RosterEntry, SuggestedPerson, UnionMember
from rosters.workbooks import TEMPLATE_HEADER



def resident_id(birth: str = "19900101", sequence: int = 101, area: str = "310101", *, male: bool | None = None) -> str:
    """A valid resident ID; `sequence`'s last digit decides the sex (odd: male) unless `male` is given."""
    if male is not None and (sequence % 2 == 1) != male:
        sequence += 1
    first17 = f"{area}{birth}{sequence:03d}"
    return first17 + RESIDENT_ID_CHECK[sum(int(d) * w for d, w in zip(first17, RESIDENT_ID_WEIGHTS)) % 11]


def wrong_check(number: str) -> str:
    """`number` with a wrong check character, and the right one."""
    right = number[17]
    wrong = "0" if right != "0" else "1"
    return number[:17] + wrong


def row(name="张三", id_type="身份证", number=None, birth="", sex="", mobile="", insured="是"):
    """One template row, in TEMPLATE_HEADER's order."""
    return [name, id_type, number if number is not None else resident_id(), birth, sex, mobile, insured]


def template_xlsx(rows, header=TEMPLATE_HEADER, *, text_columns=(3, 6), above=(), sheets_before=()) -> bytes:
    """A workbook whose first sheet has `above` rows (e.g. a title), the header and `rows`. The
    columns in `text_columns` (1-based) are written as text like the template's; anything that is not
    a str (a float ID, a date) is written as that type, as Excel would keep it. `sheets_before` are
    (title, rows) of sheets placed before that one (a cover sheet, 填写说明 moved first)."""
    workbook = Workbook()
    for title, values in sheets_before:
        before = workbook.create_sheet(title, index=len(workbook.sheetnames) - 1)
        for line in values:
            before.append(list(line))
    sheet = workbook.worksheets[-1]
    for extra in above:
        sheet.append(list(extra))
    sheet.append(list(header))
    for values in rows:
        sheet.append(list(values))
    for column in text_columns:
        for cells in sheet.iter_cols(min_col=column, max_col=column, min_row=2):
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.number_format = "@"
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def upload(content: bytes, name: str = "参保名单.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def many_rows(count: int, *, bad_every: int = 0, birth_year: int = 1980) -> list[list]:
    """`count` rows of distinct valid people; every `bad_every`-th one (if any) with a wrong check character."""
    rows = []
    for index in range(count):
        birth = (dt.date(birth_year, 1, 1) + dt.timedelta(days=index // 400)).strftime("%Y%m%d")
        number = resident_id(birth, 100 + index % 400)
        if bad_every and index % bad_every == bad_every - 1:
            number = wrong_check(number)
        rows.append(row(name=f"员工{index}", number=number, insured="是" if index % 2 else "否"))
    return rows


# --- bad files (SPEC ROS-10) -----------------------------------------------------------------------------

_FREE, _END, _FAT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


def _directory_entry(name: str, kind: int, *, child=_FREE, right=_FREE, start=_END, size=0) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1)  # name length, type (1 storage, 2 stream, 5 root), black
        + struct.pack("<III", _FREE, right, child)  # left, right sibling, child
        + b"\0" * 16 + struct.pack("<I", 0) + b"\0" * 16  # CLSID, state bits, times
        + struct.pack("<IQ", start, size)
    )


def encrypted_office() -> bytes:
    """What Excel writes for a .xlsx with an open password: an OLE2 compound file (CFB, version 3)
    holding the streams EncryptionInfo and EncryptedPackage (MS-OFFCRYPTO). Streams left empty."""
    header = (
        bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
        + struct.pack("<I", 0) + struct.pack("<I", _FREE) * 108
    )
    fat = struct.pack("<II", _FAT, _END) + struct.pack("<I", _FREE) * 126
    directory = (
        _directory_entry("Root Entry", 5, child=1)
        + _directory_entry("EncryptionInfo", 2, right=2)
        + _directory_entry("EncryptedPackage", 2)
        + b"\0" * 128
    )
    return header + fat + directory


def zip_bomb(megabytes: int = 40) -> bytes:
    """An .xlsx-shaped zip whose sheet unpacks to `megabytes` MB of one repeated byte (ratio ~1000:1)."""
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (megabytes * 1024 * 1024))
    return output.getvalue()


def zip_declaring(unpacked_bytes: int) -> bytes:
    """A small real .xlsx whose zip directory declares the sheet's unpacked size as `unpacked_bytes`
    (a zip may lie; the check must trust nothing it would have to unpack to verify)."""
    content = bytearray(template_xlsx([row()]))
    name = b"xl/worksheets/sheet1.xml"
    central = content.find(b"PK\x01\x02")
    while central >= 0:
        name_length = struct.unpack_from("<H", content, central + 28)[0]
        if bytes(content[central + 46 : central + 46 + name_length]) == name:
            struct.pack_into("<I", content, central + 24, unpacked_bytes)
        central = content.find(b"PK\x01\x02", central + 46)
    return bytes(content)


# --- batches and reference data -----------------------------------------------------------------------------


def suggest(year: int, number: str, name: str, *, work_status="在职", medical_active=True, ss_unit_code="00108537",
            personal_ss_number="P0001") -> SuggestedPerson:
    birth_date, sex = resident_id_birth_and_sex(number)
    person = SuggestedPerson(
        year=year, ss_name=name, ss_unit_code=ss_unit_code, personal_ss_number=personal_ss_number,
        work_status=work_status, medical_active=medical_active, birth_date=birth_date, sex=sex,
    )
    person.id_number = number
    person.save(force_insert=True)
    return person


def member(year: int, unit_key: str, number: str, name: str) -> UnionMember:
    person = UnionMember(year=year, unit_key=unit_key, name=name)
    person.id_number = number
    person.save(force_insert=True)
    return person


def previous(year: int, code: str, number: str, name: str, *, id_type="身份证") -> PreviousEnrolment:
    person = PreviousEnrolment(year=year, code=code, name=name, id_type=id_type)
    person.id_number = number
    person.save(force_insert=True)
    return person


def hold(batch: Batch, number: str, name: str = "") -> EnrolmentRegistry:
    """`number` held (占用, SPEC ROS-11) by `batch` in its year; with `name`, also in `batch`'s roster
    under that name (the name the holder enrolled, which decides whether it is named)."""
    if name:
        birth_date, sex = resident_id_birth_and_sex(number)
        entry = RosterEntry(batch=batch, id_type="身份证", name=name, imported_name=name, birth_date=birth_date, sex=sex)
        entry.id_number = number
        entry.save()
    return EnrolmentRegistry.objects.create(year=batch.coverage_year.year, id_hash=pii_hash(number), batch=batch)


def encrypted(number: str) -> str:
    return pii_encrypt(number)


def ods_file(rows, header=TEMPLATE_HEADER) -> bytes:
    """A minimal OpenDocument spreadsheet (what LibreOffice or WPS saves as .ods) with the header and
    `rows`, every cell a string (None: an empty cell)."""
    from xml.sax.saxutils import escape

    def cells(values):
        return "".join(
            '<table:table-cell/>' if value in (None, "")
            else f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'
            for value in values
        )

    body = "".join(f"<table:table-row>{cells(values)}</table:table-row>" for values in [header, *rows])
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="参保名单">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return output.getvalue()


def with_macros(content: bytes, *, how: str = "part") -> bytes:
    """`content` (an .xlsx) as Excel saves it with macros (.xlsm, SPEC SEC-5): a `xl/vbaProject.bin`
    part ("part"), or only the macro-enabled workbook content type ("content_type")."""
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if how == "content_type" and item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
            target.writestr(item, data)
        if how == "part":
            target.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    return output.getvalue()


def xls_with_macros() -> bytes:
    """An .xls (CFB) whose directory names a `_VBA_PROJECT` stream."""
    return encrypted_office().replace("EncryptedPackage".encode("utf-16-le"), "_VBA_PROJECT\0\0\0\0".encode("utf-16-le"))


def left_by_a_dead_worker(roster_import, settings) -> None:
    """SPEC SEC-2: `roster_import` as a worker killed after 17 rows of its first attempt leaves it:
    running, its heartbeat older than JOB_STALE_SECONDS (what the sweep looks for)."""
    from django.utils import timezone

    from mutualaid.jobs import JobStatus
    from rosters.models import RosterImport

    stale = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    RosterImport.objects.filter(pk=roster_import.pk).update(status=JobStatus.RUNNING, attempts=1, rows_done=17, heartbeat_at=stale)
