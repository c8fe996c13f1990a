"""A URLconf for the attachment component's tests: the project's URLs plus a tiny form page that
uses the component the way a feature does (token → include → claim on submit), with the signed-in
user as the owner, and the owner's file view that checks access before attachment_response."""
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template import engines
from django.urls import path

from mutualaid import urls as project_urls
from mutualaid.attachments import (
    AttachmentError,
    attachment_draft_token,
    attachment_response,
    attachments_claim,
    attachments_of,
)

PAGE_PATH = "/__tests__/attachments/"
KINDS = [("情况说明", "情况说明（加盖公章）"), ("退工单", "退工单 / 人员转出核定表")]

_PAGE = engines["django"].from_string(
    """{% extends "portal/frame.html" %}
{% block title %}附件{% endblock %}{% block page_title %}附件{% endblock %}
{% block content %}
<form method="post" class="card card-body" novalidate>
  {% csrf_token %}
  {% include "includes/attachments.html" with draft_token=draft_token label="附件" required=True kinds=kinds errors=errors %}
  <div><button type="submit" name="action" value="fail" class="btn btn-outline-secondary">模拟表单错误</button>
  <button type="submit" name="action" value="submit" class="btn btn-primary">提交申请</button></div>
</form>
<section class="card card-body mt-3"><h2 class="fs-6">已提交的附件</h2>
{% include "includes/attachment_list.html" with attachments=owned url_name="attachment_test_owner_file" owner_pk=request.user.pk %}
</section>
{% endblock %}"""
)


def form_page(request):
    draft_token = attachment_draft_token(reuse=request.POST.get("draft_token", ""))
    errors = []
    if request.method == "POST":
        if request.POST.get("action") == "fail":
            errors = ["请核对表单后重新提交"]
        else:
            try:
                attachments_claim(draft_token=draft_token, uploaded_by=request.user, owner=request.user)
            except AttachmentError as error:
                errors = [error.message]
            else:
                draft_token = attachment_draft_token()
    context = {
        "draft_token": draft_token,
        "kinds": KINDS,
        "errors": errors,
        "owned": list(attachments_of(request.user)),
    }
    return HttpResponse(_PAGE.render(context, request))


def owner_file(request, owner_pk: int, attachment_pk: int):
    # The owner's own access check: here, a user sees only the attachments they own.
    if owner_pk != request.user.pk:
        raise Http404
    owner = get_object_or_404(get_user_model(), pk=owner_pk)
    attachment = get_object_or_404(attachments_of(owner), pk=attachment_pk)
    return attachment_response(attachment, download=request.GET.get("download") == "1")


urlpatterns = [
    path(PAGE_PATH.strip("/") + "/", form_page, name="attachment_test_page"),
    path(
        "__tests__/owners/<int:owner_pk>/attachments/<int:attachment_pk>/",
        owner_file,
        name="attachment_test_owner_file",
    ),
    *project_urls.urlpatterns,
]

handler500 = project_urls.handler500
