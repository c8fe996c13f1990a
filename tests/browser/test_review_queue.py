"""A reviewer works the 参保编码申请 queue in the back office (SPEC BO-1, CODE-4, CODE-5, CODE-8, YEAR-3):
login through the portal, the 待办 panel, the queue, the application with its thumbnail, 【审核通过】."""
import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import UnionOrganisation
from enrollment.models import CodeApplication, EnrollmentCode
from enrollment.services import CODE_ALPHABET
from mutualaid.attachments import attachment_store
from tests.browser.conftest import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"



def licence_png() -> SimpleUploadedFile:
    """Something that looks like a stamped licence, so the thumbnail shows a picture."""
    image = Image.new("RGB", (640, 440), "#fdfaf0")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 620, 420), outline="#b3202a", width=6)
    for row in range(6):
        draw.line((70, 110 + row * 45, 470, 110 + row * 45), fill="#555555", width=4)
    draw.ellipse((440, 250, 580, 390), outline="#d11a2a", width=8)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return SimpleUploadedFile("营业执照（加盖公章）.png", buffer.getvalue(), content_type="image/png")


def application(committee, unit_name, *, submitted_at, status="pending", username=None, **fields):
    account = UserFactory(username=username, unit_name=unit_name) if username else UserFactory(unit_name=unit_name)
    return CodeApplication.objects.create(
        account=account,
        unit_name=unit_name,
        committee=committee,
        uscc=fields.pop("uscc", ""),
        nature="企业",
        contact_name=fields.pop("contact_name", "丁一"),
        address="上海市普陀区长寿路1号",
        contact_mobile=fields.pop("contact_mobile", "13912345678"),
        postcode="200060",
        contact_email=fields.pop("contact_email", "dingyi@example.com"),
        headcount=200,
        status=status,
        submitted_at=submitted_at,
        **fields,
    )


def test_reviewer_approves_a_code_application_from_the_queue(page, screenshot, handbook_year):
    committee, _ = UnionOrganisation.objects.get_or_create(name="普陀区总工会", defaults={"short_name": "普陀区", "level": 1})
    jidian, _ = UnionOrganisation.objects.get_or_create(name="机电工会", defaults={"short_name": "机电", "level": 1})
    now = timezone.now()
    target = application(
        committee,
        "上海示范机电有限公司",
        username="unit-shifan",
        submitted_at=now - dt.timedelta(hours=2),
        uscc="91310000132206289R",
        contact_name="丁一",
        contact_email="dingyi@example.com",
        leader_name="赵总",
        leader_mobile="13700001111",
    )
    attachment_store(upload=licence_png(), uploaded_by=target.account, owner=target, kind="营业执照")
    # The rest of the queue: one long overdue, one done, one rejected.
    application(
        jidian, "上海电机配件厂", submitted_at=now - dt.timedelta(days=20), contact_name="李四", contact_mobile="13600002222"
    )
    application(
        committee, "长寿路社区服务中心", status="approved", submitted_at=now - dt.timedelta(days=30),
        reviewed_at=now - dt.timedelta(days=29), contact_name="王五", contact_mobile="18900003333",
    )
    application(
        jidian, "曹杨贸易有限公司", status="rejected", submitted_at=now - dt.timedelta(days=25),
        reviewed_at=now - dt.timedelta(days=24), reject_reason="营业执照复印件未加盖公章", contact_mobile="13500004444",
    )
    UserFactory(username="reviewer-chen", first_name="陈审核", role="reviewer", password=PASSWORD)

    # Back-office accounts log in through the portal's login and land in the back office.
    log_in(page, "reviewer-chen", PASSWORD)
    page.wait_for_url("**/backoffice/")
    panel = page.locator("#backoffice-queues")
    assert "待办" in panel.inner_text()
    code_line = panel.locator("tr.queue-line").filter(has_text="参保编码申请")
    assert "2 件" in code_line.inner_text()
    assert "1 件已超期" in code_line.inner_text()

    # SPEC BO-1: the queue, pending first and oldest first; the late one flagged.
    code_line.get_by_role("link", name="参保编码申请").click()
    page.wait_for_url("**/backoffice/enrollment/codeapplication/?status__exact=pending")
    page.locator("#changelist-filter").get_by_role("link", name="全部").first.click()  # the whole queue
    page.wait_for_url(lambda url: "/codeapplication/" in url and "status__exact" not in url)
    rows = page.locator("#result_list tbody tr")
    assert [rows.nth(i).locator("th").inner_text().strip() for i in range(rows.count())] == [
        "上海电机配件厂", "上海示范机电有限公司", "曹杨贸易有限公司", "长寿路社区服务中心",
    ]
    assert "已超期" in rows.nth(0).inner_text()
    assert "已超期" not in rows.nth(1).inner_text()
    assert "139****5678" in rows.nth(1).inner_text()
    assert "13912345678" not in page.locator("#result_list").inner_text()
    # The badges get their colours (the page's style block passed the content security policy).
    overdue = rows.nth(0).locator(".state-overdue")
    assert overdue.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(220, 53, 69)"
    screenshot(page, "review-queue")

    # The application, read only, with its attachment as a thumbnail that loaded.
    rows.nth(1).get_by_role("link", name="上海示范机电有限公司").click()
    thumbnail = page.locator("img.attachment-thumb")
    thumbnail.wait_for()
    # The picture itself arrived from the attachment view (not just the <img> element).
    page.wait_for_function(
        "() => { const img = document.querySelector('img.attachment-thumb'); return img.complete && img.naturalWidth > 0; }"
    )
    assert thumbnail.evaluate("img => img.naturalWidth") == 640
    assert thumbnail.locator("xpath=..").get_attribute("target") == "_blank"
    body = page.locator("#content").inner_text()
    for text in ("上海示范机电有限公司", "91310000132206289R", "dingyi@example.com", "赵总", "营业执照（加盖公章）.png"):
        assert text in body
    assert page.locator("#approve-dialog").is_hidden()
    # The window as the reviewer sees it: the evidence first, the buttons kept at the bottom.
    screenshot(page, "review-application", full_page=False)

    # 【审核通过】 asks first, in a modal; 确认 → the queue, with the new code in the message.
    page.get_by_role("button", name="审核通过", exact=True).click()
    dialog = page.locator("#approve-dialog")
    dialog.wait_for(state="visible")
    assert "unit-shifan" in dialog.inner_text()
    dialog.get_by_role("button", name="确认审核通过").click()
    page.wait_for_url("**/backoffice/enrollment/codeapplication/*")
    message = page.locator("ul.messagelist li.success").inner_text()
    code = EnrollmentCode.objects.get(account__username="unit-shifan")
    assert code.code in message
    assert re.fullmatch(f"[{CODE_ALPHABET}]{{6}}", code.code)
    assert "上海示范机电有限公司" in message
    target.refresh_from_db()
    assert target.status == CodeApplication.Status.APPROVED
