"""SPEC SEC-4: files holding personal data are sealed at rest, and plain copies never outlive the job
that reads them. ID numbers and mobiles are uploaded (a roster through its page, a reference file
through the back office, an attachment) and exported (the roster page's 【导出】, an export with full
IDs); then the media folder, the jobs' scratch folder and the temporary folder are searched for any
of them in clear, inside zip and gzip files too."""
import gzip
import io
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mutualaid import exports
from mutualaid.attachments import attachment_store
from mutualaid.exports import ExportBuilder, ExportPlan, export_run_sync
from mutualaid.sealed import MAGIC
from mutualaid.xlsx import XlsxWriter
from rosters.models import ReferenceLoad, RosterImport
from tests.factories import IMPORT_CODE, UserFactory, make_batch
from tests.rosters.importfiles import resident_id, row, template_xlsx, upload, wrong_check
from tests.rosters.referencefiles import suggested_csv

pytestmark = pytest.mark.django_db

KEPT = resident_id("19900101", 101)
SECOND = resident_id("19850615", 202)
BAD = wrong_check(resident_id("19700304", 303))  # a bad row: the upload is kept 7 days for the marked copy
MOBILE = "13987654321"
REFERENCE = [resident_id("19600101", 404), resident_id("19610202", 505)]
REFERENCE_BAD = wrong_check(resident_id("19620303", 606))
SECRETS = [KEPT, SECOND, BAD, MOBILE, *REFERENCE, REFERENCE_BAD]


class FullIdExport(ExportBuilder):
    """An export writing ID numbers in clear, as 参保人员 does for a role with the full-number right."""

    kind = "full_ids"
    label = "完整证件号码导出"

    def check(self, *, user, params):
        pass

    def plan(self, *, user, params):
        return ExportPlan(title="完整证件号码导出", filename="完整证件号码.xlsx", full_ids=True)

    def back_url(self, *, params):
        return "/"

    def write(self, *, user, params, path, progress):
        with XlsxWriter(path) as book:
            sheet = book.sheet("人员", [("证件号码", 22), ("手机", 14), ("金额", 10)])
            for number in REFERENCE + [KEPT]:
                sheet.row([number, MOBILE, Decimal("1.00")])
        return 3


def _texts(raw: bytes) -> list[bytes]:
    """The bytes of a file as a reader would see them: a zip's members and a gzip's content unpacked."""
    found = [raw]
    if zipfile.is_zipfile(io.BytesIO(raw)):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            found += [archive.read(name) for name in archive.namelist()]
    if raw[:2] == b"\x1f\x8b":
        found.append(gzip.decompress(raw))
    return found


def _in_clear(folders) -> list[str]:
    leaks = []
    for folder in folders:
        for path in Path(folder).rglob("*"):
            if path.is_file():
                for text in _texts(path.read_bytes()):
                    leaks += [f"{path}: {secret}" for secret in SECRETS if secret.encode() in text]
    return leaks


def test_no_id_number_or_mobile_lies_in_clear_in_media_scratch_or_temporary_folders(
    client, settings, tmp_path, monkeypatch, handbook_year, reviewer, django_capture_on_commit_callbacks
):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100  # uploads go through Django's temporary files too
    monkeypatch.setitem(exports.EXPORT_BUILDERS, "full_ids", "tests.test_files_at_rest.FullIdExport")
    unit = UserFactory(username="rest-unit")
    batch = make_batch(unit, year=handbook_year, code=IMPORT_CODE)

    # The unit: a roster with a bad row (kept for its marked copy), its export, an attachment.
    client.force_login(unit)
    roster = template_xlsx([row(number=KEPT, mobile=MOBILE), row("李梅", number=SECOND), row("王五", number=BAD)])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("rosters:roster_import_upload", kwargs={"number": batch.number}), {"file": upload(roster), "submission": "t1"})
    kept = RosterImport.objects.get()
    assert kept.rows_failed == 1 and kept.stored_file, kept.error
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("rosters:roster_export", kwargs={"number": batch.number}))
    pdf = b"%PDF-1.4\n% " + f"{KEPT} {MOBILE}".encode() + b"\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    attachment_store(upload=ContentFile(pdf, name="情况说明.pdf"), uploaded_by=unit, owner=batch, kind="情况说明")

    # The back office: a reference file with a rejected row (its report keeps the row), an export with full IDs.
    client.force_login(reviewer)
    reference = suggested_csv(
        [[number, "某人", "0100001", f"SB{index}", "在职", "是"] for index, number in enumerate([*REFERENCE, REFERENCE_BAD])]
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:rosters_referenceload_add"),
            {"kind": "suggested", "year": handbook_year.year, "file": SimpleUploadedFile("建议清册.csv", reference, "text/csv")},
        )
    load = ReferenceLoad.objects.get()
    assert (load.rows_loaded, load.rows_rejected) == (2, 1) and load.rejected_report, load.error
    assert any(KEPT.encode() in text for text in _texts(export_run_sync(kind="full_ids", params={}, user=reviewer)))

    # What was kept reads back plain through the portal ...
    marked = client.get(reverse("admin:rosters_referenceload_rejected", args=[load.pk]))
    assert REFERENCE_BAD.encode() in b"".join(marked.streaming_content)
    client.force_login(unit)
    result = client.get(reverse("rosters:roster_import_marked", kwargs={"number": batch.number, "import_id": kept.pk}))
    assert result.status_code == 200
    # ... and nothing lies in clear on disk.
    media, scratch = Path(settings.MEDIA_ROOT), Path(settings.JOB_SCRATCH_DIR)
    stored = [path for path in media.rglob("*") if path.is_file()]
    assert len(stored) >= 5  # the roster upload, the roster export, the attachment, the report, the full-ID export
    assert [path for path in stored if not path.read_bytes().startswith(MAGIC)] == []
    assert _in_clear([media, scratch, temporary]) == []
    assert not scratch.exists() or list(scratch.iterdir()) == []
