"""【清册提交】 (SPEC BAT-4, ROS-11, COV-1): the 承诺书 dialog of the 清册校验结果 page posts here.

Unit accounts only (back-office roles get 403); another account's batch answers 404 (X-4). The rules
are rosters.submission.batch_submit's; this view only turns its answer into a message and a page:
success → 参保批次管理; a refusal → back to the result page with the reason (what still blocks, who is
held by which unit); the second click of a double click finds the batch submitted and says so.
"""
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods

from enrollment.services import EnrollmentError
from enrollment.states import HOLDING_STATES, BatchState
from enrollment.views.access import account_batch, unit_page

from ..submission import batch_submit
from mutualaid.audit import client_ip

AGREED_VALUES = frozenset({"1", "on", "true", "yes"})


def _result_url(batch) -> str:
    """清册校验结果, where the 承诺书 dialog and the findings are."""
    return reverse("rosters:validation_result", kwargs={"number": batch.number})


@require_http_methods(["GET", "POST"])
@unit_page
def submit(request, number: str):
    """POST `agreed` (the 承诺书's 【我已阅读并同意】) → rosters.submission.batch_submit. A GET (the 操作
    column's 【清册提交】 link) opens the result page, where the dialog is."""
    batch = account_batch(request, number)
    if request.method == "GET":
        return redirect(_result_url(batch))
    agreed = request.POST.get("agreed", "").lower() in AGREED_VALUES
    try:
        submitted = batch_submit(
            batch=batch, acting_user=request.user, agreed=agreed, remote_addr=client_ip(request)
        )
    except EnrollmentError as error:  # a RosterError, or the transition table's refusal
        batch.refresh_from_db(fields=["state"])
        if batch.state in HOLDING_STATES:  # submitted already (a double click, another browser)
            messages.info(request, error.message)
            return redirect("enrollment:batches")
        messages.error(request, error.message)
        return redirect(_result_url(batch))
    if submitted.state == BatchState.IN_REVIEW:
        days = submitted.coverage_year.batch_review_working_days
        messages.success(request, f"清册已提交，请等待职保会审核（{days}个工作日内）。")
    else:
        messages.success(request, "清册已提交，可点击【保障项目选择】继续办理。")
    return redirect("enrollment:batches")


urlpatterns = [
    path("batches/<str:number>/submit/", submit, name="submit"),
]
