"""Issue 9's whole journey in Chromium (SPEC PAY-2, PAY-3, PAY-4, RCP-1, RCP-2, RCP-3, BAT-3): from 缴费凭证待上传
the unit pays too much with its refund data; a reviewer approves the voucher in the back office (参保已完成);
the unit adds two 专用收据 (one refused at first and corrected in the reopened dialog) and 【提交审核】; the
reviewer issues them; the unit downloads the e-receipt and the 保障单, whose first pages are rendered to PNG
(pdftoppm) and read back (pdftotext)."""
import shutil
import subprocess
from pathlib import Path

import pytest

from enrollment.states import BatchState
from payments.models import Voucher
from receipts.models import Receipt
from tests.browser.conftest import PHONE, forget_session, log_in
from tests.browser.helpers import transfer_slip, wait_until_shown, watch_csp
from tests.factories import UserFactory
from tests.payments.helpers import awaiting_payment_batch

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is missing"),
]

PASSWORD = "Portal#2026"  # tests.factories.UserFactory's
UNIT = "上海长风示范科技有限公司"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def switch_to(page, username: str) -> None:
    forget_session(page)
    log_in(page, username, PASSWORD)


def first_page_png(pdf: Path, png: Path) -> Path:
    """The PDF's first page as a PNG of 110 dpi (pdftoppm), at `png`."""
    png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(png.with_suffix(""))],
        check=True,
    )
    return png


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def keep(png: Path, name: str) -> None:
    """Also under $SCREENSHOTS (`make screenshots` writes docs/screenshots/), like the page screenshots."""
    import os

    folder = os.environ.get("SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, Path(folder) / name)


def test_from_voucher_to_receipts_and_certificate(page, screenshot, handbook_year, tmp_path):
    account = UserFactory(username="unit-changfeng", unit_name=UNIT, password=PASSWORD)
    batch = awaiting_payment_batch(year=handbook_year, account=account)  # 4 × 180 = 720.00
    UserFactory(username="reviewer-wang", first_name="王审核", role="reviewer", password=PASSWORD)
    refused = watch_csp(page)

    # --- the unit pays 2,000.00 for a premium of 720.00, with its refund data (PAY-2, PAY-3) ----------------
    log_in(page, "unit-changfeng", PASSWORD)
    page.goto(page.base_url + "/batches/")
    row = page.locator("tr").filter(has_text=batch.number)
    assert "缴费凭证待上传" in row.inner_text() and row.get_by_role("link", name="专用收据").count() == 0
    page.locator("#sidebar").get_by_role("link", name="缴费凭证管理").click()
    page.get_by_role("link", name="新增缴费信息").click()
    page.get_by_role("heading", name="新增缴费信息").wait_for()
    page.locator(f"#batch-{batch.number}").check()
    page.locator("#refund-preview .preview-premiums").filter(has_text="720.00").wait_for()
    page.get_by_label("缴费方式").select_option(label="贷记(网银)")
    page.get_by_label("缴费金额(凭证总金额)").fill("2000.00")
    page.locator("#refund-preview .preview-refund-amount").filter(has_text="1,280.00").wait_for()
    page.locator("#refund-section").wait_for(state="visible")
    page.get_by_label("退款帐号").fill("6222 0210 0112 3456 789")
    page.get_by_label("退款帐户名称").fill(UNIT)
    page.get_by_label("退款银行").select_option("中国工商银行")
    page.get_by_role("button", name="上传文件").click()
    modal = page.locator("#attachments-modal")
    with page.expect_file_chooser() as chooser:
        modal.get_by_role("button", name="选择上传").click()
    chooser.value.set_files({"name": "网银转账回单.png", "mimeType": "image/png", "buffer": transfer_slip()})
    modal.locator(".attachment-grid img").wait_for()
    modal.get_by_role("button", name="返回").click()
    modal.wait_for(state="hidden")
    page.locator(".modal-backdrop").wait_for(state="detached")
    page.get_by_role("button", name="提交", exact=True).click()
    wait_until_shown(page, "#voucher-confirm-dialog")
    page.locator("#voucher-confirm-dialog").get_by_role("button", name="确定提交").click()
    page.get_by_role("heading", name="缴费凭证管理").wait_for()
    assert "退款金额1280.00元" in page.locator(".messages").inner_text()
    voucher = Voucher.objects.get()
    batch.refresh_from_db()
    assert batch.state == BatchState.PAYMENT_REVIEW

    # --- the reviewer approves it in the back office (PAY-4) --------------------------------------------------
    switch_to(page, "reviewer-wang")
    page.wait_for_url("**/backoffice/")
    line = page.locator("#backoffice-queues tr.queue-line").filter(has_text="缴费凭证审核")
    assert "1 件" in line.locator("td.count").first.inner_text()
    line.get_by_role("link", name="缴费凭证审核").click()
    page.locator("#result_list tbody tr").first.get_by_role("link", name=UNIT).click()
    page.wait_for_url(f"**/backoffice/payments/voucher/{voucher.pk}/change/**")
    assert "1,280.00" in page.locator("#voucher-amounts").inner_text()
    assert "6222***********6789" in page.locator("#voucher-refund").inner_text()
    page.get_by_role("button", name="审核通过", exact=True).click()
    page.locator("#approve-dialog").get_by_role("button", name="确认审核通过").click()
    page.locator("ul.messagelist li.success").wait_for()
    batch.refresh_from_db()
    assert batch.state == BatchState.COMPLETED

    # --- the unit asks for two receipts (RCP-1) -----------------------------------------------------------------
    switch_to(page, "unit-changfeng")
    page.goto(page.base_url + "/batches/")
    row = page.locator("tr").filter(has_text=batch.number)
    assert "参保已完成" in row.inner_text() and row.get_by_role("link", name="保障单").count() == 1
    row.get_by_role("link", name="专用收据").click()
    page.get_by_role("heading", name="专用收据填报").wait_for()
    assert "还差 720.00 元" in page.locator(".receipt-sum").inner_text()
    assert "※专用收据可开具多张，参保单位与专用收据抬头可以不一致" in page.locator(".receipt-notes").inner_text()

    page.get_by_role("button", name="新增专用收据").click()
    wait_until_shown(page, "#receipt-add-dialog")
    dialog = page.locator("#receipt-add-dialog")
    assert dialog.get_by_label("备注").get_attribute("placeholder") == "需发票备注栏显示的内容，非必填项"
    warning = dialog.locator(".receipt-warning")
    assert warning.inner_text() == "*信息录入错误, 请在收到电子发票后, 到职保会现场进行更改!"
    assert warning.evaluate("e => getComputedStyle(e).color") == "rgb(176, 42, 55)"  # the portal's red: text-danger, 4.5:1 on tints
    dialog.get_by_label("专用收据抬头").fill("上海YYYY公司")
    dialog.get_by_label("专用收据金额").fill("450")
    screenshot(page, "receipt-add-dialog", full_page=False)
    dialog.get_by_role("button", name="确认提交").click()
    page.locator(".messages").filter(has_text="已添加专用收据“上海YYYY公司”450.00元").wait_for()

    # More than is left: the dialog comes back open, the message at the amount, what was typed kept.
    page.get_by_role("button", name="新增专用收据").click()
    wait_until_shown(page, "#receipt-add-dialog")
    dialog.get_by_label("专用收据抬头").fill("上海XXX公司工会委员会")
    dialog.get_by_label("专用收据金额").fill("300")
    dialog.get_by_label("备注").fill("2023年度在职职工互助保障费")
    dialog.get_by_role("button", name="确认提交").click()
    wait_until_shown(page, "#receipt-add-dialog")
    assert "还可填270.00元" in dialog.locator(".invalid-feedback").inner_text()
    assert dialog.get_by_label("专用收据抬头").input_value() == "上海XXX公司工会委员会"
    assert dialog.get_by_label("备注").input_value() == "2023年度在职职工互助保障费"
    dialog.get_by_label("专用收据金额").fill("270")
    dialog.get_by_role("button", name="确认提交").click()
    page.locator(".messages").filter(has_text="专用收据金额合计已等于应缴纳保费").wait_for()

    lines = page.locator(".receipt-table tbody tr")
    assert [lines.nth(index).locator("td").first.inner_text() for index in range(2)] == ["上海YYYY公司", "上海XXX公司工会委员会"]
    assert "已等于应缴纳保费" in page.locator(".receipt-sum").inner_text()
    screenshot(page, "receipts-lines")
    page.get_by_role("button", name="提交审核").click()
    page.locator(".messages").filter(has_text="已提交审核2张专用收据").wait_for()
    assert set(Receipt.objects.values_list("status", flat=True)) == {Receipt.Status.SUBMITTED}

    # --- the reviewer issues them (RCP-2) -------------------------------------------------------------------------
    switch_to(page, "reviewer-wang")
    page.wait_for_url("**/backoffice/")
    line = page.locator("#backoffice-queues tr.queue-line").filter(has_text="专用收据审核")
    line.get_by_role("link", name="专用收据审核").click()
    page.locator("#result_list tbody tr").first.get_by_role("link", name=batch.number).click()
    assert "上海XXX公司工会委员会" in page.locator("#receipt-lines").inner_text()
    page.get_by_role("button", name="审核通过", exact=True).click()
    page.locator("#approve-dialog").get_by_role("button", name="确认审核通过").click()
    page.locator("ul.messagelist li.success").wait_for()
    issued = list(Receipt.objects.filter(status=Receipt.Status.ISSUED).order_by("pk"))
    assert len(issued) == 2 and all(receipt.number for receipt in issued)

    # --- the unit downloads the e-receipt and the 保障单 (RCP-2, RCP-3) ------------------------------------------------
    switch_to(page, "unit-changfeng")
    page.goto(page.base_url + f"/batches/{batch.number}/receipts/")
    lines = page.locator(".receipt-table tbody tr")
    assert issued[1].number in lines.nth(1).inner_text() and "已开具" in lines.nth(1).inner_text()
    screenshot(page, "receipts-issued")
    with page.expect_download() as receipt_download:
        lines.nth(1).get_by_role("link", name="下载").click()
    receipt_file = tmp_path / "receipt.pdf"
    receipt_download.value.save_as(receipt_file)
    assert receipt_download.value.suggested_filename.startswith(f"专用收据_{issued[1].number}_")
    with page.expect_download() as certificate_download:
        page.get_by_role("link", name="下载保障单").click()
    certificate_file = tmp_path / "certificate.pdf"
    certificate_download.value.save_as(certificate_file)
    assert certificate_download.value.suggested_filename.startswith(f"保障单_{batch.number}_")

    # UI.md "Look": on a phone the page does not scroll sideways (the table scrolls in its box).
    page.set_viewport_size(PHONE)
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "receipts-issued-phone")

    receipt_text = pdf_text(receipt_file)
    assert "上海XXX公司工会委员会" in receipt_text and "人民币贰佰柒拾元整" in receipt_text and issued[1].number in receipt_text
    certificate_text = pdf_text(certificate_file)
    assert batch.number in certificate_text and UNIT in certificate_text and "720.00" in certificate_text

    for pdf, name in ((receipt_file, "receipt.png"), (certificate_file, "certificate.png")):
        png = first_page_png(pdf, tmp_path / name)
        assert png.stat().st_size > 10_000  # a drawn page, not a blank one
        keep(png, name)
    assert refused == []
