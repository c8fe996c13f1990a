"""Draft uploads: the attachment component's modal uploads here while the form's owner does not
exist yet (SPEC CODE-2, VAL-6). A draft is seen and removed only by its uploader; anyone else gets
404 (X-4). Once claimed by an owner, its files are served by the owner's own view."""
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from .attachments import (
    AttachmentError,
    attachment_delete,
    attachment_draft_token_is_valid,
    attachment_response,
    attachment_store,
    attachments_of_draft,
)
from .models import Attachment
from .quotas import quota_refusal


def _drafts_of(user):
    return Attachment.objects.filter(uploaded_by=user, owner_id__isnull=True).exclude(draft_token="")


def _grid(request, draft_token: str, errors: list[tuple[str, str]]):
    attachments = attachments_of_draft(draft_token=draft_token, uploaded_by=request.user)
    return render(request, "includes/attachment_grid.html", {"attachments": attachments, "upload_errors": errors})


@require_POST
def attachment_draft_upload(request):
    """Store the posted `file`s (several allowed) under `draft_token`, with the optional `kind`;
    answers the modal's grid, with a Chinese message for each refused file."""
    draft_token = request.POST.get("draft_token", "")
    if not attachment_draft_token_is_valid(draft_token):
        return HttpResponseBadRequest("上传失败，请刷新页面后重试", content_type="text/plain; charset=utf-8")
    kind = request.POST.get("kind", "")
    uploads = request.FILES.getlist("file")
    if refused := quota_refusal(request, "attachment", amount=len(uploads)):  # SPEC SEC-3: each file counts
        return refused
    errors = [] if uploads else [("", "请选择要上传的文件")]
    for upload in uploads:
        try:
            attachment_store(upload=upload, uploaded_by=request.user, draft_token=draft_token, kind=kind)
        except AttachmentError as error:
            errors.append((upload.name, error.message))
    return _grid(request, draft_token, errors)


@require_GET
def attachment_draft_file(request, pk: int):
    attachment = get_object_or_404(_drafts_of(request.user), pk=pk)
    return attachment_response(attachment, download=request.GET.get("download") == "1")


@require_POST
def attachment_draft_delete(request, pk: int):
    attachment = get_object_or_404(_drafts_of(request.user), pk=pk)
    draft_token = attachment.draft_token
    attachment_delete(attachment=attachment)
    return _grid(request, draft_token, [])
