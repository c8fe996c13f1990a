from django.urls import include, path

from . import attachment_views

app_name = "portal"

urlpatterns = [
    # The home page is the unit's workspace, enrollment's (by dotted string: mutualaid imports no app).
    path("", include("enrollment.home_urls")),
    # The attachment component's draft uploads (mutualaid/attachments.py).
    path("attachments/drafts/", attachment_views.attachment_draft_upload, name="attachment_draft_upload"),
    path("attachments/drafts/<int:pk>/", attachment_views.attachment_draft_file, name="attachment_draft_file"),
    path(
        "attachments/drafts/<int:pk>/delete/",
        attachment_views.attachment_draft_delete,
        name="attachment_draft_delete",
    ),
]
