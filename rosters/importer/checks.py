"""Recognising an upload before anything is unpacked: the kind of spreadsheet, macros (SPEC SEC-5),
passwords and zip bombs."""
from __future__ import annotations

import zipfile

from ..errors import RosterError
from .messages import EMPTY_FILE, MACRO_WORKBOOK, NOT_A_SPREADSHEET, PASSWORD_PROTECTED, ZIP_MEMBERS_MAX, ZIP_RATIO_FROM_BYTES, ZIP_RATIO_MAX, ZIP_SUSPICIOUS, ZIP_UNPACKED_MAX_BYTES


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
