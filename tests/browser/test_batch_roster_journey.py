"""Issue 6's journey, in one go as a unit administrator lives it (SPEC BAT-2, ROS-1, ROS-2, ROS-6,
ROS-8, ROS-10): 参保批次管理 → 【集中参保办理】 → 【确定操作】 → the empty roster → 【添加参保人员】 → download
the template → fill it with good and bad rows → upload → read the summary → download the marked
workbook → fix it and upload again → back on the roster, filter 职退状态 "-" and 【批量设置为在职】."""
import io

import pytest
from openpyxl import load_workbook

from enrollment.models import Batch
from rosters.models import RosterEntry, WorkStatus
from tests.browser.conftest import log_in, page_ready
from tests.rosters.importfiles import resident_id, wrong_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"


def test_open_a_batch_build_its_roster_from_a_file_fix_it_and_set_people_active(page, unit, tmp_path):
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    log_in(page, unit.username, PASSWORD)

    # 参保批次管理 → 【集中参保办理】 → the dialog comes prefilled with the code and unit (CODE-6).
    page.goto(page.base_url + "/")
    page.locator("#sidebar").get_by_role("link", name="参保批次管理").click()
    page.get_by_role("button", name="集中参保办理").click()
    dialog = page.locator("#batch-open-centralised")
    dialog.get_by_role("button", name="确定操作").click()
    page.get_by_role("heading", name="参保批次人员管理").wait_for()
    batch = Batch.objects.get(account=unit)
    assert batch.number in page.locator("main").inner_text()
    assert "没有找到匹配的记录" in page.locator("main").inner_text()

    # 【添加参保人员】 → 【点击下载参保名单导入模板】: the handbook's header (ROS-2).
    page.get_by_role("link", name="添加参保人员").click()
    page.get_by_role("heading", name="导入人员名单").wait_for()
    page_ready(page)  # the file chosen below is uploaded by static/js/roster_import.js
    with page.expect_download() as download:
        page.get_by_role("link", name="点击下载参保名单导入模板").click()
    template = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    sheet = template.active
    assert sheet["A1"].value == "*姓名" and sheet["G1"].value == "*是否有社保"

    # Fill the template as a clerk would: two good people (one without 社保), one wrong check character.
    good, unknown, mistyped = resident_id("19900101", 101), resident_id("19850615", 202), resident_id("19780320", 303)
    for values in (
        ["王豆豆", "身份证", good, None, None, "13912345678", "是"],
        ["李梅", "身份证", unknown, None, None, None, "否"],
        ["张贺", "身份证", wrong_check(mistyped), None, None, None, "否"],
    ):
        sheet.append(values)
    upload = tmp_path / "本单位参保名单.xlsx"
    template.save(upload)
    page.locator("#roster-import-file").set_input_files(str(upload))
    page.get_by_text("-----信息处理开始-----").wait_for()
    assert page.get_by_text(
        "-----处理完成 数据读取：3人，成功导入：2条信息（新增加2人，修改0人），导入失败：1条信息。-----"
    ).is_visible()
    problem = page.locator(".import-problems tbody tr")
    assert problem.count() == 1 and "校验位" in problem.inner_text()
    assert mistyped not in page.locator("main").inner_text()  # masked on screen

    # The marked workbook: the bad cell red and its reason; fix it there and upload again.
    with page.expect_download() as download:
        page.get_by_role("link", name="下载标注错误的名单文件").click()
    marked = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    marked_sheet = marked.active
    assert marked_sheet["C4"].fill.fgColor.rgb == "FFFFC7CE"
    assert "校验位" in marked_sheet["H4"].value
    marked_sheet["C4"] = mistyped
    fixed = tmp_path / "改正后.xlsx"
    marked.save(fixed)
    page.get_by_role("link", name="继续导入").click()
    page.locator("#roster-import-file").set_input_files(str(fixed))
    page.get_by_text(
        "-----处理完成 数据读取：3人，成功导入：3条信息（新增加1人，修改2人），导入失败：0条信息。-----"
    ).wait_for()

    # 【返回】 → the roster; 职退状态 "-" (not in the suggested roster, no 社保) → tick → 【批量设置为在职】.
    page.get_by_role("link", name="返回").click()
    page.get_by_role("heading", name="参保批次人员管理").wait_for()
    assert page.locator(".roster-table tbody tr").count() == 3
    page.get_by_label("职退状态").select_option("-")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**work_status=-**")
    assert sorted(page.locator(".roster-table td.cell-name").all_inner_texts()) == ["张贺", "李梅"]
    page.get_by_label("全选本页").check()
    page.get_by_role("button", name="批量设置为在职").click()
    confirm = page.locator("#roster-confirm")
    confirm.get_by_text("确认批量设置在职?").wait_for()
    confirm.get_by_role("button", name="确定").click()
    page.get_by_text("已将2位人员设置为在职（有社保）。").wait_for()
    assert RosterEntry.objects.filter(batch=batch, work_status=WorkStatus.ACTIVE, has_social_security=True).count() == 3
    assert refused == []
