"""清册校验 in Chromium (SPEC BAT-4, VAL-1…VAL-6): from the roster page 【清册校验】 → progress → 清册校验结果,
【移除】 the retired person, validate again, tick 社保尚在缴金, 【人员确认】 with its 承诺书, 【上传附件】 情况说明, and
【清册提交】 with its 承诺书 → 职保会待审核. Every tab is photographed at 1366×768. A second journey watches the
progress bar poll and hand over to the result."""
import datetime as dt

import pytest

from django.utils import timezone

from enrollment.models import Batch
from enrollment.services import coverage_year_copy_shifted
from enrollment.states import BatchState
from rosters.models import IdType, RosterEntry, Sex, ValidationRun, WorkStatus
from rosters.validation import validation_work
from tests.browser.conftest import DESKTOP, PHONE, log_in
from tests.browser.helpers import situation_note_png, wait_until_shown, watch_csp
from tests.factories import make_batch, make_entry
from tests.rosters.validation_data import enrolled_last_year, ss_unit
from mutualaid.jobs import JobStatus, job_claim, job_heartbeat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"
SS_CODE = "00108537"


@pytest.fixture
def current_year(handbook_year):
    """A year shaped like the handbook's whose centralised window is open today, so 【清册提交】 is
    accepted (the browser's clock cannot travel with the server's: its session cookie would expire)."""
    opens_on = timezone.localdate() - dt.timedelta(days=7)
    return coverage_year_copy_shifted(source=handbook_year, year=opens_on.year, centralised_opens_on=opens_on)


@pytest.fixture
def roster(current_year):
    """A continuing unit: 10 people last year, 4 now (−60 %: the ratio applies); one SS unit code paying 50.
    Ages are counted on the coverage start, a few weeks ahead: 王建国 (born 1960) is over 60."""
    batch = make_batch(year=current_year)
    enrolled_last_year(batch, 10)
    ss_unit(batch, SS_CODE, 50)
    suggested = {"work_status": WorkStatus.ACTIVE, "has_social_security": True, "is_suggested": True, "ss_unit_code": SS_CODE}
    make_entry(batch, name="胡庆庆", birth_date=dt.date(1985, 3, 14), personal_ss_number="S0001", **suggested)
    make_entry(
        batch, name="陈美珠", sex=Sex.FEMALE, birth_date=dt.date(1960, 5, 2), work_status=WorkStatus.RETIRED,
        is_suggested=True, ss_unit_code=SS_CODE,
    )
    make_entry(batch, name="王建国", birth_date=dt.date(1960, 1, 1), personal_ss_number="S0099", **suggested)
    make_entry(batch, name="张贺", sex=Sex.FEMALE, id_type=IdType.OTHER, id_number="31AB99917X", birth_date=dt.date(1990, 1, 1))
    return batch


def open_tab(page, label: str):
    tab = page.get_by_role("tab", name=label)
    tab.click()
    wait_until_shown(page, "#" + tab.get_attribute("aria-controls"))


def test_validate_fix_and_submit(page, screenshot, roster):
    refused = watch_csp(page)
    log_in(page, roster.account.username, PASSWORD)
    result_url = page.base_url + f"/batches/{roster.number}/validation/"

    # The tab 校验参保清册: the rules with the year's numbers, and 【清册校验】.
    page.goto(page.base_url + f"/batches/{roster.number}/validate/")
    page.get_by_role("heading", name="校验参保清册").wait_for()
    assert "女性未满55周岁、男性未满60周岁" in page.locator(".validation-rules").inner_text()
    screenshot(page, "validation_validate", full_page=False)

    # 【清册校验】 on the roster page: the run is eager here, so progress hands over to the result at once.
    page.goto(page.base_url + f"/batches/{roster.number}/roster/")
    page.get_by_role("button", name="清册校验").click()
    page.wait_for_url(result_url)
    page.get_by_role("heading", name="清册校验结果").wait_for()
    assert Batch.objects.get(pk=roster.pk).state == BatchState.INVALID
    retired = page.locator("#retired")
    assert "以下有1位人员,请移除!" in retired.inner_text()
    assert "陈美珠" in retired.inner_text() and "退休" in retired.inner_text()
    assert page.locator(".validation-blocking").is_visible()
    assert page.locator("#validation-actions button[disabled]", has_text="清册提交").count() == 1
    screenshot(page, "validation_result_retired", full_page=False)
    page.set_viewport_size(PHONE)  # the tables scroll sideways rather than breaking (UI.md "Look")
    screenshot(page, "validation_result_phone", full_page=False)
    page.set_viewport_size(DESKTOP)

    # 【移除】 the retired person: the handbook's confirmation, then the result is stale.
    retired.get_by_role("button", name="移除", exact=True).click()
    page.locator("#roster-confirm").get_by_text("确认移除“陈美珠”?").wait_for()
    wait_until_shown(page, "#roster-confirm")
    screenshot(page, "validation_remove_confirm", full_page=False)
    page.locator("#roster-confirm .roster-confirm-ok").click()
    page.get_by_text("参保清册已变动，请重新进行清册校验").first.wait_for()
    assert page.locator("#retired").count() == 0
    screenshot(page, "validation_result_stale", full_page=False)

    # 【清册校验】 again (top right, where 【清册提交】 will be).
    page.locator("#validation-actions").get_by_role("button", name="清册校验").click()
    page.wait_for_url(result_url)
    page.locator(".validation-blocking").wait_for()
    assert page.get_by_text("参保清册已变动").count() == 0

    # 在职超龄: tick 社保尚在缴金 (saved at once, no reload).
    open_tab(page, "在职超龄")
    over_age = page.locator("#pane-over_age")
    assert "王建国" in over_age.inner_text() and "否(超龄)" in over_age.inner_text()
    over_age.get_by_label("王建国 社保尚在缴金").check()
    page.locator("#over-age-saved", has_text="已保存").wait_for()
    assert RosterEntry.objects.get(batch=roster, name="王建国").still_contributing is True
    assert "1人未勾选" not in page.locator("#validation-status").inner_text()
    screenshot(page, "validation_tab_over_age", full_page=False)

    # 清册增减幅度校验(10%): 10 last year, 3 now (−70 %).
    open_tab(page, "清册增减幅度校验(10%)")
    headcount = page.locator("#pane-headcount")
    assert "清册人数增减幅度在±10%以内:否" in headcount.inner_text()
    screenshot(page, "validation_tab_headcount", full_page=False)

    # 无单位社保编码人员确认: the count opens the list; 【人员确认】 → 承诺书 → 【我已阅读并同意】 → 【确认提交】.
    open_tab(page, "无单位社保编码人员确认")
    page.locator("#pane-unmatched .unmatched-count").click()
    page.locator("#unmatched-list").wait_for()
    assert "张贺" in page.locator("#unmatched-list").inner_text()
    screenshot(page, "validation_tab_unmatched", full_page=False)
    page.locator("#pane-unmatched").get_by_role("button", name="人员确认").click()
    dialog = page.locator("#unmatched-dialog")
    wait_until_shown(page, "#unmatched-dialog")
    assert "以上建议清册未能匹配到的人员为本单位在职职工" in dialog.inner_text()
    submit = dialog.get_by_role("button", name="确认提交")
    assert submit.is_disabled()
    dialog.get_by_label("我已阅读并同意").check()
    assert submit.is_enabled()
    screenshot(page, "validation_unmatched_letter", full_page=False)
    submit.click()
    page.get_by_text("已确认1位无单位社保编码人员。").wait_for()
    assert "已确认" in page.locator("#pane-unmatched").inner_text()

    # 单位社保比例校验: outside 75 %–100 % → 【上传附件】 情况说明 (SPEC VAL-6).
    open_tab(page, "单位社保比例校验")
    ratio = page.locator("#pane-ratio")
    assert "*非上传附件" in ratio.inner_text()
    screenshot(page, "validation_tab_ratio")
    ratio.get_by_role("button", name="上传附件").click()
    wait_until_shown(page, "#batch-attachments-modal")
    modal = page.locator("#batch-attachments-modal")
    assert "请上传情况说明（加盖公章）" in modal.inner_text()
    assert modal.locator(".attachment-kind").input_value() == "情况说明（加盖公章）"
    modal.locator(".attachment-input").set_input_files(
        files=[{"name": "情况说明.png", "mimeType": "image/png", "buffer": situation_note_png().read()}]
    )
    modal.locator(".attachment-item", has_text="情况说明.png").wait_for()
    assert "✓已上传附件" in page.locator("#batch-attachments .attachment-summary").inner_text()
    screenshot(page, "validation_upload_dialog", full_page=False)
    with page.expect_navigation():  # 【返回】 after a change reloads the page on this tab
        modal.get_by_role("button", name="返回").click()
    page.locator("#pane-ratio.active").wait_for()
    assert "✓已上传附件" in page.locator("#pane-ratio").inner_text()
    screenshot(page, "validation_tab_ratio_uploaded")

    # Nothing blocks any more: 【清册提交】 → 承诺书 → 【我已阅读并同意】 → 【确认提交】 → 职保会待审核.
    page.locator(".validation-passed").wait_for()
    page.locator("#validation-actions").get_by_role("button", name="清册提交").click()
    wait_until_shown(page, "#submit-dialog")
    letter = page.locator("#submit-dialog")
    assert "保留参保的在职超龄人员社保尚在缴金" in letter.inner_text()
    assert letter.get_by_role("button", name="确认提交").is_disabled()
    letter.get_by_label("我已阅读并同意").check()
    screenshot(page, "validation_submit_letter", full_page=False)
    letter.get_by_role("button", name="确认提交").click()
    page.get_by_text("清册已提交，请等待职保会审核").wait_for()
    assert Batch.objects.get(pk=roster.pk).state == BatchState.IN_REVIEW
    assert refused == []


def test_progress_polls_and_hands_over_to_the_result(page, screenshot, roster):
    refused = watch_csp(page)
    # A run the worker has half done: 清册校验中, 3 of 7 steps.
    Batch.objects.filter(pk=roster.pk).update(state=BatchState.VALIDATING)
    run = ValidationRun.objects.create(
        batch=roster, roster_version=0, status=JobStatus.QUEUED, steps_total=7, started_by=roster.account
    )
    log_in(page, roster.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{roster.number}/validation/")  # the result waits for the run
    page.wait_for_url("**/validation/progress/")
    claimed = job_claim(ValidationRun, run.pk)  # the worker starts it (SPEC SEC-2)
    job_heartbeat(claimed, steps_done=3)
    page.get_by_text("已完成 3 / 7 项").wait_for()
    screenshot(page, "validation_progress", full_page=False)

    # The worker finishes: the next poll sends the page to 清册校验结果.
    validation_work(claimed)
    page.wait_for_url(page.base_url + f"/batches/{roster.number}/validation/")
    page.get_by_text("以下有1位人员,请移除!").first.wait_for()
    assert refused == []
