"""清册校验 in Chromium (SPEC BAT-4, VAL-1…VAL-6): from the roster page 【清册校验】 → progress → 清册校验结果,
【移除】 the retired person (the result stays current), tick 社保尚在缴金, 【人员确认】 with its 承诺书, 【上传附件】 情况说明, and
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
from tests.browser.conftest import DESKTOP, PHONE, log_in, page_ready
from tests.browser.helpers import situation_note_png, wait_until_shown, watch_csp
from tests.factories import IMPORT_CODE, make_batch, make_entry
from tests.rosters.importfiles import previous, resident_id, row, suggest, template_xlsx
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
    # The page's own heading: the dialog 清册校验结果 (opened on load) has the same name once it shows.
    page.get_by_role("heading", name="清册校验结果", level=1).wait_for()
    assert Batch.objects.get(pk=roster.pk).state == BatchState.INVALID
    # SPEC VAL-1: the handbook's dialog 清册校验结果 opens on load with the people to remove.
    page_ready(page)
    wait_until_shown(page, "#retired-dialog")
    retired = page.get_by_role("dialog", name="清册校验结果")
    assert "以下有1位人员,请移除!" in retired.inner_text()
    assert "陈美珠" in retired.inner_text() and "退休" in retired.inner_text()
    assert "参保清册中有1位退休人员" in page.locator("#retired").inner_text()  # the page behind says it too
    assert page.locator(".validation-blocking").count() == 1
    assert page.locator("#validation-actions button[disabled]", has_text="清册提交").count() == 1
    screenshot(page, "validation_result_retired", full_page=False)
    retired.locator(".btn-close").click()
    page.locator("#retired-dialog").wait_for(state="hidden")
    assert page.locator(".validation-blocking").is_visible()
    page.set_viewport_size(PHONE)  # the tables scroll sideways rather than breaking (UI.md "Look")
    screenshot(page, "validation_result_phone", full_page=False)
    page.set_viewport_size(DESKTOP)

    # 【查看需移除人员】 opens it again; 【移除】 the retired person, confirmed in the row (no second dialog);
    # the result stays current (SPEC VAL-1, BAT-4: the unit removed whom it listed), and what is left still blocks.
    page.get_by_role("button", name="查看需移除人员").click()
    wait_until_shown(page, "#retired-dialog")
    person_row = retired.locator("tbody tr", has_text="陈美珠")
    person_row.get_by_role("button", name="移除", exact=True).click()
    wait_until_shown(page, f"#retired-confirm-{RosterEntry.objects.get(batch=roster, name='陈美珠').pk}")
    assert "确认移除“陈美珠”?" in person_row.inner_text()
    assert not page.locator("#roster-confirm").is_visible()
    screenshot(page, "validation_remove_confirm", full_page=False)
    person_row.get_by_role("button", name="确定移除").click()
    page.get_by_text("已移除“陈美珠”。").wait_for()
    page_ready(page)
    assert page.locator("#retired").count() == 0 and page.locator("#retired-dialog").count() == 0
    assert page.get_by_text("参保清册已变动").count() == 0
    assert "退休" not in page.locator(".validation-blocking").inner_text()
    screenshot(page, "validation_result_removed", full_page=False)

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

    # Nothing blocks any more; the batch is still 清册校验不通过 and the line says so (never "符合校验规则"
    # beside that badge): 【清册提交】 → 承诺书 → 【我已阅读并同意】 → 【确认提交】 → 职保会待审核.
    page.locator(".validation-fixed").wait_for()
    assert page.locator(".roster-batch .badge").inner_text() == "清册校验不通过"
    assert page.locator(".validation-passed").count() == 0
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


def test_a_retired_person_imported_from_a_file_is_listed_removed_and_the_batch_submitted(page, screenshot, current_year, tmp_path):
    """SPEC ROS-12, VAL-1, BAT-4 through the pages: a file with a retired person is imported (marked 退休,
    not refused), 【清册校验】 lists them in the dialog 清册校验结果 under `以下有1位人员,请移除!` with the
    handbook's columns, 【移除】 → 【确定移除】 in the row takes them out and the result stays usable: the
    line under the 清册校验不通过 badge says everything is dealt with and 【清册提交】 (which re-runs the rules)
    goes through without validating again."""
    refused = watch_csp(page)
    batch = make_batch(year=current_year, code=IMPORT_CODE)
    in_service, retired = resident_id("19900101", 101), resident_id("19600615", 202)
    year = current_year.year
    suggest(year, in_service, "王豆豆", ss_unit_code=SS_CODE)
    suggest(year, retired, "唐淑芳", work_status="退休", medical_active=False, ss_unit_code="")
    previous(year - 1, IMPORT_CODE, in_service, "王豆豆")  # last year: 1 person (VAL-3)
    ss_unit(batch, SS_CODE, 1)  # 1 of 1 paying (VAL-4 at 100 %)
    log_in(page, batch.account.username, PASSWORD)

    # 【添加参保人员】 → 【上传本地参保名单文件】: both people come in, the retired one marked 退休.
    page.goto(page.base_url + f"/batches/{batch.number}/roster/")
    page.get_by_role("link", name="添加参保人员").click()
    page.get_by_role("heading", name="导入人员名单").wait_for()
    page_ready(page)
    upload = tmp_path / "本单位名单.xlsx"
    upload.write_bytes(template_xlsx([row("王豆豆", number=in_service), row("唐淑芳", number=retired)]))
    page.locator("#roster-import-file").set_input_files(str(upload))
    page.get_by_text("-----处理完成 数据读取：2人，成功导入：2条信息（新增加2人，修改0人），导入失败：0条信息。-----").wait_for()
    page.get_by_role("link", name="返回").click()
    page.get_by_role("heading", name="参保批次人员管理").wait_for()
    page_ready(page)
    assert "退休" in page.locator(".roster-table tbody tr", has_text="唐淑芳").inner_text()

    # 【清册校验】: 清册校验不通过, and the handbook's list of people to remove.
    # It opens as the handbook's dialog 清册校验结果 (SPEC VAL-1), on load.
    page.get_by_role("button", name="清册校验").click()
    page.wait_for_url(page.base_url + f"/batches/{batch.number}/validation/")
    page_ready(page)
    wait_until_shown(page, "#retired-dialog")
    listed = page.get_by_role("dialog", name="清册校验结果")
    listed.get_by_text("以下有1位人员,请移除!").wait_for()
    assert [cell.strip() for cell in listed.locator("thead th").all_inner_texts()] == [
        "姓名", "证件号码", "证件类型", "性别", "错误原因", "操作"
    ]
    cells = [cell.strip() for cell in listed.locator("tbody tr").first.locator("td").all_inner_texts()]
    assert cells == ["唐淑芳", f"{retired[:4]}*****{retired[-4:]}", "身份证", "女", "退休", "移除"]
    assert retired not in page.content()
    screenshot(page, "validation_retired_imported", full_page=False)

    # Closed with 【关闭】, the page behind says what is to do; 【查看需移除人员】 opens the dialog again.
    listed.locator(".modal-footer").get_by_role("button", name="关闭").click()
    page.locator("#retired-dialog").wait_for(state="hidden")
    assert page.locator(".roster-batch .badge").inner_text() == "清册校验不通过"
    assert "参保清册中有1位退休人员，须全部移除后才能清册提交。" in page.locator("#retired").inner_text()
    assert "有1位退休人员不能参保，请移除" in page.locator(".validation-blocking").inner_text()
    assert page.locator("#validation-actions button[disabled]", has_text="清册提交").count() == 1
    page.locator("#retired").get_by_role("button", name="查看需移除人员").click()
    wait_until_shown(page, "#retired-dialog")

    # 【移除】 reveals 【确定移除】/【取消】 in the row, inside the dialog: 【取消】 changes nothing.
    person_row = listed.locator("tbody tr", has_text="唐淑芳")
    confirm = f"#retired-confirm-{RosterEntry.objects.get(batch=batch, name='唐淑芳').pk}"
    person_row.get_by_role("button", name="移除", exact=True).click()
    wait_until_shown(page, confirm)
    assert "确认移除“唐淑芳”?" in person_row.inner_text()
    assert not page.locator("#roster-confirm").is_visible()  # no second dialog over this one
    person_row.get_by_role("button", name="取消").click()
    page.locator(confirm).wait_for(state="hidden")
    assert RosterEntry.objects.filter(batch=batch, name="唐淑芳").exists()

    # 【移除】 → 【确定移除】: the person is gone, the page comes back without the dialog, the result stays
    # usable and 【清册提交】 is offered.
    person_row.get_by_role("button", name="移除", exact=True).click()
    wait_until_shown(page, confirm)
    person_row.get_by_role("button", name="确定移除").click()
    page.get_by_text("已移除“唐淑芳”。").wait_for()
    page_ready(page)
    assert page.locator("#retired").count() == 0 and page.locator("#retired-dialog").count() == 0
    assert not RosterEntry.objects.filter(batch=batch, name="唐淑芳").exists()
    assert page.get_by_text("参保清册已变动").count() == 0
    status = page.locator("#validation-status").inner_text()
    assert "批次状态为“清册校验不通过”，校验结果中需处理的问题均已处理" in status and "符合校验规则" not in status
    screenshot(page, "validation_retired_removed", full_page=False)

    # 【清册提交】 → 承诺书 → 【我已阅读并同意】 → 【确认提交】: the rules run again and pass.
    page.locator("#validation-actions").get_by_role("button", name="清册提交").click()
    wait_until_shown(page, "#submit-dialog")
    letter = page.locator("#submit-dialog")
    letter.get_by_label("我已阅读并同意").check()
    letter.get_by_role("button", name="确认提交").click()
    page.get_by_text("清册已提交，可点击【保障项目选择】继续办理。").wait_for()
    assert Batch.objects.get(pk=batch.pk).state == BatchState.ROSTER_APPROVED
    assert refused == []
