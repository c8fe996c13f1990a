from django.urls import path

from . import attachment_views, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    # The attachment component's draft uploads (mutualaid/attachments.py).
    path("attachments/drafts/", attachment_views.attachment_draft_upload, name="attachment_draft_upload"),
    path("attachments/drafts/<int:pk>/", attachment_views.attachment_draft_file, name="attachment_draft_file"),
    path(
        "attachments/drafts/<int:pk>/delete/",
        attachment_views.attachment_draft_delete,
        name="attachment_draft_delete",
    ),
]
