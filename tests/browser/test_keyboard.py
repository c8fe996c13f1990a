"""SPEC X-5: the forms units use most work with the keyboard alone — login, the roster import,
保障项目选择 and 新增缴费信息. No click and no fill: Tab (and Shift+Tab) to move, typing, Space to tick,
Enter to press, Escape to close a dialog; every control reached shows where the focus is, dialogs keep
the focus inside while open and give it back when closed."""
import datetime as dt

import pytest

from enrollment.states import BatchKind, BatchState
from payments.models import Voucher
from plans.models import BatchPremium
from rosters.models import RosterEntry
from tests.browser.conftest import log_in, page_ready
from tests.browser.helpers import transfer_slip, wait_until_shown
from tests.factories import UserFactory, make_batch
from tests.payments.helpers import awaiting_payment_batch
from tests.plans.helpers import approved_batch
from tests.rosters.importfiles import resident_id, row, template_xlsx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"  # tests.factories.UserFactory's
FOCUSED = "document.activeElement"


def tab_to(page, selector: str, *, limit: int = 60, backwards: bool = False):
    """Press Tab until the focus is on the element matching `selector`; fails after `limit` presses.
    The element reached must show its focus (an outline or a focus shadow)."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate(f"{FOCUSED}.matches({selector!r})"):
            assert focus_is_visible(page), f"{selector} has the focus but does not show it"
            return
    pytest.fail(f"{selector} was not reached with {limit} presses of {key}")


def intercept_file_choosers(page):
    """Turn Playwright's file-chooser interception on now: a listener added only by expect_file_chooser
    switches it on without waiting for the browser, and a key pressed at once may open the chooser
    before it is intercepted (no filechooser event then)."""
    page.on("filechooser", lambda chooser: None)


def focus_is_visible(page) -> bool:
    return page.evaluate(
        """() => {
            let element = document.activeElement;
            if (element.classList.contains("visually-hidden") && element.nextElementSibling) {
                element = element.nextElementSibling;  // a file input shown by its label
            }
            const style = getComputedStyle(element);
            return (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none";
        }"""
    )


def wait_for_focus(page, selector: str):
    # A function, not an expression: the page's CSP refuses the eval an expression would need.
    page.wait_for_function("selector => document.activeElement.matches(selector)", arg=selector)


def focus_is_inside(page, selector: str) -> bool:
    return page.evaluate(f"document.querySelector({selector!r}).contains({FOCUSED})")


def test_log_in_with_the_keyboard_alone(page):
    account = UserFactory(username="kb-unit")
    page.goto(page.base_url + "/accounts/login/")
    # 账号 has the focus on arrival (autofocus).
    assert page.evaluate(f"{FOCUSED}.id") == "id_username" and focus_is_visible(page)
    page.keyboard.type(account.username)
    tab_to(page, "#id_password", limit=3)
    page.keyboard.type(PASSWORD)
    tab_to(page, "#id_captcha_1", limit=5)
    page.keyboard.type("PASSED")  # django-simple-captcha's test mode
    page.keyboard.press("Enter")
    page.wait_for_url(page.base_url + "/accounts/platform/")
    page_ready(page)

    # On every page the first Tab stop skips the top bar and the menu (跳到主要内容).
    page.goto(page.base_url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate(f"{FOCUSED}.textContent.trim()") == "跳到主要内容"
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focus_is_inside(page, "main")


def test_import_a_roster_with_the_keyboard_alone(page, handbook_year, tmp_path):
    batch = make_batch(UserFactory(username="kb-import"), year=handbook_year, code="0072K1")
    intercept_file_choosers(page)
    log_in(page, batch.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{batch.number}/roster/import/")
    upload = tmp_path / "本单位名单.xlsx"
    upload.write_bytes(template_xlsx([row("王豆豆", number=resident_id("19900101", 101))]))

    tab_to(page, "#roster-import-file")  # 【选择导入文件】 shows the focus of its hidden input
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(upload))
    page.get_by_text("-----处理完成 数据读取：1人，成功导入：1条信息（新增加1人，修改0人），导入失败：0条信息。-----").wait_for()
    assert RosterEntry.objects.filter(batch=batch).count() == 1


def test_choose_plan_items_and_confirm_the_premium_with_the_keyboard_alone(page, handbook_year):
    batch = approved_batch(year=handbook_year, kind=BatchKind.INSTANT, social_security=4, start=dt.date(2023, 7, 10))
    log_in(page, batch.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{batch.number}/plans/")

    for code in ("A0", "B0", "C0"):
        tab_to(page, f"#code-{code}")
        page.keyboard.press("Space")
    assert all(page.locator(f"#code-{code}").is_checked() for code in ("A0", "B0", "C0"))
    tab_to(page, "button.plan-generate")
    page.keyboard.press("Enter")
    page.locator("#premium-table").wait_for()
    page_ready(page)

    tab_to(page, "button[data-bs-target='#premium-confirm-dialog']")
    page.keyboard.press("Enter")
    wait_until_shown(page, "#premium-confirm-dialog")
    # The dialog holds the focus: Tab goes round its own controls, never back to the page behind.
    for _ in range(8):
        page.keyboard.press("Tab")
        assert focus_is_inside(page, "#premium-confirm-dialog")
    # Escape closes it and gives the focus back to the button that opened it.
    page.keyboard.press("Escape")
    page.locator("#premium-confirm-dialog").wait_for(state="hidden")
    wait_for_focus(page, "button[data-bs-target='#premium-confirm-dialog']")

    page.keyboard.press("Enter")
    wait_until_shown(page, "#premium-confirm-dialog")
    tab_to(page, "button.plan-confirm-submit", limit=10)
    page.keyboard.press("Enter")
    page.get_by_text("保费已确认").first.wait_for()
    assert BatchPremium.objects.get(batch=batch).batch.state == BatchState.AWAITING_PAYMENT


def test_add_a_payment_voucher_with_the_keyboard_alone(page, handbook_year):
    batch = awaiting_payment_batch(year=handbook_year)  # 4 × 180 = 720.00
    intercept_file_choosers(page)
    log_in(page, batch.account.username, PASSWORD)
    page.goto(page.base_url + "/vouchers/new/")

    tab_to(page, f"#batch-{batch.number}")
    box = page.locator(f"#batch-{batch.number}")
    ticked = box.is_checked()  # the only batch awaiting payment comes ticked
    page.keyboard.press("Space")
    assert box.is_checked() != ticked
    if ticked:
        page.keyboard.press("Space")
    page.locator("#refund-preview .preview-premiums").filter(has_text="720.00").wait_for()
    tab_to(page, "#id_method")
    page.keyboard.press("ArrowDown")  # the first method after 请选择缴费方式
    assert page.locator("#id_method").input_value() != ""
    tab_to(page, "#id_amount")
    page.keyboard.type("720")
    page.locator("#refund-preview .preview-equal").wait_for()

    # 【上传文件】 → the dialog → 【选择上传】: the focus comes back to it after the upload.
    tab_to(page, "button[data-bs-target='#attachments-modal']")
    page.keyboard.press("Enter")
    wait_until_shown(page, "#attachments-modal")
    tab_to(page, "#attachments-modal .attachment-choose", limit=10)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files({"name": "网银转账回单.png", "mimeType": "image/png", "buffer": transfer_slip()})
    page.locator("#attachments-modal .attachment-grid img").wait_for()
    wait_for_focus(page, '#attachments-modal .attachment-choose')
    page.keyboard.press("Escape")
    page.locator("#attachments-modal").wait_for(state="hidden")
    wait_for_focus(page, "button[data-bs-target='#attachments-modal']")

    tab_to(page, "button.voucher-submit")
    page.keyboard.press("Enter")
    wait_until_shown(page, "#voucher-confirm-dialog")
    tab_to(page, "button.voucher-confirm-submit", limit=10)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="缴费凭证管理").wait_for()
    assert Voucher.objects.filter(lines__batch=batch).exists()
