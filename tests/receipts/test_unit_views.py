"""专用收据填报 and the unit's PDFs through their pages (SPEC RCP-1, RCP-2, RCP-3, BAT-3, X-4): the table and
the dialog as the handbook shows them, 【确认提交】 with its refusals at the field (nothing typed lost) and a
double click, 【取消上传】 with its confirmation, 【提交审核】 exact and one fen off, the e-receipt and the 保障单
downloads with their Chinese file names, and who may open what (anonymous, another unit, a reviewer)."""
import re
import threading
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from enrollment.states import BatchState
from receipts import pdf
from receipts.models import Receipt
from receipts.services import receipts_approve, receipts_reject, receipts_submit
from tests.factories import make_batch
from tests.payments.helpers import awaiting_payment_batch
from tests.receipts.helpers import issued_receipt, needs_pdf_tools, paid, pdf_text
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def completed(handbook_year, reviewer):
    return paid(awaiting_payment_batch(year=handbook_year), reviewer)  # 参保已完成, premium 720.00


@pytest.fixture
def owner(client, completed):
    client.force_login(completed.account)
    return client


def page_url(batch) -> str:
    return reverse("receipts:batch_receipts", kwargs={"number": batch.number})


def certificate_url(batch) -> str:
    return reverse("receipts:certificate_pdf", kwargs={"number": batch.number})


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def add(client, batch, *, title="上海YYYY公司", amount="450", remark="", token=""):
    return client.post(
        page_url(batch), {"op": "add", "title": title, "amount": amount, "remark": remark, "submission_token": token}
    )


# --- access (X-4; STYLE.md §10: anonymous, another unit, the wrong role) ------------------------------------


def test_anonymous_goes_to_login(client, completed, reviewer):
    receipt = issued_receipt(completed, reviewer)
    for url in (page_url(completed), reverse("receipts:receipt_pdf", args=[receipt.pk]), certificate_url(completed)):
        response = client.get(url)
        assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_another_units_batch_and_receipt_are_404(client, completed, reviewer, handbook_year):
    receipt = issued_receipt(completed, reviewer)
    client.force_login(make_batch(year=handbook_year).account)
    assert client.get(page_url(completed)).status_code == 404
    assert add(client, completed).status_code == 404
    assert client.get(reverse("receipts:receipt_pdf", args=[receipt.pk])).status_code == 404
    assert client.get(certificate_url(completed)).status_code == 404
    assert Receipt.objects.count() == 1


def test_back_office_roles_get_403(client, completed, reviewer, union_staff):
    receipt = issued_receipt(completed, reviewer)
    for user in (reviewer, union_staff):
        client.force_login(user)
        assert client.get(page_url(completed)).status_code == 403
        assert client.get(reverse("receipts:receipt_pdf", args=[receipt.pk])).status_code == 403
        assert client.get(certificate_url(completed)).status_code == 403


@pytest.mark.parametrize(
    "state", [BatchState.AWAITING_PAYMENT, BatchState.ROSTER_APPROVED, BatchState.CANCELLED, BatchState.DRAFT]
)
def test_before_the_voucher_the_page_sends_back_with_a_message(client, handbook_year, state):
    """SPEC BAT-3: 专用收据 once a voucher is uploaded (缴费凭证待审核, 缴费凭证审核不通过, 参保已完成)."""
    batch = awaiting_payment_batch(year=handbook_year)
    batch.state = state
    batch.save(update_fields=["state"])
    client.force_login(batch.account)

    response = client.get(page_url(batch))

    assert response.status_code == 302 and response["Location"] == reverse("enrollment:batches")
    assert f"当前状态为“{batch.get_state_display()}”，不能进行【专用收据】操作" in messages_of(response)[-1]


# --- the page (SPEC RCP-1) -----------------------------------------------------------------------------------


def test_the_page_shows_the_handbooks_table_dialog_and_notes(owner, completed):
    response = owner.get(page_url(completed))

    page = text(response)
    assert response.status_code == 200
    for header in ("专用收据抬头", "金额", "备注", "状态", "收据号码"):
        assert f'<th scope="col"' in page and f">{header}</th>" in page
    assert "新增专用收据" in page and 'data-bs-target="#receipt-add-dialog"' in page
    # The dialog: *专用收据抬头, *专用收据金额, 备注 with its placeholder, the red warning, 【取消】 / 【确认提交】.
    assert "专用收据抬头</label>" in page and "专用收据金额</label>" in page
    assert 'placeholder="需发票备注栏显示的内容，非必填项"' in page
    assert '<p class="small text-danger mb-0 receipt-warning">*信息录入错误, 请在收到电子发票后, 到职保会现场进行更改!</p>' in page
    assert ">取消</button>" in page and ">确认提交</button>" in page
    assert "※专用收据金额合计必须等于应缴纳保费" in page and "※专用收据可开具多张，参保单位与专用收据抬头可以不一致" in page
    assert "应缴纳保费 <strong class=\"receipt-premium\">720.00</strong> 元" in page and "还差 720.00 元" in page
    assert "下载保障单" in page  # 参保已完成 (SPEC RCP-3)
    # Nothing to cancel or submit yet.
    assert ">取消上传</button>" not in page and ">提交审核</button>" not in page


def test_a_batch_in_payment_review_may_add_lines_and_says_when_they_are_issued(client, handbook_year):
    batch = paid(awaiting_payment_batch(year=handbook_year))  # voucher uploaded, not yet approved
    assert batch.state == BatchState.PAYMENT_REVIEW
    client.force_login(batch.account)

    page = text(client.get(page_url(batch)))

    assert "缴费凭证审核通过（参保已完成）后，职保会审核开具专用收据" in page
    assert "下载保障单" not in page
    assert add(client, batch, amount="720").status_code == 302
    assert Receipt.objects.get(batch=batch).status == Receipt.Status.DRAFT


def test_the_batch_list_links_the_receipts_and_the_certificate_of_a_completed_batch(owner, completed):
    page = owner.get(reverse("enrollment:batches")).content.decode()

    assert f'href="{page_url(completed)}">专用收据</a>' in page
    assert f'href="{certificate_url(completed)}">保障单</a>' in page


# --- 【新增专用收据】 → 【确认提交】 ------------------------------------------------------------------------------


def test_confirm_adds_a_line_and_says_what_is_left(owner, completed):
    response = add(owner, completed, title="上海YYYY公司", amount="450", remark="发票备注栏")

    assert response.status_code == 302 and response["Location"] == page_url(completed)
    assert "已添加专用收据“上海YYYY公司”450.00元" in messages_of(response)[-1]
    assert "还差270.00元" in messages_of(response)[-1]
    line = Receipt.objects.get(batch=completed)
    assert (line.title, str(line.amount), line.remark, line.status) == ("上海YYYY公司", "450.00", "发票备注栏", "draft")
    page = text(owner.get(page_url(completed)))
    assert "上海YYYY公司" in page and "450.00" in page and "待提交" in page and "还差 270.00 元" in page
    assert ">取消上传</button>" in page and ">提交审核</button>" in page


def test_a_title_different_from_the_unit_name_is_accepted(owner, completed):
    add(owner, completed, title="上海XXX公司工会委员会", amount="720")
    assert Receipt.objects.get(batch=completed).title == "上海XXX公司工会委员会" != completed.unit_name


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": "", "amount": "450"}, "title", "请填写专用收据抬头。"),
        ({"title": "上海YYYY公司", "amount": ""}, "amount", "请填写专用收据金额。"),
        ({"title": "上海YYYY公司", "amount": "四百五"}, "amount", "请输入金额，例如 2000.00。"),
        ({"title": "上海YYYY公司", "amount": "450.001"}, "amount", "金额最多保留两位小数。"),
        ({"title": "上海YYYY公司", "amount": "720.01"}, "amount", "还可填720.00元"),
    ],
)
def test_a_refused_line_comes_back_in_the_open_dialog_with_what_was_typed(owner, completed, data, field, message):
    response = add(owner, completed, remark="需要备注", **data)

    page = text(response)
    assert response.status_code == 200
    assert 'id="receipt-add-dialog"' in page and "data-show-on-load" in page
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert re.search(rf'name="{field}"[^>]*is-invalid|is-invalid[^>]*name="{field}"', page)
    # Nothing typed is lost.
    if data["title"]:
        assert f'value="{data["title"]}"' in page
    if data["amount"]:
        assert f'value="{data["amount"]}"' in page
    assert re.search(r">\s*需要备注</textarea>", page)
    assert not Receipt.objects.exists()


def test_a_double_click_on_confirm_adds_the_line_once(owner, completed):
    token = owner.get(page_url(completed)).context["form"]["submission_token"].value()
    assert token

    first = add(owner, completed, amount="450", token=token)
    second = add(owner, completed, amount="450", token=token)

    assert first.status_code == second.status_code == 302
    assert "该专用收据已添加，无需重复提交。" in messages_of(second)
    assert Receipt.objects.filter(batch=completed).count() == 1
    # A new dialog (a new token) adds another line.
    add(owner, completed, amount="270", token=owner.get(page_url(completed)).context["form"]["submission_token"].value())
    assert Receipt.objects.filter(batch=completed).count() == 2


def test_the_add_button_says_why_it_is_disabled_once_the_sum_is_reached(owner, completed, reviewer):
    """UI.md: nothing disabled without a reason; once every receipt is issued the button goes."""
    disabled = re.compile(r'title="([^"]+)" id="receipt-add-why">\s*<button type="button" class="btn btn-primary btn-sm receipt-add" disabled')
    add(owner, completed, amount="720")
    assert disabled.search(text(owner.get(page_url(completed)))).group(1) == (
        "专用收据金额合计已等于应缴纳保费。如需修改，请先点击【取消上传】后重新填写。"
    )
    owner.post(page_url(completed), {"op": "submit"})
    assert disabled.search(text(owner.get(page_url(completed)))).group(1) == "专用收据已提交审核，金额合计已等于应缴纳保费。"

    receipts_approve(batch=completed, acting_user=reviewer)
    page = text(owner.get(page_url(completed)))
    assert "新增专用收据" not in page and 'id="receipt-add-dialog"' not in page
    assert "专用收据已全部开具，可点击【下载】保存电子专用收据。" in page


# --- 【取消上传】 -------------------------------------------------------------------------------------------------


def test_cancel_asks_first_then_removes_only_the_lines_not_submitted(owner, completed, reviewer):
    add(owner, completed, title="甲公司", amount="720")
    receipts_submit(batch=completed, acting_user=completed.account)
    receipts_reject(batch=completed, acting_user=reviewer, reason="抬头有误")  # the 720 is free again
    add(owner, completed, title="乙公司", amount="450")
    add(owner, completed, title="丙公司", amount="200")

    asked = owner.post(page_url(completed), {"op": "cancel"})  # a plain post without the dialog's 【确定】
    assert asked.status_code == 200 and 'id="receipt-cancel-dialog"' in asked.content.decode()
    assert "尚未提交审核的 2 张专用收据将被删除" in text(asked)
    assert Receipt.objects.filter(status=Receipt.Status.DRAFT).count() == 2

    done = owner.post(page_url(completed), {"op": "cancel", "confirmed": "1"})
    again = owner.post(page_url(completed), {"op": "cancel", "confirmed": "1"})  # the second click

    assert "已取消上传2张尚未提交审核的专用收据。" in messages_of(done)
    assert "没有尚未提交审核的专用收据，无需取消上传。" in messages_of(again)
    assert list(Receipt.objects.values_list("title", "status")) == [("甲公司", Receipt.Status.REJECTED)]


# --- 【提交审核】 (the exact total: SPEC RCP-1, PREM-5) -------------------------------------------------------------


def test_submit_with_the_exact_total_sends_every_line_to_review(owner, completed):
    add(owner, completed, title="上海YYYY公司", amount="450")
    add(owner, completed, title="上海XXX公司", amount="270")

    response = owner.post(page_url(completed), {"op": "submit"})
    again = owner.post(page_url(completed), {"op": "submit"})  # a double click

    assert response.status_code == 302 and "已提交审核2张专用收据。" in messages_of(response)[-1]
    assert "专用收据已提交审核，无需重复提交。" in messages_of(again)
    assert set(Receipt.objects.values_list("status", flat=True)) == {Receipt.Status.SUBMITTED}
    page = text(owner.get(page_url(completed)))
    assert "待审核" in page and "专用收据已提交审核，请等待职保会审核。" in page
    assert ">提交审核</button>" not in page


def test_submit_one_fen_off_is_refused_with_the_difference(owner, completed):
    add(owner, completed, title="上海YYYY公司", amount="450")
    add(owner, completed, title="上海XXX公司", amount="269.99")

    response = owner.post(page_url(completed), {"op": "submit"})

    assert response.status_code == 200
    assert "专用收据金额合计必须等于应缴保费720.00元，当前合计719.99元，还差0.01元。" in text(response)
    assert set(Receipt.objects.values_list("status", flat=True)) == {Receipt.Status.DRAFT}


def test_rejected_lines_show_the_reason_and_no_longer_count(owner, completed, reviewer):
    add(owner, completed, title="甲公司", amount="720")
    owner.post(page_url(completed), {"op": "submit"})
    receipts_reject(batch=completed, acting_user=reviewer, reason="抬头应为全称")

    page = text(owner.get(page_url(completed)))

    assert "专用收据审核不通过：抬头应为全称" in page and "审核不通过" in page
    assert "还差 720.00 元" in page


# --- the e-receipt (SPEC RCP-2) -------------------------------------------------------------------------------


def test_an_issued_receipt_downloads_as_a_pdf_with_its_number_and_date(owner, completed, reviewer):
    receipt = issued_receipt(completed, reviewer)
    page = text(owner.get(page_url(completed)))
    url = reverse("receipts:receipt_pdf", args=[receipt.pk])
    assert receipt.number in page and "已开具" in page and f'href="{url}"' in page

    response = owner.get(url)

    day = timezone.localtime(receipt.issued_at).strftime("%Y%m%d")  # the Shanghai date
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(f'专用收据_{receipt.number}_{day}.pdf')}" in disposition
    assert f'filename="receipt_{receipt.number}_{day}.pdf"' in disposition


@needs_pdf_tools
def test_the_downloaded_receipt_holds_the_title_and_the_amount(owner, completed, reviewer, tmp_path):
    receipt = issued_receipt(completed, reviewer, title="上海XXX公司")
    content = pdf_text(owner.get(reverse("receipts:receipt_pdf", args=[receipt.pk])).content, tmp_path)
    assert "上海XXX公司" in content and "人民币柒佰贰拾元整" in content and receipt.number in content


def test_a_receipt_not_issued_does_not_download(owner, completed):
    add(owner, completed, amount="720")
    draft = Receipt.objects.get()
    assert owner.get(reverse("receipts:receipt_pdf", args=[draft.pk])).status_code == 404
    draft.status = Receipt.Status.VOIDED
    draft.save(update_fields=["status"])
    assert owner.get(reverse("receipts:receipt_pdf", args=[draft.pk])).status_code == 404


def test_without_weasyprint_the_download_says_what_to_install(owner, completed, reviewer, monkeypatch):
    receipt = issued_receipt(completed, reviewer)

    def unavailable(html):
        raise pdf.PdfUnavailable("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr(pdf, "_html_to_pdf", unavailable)

    for url in (reverse("receipts:receipt_pdf", args=[receipt.pk]), certificate_url(completed)):
        response = owner.get(url)
        page = text(response)
        assert response.status_code == 503 and "暂时无法下载" in page
        assert "apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk" in page


# --- the 保障单 (SPEC RCP-3) ------------------------------------------------------------------------------------


def test_the_certificate_of_a_completed_batch_downloads_named_after_the_batch(owner, completed):
    response = owner.get(certificate_url(completed))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert re.search(
        rf"filename\*=UTF-8''{re.escape(quote('保障单_' + completed.number + '_'))}\d{{8}}\.pdf", response["Content-Disposition"]
    )


@needs_pdf_tools
def test_a_forgotten_code_is_on_last_years_certificate_and_the_faq_says_so(owner, completed, client, tmp_path):
    # SPEC CODE-7: the 保障单 prints the unit's 参保编码, and the FAQ sends a unit that forgot it there
    # (or to the hotline 12351).
    text = pdf_text(owner.get(certificate_url(completed)).content, tmp_path)
    assert "参保编码" in text and completed.code.code in text

    faq = client.get(reverse("accounts:faq")).content.decode()
    assert "单位参保编码忘记？" in faq and "保障单“参保编码”一栏" in faq and "12351" in faq


@pytest.mark.parametrize("state", [BatchState.PAYMENT_REVIEW, BatchState.PAYMENT_REJECTED, BatchState.AWAITING_PAYMENT])
def test_the_certificate_only_for_a_completed_batch(client, handbook_year, state):
    batch = paid(awaiting_payment_batch(year=handbook_year))
    batch.state = state
    batch.save(update_fields=["state"])
    client.force_login(batch.account)

    response = client.get(certificate_url(batch))

    assert response.status_code == 302 and response["Location"] == reverse("enrollment:batches")
    assert "不能进行【保障单】操作" in messages_of(response)[-1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two requests at once need PostgreSQL's row locks")
def test_a_double_click_at_the_same_moment_adds_one_line(handbook_year, reviewer):
    batch = paid(awaiting_payment_batch(year=handbook_year), reviewer)
    setup = PortalClient()
    setup.force_login(batch.account)
    token = setup.get(page_url(batch)).context["form"]["submission_token"].value()
    cookie = setup.cookies[settings.SESSION_COOKIE_NAME].value
    responses, barrier = [], threading.Barrier(2)

    def click():
        browser = PortalClient()
        browser.cookies[settings.SESSION_COOKIE_NAME] = cookie
        barrier.wait()
        try:
            responses.append(add(browser, batch, amount="450", token=token))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [response.status_code for response in responses] == [302, 302]
    assert Receipt.objects.filter(batch=batch).count() == 1
    assert add(setup, batch, amount="450", token=token).status_code == 302  # posted again later: still one
    assert Receipt.objects.filter(batch=batch).count() == 1
