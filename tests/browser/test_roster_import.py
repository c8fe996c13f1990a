"""导入人员名单 in Chromium (SPEC ROS-1, ROS-2, ROS-10, X-1): from the roster page 【添加参保人员】, download
the template, choose a file with good and bad rows (choosing starts the upload), read the handbook's log
and the bad rows, download the marked workbook, fix it and import again, 【返回】 to the roster."""
import io

import pytest
from openpyxl import load_workbook

from rosters.models import RosterEntry
from tests.browser.conftest import PHONE, log_in, page_ready
from tests.browser.helpers import hold_requests, release
from tests.factories import IMPORT_CODE, UserFactory, make_batch
from tests.rosters.importfiles import resident_id, row, template_xlsx, wrong_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"
ALICE = resident_id("19900101", 101)
BETTY = resident_id("19850615", 202)
CAROL = resident_id("19780320", 303)


def watch_csp(page) -> list:
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    return refused


@pytest.fixture
def batch(handbook_year):
    return make_batch(UserFactory(username="cf-unit"), year=handbook_year, code=IMPORT_CODE)


def test_upload_read_the_log_download_the_marked_copy_fix_and_import_again(page, screenshot, batch, tmp_path):
    refused = watch_csp(page)
    log_in(page, batch.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{batch.number}/roster/")
    page.get_by_role("link", name="添加参保人员").click()
    page.get_by_role("heading", name="导入人员名单").wait_for()
    page_ready(page)  # choosing the file starts the upload once static/js/roster_import.js listens
    for label in ("获取上年度参保名单", "获取“会员库”本单位工会会员名单"):
        assert page.get_by_role("button", name=label).is_visible()
    screenshot(page, "roster-import")

    # 【点击下载参保名单导入模板】
    with page.expect_download() as template:
        page.get_by_role("link", name="点击下载参保名单导入模板").click()
    assert template.value.suggested_filename == "参保名单导入模板.xlsx"
    header = [cell.value for cell in load_workbook(io.BytesIO(template.value.path().read_bytes())).active[1]]
    assert header[0] == "*姓名" and header[-1] == "*是否有社保"

    # 【选择导入文件】: choosing the file starts the import, as in the handbook.
    bad = wrong_check(BETTY)
    upload = tmp_path / "本单位名单.xlsx"
    upload.write_bytes(template_xlsx([row("王豆豆", number=ALICE), row("李梅", number=bad), row("SMITH", "非身份证", "E1234567", "", "男")]))
    page.locator("#roster-import-file").set_input_files(str(upload))
    page.get_by_text("-----信息处理开始-----").wait_for()
    summary = "-----处理完成 数据读取：3人，成功导入：1条信息（新增加1人，修改0人），导入失败：2条信息。-----"
    assert page.get_by_text(summary).is_visible()
    problems = page.locator(".import-problems tbody tr")
    assert problems.count() == 2
    assert bad[:4] + "*****" + bad[-4:] in problems.nth(0).inner_text()
    assert "非身份证人员必须填写出生日期" in problems.nth(1).inner_text()
    screenshot(page, "roster-import-result")

    # The marked copy: the bad cells red, a 错误原因 column (X-1: the unit's own file).
    with page.expect_download() as marked:
        page.get_by_role("link", name="下载标注错误的名单文件").click()
    assert marked.value.suggested_filename.startswith(f"参保名单导入错误标注_{batch.number}_")
    workbook = load_workbook(io.BytesIO(marked.value.path().read_bytes()))
    sheet = workbook.active
    assert sheet["H1"].value == "错误原因"
    assert sheet["C3"].fill.fgColor.rgb == "FFFFC7CE" and sheet["C3"].value == bad

    # Fix both rows in the downloaded file and import it again: updated, not duplicated (ROS-4).
    sheet["C3"] = BETTY
    sheet["D4"] = "1988-05-06"
    sheet.delete_cols(8)
    fixed = tmp_path / "改正后.xlsx"
    workbook.save(fixed)
    with page.expect_navigation():
        page.get_by_role("link", name="继续导入").click()
    page_ready(page)
    page.locator("#roster-import-file").set_input_files(str(fixed))
    page.get_by_text("-----处理完成 数据读取：3人，成功导入：3条信息（新增加2人，修改1人），导入失败：0条信息。-----").wait_for()
    assert RosterEntry.objects.filter(batch=batch).count() == 3

    # 【返回】: the roster shows the people.
    page.get_by_role("link", name="返回").click()
    page.get_by_role("heading", name="参保批次人员管理").wait_for()
    assert page.locator(".roster-table tbody tr").count() == 3
    assert refused == []


def test_a_file_chosen_before_the_page_script_has_loaded_is_imported(page, batch, tmp_path):
    """On a slow connection a file can be chosen before static/js/roster_import.js listens for it: the
    script starts the upload of the file already chosen when it arrives."""
    log_in(page, batch.account.username, PASSWORD)
    held = hold_requests(page, "**/static/js/roster_import.js*")
    page.goto(page.base_url + f"/batches/{batch.number}/roster/import/", wait_until="commit")
    upload = tmp_path / "本单位名单.xlsx"
    upload.write_bytes(template_xlsx([row("王豆豆", number=ALICE)]))
    page.locator("#roster-import-file").set_input_files(str(upload))
    release(page, held)
    page.get_by_text("-----处理完成 数据读取：1人，成功导入：1条信息（新增加1人，修改0人），导入失败：0条信息。-----").wait_for()
    assert RosterEntry.objects.filter(batch=batch).count() == 1


def test_a_refused_file_says_why_on_the_import_page_and_on_a_phone(new_page, screenshot, batch, tmp_path):
    page = new_page(PHONE)
    log_in(page, batch.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{batch.number}/roster/import/")
    text_file = tmp_path / "名单.xlsx"
    text_file.write_text("姓名,证件号码\n王豆豆,310101199001011011\n", encoding="utf-8")
    page.locator("#roster-import-file").set_input_files(str(text_file))
    page.get_by_text("不是Excel表格").wait_for()
    assert page.url.endswith(f"/batches/{batch.number}/roster/import/")
    screenshot(page, "roster-import-refused-phone")
    assert RosterEntry.objects.filter(batch=batch).count() == 0


def test_a_wrong_type_is_named_before_anything_is_sent(page, batch, tmp_path):
    log_in(page, batch.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{batch.number}/roster/import/")
    other = tmp_path / "名单.csv"
    other.write_text("a,b\n", encoding="utf-8")
    page.locator("#roster-import-file").set_input_files(str(other))
    page.get_by_text("文件格式不正确").wait_for()
    assert page.url.endswith("/roster/import/")
    assert page.locator(".import-history").count() == 0
