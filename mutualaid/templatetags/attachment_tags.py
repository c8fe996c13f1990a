"""Template helpers of the attachment component (templates/includes/attachments.html)."""
from django import template
from django.conf import settings

from mutualaid.attachments import attachments_of_draft

register = template.Library()


@register.simple_tag(takes_context=True)
def attachment_drafts(context, draft_token):
    """The drafts the current user uploaded under `draft_token` (after a form error, the uploads
    made before it)."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    return list(attachments_of_draft(draft_token=draft_token or "", uploaded_by=request.user))


@register.simple_tag
def attachment_limits():
    """The limits written next to the control (UI.md, "Files"), from the settings."""
    max_mb = settings.ATTACHMENT_MAX_BYTES // (1024 * 1024)
    return {
        "max_bytes": settings.ATTACHMENT_MAX_BYTES,
        "max_mb": max_mb,
        "per_object": settings.ATTACHMENTS_PER_OBJECT,
        "text": f"格式：JPG/PNG/PDF，单个不超过{max_mb}MB，最多{settings.ATTACHMENTS_PER_OBJECT}个",
    }
