"""【缴费凭证管理】 → 【新增缴费信息】 in Chromium (SPEC PAY-2, PAY-3, BAT-8): from a batch in 缴费凭证待上传,
the unit ticks it, types less than the premium (the shortfall shows live), then more (退款金额 appears
live and 退款信息填报 opens), fills the refund fields, uploads a PNG proof, confirms in the dialog, and
finds the voucher in the list and its 查看 page with the refund account masked."""

import pytest

from enrollment.states import BatchKind, BatchState
from payments.models import Voucher
from tests.browser.conftest import PHONE, log_in
from tests.browser.helpers import transfer_slip, wait_until_shown, watch_csp
from tests.payments.helpers import awaiting_payment_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"  # tests.factories.UserFactory's


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_unit_pays_too_much_with_refund_details_and_finds_its_voucher(page, screenshot, handbook_year):
    batch = awaiting_payment_batch(year=handbook_year)  # 4 × 180 = 720.00
    other = awaiting_payment_batch(year=handbook_year, account=batch.account, people=2, kind=BatchKind.INSTANT)
    refused = watch_csp(page)

    log_in(page, batch.account.username, PASSWORD)
    page.goto(page.base_url + "/")
    page.locator("#sidebar").get_by_role("link", name="缴费凭证管理").click()
    page.get_by_role("heading", name="缴费凭证管理").wait_for()
    assert page.locator("#sidebar .nav-link.active").inner_text().strip() == "缴费凭证管理"
    assert "总共 0 条记录 每页显示 15 条记录" in page.locator(".list-footer").inner_text()

    page.get_by_role("link", name="新增缴费信息").click()
    page.get_by_role("heading", name="新增缴费信息").wait_for()
    assert page.get_by_label("付款单位").input_value() == batch.code.unit_name
    refund_section = page.locator("#refund-section")
    assert refund_section.is_hidden()

    # 选择批次: tick the centralised batch; 应缴保费合计 follows at once.
    page.locator(f"#batch-{batch.number}").check()
    preview = page.locator("#refund-preview")
    preview.locator(".preview-premiums").filter(has_text="720.00").wait_for()
    assert not page.locator(f"#batch-{other.number}").is_checked()

    page.get_by_label("缴费方式").select_option(label="贷记(网银)")
    amount = page.get_by_label("缴费金额(凭证总金额)")
    # Less than the premium: the shortfall, live, and no refund fields (SPEC PAY-3).
    amount.fill("700")
    preview.locator(".preview-shortfall").wait_for()
    assert "还差20.00元" in preview.inner_text()
    assert refund_section.is_hidden()

    # More: 退款金额 = 2000 − 720, live, and 退款信息填报 opens.
    amount.fill("2000.00")
    preview.locator(".preview-refund-amount").filter(has_text="1,280.00").wait_for()
    refund_section.wait_for(state="visible")
    assert page.locator("#refund-amount").inner_text() == "1,280.00"
    assert page.get_by_label("退款方式").locator("option:checked").inner_text() == "划帐"

    page.get_by_label("退款帐号").fill("6222 0210 0112 3456 789")
    page.get_by_label("退款帐户名称").fill("上海长风示范科技有限公司")
    bank = page.get_by_label("退款银行")
    assert bank.locator("option:checked").inner_text() == "请选择退款银行"
    bank.select_option("中国工商银行")

    # 【缴费凭证上传】: the attachment component's modal.
    page.get_by_role("button", name="上传文件").click()
    modal = page.locator("#attachments-modal")
    modal.get_by_role("button", name="选择上传").wait_for()
    with page.expect_file_chooser() as chooser:
        modal.get_by_role("button", name="选择上传").click()
    chooser.value.set_files({"name": "网银转账回单.png", "mimeType": "image/png", "buffer": transfer_slip()})
    modal.locator(".attachment-grid img").wait_for()
    assert modal.locator(".attachment-name").inner_text() == "网银转账回单.png"
    modal.get_by_role("button", name="返回").click()
    modal.wait_for(state="hidden")
    page.locator(".modal-backdrop").wait_for(state="detached")
    assert "已上传 1 个附件" in page.locator(".attachment-summary").inner_text()
    screenshot(page, "voucher-new")

    # The binding action confirms in a modal with what will be submitted.
    page.get_by_role("button", name="提交", exact=True).click()
    wait_until_shown(page, "#voucher-confirm-dialog")
    dialog = page.locator("#voucher-confirm-dialog")
    assert dialog.locator(".voucher-confirm-batches").inner_text() == batch.number
    assert dialog.locator(".voucher-confirm-amount").inner_text() == "2000.00"
    assert "缴费凭证上传后，参保清册不能再进行修改" in dialog.inner_text()
    screenshot(page, "voucher-confirm", full_page=False)
    dialog.get_by_role("button", name="确定提交").click()

    page.get_by_role("heading", name="缴费凭证管理").wait_for()
    assert "缴费信息已提交（缴费金额2000.00元，退款金额1280.00元）" in page.locator(".messages").inner_text()
    row = page.locator(".voucher-table tbody tr")
    assert row.count() == 1
    cells = [text.strip() for text in row.locator("td").all_inner_texts()]
    assert cells[1:8] == ["上海长风示范科技有限公司", "贷记(网银)", "2,000.00", "720.00", "1,280.00", batch.number, "待审核"]
    screenshot(page, "voucher-list", full_page=False)

    voucher = Voucher.objects.get()
    assert voucher.refund_account_number == "6222021001123456789"
    batch.refresh_from_db()
    other.refresh_from_db()
    assert (batch.state, other.state) == (BatchState.PAYMENT_REVIEW, BatchState.AWAITING_PAYMENT)

    row.get_by_role("link", name="查看").click()
    page.get_by_role("heading", name="缴费凭证详情").wait_for()
    assert page.locator(".voucher-refund-account").inner_text() == "6222***********6789"
    assert "6222021001123456789" not in page.content()
    image = page.locator(".voucher-proofs img")
    page.wait_for_function("img => img.complete && img.naturalWidth === 640", arg=image.element_handle())
    screenshot(page, "voucher-detail")
    assert refused == []


def test_enter_in_a_field_opens_the_confirmation_instead_of_submitting(page, screenshot, handbook_year):
    batch = awaiting_payment_batch(year=handbook_year)
    log_in(page, batch.account.username, PASSWORD)
    page.goto(page.base_url + f"/vouchers/new/?batch={batch.number}")
    assert page.locator(f"#batch-{batch.number}").is_checked()

    page.get_by_label("缴费金额(凭证总金额)").fill("720")
    page.locator("#refund-preview .preview-equal").wait_for()
    page.get_by_label("缴费金额(凭证总金额)").press("Enter")

    wait_until_shown(page, "#voucher-confirm-dialog")
    assert not Voucher.objects.exists()
    page.locator("#voucher-confirm-dialog").get_by_role("button", name="取消").click()
    page.locator("#voucher-confirm-dialog").wait_for(state="hidden")
    assert page.get_by_role("heading", name="新增缴费信息").is_visible()

    # UI.md "Look": on a phone the page does not scroll sideways (the batch table scrolls in its box).
    page.set_viewport_size(PHONE)
    page.locator(".modal-backdrop").wait_for(state="detached")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "voucher-new-phone")
