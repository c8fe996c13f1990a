"""【参保批次管理】 end to end (SPEC BAT-1, BAT-2, BAT-5, HND-3): a unit with a code and its 经办人填报
opens 参保批次管理 from the menu, 【集中参保办理】 → the dialog prefilled with its code and unit →
【确定操作】 → the new batch; a refused name comes back in the open dialog; the disabled 【即时参保办理】
says why beside it; 【批次删除】 confirms with the batch number; 【参保流程】 shows the picture."""
import pytest

from enrollment.models import Batch, CoverageYear, EnrollmentCode
from tests.browser.conftest import PHONE, log_in
from tests.browser.helpers import wait_until_shown
from tests.enrollment.helpers import make_code, make_handler_info
from tests.factories import UNIT_NAME, make_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"
HND3_NOTE = "若单位名称有误，请至职保中心五楼营业大厅“信息修改”窗口办理更新！"


def watch_csp(page) -> list:
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    return refused


def open_batches_page(page, account):
    log_in(page, account.username, PASSWORD)
    page.goto(page.base_url + "/")
    page.locator("#sidebar").get_by_role("link", name="参保批次管理").click()
    page.get_by_role("heading", name="参保批次管理").wait_for()


def test_a_unit_opens_a_centralised_batch_and_deletes_it(page, screenshot, unit, current_year):
    refused = watch_csp(page)
    open_batches_page(page, unit)
    assert current_year.banner in page.locator(".batch-toolbar .year-banner").inner_text()
    assert page.locator("#sidebar .nav-link.active").inner_text().strip() == "参保批次管理"
    assert "总共 0 条记录 每页显示 15 条记录" in page.locator(".list-footer").inner_text()

    # 【即时参保办理】 is not open yet: disabled, and the text beside it says when it opens (UI.md),
    # without hovering; the button is described by it.
    instant = page.get_by_role("button", name="即时参保办理")
    assert instant.is_disabled()
    why = page.locator("#batch-open-instant-why")
    assert why.is_visible() and "即时参保通道将于" in why.inner_text()
    assert instant.get_attribute("aria-describedby") == "batch-open-instant-why"
    screenshot(page, "batches-list-empty", full_page=False)

    # 【集中参保办理】: the dialog, prefilled with the code and its registered unit (SPEC CODE-6).
    page.get_by_role("button", name="集中参保办理").click()
    dialog = page.get_by_role("dialog", name="集中参保办理")
    dialog.wait_for(state="visible")
    assert dialog.get_by_label("参保编码").input_value() == "0072J3"
    assert dialog.get_by_label("参保单位").input_value() == UNIT_NAME
    assert dialog.get_by_text(HND3_NOTE).is_visible()
    wait_until_shown(page, "#batch-open-centralised")
    screenshot(page, "batches-open-dialog", full_page=False)

    # A wrong name comes back in the open dialog, beside the field, with what was typed.
    dialog.get_by_label("参保单位").fill("上海长风科技有限公司")
    dialog.get_by_role("button", name="确定操作").click()
    dialog = page.get_by_role("dialog", name="集中参保办理")
    dialog.get_by_text("参保单位名称与参保编码登记的单位名称不一致。").wait_for()
    assert dialog.get_by_label("参保单位").input_value() == "上海长风科技有限公司"
    assert dialog.get_by_label("参保单位").get_attribute("aria-invalid") == "true"
    wait_until_shown(page, "#batch-open-centralised")
    screenshot(page, "batches-open-dialog-refused", full_page=False)
    assert not Batch.objects.exists()

    dialog.get_by_label("参保单位").fill(UNIT_NAME)
    dialog.get_by_role("button", name="确定操作").click()
    number = f"{current_year.year}J000001"
    page.get_by_role("alert").filter(has_text=f"参保批次 {number} 已创建，请添加参保人员。").wait_for()
    batch = Batch.objects.get()
    assert (batch.number, batch.kind, batch.state) == (number, "centralised", "draft")

    # Back to the list: the new batch with its badge and actions.
    page.locator("#sidebar").get_by_role("link", name="参保批次管理").click()
    row = page.locator(".batch-table tbody tr", has_text=number)
    row.wait_for()
    for text in ["0072J3", UNIT_NAME, "集中参保", str(current_year.year), "清册待校验", "查看详情", "批次删除"]:
        assert text in row.inner_text()
    assert row.locator(".badge").get_attribute("class") == "badge badge-state-draft"
    assert "显示第 1 到第 1 条记录，总共 1 条记录 每页显示 15 条记录" in page.locator(".list-footer").inner_text()
    screenshot(page, "batches-list", full_page=False)

    # 查看详情 with its 操作日志.
    row.get_by_role("link", name="查看详情").click()
    page.get_by_role("heading", name="批次详情").wait_for()
    log_row = page.locator(".batch-log-table tbody tr").first
    assert "集中参保办理" in log_row.inner_text() and "cf-batches" in log_row.inner_text()
    screenshot(page, "batches-detail", full_page=False)
    page.get_by_role("link", name="返回").click()

    # 【批次删除】 confirms with the batch number; 【取消】 changes nothing, 【确定】 deletes.
    page.locator(".batch-table tbody tr", has_text=number).get_by_role("button", name="批次删除").click()
    confirm = page.get_by_role("dialog", name="批次删除")
    confirm.wait_for(state="visible")
    assert number in confirm.inner_text()
    assert "该批次及该批次下参保人员信息将全部删除" in confirm.inner_text()
    wait_until_shown(page, "#batch-delete-dialog")
    screenshot(page, "batches-delete-dialog", full_page=False)
    confirm.get_by_role("button", name="确定").click()
    page.get_by_role("alert").filter(has_text=f"批次 {number} 已删除").wait_for()
    assert not Batch.objects.exists()
    assert refused == []


def test_the_flow_picture_and_the_phone_layout(page, screenshot, unit, current_year):
    refused = watch_csp(page)
    open_batches_page(page, unit)
    page.get_by_role("link", name="参保流程").click()
    page.get_by_role("heading", name="参保流程").wait_for()
    picture = page.locator(".batch-flow-picture img")
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 1160
    screenshot(page, "batches-flow")

    page.set_viewport_size(PHONE)
    page.goto(page.base_url + "/batches/")
    page.get_by_role("heading", name="参保批次管理").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "batches-list-phone")
    assert refused == []
    assert CoverageYear.objects.filter(year=current_year.year).exists()


def test_an_account_with_two_codes_works_on_the_unit_it_chose(page, screenshot, unit, current_year):
    """SPEC CODE-6: the first code already has its centralised batch this year, so 【集中参保办理】 offers
    the other one, 【确定操作】 opens its batch, and the top bar of the batch's pages names that unit."""
    make_batch(code=EnrollmentCode.objects.get(account=unit), year=current_year, number=f"{current_year.year}J000900")
    second = make_code(unit, code="09000X", unit_name="上海长风示范物流有限公司")
    make_handler_info(second)

    open_batches_page(page, unit)
    page.get_by_role("button", name="集中参保办理").click()
    dialog = page.get_by_role("dialog", name="集中参保办理")
    dialog.wait_for(state="visible")
    assert dialog.get_by_label("参保编码").input_value() == "09000X"
    assert dialog.get_by_label("参保单位").input_value() == "上海长风示范物流有限公司"
    wait_until_shown(page, "#batch-open-centralised")
    screenshot(page, "batches-open-dialog-second-code", full_page=False)

    dialog.get_by_role("button", name="确定操作").click()
    page.get_by_role("heading", name="参保批次人员管理").wait_for()
    assert Batch.objects.get(code=second).kind == "centralised"
    assert page.locator(".topbar .unit-name").inner_text().strip() == "上海长风示范物流有限公司"
