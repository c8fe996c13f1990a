"""参保编码申请 end to end (SPEC CODE-1…4): a unit without a code applies with an SMS code and an
uploaded licence, sees 申请中, and after approval its code; a rejected application is corrected and
resubmitted; a name already in progress gets the handbook's dialog."""
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import UnionOrganisation
from enrollment.models import CodeApplication
from enrollment.services import code_application_approve, code_application_reject
from mutualaid import sms
from mutualaid.attachments import attachment_store, attachments_of
from tests.browser.conftest import DESKTOP, PHONE, log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MOBILE = "13912345678"
PASSWORD = "Portal#2026"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def csp_refusals(page):
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    return refused


def png_bytes(colour="red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 220), colour).save(buffer, "PNG")
    return buffer.getvalue()


def open_code_applications(page, username):
    log_in(page, username, PASSWORD)
    # A unit without a union (未建会) sees 【在职职工互助保障】 at once (SPEC ACC-5).
    page.locator(".app-tile", has_text="在职职工互助保障").click()
    page.wait_for_url(page.base_url + "/")
    page.locator("#sidebar").get_by_role("link", name="参保编码申请").click()
    page.get_by_role("heading", name="在线申请参保编码").wait_for()


def get_sms_code(page, mobile=MOBILE) -> str:
    page.get_by_role("button", name="获取验证码").click()
    masked = mobile[:3] + "****" + mobile[-4:]
    page.locator("#sms-result-code-application").get_by_text(f"验证码已发送至 {masked}，5分钟内有效。").wait_for()
    button = page.locator("#sms-send-code-application")
    assert re.fullmatch(r"\d{2}秒后重新获取", button.inner_text().strip())
    assert button.is_disabled()
    sent_to, text = sms.outbox[-1]
    assert sent_to == mobile
    return re.search(r"验证码为(\d{6})", text).group(1)


def upload_licence(page):
    """【上传文件】 → 【选择上传】 → the thumbnail shows → 【返回】 (the handbook's steps)."""
    page.get_by_role("button", name="上传文件").click()
    modal = page.locator("#attachments-modal")
    modal.get_by_role("button", name="选择上传").wait_for()
    with page.expect_file_chooser() as chooser:
        modal.get_by_role("button", name="选择上传").click()
    chooser.value.set_files({"name": "营业执照.png", "mimeType": "image/png", "buffer": png_bytes()})
    modal.locator(".attachment-grid img").wait_for()
    assert modal.locator(".attachment-name").inner_text() == "营业执照.png"
    modal.get_by_role("button", name="返回").click()
    modal.wait_for(state="hidden")
    page.locator(".modal-backdrop").wait_for(state="detached")
    page.locator(".attachment-summary").get_by_text("已上传 1 个附件").wait_for()


def fill_form(page, *, unit_name="上海长风示范科技有限公司"):
    page.get_by_label("单位名称").fill(unit_name)
    page.get_by_label("工委名称").select_option(label="普陀区长风新村街道总工会")
    page.get_by_label("统一信用代码").fill("91310000132206289R")
    page.get_by_label("单位性质").select_option(label="企业")
    page.locator("#id_contact_name").fill("丁一")
    page.get_by_label("单位地址").fill("上海市普陀区长寿路1号")
    page.get_by_label("联系人手机").fill(MOBILE)
    page.get_by_label("邮政编码").fill("200060")
    page.get_by_label("联系人邮箱").fill("dingyi@example.com")
    page.get_by_label("在职人数").fill("200")
    page.locator("#id_leader_name").fill("王二")


def test_a_unit_applies_for_a_code_and_sees_it_after_approval(page, screenshot, union_organisations, csp_refusals):
    account = UserFactory(username="cf-apply", role="unit_admin")
    open_code_applications(page, "cf-apply")
    assert page.locator("#sidebar .nav-link.active").inner_text().strip() == "参保编码申请"
    page.get_by_text("已有参保编码的单位无需申请").wait_for()

    page.get_by_role("link", name="申请参保编码").click()
    page.get_by_role("heading", name="申请参保编码").wait_for()
    assert page.locator("#sidebar .nav-link.active").inner_text().strip() == "参保编码申请"
    fill_form(page)
    page.locator("#id_sms_code").fill(get_sms_code(page))
    upload_licence(page)
    screenshot(page, "code-application-form")

    page.get_by_role("button", name="提交申请").click()

    page.get_by_role("heading", name="在线申请参保编码").wait_for()
    page.get_by_text("申请已提交").wait_for()
    row = page.locator("tbody tr", has_text="上海长风示范科技有限公司")
    assert row.locator(".badge").inner_text() == "申请中"
    assert "139****5678" in row.inner_text()
    assert row.locator("td").nth(1).inner_text() == "-"
    screenshot(page, "code-application-list", full_page=False)

    # The association approves it in the back office (someone else's pages); the unit reloads.
    application = CodeApplication.objects.get(account=account)
    code = code_application_approve(application=application, acting_user=UserFactory(role="reviewer"))
    page.reload()
    row = page.locator("tbody tr", has_text="上海长风示范科技有限公司")
    assert row.locator(".badge").inner_text() == "审核通过"
    assert row.locator("td").nth(1).inner_text() == code.code
    assert page.get_by_role("link", name="申请参保编码").count() == 0

    # 查看详情 shows the uploaded licence, served only to this account.
    row.get_by_role("link", name="查看详情").click()
    page.locator(".approved-code").get_by_text(code.code).wait_for()
    thumbnail = page.locator(".attachment-items-readonly img")
    thumbnail.wait_for()
    assert thumbnail.evaluate("img => img.naturalWidth") == 320
    screenshot(page, "code-application-detail")
    assert csp_refusals == []


def test_the_pages_fit_a_phone(page, screenshot, union_organisations, csp_refusals):
    account = UserFactory(username="cf-phone", role="unit_admin")
    committee = UnionOrganisation.objects.get(name="普陀区总工会")
    for number, status in enumerate(["rejected", "pending"]):
        CodeApplication.objects.create(
            account=account, unit_name=f"上海长风示范{number}号科技有限公司", committee=committee, nature="企业",
            contact_name="丁一", address="上海市普陀区", contact_mobile=MOBILE, postcode="200060",
            contact_email="dingyi@example.com", headcount=12, status=status, reject_reason="附件不清晰",
        )
    page.set_viewport_size(PHONE)
    log_in(page, "cf-phone", PASSWORD)
    page.locator(".app-tile", has_text="在职职工互助保障").click()
    page.wait_for_url(page.base_url + "/")
    page.goto(page.base_url + "/codes/new/")
    page.get_by_role("heading", name="申请参保编码").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "code-application-form-phone")
    page.goto(page.base_url + "/codes/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "code-application-list-phone", full_page=False)
    page.set_viewport_size(DESKTOP)
    assert csp_refusals == []


def test_a_rejected_application_is_corrected_and_resubmitted(page, screenshot, union_organisations, csp_refusals):
    account = UserFactory(username="cf-reject", role="unit_admin")
    application = CodeApplication.objects.create(
        account=account,
        unit_name="上海曹杨示范商贸有限公司",
        committee=UnionOrganisation.objects.get(name="普陀区总工会"),
        nature="企业",
        contact_name="丁一",
        address="上海市普陀区",
        contact_mobile=MOBILE,
        postcode="200060",
        contact_email="dingyi@example.com",
        headcount=12,
    )
    attachment_store(
        upload=SimpleUploadedFile("未盖章.png", png_bytes("grey"), content_type="image/png"),
        uploaded_by=account,
        owner=application,
    )
    code_application_reject(
        application=application, acting_user=UserFactory(role="reviewer"), reason="营业执照复印件未加盖公章，单位地址不完整"
    )

    open_code_applications(page, "cf-reject")
    row = page.locator("tbody tr", has_text="上海曹杨示范商贸有限公司")
    assert row.locator(".badge").inner_text() == "审核不通过"
    row.get_by_role("link", name="编辑").click()

    reason = page.locator(".reject-reason")
    reason.wait_for()
    assert "营业执照复印件未加盖公章，单位地址不完整" in reason.inner_text()
    assert page.get_by_label("单位名称").input_value() == "上海曹杨示范商贸有限公司"
    kept = page.locator("#kept-attachments .attachment-item")
    assert kept.count() == 1
    screenshot(page, "code-application-edit", full_page=False)
    # The unit removes the unstamped copy (【X】) and uploads the stamped one.
    page.once("dialog", lambda dialog: dialog.accept())
    kept.locator(".attachment-remove").click()
    page.locator("#kept-attachments").get_by_text("已提交的附件已全部删除").wait_for()
    upload_licence(page)
    page.get_by_label("单位地址").fill("上海市普陀区兰溪路100号")
    page.locator("#id_sms_code").fill(get_sms_code(page))
    page.get_by_role("button", name="提交申请").click()

    page.get_by_text("已修改并重新提交").wait_for()
    row = page.locator("tbody tr", has_text="上海曹杨示范商贸有限公司")
    assert row.locator(".badge").inner_text() == "申请中"
    assert row.get_by_role("link", name="编辑").count() == 0
    application.refresh_from_db()
    assert application.status == CodeApplication.Status.PENDING
    assert application.address == "上海市普陀区兰溪路100号"
    assert [a.original_name for a in attachments_of(application)] == ["营业执照.png"]
    assert csp_refusals == []


def test_a_name_in_progress_gets_the_dialog_and_keeps_the_form(page, screenshot, union_organisations, csp_refusals):
    UserFactory(username="cf-dup", role="unit_admin")
    CodeApplication.objects.create(
        account=UserFactory(),
        unit_name="上海ABC有限公司",
        committee=UnionOrganisation.objects.get(name="普陀区总工会"),
        nature="企业",
        contact_name="是的",
        address="上海市",
        contact_mobile="17612345564",
        postcode="200060",
        contact_email="a@example.com",
        headcount=5,
    )
    open_code_applications(page, "cf-dup")
    page.get_by_role("link", name="申请参保编码").click()
    fill_form(page, unit_name="上海ＡＢＣ 有限公司")
    page.locator("#id_sms_code").fill(get_sms_code(page))
    upload_licence(page)
    page.get_by_role("button", name="提交申请").click()

    dialog = page.locator("#duplicate-dialog")
    dialog.wait_for(state="visible")
    assert dialog.locator(".modal-title").inner_text() == "提示"
    assert dialog.locator(".modal-body").inner_text().strip() == "提交失败!该企业已申请过参保编码。【联系人:是的,手机号:176****5564】"
    screenshot(page, "code-application-duplicate", full_page=False)
    dialog.get_by_role("button", name="确定").click()
    dialog.wait_for(state="hidden")
    # Nothing lost: the values and the upload are still there; the unit corrects the name.
    assert page.get_by_label("联系人邮箱").input_value() == "dingyi@example.com"
    page.locator(".attachment-summary").get_by_text("已上传 1 个附件").wait_for()
    page.get_by_label("单位名称").fill("上海ABC科技有限公司")
    page.get_by_role("button", name="提交申请").click()
    page.get_by_text("申请已提交").wait_for()
    assert CodeApplication.objects.filter(unit_name="上海ABC科技有限公司", status="pending").count() == 1
    assert csp_refusals == []
