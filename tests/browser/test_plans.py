"""保障项目选择 in Chromium (SPEC PLAN-2, PREM-1…PREM-3, PAY-1, BAT-6): from 参保批次管理 【保障项目选择】,
【保费一览表】, a refused selection, ticking the handbook's A0 B0 C0 A3 B3 C3 → 【生成保费信息】 → the table of
the worked example (4,780) → 【提交确认保费】 with its dialog → read only with the payment instructions →
【保费详细】 → 【导出】, opened with openpyxl. A second journey withdraws a batch through both dialogs."""
import datetime as dt
import io
import re

import openpyxl
import pytest

from enrollment.states import BatchKind, BatchState
from plans.models import BatchPremium
from tests.browser.conftest import DESKTOP, PHONE, log_in
from tests.browser.helpers import wait_until_shown
from tests.plans.helpers import approved_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"
WORKED_EXAMPLE = ["A0", "B0", "C0", "A3", "B3", "C3"]  # SPEC PREM-3


def watch_csp(page) -> list:
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    return refused


def cells(page, label: str) -> list[str]:
    row = page.locator(f'#premium-table tr.premium-line[data-label="{label}"] td')
    return [text.strip() for text in row.all_inner_texts()]


@pytest.fixture
def instant_batch(handbook_year):
    """SPEC PREM-3's worked example: an instant batch started 2023-07-10 with 4 people with 社保."""
    return approved_batch(year=handbook_year, kind=BatchKind.INSTANT, social_security=4, start=dt.date(2023, 7, 10))


def test_select_generate_confirm_and_export(page, screenshot, instant_batch):
    refused = watch_csp(page)
    log_in(page, instant_batch.account.username, PASSWORD)
    selection_url = page.base_url + f"/batches/{instant_batch.number}/plans/"

    # 参保批次管理 → 【保障项目选择】
    page.goto(page.base_url + "/batches/")
    page.locator(f'a.batch-action-select_plans[href$="/batches/{instant_batch.number}/plans/"]').first.click()
    page.wait_for_url(selection_url)
    page.get_by_role("heading", name="保障项目选择").wait_for()

    # 【保费一览表】 beside the check boxes: the year's table with benefits and both instant tiers.
    page.get_by_role("button", name="保费一览表").click()
    wait_until_shown(page, "#price-table-dialog")
    dialog = page.locator("#price-table-dialog")
    assert "上海职工互助保障项目2023一览表" in dialog.inner_text()
    assert dialog.locator('#price-grid-year td[data-code="B3"]').inner_text() == "460元/人"
    screenshot(page, "plans_price_table_dialog", full_page=False)
    dialog.locator(".modal-footer").get_by_role("button", name="关闭").click()
    page.locator("#price-table-dialog.show").wait_for(state="detached")

    # The same table as a page of its own, and printable (no menu).
    page.goto(page.base_url + "/plans/2023/price-table/")
    page.get_by_role("heading", name="保费一览表").wait_for()
    screenshot(page, "plans_price_table")
    page.goto(page.base_url + "/plans/2023/price-table/?print=1")
    assert page.locator("#sidebar").count() == 0
    assert page.locator('.price-tier[data-tier="half"] td[data-code="A1"]').inner_text() == "67.50"
    screenshot(page, "plans_price_table_print")
    page.goto(selection_url)

    # A refused selection: no basic item → the rule's message at the check boxes, the ticks kept.
    page.get_by_label("A1", exact=True).check()
    page.get_by_role("button", name="生成保费信息").click()
    page.locator("#codes-errors").wait_for()
    assert "基本保障项目A0、B0、C0至少选1种" in page.locator("#codes-errors").inner_text()
    assert page.get_by_label("A1", exact=True).is_checked()
    assert page.locator("#premium-table").count() == 0
    screenshot(page, "plans_selection_refused", full_page=False)

    # The handbook's selection → 【生成保费信息】 → 保费信息.
    page.get_by_label("A1", exact=True).uncheck()
    for code in WORKED_EXAMPLE:
        page.get_by_label(code, exact=True).check()
    page.get_by_role("button", name="生成保费信息").click()
    page.locator("#premium-table").wait_for()
    assert cells(page, "A0 B0 C0") == ["190", "10", "4", "720.00", "0", "0.00", "720.00"]
    assert cells(page, "A3")[-1] == "1,320.00"
    assert cells(page, "B3")[-1] == "1,840.00"
    assert cells(page, "C3")[-1] == "900.00"
    assert page.locator("#premium-table .premium-total").inner_text() == "4,780.00"
    page.locator("#premium-table").scroll_into_view_if_needed()
    screenshot(page, "plans-selection")
    page.set_viewport_size(PHONE)  # the table scrolls sideways rather than breaking (UI.md "Look")
    screenshot(page, "plans_selection_phone", full_page=False)
    page.set_viewport_size(DESKTOP)

    # 【提交确认保费】 → the confirmation dialog → 【确定】.
    page.get_by_role("button", name="提交确认保费").click()
    wait_until_shown(page, "#premium-confirm-dialog")
    assert "4,780.00" in page.locator("#premium-confirm-dialog").inner_text()
    screenshot(page, "plans_confirm_dialog", full_page=False)
    page.locator("#premium-confirm-dialog").get_by_role("button", name="确定").click()
    page.get_by_text("保费已确认，保费总计4,780.00元").wait_for()
    premium = BatchPremium.objects.get(batch=instant_batch)
    assert premium.batch.state == BatchState.AWAITING_PAYMENT and str(premium.total) == "4780.00"

    # Read only now, with the payment instructions (SPEC PAY-1) and the days left.
    assert page.get_by_label("A0", exact=True).is_disabled()
    assert page.get_by_role("button", name="生成保费信息").count() == 0
    info = page.locator(".payment-info")
    assert "31602300008022150" in info.inner_text() and "上海银行人民广场支行" in info.inner_text()
    assert info.locator(".payment-due").inner_text() == premium.payment_due.strftime("%Y-%m-%d")
    assert "还剩15天" in info.inner_text()
    screenshot(page, "plans_confirmed")

    # 【保费详细】 → every person with items and amounts → 【导出】, opened with openpyxl.
    page.get_by_role("link", name="保费详细").click()
    page.wait_for_url(page.base_url + f"/batches/{instant_batch.number}/premium/")
    page.locator("#premium-table").wait_for()
    assert page.locator("#premium-table .premium-total").inner_text() == "4,780.00"
    screenshot(page, "plans-premium")
    # UI.md "Long work": 【导出】 runs in the background and ends on its page with the file to download.
    page.get_by_role("link", name="导出").click()
    page.locator("#export-job .export-download").wait_for(timeout=30_000)
    assert "导出完成" in page.locator("#export-job").inner_text()
    with page.expect_download() as download_info:
        page.locator("#export-job .export-download").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx") and instant_batch.number in download.suggested_filename
    workbook = openpyxl.load_workbook(io.BytesIO(open(download.path(), "rb").read()), read_only=True)
    people = list(workbook["保费详细"].iter_rows(values_only=True))
    total_row = people[-1]
    assert total_row[0] == "合计"
    assert any(value is not None and not isinstance(value, str) and float(value) == 4780 for value in total_row)
    assert len(people) == 1 + 4 + 1  # header, four people, 合计
    # IDs masked in the export (UI.md "Personal data")
    assert all(re.fullmatch(r"\d{4}\*+\w{4}", str(cell)) for row in people[1:-1] for cell in row if "*" in str(cell))
    table_rows = list(workbook["保费信息"].iter_rows(values_only=True))
    assert table_rows[-1][0] == "总计" and float(table_rows[-1][-1]) == 4780
    assert refused == []


def test_withdraw_to_choose_plans_again(page, screenshot, instant_batch):
    """【批次撤回】 from the confirmed page: 重新选择保障项目, a reason, 【确认操作】 → 【确定】 → 参保批次管理."""
    from plans.services import premium_confirm

    premium_confirm(batch=instant_batch, codes=WORKED_EXAMPLE, acting_user=instant_batch.account)
    refused = watch_csp(page)
    log_in(page, instant_batch.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{instant_batch.number}/plans/")
    page.get_by_role("link", name="批次撤回").click()
    page.get_by_role("heading", name="批次撤回").wait_for()

    # The reason is required: the message is shown at the field.
    page.get_by_label("重新选择保障项目").check()
    page.get_by_role("button", name="确认操作").click()
    wait_until_shown(page, "#withdraw-confirm-dialog")
    page.locator("#withdraw-confirm-dialog").get_by_role("button", name="确定").click()
    page.get_by_text("请简单写明撤回原因。").wait_for()

    page.get_by_label("重新选择保障项目").check()
    page.get_by_placeholder("简单写明原因").fill("漏选意外伤害加强保障")
    screenshot(page, "plans_withdraw", full_page=False)
    page.get_by_role("button", name="确认操作").click()
    wait_until_shown(page, "#withdraw-confirm-dialog")
    screenshot(page, "plans_withdraw_confirm", full_page=False)
    page.locator("#withdraw-confirm-dialog").get_by_role("button", name="确定").click()
    page.wait_for_url(page.base_url + "/batches/")
    page.get_by_text("可点击【保障项目选择】重新选择保障项目").wait_for()
    instant_batch.refresh_from_db()
    assert instant_batch.state == BatchState.ROSTER_APPROVED
    assert not BatchPremium.objects.filter(batch=instant_batch).exists()
    assert refused == []
