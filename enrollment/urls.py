from django.urls import path  # noqa: F401 - each block below adds its routes

app_name = "enrollment"

urlpatterns = []

# 参保编码申请 (SPEC CODE-1…4).
from .views import codes  # noqa: E402

urlpatterns += [
    path("codes/", codes.code_applications, name="code_applications"),
    path("codes/new/", codes.code_applications_new, name="code_applications_new"),
    path("codes/sms/", codes.code_applications_sms, name="code_applications_sms"),
    path("codes/<int:pk>/", codes.code_applications_detail, name="code_applications_detail"),
    path("codes/<int:pk>/edit/", codes.code_applications_edit, name="code_applications_edit"),
    path(
        "codes/<int:pk>/attachments/<int:attachment_pk>/",
        codes.code_applications_attachment,
        name="code_applications_attachment",
    ),
    path(
        "codes/<int:pk>/attachments/<int:attachment_pk>/delete/",
        codes.code_applications_attachment_delete,
        name="code_applications_attachment_delete",
    ),
]

# 经办人填报 and 参保信息变更申请 (SPEC HND-1, HND-2).
from .views import handler  # noqa: E402

urlpatterns += [
    path("handler/", handler.handler_info, name="handler"),
    path("handler/sms/", handler.handler_sms, name="handler_sms"),
    path("handler/level2-options/", handler.handler_level2_options, name="handler_level2_options"),
    path("handler/changes/", handler.handler_changes, name="handler_changes"),
    path("handler/changes/new/", handler.handler_changes_new, name="handler_changes_new"),
    path("handler/changes/<int:pk>/", handler.handler_changes_detail, name="handler_changes_detail"),
    path(
        "handler/changes/<int:pk>/attachments/<int:attachment_pk>/",
        handler.handler_changes_attachment,
        name="handler_changes_attachment",
    ),
]

# 参保批次管理 (SPEC BAT-1, BAT-2, BAT-3, BAT-5, BAT-7).
from .views import batches  # noqa: E402

urlpatterns += [
    path("batches/", batches.batches, name="batches"),
    path("batches/open/", batches.batches_open, name="batches_open"),
    path("batches/flow/", batches.batches_flow, name="batches_flow"),
    path("batches/<str:number>/", batches.batches_detail, name="batches_detail"),
    path("batches/<str:number>/delete/", batches.batches_delete, name="batches_delete"),
]
