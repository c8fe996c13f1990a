"""Attachments: storage and checks of the images and PDFs that units upload (SPEC CODE-2, HND-2,
VAL-6, PAY-2). Access is not decided here: the view of the object that owns an attachment decides.

How a feature uses the component
--------------------------------
1. The form's view makes a token, or keeps the one posted back so nothing uploaded is lost when the
   form has an error::

       draft_token = attachment_draft_token(reuse=request.POST.get("draft_token", ""))

2. The template puts the component inside its <form> (the modal uploads at once, before submission,
   to ``portal:attachment_draft_upload``; the hidden ``draft_token`` goes with the form)::

       {% include "includes/attachments.html" with draft_token=draft_token label="附件" required=True %}

   Optional: ``kinds`` (a list of (value, label) pairs: a type drop-down used for each upload, VAL-6;
   the posted kind is free text to this module, so a feature that relies on it checks it on submit),
   ``field_id`` (when a page has more than one), ``help`` (a line under the label), ``errors``
   (messages to show, e.g. "请上传附件").

3. On a valid submission, in the same transaction that creates the owner::

       count = attachments_claim(draft_token=draft_token, uploaded_by=request.user, owner=application)
       if not count: ...  # CODE-2: at least one attachment, raise the feature's own error

   (check ``attachments_of_draft(...)`` before saving if the form must refuse without attachments.)

4. The owner's detail page lists them read-only, the thumbnails linking to a URL of the owning app
   that takes (owner pk, attachment pk)::

       {% include "includes/attachment_list.html" with attachments=attachments url_name="enrollment:code_attachment" owner_pk=application.pk %}

   and that view checks access to the owner (X-4: 404 otherwise), then::

       attachment = get_object_or_404(attachments_of(application), pk=attachment_pk)
       return attachment_response(attachment, download=request.GET.get("download") == "1")

5. Drafts never claimed are deleted after a day: ``manage.py attachments_purge_drafts`` (daily).

Owners are any saved model with an integer primary key. An owner model may declare
``GenericRelation(Attachment, content_type_field="owner_type", object_id_field="owner_id")`` so that
deleting it deletes the rows; ``attachment_delete`` deletes a row and its file.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import secrets
import unicodedata
import warnings
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import FileResponse
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from .models import ATTACHMENT_EXTENSIONS, Attachment, AttachmentType

# An image is decoded into memory to be re-encoded: 40 million pixels (about 160 MB as RGBA) is the
# most a phone photo or a scan needs; a small file claiming more is a decompression bomb.
MAX_IMAGE_PIXELS = 40_000_000
# Where a PDF's %%EOF must be: writers may append a few bytes (whitespace, a NUL) after it.
_PDF_TAIL_BYTES = 1024
_DRAFT_TOKEN = re.compile(r"[0-9a-f]{32}")
_NAME_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_NAME_MAX_LENGTH = 100
_JPEG_QUALITY = 90

MESSAGE_WRONG_TYPE = "仅支持 JPG、PNG 图片或 PDF 文件"
MESSAGE_EMPTY = "文件为空，请重新选择"
MESSAGE_DAMAGED_IMAGE = "图片已损坏或无法识别，请重新拍照或扫描后上传"
MESSAGE_DAMAGED_PDF = "PDF 文件不完整或已损坏，请重新导出后上传"
MESSAGE_TOO_MANY_PIXELS = "图片尺寸过大（超过4000万像素），请缩小后重新上传"


class AttachmentError(Exception):
    """An upload was refused; `message` is shown to the user as is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def message_too_large() -> str:
    return f"单个文件不能超过{settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)}MB"


def message_too_many() -> str:
    return f"每项最多上传{settings.ATTACHMENTS_PER_OBJECT}个附件"


# Tokens and reads -----------------------------------------------------------------------------------


def attachment_draft_token(*, reuse: str = "") -> str:
    """The token that ties uploads to a form whose owner does not exist yet: `reuse` (the one posted
    back with the form) when it is well formed, else a fresh one."""
    if _DRAFT_TOKEN.fullmatch(reuse or ""):
        return reuse
    return secrets.token_hex(16)


def attachment_draft_token_is_valid(token: str) -> bool:
    return bool(_DRAFT_TOKEN.fullmatch(token or ""))


def attachments_of(owner: models.Model) -> QuerySet[Attachment]:
    """The attachments of a saved object, oldest first."""
    return Attachment.objects.filter(
        owner_type=ContentType.objects.get_for_model(owner), owner_id=owner.pk
    ).order_by("uploaded_at", "pk")


def attachments_of_draft(*, draft_token: str, uploaded_by: AbstractBaseUser) -> QuerySet[Attachment]:
    """The drafts a user uploaded under a token, oldest first (someone else's token gives nothing)."""
    if not attachment_draft_token_is_valid(draft_token):
        return Attachment.objects.none()
    return Attachment.objects.filter(
        draft_token=draft_token, uploaded_by=uploaded_by, owner_id__isnull=True
    ).order_by("uploaded_at", "pk")


# Storing ----------------------------------------------------------------------------------------------


def attachment_store(
    *,
    upload: File,
    uploaded_by: AbstractBaseUser,
    draft_token: str = "",
    owner: models.Model | None = None,
    kind: str = "",
) -> Attachment:
    """Check an uploaded file by its content and store it for `owner`, or as a draft under
    `draft_token` (exactly one of the two).

    Accepts JPEG, PNG and PDF up to ATTACHMENT_MAX_BYTES, at most ATTACHMENTS_PER_OBJECT per owner or
    token. Images are re-encoded (EXIF orientation applied, every metadata dropped) and the stored
    bytes are the re-encoded ones. Raises AttachmentError with a Chinese message otherwise.
    """
    if (owner is None) == (not draft_token):
        raise ValueError("attachment_store needs either an owner or a draft token")
    if draft_token and not attachment_draft_token_is_valid(draft_token):
        raise ValueError("malformed draft token")
    if owner is not None and owner.pk is None:
        raise ValueError("the owner must be saved first")

    limit = settings.ATTACHMENT_MAX_BYTES
    declared_size = getattr(upload, "size", None)
    if declared_size is not None and declared_size > limit:
        raise AttachmentError(message_too_large())
    if declared_size == 0:
        raise AttachmentError(MESSAGE_EMPTY)
    # Refuse before reading anything when the owner is already full.
    if _count_for(owner=owner, draft_token=draft_token) >= settings.ATTACHMENTS_PER_OBJECT:
        raise AttachmentError(message_too_many())

    # The declared size may lie (a stream, a hand-made request): never read more than limit + 1.
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise AttachmentError(message_too_large())
    if not data:
        raise AttachmentError(MESSAGE_EMPTY)

    content_type = _sniff(data)
    if content_type == AttachmentType.PDF:
        _check_pdf(data)
    else:
        data = _reencode_image(data, content_type)

    attachment = Attachment(
        kind=(kind or "").strip()[:100],
        original_name=_display_name(getattr(upload, "name", "") or "", content_type),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=uploaded_by,
        draft_token=draft_token,
    )
    if owner is not None:
        attachment.owner_type = ContentType.objects.get_for_model(owner)
        attachment.owner_id = owner.pk
    # upload_to makes the stored name; the name given here is never used.
    attachment.file.save("upload", ContentFile(data), save=False)
    try:
        with transaction.atomic():
            # Two uploads at once must not make 21: lock the owner (or, for drafts, the uploader),
            # then count again.
            _lock(owner if owner is not None else uploaded_by)
            if _count_for(owner=owner, draft_token=draft_token) >= settings.ATTACHMENTS_PER_OBJECT:
                raise AttachmentError(message_too_many())
            attachment.save()
    except BaseException:
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


def attachments_claim(*, draft_token: str, uploaded_by: AbstractBaseUser, owner: models.Model) -> int:
    """Give the drafts that `uploaded_by` made under `draft_token` to `owner` (saved); returns how
    many. Raises AttachmentError if the owner would hold more than ATTACHMENTS_PER_OBJECT."""
    if not attachment_draft_token_is_valid(draft_token):
        return 0
    owner_type = ContentType.objects.get_for_model(owner)
    with transaction.atomic():
        _lock(owner)
        drafts = list(attachments_of_draft(draft_token=draft_token, uploaded_by=uploaded_by).select_for_update())
        if not drafts:
            return 0
        if attachments_of(owner).count() + len(drafts) > settings.ATTACHMENTS_PER_OBJECT:
            raise AttachmentError(message_too_many())
        # One save per row (at most 20) so the audit trail records each move.
        for attachment in drafts:
            attachment.owner_type = owner_type
            attachment.owner_id = owner.pk
            attachment.draft_token = ""
            attachment.save(update_fields=["owner_type", "owner_id", "draft_token"])
    return len(drafts)


def attachment_delete(*, attachment: Attachment) -> None:
    """Delete the row now and its file once the transaction commits (a rollback keeps both)."""
    storage, name = attachment.file.storage, attachment.file.name
    attachment.delete()
    transaction.on_commit(lambda: storage.delete(name))


def attachments_purge_drafts(*, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete drafts never claimed, uploaded more than `older_than` ago (files too); returns how many.
    Run daily (manage.py attachments_purge_drafts; a beat schedule later)."""
    cutoff = timezone.now() - older_than
    stale = Attachment.objects.filter(owner_id__isnull=True, uploaded_at__lt=cutoff).exclude(draft_token="")
    count = 0
    for attachment in stale.iterator():
        with transaction.atomic():
            attachment_delete(attachment=attachment)
        count += 1
    return count


# Serving ----------------------------------------------------------------------------------------------


def attachment_response(attachment: Attachment, *, download: bool = False) -> FileResponse:
    """The stored bytes, with the stored type (never sniffed) and the Chinese file name. The caller
    has checked that the user may see the attachment's owner."""
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    response["Content-Length"] = str(attachment.size)
    response["Content-Disposition"] = _content_disposition(attachment.original_name, download=download)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if attachment.is_image:
        # A re-encoded image needs no policy of the page's; forbid everything should a browser ever
        # render it as a document. PDFs keep the portal's policy (a sandbox blocks Chrome's viewer).
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


def _content_disposition(name: str, *, download: bool) -> str:
    disposition = "attachment" if download else "inline"
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    fallback = name if name.isascii() else f"attachment.{extension}" if extension else "attachment"
    fallback = fallback.replace("\\", "_").replace('"', "_")
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


# Checks -------------------------------------------------------------------------------------------------


def _count_for(*, owner: models.Model | None, draft_token: str) -> int:
    if owner is not None:
        return attachments_of(owner).count()
    return Attachment.objects.filter(draft_token=draft_token, owner_id__isnull=True).count()


def _lock(instance: models.Model) -> None:
    # _meta, not type(): request.user is a lazy proxy.
    list(instance._meta.model._base_manager.select_for_update().filter(pk=instance.pk).values_list("pk", flat=True))


def _sniff(data: bytes) -> str:
    """The type by the first bytes, whatever the file's name or the browser's Content-Type."""
    if data.startswith(b"\xff\xd8\xff"):
        return AttachmentType.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return AttachmentType.PNG
    if data.startswith(b"%PDF-"):
        return AttachmentType.PDF
    raise AttachmentError(MESSAGE_WRONG_TYPE)


def _check_pdf(data: bytes) -> None:
    # A PDF ends with %%EOF; without it the file was cut short (or is something else with a header).
    if b"%%EOF" not in data[-_PDF_TAIL_BYTES:]:
        raise AttachmentError(MESSAGE_DAMAGED_PDF)


def _reencode_image(data: bytes, content_type: str) -> bytes:
    """Decode the image (verify, then load, refusing more than MAX_IMAGE_PIXELS) and encode it anew
    without EXIF, XMP, ICC, comments or text chunks; the EXIF orientation is applied first."""
    expected_format = "JPEG" if content_type == AttachmentType.JPEG else "PNG"
    with warnings.catch_warnings():
        # Pillow warns above its own limit (about 89 Mpx); ours is lower and checked below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[expected_format]) as probe:
                _check_pixels(probe)
                probe.verify()
            with Image.open(io.BytesIO(data), formats=[expected_format]) as image:
                _check_pixels(image)
                image.load()
                image = ImageOps.exif_transpose(image)
        except Image.DecompressionBombError:
            raise AttachmentError(MESSAGE_TOO_MANY_PIXELS) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise AttachmentError(MESSAGE_DAMAGED_IMAGE) from None

    # Drop everything Pillow would copy from the source (comments, ICC profile, text); PNG keeps only
    # its transparency, which is part of the picture.
    image.info = {key: image.info[key] for key in ("transparency",) if key in image.info}
    output = io.BytesIO()
    if expected_format == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(output, "JPEG", quality=_JPEG_QUALITY)
    else:
        image.save(output, "PNG")
    return output.getvalue()


def _check_pixels(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise AttachmentError(MESSAGE_TOO_MANY_PIXELS)
    if width == 0 or height == 0:
        raise AttachmentError(MESSAGE_DAMAGED_IMAGE)


def _display_name(name: str, content_type: str) -> str:
    """The uploaded name, safe to show and to offer as a download name: no folders, no control or
    reserved characters, at most 100 characters, ending with the extension of what it really is."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _NAME_FORBIDDEN.sub("_", name).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    real_extension = ATTACHMENT_EXTENSIONS[content_type]
    if extension.lower() in ({"jpg", "jpeg"} if real_extension == "jpg" else {real_extension}):
        real_extension = extension
    stem = stem.strip(" .") or "附件"
    stem = stem[: _NAME_MAX_LENGTH - len(real_extension) - 1]
    return f"{stem}.{real_extension}"
