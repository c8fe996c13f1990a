"""The attachment component (mutualaid/attachments.py, attachment_views.py, the includes): checks by
content, re-encoded images, limits, drafts and their claim, the draft views' access (X-4), the files
never served from MEDIA_URL (SPEC CODE-2, HND-2, VAL-6, PAY-2; UI.md "Files")."""
import datetime as dt
import hashlib
import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.template import engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image, PngImagePlugin
from pytest_django.asserts import assertContains, assertNotContains

from mutualaid.attachments import (
    MAX_IMAGE_PIXELS,
    AttachmentError,
    attachment_delete,
    attachment_draft_token,
    attachment_response,
    attachment_store,
    attachments_claim,
    attachments_of,
    attachments_of_draft,
    attachments_purge_drafts,
)
from mutualaid.models import Attachment
from tests.factories import CoverageYearFactory, UserFactory
from tests.mutualaid.urls_attachments import PAGE_PATH
from tests.second_factor import PortalClient

TEN_MB = 10 * 1024 * 1024
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
WRONG_TYPE = "仅支持 JPG、PNG 图片或 PDF 文件"
TOO_LARGE = "单个文件不能超过10MB"
TOO_MANY = "每项最多上传20个附件"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Files go to a temporary folder, never to the project's media/; the limits are the defaults
    whatever the environment says."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ATTACHMENT_MAX_BYTES = TEN_MB
    settings.ATTACHMENTS_PER_OBJECT = 20
    return settings.MEDIA_ROOT


@pytest.fixture
def token():
    return attachment_draft_token()


def png_bytes(size=(40, 30), *, mode="RGB", metadata=False) -> bytes:
    image = Image.new(mode, size, "red" if mode == "RGB" else 0)
    buffer = io.BytesIO()
    options = {}
    if metadata:
        info = PngImagePlugin.PngInfo()
        info.add_text("Author", "张三 13912345678")
        info.add_itxt("Comment", "身份证 310101199001011234")
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "PhoneMaker"
        options = {"pnginfo": info, "exif": exif}
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def jpeg_with_gps() -> bytes:
    """40 wide, 30 high, EXIF Orientation 6 (to be turned 90° clockwise), GPS and a comment."""
    image = Image.new("RGB", (40, 30), "blue")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 0.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, comment=b"home address")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb for whoever believes it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def store(user, token, name="scan.pdf", data=PDF, **options) -> Attachment:
    return attachment_store(upload=upload(name, data), uploaded_by=user, draft_token=token, **options)


class CountingUpload:
    """A 30 MB upload that counts what is read from it; `size` is what the request declared."""

    def __init__(self, *, total: int, declared_size: int | None):
        self.name = "big.pdf"
        self.total = total
        self.size = declared_size
        self.position = 0
        self.bytes_read = 0

    def seek(self, position):
        self.position = position

    def read(self, count=-1):
        if count is None or count < 0:
            count = self.total - self.position
        count = min(count, self.total - self.position)
        chunk = (b"%PDF-" + bytes(count))[:count] if self.position == 0 else bytes(count)
        self.position += count
        self.bytes_read += count
        return chunk


def stored_image(attachment: Attachment) -> Image.Image:
    with attachment.file.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
        return image


# --- checks by content --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_renamed_exe_is_refused(unit_admin, token):
    with pytest.raises(AttachmentError) as refused:
        attachment_store(
            upload=upload("x.png", b"MZ\x90\x00\x03" + bytes(200), "image/png"), uploaded_by=unit_admin, draft_token=token
        )

    assert refused.value.message == WRONG_TYPE
    assert not Attachment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["page.html", "page.pdf", "page.png"])
def test_an_html_file_is_refused_whatever_its_name(unit_admin, token, name):
    html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"

    with pytest.raises(AttachmentError, match=WRONG_TYPE):
        attachment_store(upload=upload(name, html, "application/pdf"), uploaded_by=unit_admin, draft_token=token)


@pytest.mark.django_db
def test_a_file_with_a_good_header_but_broken_image_is_refused(unit_admin, token):
    with pytest.raises(AttachmentError, match="图片已损坏"):
        store(unit_admin, token, "x.png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)


@pytest.mark.django_db
def test_a_pdf_cut_short_is_refused(unit_admin, token):
    with pytest.raises(AttachmentError, match="PDF 文件不完整或已损坏"):
        store(unit_admin, token, "cut.pdf", PDF[:-8] + bytes(2000))


@pytest.mark.django_db
def test_a_30_mb_file_is_refused_before_it_is_read(unit_admin, token):
    big = CountingUpload(total=30 * 1024 * 1024, declared_size=30 * 1024 * 1024)

    with pytest.raises(AttachmentError) as refused:
        attachment_store(upload=big, uploaded_by=unit_admin, draft_token=token)

    assert refused.value.message == TOO_LARGE
    assert big.bytes_read == 0


@pytest.mark.django_db
def test_a_30_mb_file_lying_about_its_size_is_read_only_up_to_the_limit(unit_admin, token):
    big = CountingUpload(total=30 * 1024 * 1024, declared_size=1000)

    with pytest.raises(AttachmentError) as refused:
        attachment_store(upload=big, uploaded_by=unit_admin, draft_token=token)

    assert refused.value.message == TOO_LARGE
    assert big.bytes_read == TEN_MB + 1


@pytest.mark.django_db
def test_the_size_limit_comes_from_the_settings(unit_admin, token, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024

    with pytest.raises(AttachmentError, match="单个文件不能超过1MB"):
        store(unit_admin, token, data=PDF + bytes(1024 * 1024))


@pytest.mark.django_db
def test_an_empty_file_is_refused(unit_admin, token):
    with pytest.raises(AttachmentError, match="文件为空"):
        store(unit_admin, token, "empty.png", b"")


@pytest.mark.django_db
def test_a_png_is_stored_re_encoded_without_its_metadata(unit_admin, token):
    original = png_bytes(metadata=True)
    assert Image.open(io.BytesIO(original)).text  # the fixture does carry text chunks

    attachment = store(unit_admin, token, "营业执照.png", original, kind="营业执照")

    image = stored_image(attachment)
    assert image.format == "PNG"
    assert image.size == (40, 30)
    assert image.text == {}
    assert "exif" not in image.info
    assert not image.getexif()
    with attachment.file.open("rb") as handle:
        stored = handle.read()
    assert b"310101199001011234" not in stored and b"PhoneMaker" not in stored
    assert attachment.content_type == "image/png"
    assert attachment.size == len(stored)
    assert attachment.sha256 == hashlib.sha256(stored).hexdigest()
    assert attachment.original_name == "营业执照.png"
    assert attachment.kind == "营业执照"


@pytest.mark.django_db
def test_a_jpeg_loses_its_gps_and_keeps_its_orientation(unit_admin, token):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    attachment = store(unit_admin, token, "photo.JPG", original)

    image = stored_image(attachment)
    assert image.format == "JPEG"
    assert not image.getexif()
    assert "exif" not in image.info and "comment" not in image.info
    assert image.size == (30, 40)  # Orientation 6 applied to the pixels before the tag went
    with attachment.file.open("rb") as handle:
        assert b"home address" not in handle.read()
    assert attachment.content_type == "image/jpeg"
    assert attachment.original_name == "photo.JPG"


@pytest.mark.django_db
def test_a_valid_pdf_is_stored_as_is(unit_admin, token):
    attachment = store(unit_admin, token, "社会保险费缴费申报表.pdf", PDF)

    with attachment.file.open("rb") as handle:
        assert handle.read() == PDF
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(PDF)
    assert attachment.draft_token == token
    assert attachment.owner_id is None


@pytest.mark.django_db
def test_the_browsers_content_type_and_the_name_do_not_decide_the_type(unit_admin, token):
    attachment = attachment_store(
        upload=upload("scan.png", PDF, "image/png"), uploaded_by=unit_admin, draft_token=token
    )

    assert attachment.content_type == "application/pdf"
    assert attachment.original_name == "scan.pdf"  # offered for download with what it really is


@pytest.mark.django_db
def test_a_decompression_bomb_is_refused(unit_admin, token):
    # 8000 x 6000 = 48 million pixels in a few kilobytes: above our limit, below Pillow's own.
    bomb = png_bytes((8000, 6000), mode="1")
    assert len(bomb) < 100_000 and 8000 * 6000 > MAX_IMAGE_PIXELS

    with pytest.raises(AttachmentError, match="图片尺寸过大"):
        store(unit_admin, token, "bomb.png", bomb)


@pytest.mark.django_db
def test_a_header_claiming_billions_of_pixels_is_refused(unit_admin, token):
    with pytest.raises(AttachmentError, match="图片尺寸过大"):
        store(unit_admin, token, "bomb.png", png_header_only(100_000, 100_000))


@pytest.mark.django_db
def test_the_display_name_is_sanitised(unit_admin, token):
    attachment = store(unit_admin, token, '营业执照<副本>:"2024".pdf\x07')

    assert attachment.original_name == "营业执照_副本___2024_.pdf"


# --- where files go -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_stored_path_reveals_neither_the_name_nor_the_user(media_root, token):
    user = UserFactory(username="zhangsan-hr")
    attachment = store(user, token, "zhangsan-营业执照.png", png_bytes())

    name = attachment.file.name
    assert re.fullmatch(r"private/attachments/\d{4}/\d{2}/[0-9a-f]{32}\.png", name), name
    assert timezone.localdate().strftime("%Y/%m") in name
    assert "zhangsan" not in name and "营业执照" not in name
    assert (Path(media_root) / name).is_file()


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_no_url_serves_media_root(client, unit_admin, token, settings, debug):
    settings.DEBUG = debug
    attachment = store(unit_admin, token)
    client.force_login(unit_admin)

    response = client.get(settings.MEDIA_URL + attachment.file.name)

    assert response.status_code == 404


# --- limits per owner and drafts ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_21st_draft_is_refused(unit_admin, token):
    for number in range(20):
        store(unit_admin, token, f"{number}.pdf")

    with pytest.raises(AttachmentError) as refused:
        store(unit_admin, token, "21.pdf")

    assert refused.value.message == TOO_MANY
    assert attachments_of_draft(draft_token=token, uploaded_by=unit_admin).count() == 20


@pytest.mark.django_db
def test_the_21st_attachment_of_an_owner_is_refused(unit_admin):
    owner = CoverageYearFactory()
    for number in range(20):
        attachment_store(upload=upload(f"{number}.pdf", PDF), uploaded_by=unit_admin, owner=owner)

    with pytest.raises(AttachmentError, match=TOO_MANY):
        attachment_store(upload=upload("21.pdf", PDF), uploaded_by=unit_admin, owner=owner)

    assert attachments_of(owner).count() == 20


@pytest.mark.django_db
def test_an_owner_or_a_token_is_required(unit_admin):
    with pytest.raises(ValueError):
        attachment_store(upload=upload("a.pdf", PDF), uploaded_by=unit_admin)


def test_a_draft_token_is_reused_only_when_well_formed():
    fresh = attachment_draft_token()
    assert re.fullmatch(r"[0-9a-f]{32}", fresh)
    assert attachment_draft_token() != fresh
    assert attachment_draft_token(reuse=fresh) == fresh
    for bad in ("", "x" * 32, fresh.upper(), fresh + "0", "../" + fresh[3:]):
        assert attachment_draft_token(reuse=bad) not in (bad, fresh)


@pytest.mark.django_db
def test_claim_moves_the_drafts_to_the_owner(unit_admin, token):
    first = store(unit_admin, token, "a.pdf")
    second = store(unit_admin, token, "b.png", png_bytes())
    owner = CoverageYearFactory()

    count = attachments_claim(draft_token=token, uploaded_by=unit_admin, owner=owner)

    assert count == 2
    assert list(attachments_of(owner)) == [first, second]  # oldest first
    assert set(attachments_of(owner).values_list("draft_token", flat=True)) == {""}
    assert not attachments_of_draft(draft_token=token, uploaded_by=unit_admin).exists()
    assert attachments_of(owner).first().owner == owner
    # Claiming again finds nothing.
    assert attachments_claim(draft_token=token, uploaded_by=unit_admin, owner=owner) == 0


@pytest.mark.django_db
def test_claim_leaves_another_users_drafts_alone(unit_admin, token):
    intruder = UserFactory()
    theirs = store(intruder, token, "theirs.pdf")
    owner = UserFactory()

    assert attachments_claim(draft_token=token, uploaded_by=unit_admin, owner=owner) == 0

    theirs.refresh_from_db()
    assert theirs.owner_id is None and theirs.draft_token == token
    assert not attachments_of(owner).exists()


@pytest.mark.django_db
def test_claim_respects_the_limit_per_owner(unit_admin, token):
    owner = CoverageYearFactory()
    for number in range(19):
        attachment_store(upload=upload(f"{number}.pdf", PDF), uploaded_by=unit_admin, owner=owner)
    store(unit_admin, token, "x.pdf")
    store(unit_admin, token, "y.pdf")

    with pytest.raises(AttachmentError, match=TOO_MANY):
        attachments_claim(draft_token=token, uploaded_by=unit_admin, owner=owner)

    assert attachments_of(owner).count() == 19
    assert attachments_of_draft(draft_token=token, uploaded_by=unit_admin).count() == 2


@pytest.mark.django_db
def test_delete_removes_the_row_and_then_the_file(unit_admin, token, media_root, django_capture_on_commit_callbacks):
    attachment = store(unit_admin, token)
    path = Path(media_root) / attachment.file.name

    with django_capture_on_commit_callbacks(execute=True):
        attachment_delete(attachment=attachment)
        assert path.is_file()  # not before the commit: a rollback would keep the row

    assert not Attachment.objects.exists()
    assert not path.exists()


@pytest.mark.django_db
def test_purge_removes_day_old_drafts_and_their_files(unit_admin, token, media_root, django_capture_on_commit_callbacks):
    old = store(unit_admin, token, "old.pdf")
    fresh = store(unit_admin, attachment_draft_token(), "fresh.pdf")
    owned = attachment_store(upload=upload("owned.pdf", PDF), uploaded_by=unit_admin, owner=unit_admin)
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    Attachment.objects.filter(pk__in=[old.pk, owned.pk]).update(uploaded_at=two_days_ago)

    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_purge_drafts(older_than=dt.timedelta(days=1)) == 1

    assert set(Attachment.objects.values_list("pk", flat=True)) == {fresh.pk, owned.pk}
    assert not (Path(media_root) / old.file.name).exists()
    assert (Path(media_root) / fresh.file.name).is_file()


@pytest.mark.django_db
def test_the_purge_command_says_how_many(unit_admin, token, django_capture_on_commit_callbacks):
    store(unit_admin, token)
    Attachment.objects.update(uploaded_at=timezone.now() - dt.timedelta(hours=30))
    output = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("attachments_purge_drafts", stdout=output)

    assert output.getvalue().strip() == "已删除 1 个草稿附件"
    assert not Attachment.objects.exists()


# --- serving ------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("download, disposition", [(False, "inline"), (True, "attachment")])
def test_the_response_carries_the_stored_type_and_the_chinese_name(unit_admin, token, download, disposition):
    attachment = store(unit_admin, token, "营业执照 副本.pdf")

    response = attachment_response(attachment, download=download)

    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Length"] == str(len(PDF))
    assert response["Content-Disposition"] == (
        f"{disposition}; filename=\"attachment.pdf\"; "
        "filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7%20%E5%89%AF%E6%9C%AC.pdf"
    )
    assert b"".join(response.streaming_content) == PDF
    response.close()


# --- the draft views ----------------------------------------------------------------------------------


def _upload_url():
    return reverse("portal:attachment_draft_upload")


@pytest.mark.django_db
def test_upload_view_stores_several_files_and_answers_the_grid(client, unit_admin, token):
    client.force_login(unit_admin)

    response = client.post(
        _upload_url(),
        {
            "draft_token": token,
            "kind": "情况说明",
            "file": [upload("申报表.pdf", PDF), upload("照片.png", png_bytes(), "image/png"), upload("病毒.png", b"MZ" + bytes(50))],
        },
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    drafts = list(attachments_of_draft(draft_token=token, uploaded_by=unit_admin))
    assert [draft.original_name for draft in drafts] == ["申报表.pdf", "照片.png"]
    assert {draft.kind for draft in drafts} == {"情况说明"}
    assertContains(response, "申报表.pdf")
    assertContains(response, "bi-file-earmark-pdf")
    assertContains(response, f'<img src="{reverse("portal:attachment_draft_file", args=[drafts[1].pk])}"')
    assertContains(response, "病毒.png：仅支持 JPG、PNG 图片或 PDF 文件")
    assertContains(response, reverse("portal:attachment_draft_delete", args=[drafts[0].pk]))
    assertContains(response, "已上传 <strong>2</strong> 个附件", html=False)
    assertNotContains(response, "<html")


@pytest.mark.django_db
def test_upload_view_gives_the_limit_messages(client, unit_admin, token, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    client.force_login(unit_admin)

    response = client.post(
        _upload_url(), {"draft_token": token, "file": [upload("大.pdf", PDF + bytes(2 * 1024 * 1024)), upload("空.pdf", b"")]}
    )

    assertContains(response, "大.pdf：单个文件不能超过1MB")
    assertContains(response, "空.pdf：文件为空，请重新选择")
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_upload_view_without_files_asks_for_one(client, unit_admin, token):
    client.force_login(unit_admin)

    response = client.post(_upload_url(), {"draft_token": token})

    assertContains(response, "请选择要上传的文件")


@pytest.mark.django_db
@pytest.mark.parametrize("bad_token", ["", "not-a-token", "A" * 32])
def test_upload_view_refuses_a_malformed_token(client, unit_admin, bad_token):
    client.force_login(unit_admin)

    response = client.post(_upload_url(), {"draft_token": bad_token, "file": upload("a.pdf", PDF)})

    assert response.status_code == 400
    assert response.content.decode() == "上传失败，请刷新页面后重试"
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_upload_view_refuses_get(client, unit_admin):
    client.force_login(unit_admin)

    assert client.get(_upload_url()).status_code == 405


@pytest.mark.django_db
def test_the_uploader_gets_the_draft_file(client, unit_admin, token):
    attachment = store(unit_admin, token, "照片.png", png_bytes())
    client.force_login(unit_admin)

    response = client.get(reverse("portal:attachment_draft_file", args=[attachment.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline; ")
    assert response["Cache-Control"] == "private, no-store"
    with attachment.file.open("rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()
    download = client.get(reverse("portal:attachment_draft_file", args=[attachment.pk]) + "?download=1")
    assert download["Content-Disposition"].startswith("attachment; ")


@pytest.mark.django_db
def test_another_user_gets_404_for_a_draft(client, unit_admin, token, media_root):
    attachment = store(unit_admin, token)
    client.force_login(UserFactory())

    assert client.get(reverse("portal:attachment_draft_file", args=[attachment.pk])).status_code == 404
    assert client.post(reverse("portal:attachment_draft_delete", args=[attachment.pk])).status_code == 404

    assert Attachment.objects.filter(pk=attachment.pk).exists()
    assert (Path(media_root) / attachment.file.name).is_file()


@pytest.mark.django_db
def test_a_claimed_attachment_is_no_longer_served_as_a_draft(client, unit_admin, token):
    attachment = store(unit_admin, token)
    attachments_claim(draft_token=token, uploaded_by=unit_admin, owner=CoverageYearFactory())
    client.force_login(unit_admin)

    assert client.get(reverse("portal:attachment_draft_file", args=[attachment.pk])).status_code == 404
    assert client.post(reverse("portal:attachment_draft_delete", args=[attachment.pk])).status_code == 404


@pytest.mark.django_db
def test_the_uploader_deletes_a_draft(client, unit_admin, token, media_root, django_capture_on_commit_callbacks):
    kept = store(unit_admin, token, "留下.pdf")
    removed = store(unit_admin, token, "删除.pdf")
    client.force_login(unit_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:attachment_draft_delete", args=[removed.pk]))

    assert response.status_code == 200
    assertContains(response, "留下.pdf")
    assertNotContains(response, "删除.pdf")
    assertContains(response, "已上传 <strong>1</strong> 个附件", html=False)
    assert list(Attachment.objects.all()) == [kept]
    assert not (Path(media_root) / removed.file.name).exists()
    assert client.get(reverse("portal:attachment_draft_delete", args=[kept.pk])).status_code == 405


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_login(client, unit_admin, token):
    attachment = store(unit_admin, token)
    for method, url in [
        ("post", _upload_url()),
        ("get", reverse("portal:attachment_draft_file", args=[attachment.pk])),
        ("post", reverse("portal:attachment_draft_delete", args=[attachment.pk])),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login") + "?next=")
    assert Attachment.objects.count() == 1


@pytest.mark.django_db
def test_the_posts_need_the_csrf_token(unit_admin, token):
    attachment = store(unit_admin, token)
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(unit_admin)

    refused_upload = client.post(_upload_url(), {"draft_token": token, "file": upload("a.pdf", PDF)})
    refused_delete = client.post(reverse("portal:attachment_draft_delete", args=[attachment.pk]))

    assert refused_upload.status_code == 403 and refused_delete.status_code == 403
    assert Attachment.objects.count() == 1
    # With the token in the header, as portal.js and attachments.js send it, both work.
    client.get(reverse("portal:home"))
    csrf = client.cookies["csrftoken"].value
    accepted = client.post(_upload_url(), {"draft_token": token, "file": upload("a.pdf", PDF)}, headers={"X-CSRFToken": csrf})
    assert accepted.status_code == 200
    assert Attachment.objects.count() == 2


# --- the includes and a feature's flow (tests/mutualaid/urls_attachments.py) ----------------------------


def _render_include(user, **context):
    request = RequestFactory().get("/")
    request.user = user
    template = engines["django"].from_string('{% include "includes/attachments.html" %}')
    return template.render(context, request)


@pytest.mark.django_db
def test_the_include_shows_the_control_the_limits_and_the_drafts(unit_admin, token):
    store(unit_admin, token, "申报表.pdf")
    store(UserFactory(), token, "别人的.pdf")

    html = _render_include(unit_admin, draft_token=token, label="附件", required=True, kinds=[("情况说明", "情况说明（加盖公章）")])

    assert f'<input type="hidden" name="draft_token" value="{token}">' in html
    assert "格式：JPG/PNG/PDF，单个不超过10MB，最多20个" in html
    assert "上传文件" in html and "选择上传" in html and "返回" in html
    assert '<option value="情况说明">情况说明（加盖公章）</option>' in html
    assert "申报表.pdf" in html and "已上传 <strong>1</strong> 个附件" in html
    assert "别人的.pdf" not in html
    assert '<span class="text-danger">*</span>附件' in html
    # Nothing in the modal is posted with the page's form but the token.
    assert re.findall(r'name="([^"]+)"', html) == ["draft_token"]


@pytest.mark.django_db
def test_the_include_without_drafts_says_so(unit_admin, token):
    html = _render_include(unit_admin, draft_token=token)

    assert "尚未上传附件" in html
    assert "附件类型" not in html


@pytest.mark.django_db
def test_a_feature_keeps_the_uploads_over_a_form_error_and_claims_them(client, unit_admin, token, settings):
    settings.ROOT_URLCONF = "tests.mutualaid.urls_attachments"
    client.force_login(unit_admin)
    store(unit_admin, token, "营业执照.png", png_bytes())

    after_error = client.post(PAGE_PATH, {"draft_token": token, "action": "fail"})
    assertContains(after_error, f'name="draft_token" value="{token}"')
    assertContains(after_error, "营业执照.png")
    assertContains(after_error, "请核对表单后重新提交")

    submitted = client.post(PAGE_PATH, {"draft_token": token, "action": "submit"})
    attachment = attachments_of(unit_admin).get()
    owner_url = reverse("attachment_test_owner_file", args=[unit_admin.pk, attachment.pk])
    assertContains(submitted, f'<img src="{owner_url}"')
    assertNotContains(submitted, f'value="{token}"')  # a fresh token for the next form
    assert client.get(owner_url)["Content-Type"] == "image/png"

    client.force_login(UserFactory())
    assert client.get(owner_url).status_code == 404
