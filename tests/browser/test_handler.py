"""【经办人填报】 end to end (SPEC HND-1, HND-3): a unit with a code logs in, opens 经办人填报 from the
menu, fills it in with the SMS code, picks a level-1 and then a level-2 union organisation (the list
follows by htmx), 【保存】 → 保存成功. And the online change form (HND-2) with its stamped scan."""
import io
import re

import pytest
from django.utils import timezone
from PIL import Image

from accounts.models import UnionOrganisation
from enrollment.models import ChangeRequest, EnrollmentCode, HandlerInfo, Unit
from mutualaid import sms
from mutualaid.attachments import attachments_of
from mutualaid.validators import uscc_check_character
from tests.browser.conftest import PHONE, log_in, page_ready
from tests.browser.helpers import hold_requests, release
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USCC = "91310107MA1G0TQ2X" + uscc_check_character("91310107MA1G0TQ2X")
UNIT_NAME = "上海长风示范科技有限公司"
MOBILE = "13912345678"
PASSWORD = "Portal#2026"


@pytest.fixture(autouse=True)
def empty_outbox_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def unit(union_organisations):
    """A unit account with an approved code and its lead unit, as after 参保编码申请."""
    putuo = UnionOrganisation.objects.get(name="普陀区总工会")
    account = UserFactory(username="cf-handler", first_name="丁一", mobile=MOBILE, email="hr@example.com",
                          union_organisation=putuo)
    code = EnrollmentCode.objects.create(
        code="0072J3", unit_name=UNIT_NAME, uscc=USCC, account=account, bound_at=timezone.now(), source="approved"
    )
    Unit.objects.create(code=code, name=UNIT_NAME, uscc=USCC, address="上海市普陀区长风路1号", headcount=120)
    return account, code


def watch_csp(page) -> list:
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    return refused


def open_handler_page(page, account):
    log_in(page, account.username, PASSWORD)
    page.wait_for_url("**/accounts/platform/")
    page.goto(page.base_url + "/")
    page.locator("#sidebar").get_by_role("link", name="经办人填报").click()
    page.get_by_role("heading", name="经办人填报").wait_for()
    page_ready(page)  # the union lists follow each other by htmx


def test_a_unit_fills_in_and_saves_the_handler_information(page, screenshot, unit):
    account, code = unit
    refused = watch_csp(page)
    open_handler_page(page, account)

    # SPEC HND-3: name and USCC come from the code, read only, with the counter's address under them.
    assert page.locator("#id_unit_name").input_value() == UNIT_NAME and page.locator("#id_unit_name").is_disabled()
    assert page.locator("#id_uscc").input_value() == USCC and page.locator("#id_uscc").is_disabled()
    assert page.get_by_text("若单位名称有误，请至职保中心五楼营业大厅“信息修改”窗口办理更新！").is_visible()
    assert page.locator("#sidebar .nav-link.active").inner_text().strip() == "经办人填报"
    # Prefilled from the account and the lead unit.
    assert page.locator("#id_handler_mobile").input_value() == MOBILE
    assert page.locator("#id_address").input_value() == "上海市普陀区长风路1号"

    page.locator("#id_handler_name").fill("丁一")
    page.locator("#id_handler_email").fill("dingyi@example.com")
    page.locator("#id_economic_type").select_option(label="私营")
    page.get_by_role("button", name="获取验证码").click()
    page.locator("#sms-result-handler").get_by_text("验证码已发送至 139****5678，5分钟内有效。").wait_for()
    assert re.fullmatch(r"\d{2}秒后重新获取", page.locator("#sms-send-handler").inner_text().strip())
    mobile, text = sms.outbox[-1]
    assert mobile == MOBILE
    page.locator("#id_sms_code").fill(re.search(r"验证码为(\d{6})", text).group(1))

    # The level-2 list follows the chosen level-1 organisation (htmx).
    page.locator("#id_union_level1").select_option(label="上海市机电工会")
    page.locator("#id_union_level2 option", has_text="上海电气集团股份有限公司工会").wait_for(state="attached")
    assert "普陀区长风新村街道总工会" not in page.locator("#id_union_level2").inner_text()
    page.locator("#id_union_level1").select_option(label="普陀区总工会")
    page.locator("#id_union_level2 option", has_text="普陀区长风新村街道总工会").wait_for(state="attached")
    assert "上海电气集团股份有限公司工会" not in page.locator("#id_union_level2").inner_text()
    page.locator("#id_union_level2").select_option(label="普陀区长风新村街道总工会")
    page.locator("#id_address").fill("上海市普陀区长风路2号")
    page.locator("#id_industry").select_option(label="I 信息传输、软件和信息技术服务业")
    page.locator("#id_headcount").fill("85")
    screenshot(page, "handler-form")

    page.get_by_role("button", name="保存", exact=True).click()
    page.get_by_role("alert").filter(has_text="保存成功，可以进行后续操作。").wait_for()

    info = HandlerInfo.objects.get(code=code)
    assert (info.handler_name, info.handler_email, info.headcount) == ("丁一", "dingyi@example.com", 85)
    assert info.union_level1.name == "普陀区总工会" and info.union_level2.name == "普陀区长风新村街道总工会"
    assert page.locator("#id_union_level2").input_value() == str(info.union_level2_id)
    assert "经办人信息已于" in page.locator(".handler-status").inner_text()
    screenshot(page, "handler-saved", full_page=False)
    # SPEC SEC-7: now the contacts are read only, no SMS code is asked, and the headcount still saves.
    assert page.locator("#id_handler_mobile").is_disabled() and page.locator("#id_address").is_disabled()
    assert page.locator("#id_sms_code").count() == 0
    page.locator("#id_headcount").fill("90")
    page.get_by_role("button", name="保存", exact=True).click()
    page.get_by_role("alert").filter(has_text="保存成功，可以进行后续操作。").wait_for()
    info.refresh_from_db()
    assert info.headcount == 90 and info.handler_name == "丁一"
    page.get_by_role("link", name="信息变更申请", exact=True).click()
    page.wait_for_url("**/handler/changes/new/")
    assert refused == []


def test_a_unit_without_a_union_chooses_no_union_and_sees_errors_beside_the_fields(page, unit):
    account, code = unit
    open_handler_page(page, account)
    page.locator("#id_union_level1").select_option(label="未建会")
    page.locator("#id_union_level2 option[value=none]").wait_for(state="attached")
    assert page.locator("#id_union_level2").input_value() == "none"
    page.locator("#id_headcount").fill("0")
    page.locator("#id_sms_code").fill("123456")
    page.get_by_role("button", name="保存", exact=True).click()

    page.get_by_text("职工人数须大于0。").wait_for()
    assert page.locator("#id_headcount").get_attribute("aria-invalid") == "true"
    # Nothing typed is lost (SPEC X-3); the union choice stays.
    assert page.locator("#id_union_level1").input_value() == "none"
    assert page.locator("#id_union_level2").input_value() == "none"
    assert not HandlerInfo.objects.exists()


def test_a_union_chosen_while_the_scripts_still_load_is_not_lost(page, unit):
    """On a slow connection the page shows before htmx has bound the level-1 select: it stays disabled
    until then (static/js/portal.js), so the choice is made once the level-2 list can follow it."""
    account, _ = unit
    log_in(page, account.username, PASSWORD)
    held = hold_requests(page, "**/static/vendor/htmx/*")
    page.goto(page.base_url + "/handler/", wait_until="commit")
    page.get_by_role("heading", name="经办人填报").wait_for()
    assert page.locator("#id_union_level1").is_disabled()
    assert page.get_by_role("button", name="获取验证码").is_disabled()
    release(page, held)
    page.locator("#id_union_level1").select_option(label="未建会")  # waits until it is enabled
    page.locator("#id_union_level2 option[value=none]").wait_for(state="attached")
    assert page.locator("#id_union_level2").input_value() == "none"
    assert page.get_by_role("button", name="获取验证码").is_enabled()


def test_the_handler_page_fits_a_phone(page, screenshot, unit):
    account, _ = unit
    page.set_viewport_size(PHONE)
    log_in(page, account.username, PASSWORD)
    page.wait_for_url("**/accounts/platform/")
    page.goto(page.base_url + "/handler/")
    page.get_by_role("button", name="获取验证码").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "handler-form-phone")
    # The change form too: the header grid narrows to two columns, the rows stack.
    page.goto(page.base_url + "/handler/changes/new/")
    page.get_by_role("checkbox", name="变更单位地址").check()
    page.get_by_label("新修改信息（变更单位地址）").wait_for(state="visible")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "handler-change-form-phone")


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (500, 700), (250, 250, 250)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_unit_submits_a_change_request_with_the_stamped_scan(page, screenshot, unit):
    """SPEC HND-2 [departure]: the printed form online; ticking an item shows its row."""
    account, code = unit
    HandlerInfo.objects.create(
        code=code, handler_name="丁一", handler_mobile=MOBILE, handler_email="dingyi@example.com", economic_type="私营",
        address="上海市普陀区长风路1号", industry="I", headcount=120, saved_by=account,
    )
    refused = watch_csp(page)
    open_handler_page(page, account)
    page.get_by_role("link", name="参保信息变更申请").first.click()
    page.get_by_role("link", name="新增变更申请").click()
    page.get_by_text("职工互助保障参保信息变更申请表（线上）").wait_for()

    address_row = page.locator('[data-change-row="address"]')
    assert not address_row.is_visible()
    page.get_by_role("checkbox", name="变更单位地址").check()
    address_row.wait_for(state="visible")
    assert "上海市普陀区长风路1号" in address_row.inner_text()
    page.get_by_role("checkbox", name="重发邮件").check()
    page.get_by_label("新修改信息（变更单位地址）").fill("上海市普陀区长风路9号")

    page.get_by_role("button", name="上传文件").click()
    modal = page.get_by_role("dialog", name="申请单扫描件")
    modal.wait_for(state="visible")
    with page.expect_file_chooser() as chooser:
        modal.get_by_role("button", name="选择上传").click()
    chooser.value.set_files([{"name": "变更申请单.png", "mimeType": "image/png", "buffer": png()}])
    modal.locator(".attachment-item").wait_for()
    modal.get_by_role("button", name="返回").click()
    modal.wait_for(state="hidden")
    page.locator(".modal-backdrop").wait_for(state="detached")
    screenshot(page, "handler-change-form")

    page.get_by_role("button", name="提交申请").click()
    page.get_by_role("heading", name="参保信息变更申请详情").wait_for()
    assert "参保信息变更申请已提交" in page.get_by_role("alert").first.inner_text()
    change = ChangeRequest.objects.get()
    assert change.items == ["resend_email", "address"]
    assert change.original_values["address"] == "上海市普陀区长风路1号"
    assert change.new_values == {"address": "上海市普陀区长风路9号"}
    assert [a.original_name for a in attachments_of(change)] == ["变更申请单.png"]
    page.get_by_role("link", name="变更申请单.png", exact=True).wait_for()
    screenshot(page, "handler-change-detail", full_page=False)
    assert refused == []
