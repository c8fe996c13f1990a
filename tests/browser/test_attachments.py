"""The attachment component in Chromium (UI.md "Files"; SPEC CODE-2, VAL-6): 【上传文件】 opens the modal,
【选择上传】 sends a PNG and a PDF, the grid shows two thumbnails, 【X】 removes one after a confirmation,
【返回】 closes the modal and the form shows what is attached; submitting gives the files to the owner.
The page is a test-only one (tests/mutualaid/urls_attachments.py)."""
import io

import pytest
from django.conf import settings as django_settings
from PIL import Image

from mutualaid.attachments import attachments_of
from mutualaid.models import Attachment
from tests.factories import UserFactory
from tests.mutualaid.urls_attachments import PAGE_PATH
from tests.second_factor import PortalClient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def attachment_pages(settings, tmp_path):
    settings.ROOT_URLCONF = "tests.mutualaid.urls_attachments"
    settings.MEDIA_ROOT = tmp_path / "media"


def sign_in(page, user):
    client = PortalClient()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value, "url": page.base_url}]
    )


def png() -> bytes:
    image = Image.new("RGB", (600, 420), (179, 32, 42))
    for x in range(0, 600, 40):
        for y in range(0, 420, 40):
            image.putpixel((x, y), (255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_upload_two_files_remove_one_and_submit(page, screenshot):
    user = UserFactory(username="unit-demo", role="unit_admin")
    sign_in(page, user)
    csp_errors = []
    page.on("console", lambda message: csp_errors.append(message.text) if "Content Security Policy" in message.text else None)

    page.goto(page.base_url + PAGE_PATH)
    field = page.locator(".attachment-field")
    assert "格式：JPG/PNG/PDF，单个不超过10MB，最多20个" in field.inner_text()
    assert field.locator(".attachment-summary").inner_text().strip() == "尚未上传附件"

    page.get_by_role("button", name="上传文件").click()
    modal = page.get_by_role("dialog", name="附件")
    modal.wait_for(state="visible")
    modal.get_by_label("附件类型").select_option("情况说明")
    with page.expect_file_chooser() as chooser:
        modal.get_by_role("button", name="选择上传").click()
    chooser.value.set_files(
        [
            {"name": "营业执照.png", "mimeType": "image/png", "buffer": png()},
            {"name": "社会保险费缴费申报表.pdf", "mimeType": "application/pdf", "buffer": PDF},
        ]
    )

    items = modal.locator(".attachment-item")
    items.nth(1).wait_for()
    assert items.count() == 2
    image = items.nth(0).locator("img")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 600", arg=image.element_handle())
    assert "营业执照.png" in items.nth(0).inner_text() and "情况说明" in items.nth(0).inner_text()
    assert items.nth(1).locator(".bi-file-earmark-pdf").is_visible()
    assert "社会保险费缴费申报表.pdf" in items.nth(1).inner_text()
    assert "已上传 2 个附件" in field.locator(".attachment-summary").inner_text()
    screenshot(page, "attachments", full_page=False)
    # The thumbnail opens the full image in a new tab (served with its own strict policy).
    with page.context.expect_page() as opened:
        items.nth(0).get_by_role("link", name="查看 营业执照.png").click()
    viewer = opened.value
    viewer.wait_for_load_state()
    assert viewer.locator("img").evaluate("img => img.naturalWidth") == 600
    viewer.close()

    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    items.nth(0).get_by_role("button", name="删除 营业执照.png").click()
    page.wait_for_function("() => document.querySelectorAll('.attachment-grid .attachment-item').length === 1")
    assert dialogs == ["确定删除附件“营业执照.png”吗？"]
    assert list(Attachment.objects.values_list("original_name", flat=True)) == ["社会保险费缴费申报表.pdf"]

    modal.get_by_role("button", name="返回").click()
    modal.wait_for(state="hidden")
    page.locator(".modal-backdrop").wait_for(state="detached")
    assert "已上传 1 个附件" in field.locator(".attachment-summary").inner_text()
    assert field.locator(".attachment-summary .bi-file-earmark-pdf").is_visible()
    screenshot(page, "attachments-form", full_page=False)

    page.get_by_role("button", name="提交申请").click()
    page.wait_for_load_state()
    page.get_by_role("link", name="查看 社会保险费缴费申报表.pdf").wait_for()
    download = page.get_by_role("link", name="社会保险费缴费申报表.pdf", exact=True)
    assert download.get_attribute("href").endswith("?download=1")
    assert [attachment.original_name for attachment in attachments_of(user)] == ["社会保险费缴费申报表.pdf"]
    assert csp_errors == []
