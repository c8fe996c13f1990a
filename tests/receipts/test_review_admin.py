"""专用收据审核 in the back office (SPEC RCP-1, RCP-2, PREM-5, BO-1): one line per batch with lines 待审核,
their sum against the premium, 【审核通过】 (issues numbered e-receipts) and 【审核不通过】 (reason required)
through the admin views, double clicks, the PDF download (and the page shown without WeasyPrint),
【作废并重开】 with a reason and the corrected title, the 待办 line, and who may do what (STYLE.md §10).
"""
import datetime as dt
import shutil
import subprocess

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.roles import ROLE_PERMISSIONS
from backoffice.views import backoffice_queues
from enrollment.states import BatchState
from payments.services import voucher_submit
from receipts.models import Receipt
from receipts.pdf import PdfUnavailable
from receipts.services import receipt_add, receipts_approve, receipts_reject
from tests.factories import SHANGHAI, UserFactory
from tests.payments.helpers import awaiting_payment_batch, proof_draft
from tests.receipts.helpers import paid, submitted
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

LIST = reverse("admin:receipts_receiptreview_changelist")
RS = Receipt.Status


def page_url(batch) -> str:
    return reverse("admin:receipts_receiptreview_change", args=[batch.pk])


def approve_url(batch) -> str:
    return reverse("admin:receipts_receiptreview_approve", args=[batch.pk])


def reject_url(batch) -> str:
    return reverse("admin:receipts_receiptreview_reject", args=[batch.pk])


def pdf_url(batch, receipt) -> str:
    return reverse("admin:receipts_receiptreview_pdf", args=[batch.pk, receipt.pk])


def void_url(batch, receipt) -> str:
    return reverse("admin:receipts_receiptreview_void", args=[batch.pk, receipt.pk])


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def completed(handbook_year, reviewer):
    return paid(awaiting_payment_batch(year=handbook_year), reviewer)  # 参保已完成, premium 720.00


@pytest.fixture
def in_review(completed):
    return submitted(completed)


@pytest.fixture
def reviewer_client(reviewer):
    client = PortalClient()
    client.force_login(reviewer)
    return client


# --- the queue (SPEC RCP-1, BO-1) -------------------------------------------------------------------------


def test_the_queue_lists_batches_with_lines_waiting_first_oldest_first(reviewer_client, handbook_year, reviewer):
    def completed_batch():
        return paid(awaiting_payment_batch(year=handbook_year), reviewer)

    late = submitted(completed_batch(), at=dt.datetime(2023, 7, 1, 9, 0, tzinfo=SHANGHAI))
    recent = submitted(completed_batch(), at=dt.datetime(2023, 7, 5, 9, 0, tzinfo=SHANGHAI))
    done = submitted(completed_batch(), at=dt.datetime(2023, 6, 30, 9, 0, tzinfo=SHANGHAI))
    receipts_approve(batch=done, acting_user=reviewer)
    drafts_only = completed_batch()
    receipt_add(batch=drafts_only, title="草稿公司", amount="720", acting_user=drafts_only.account)  # not sent: not here

    response = reviewer_client.get(LIST)

    assert response.status_code == 200
    for header in ["参保批次", "单位名称", "参保编码", "待审核（张）", "待审核金额（元）", "应缴保费（元）", "收据合计与保费", "提交审核时间", "批次状态"]:
        assertContains(response, header)
    assert [batch.pk for batch in response.context["cl"].result_list] == [late.pk, recent.pk, done.pk]
    assertNotContains(response, drafts_only.number)
    assertContains(response, '<span class="passes">一致</span>', count=3, html=True)
    assertContains(response, "2023-07-01 09:00")


def test_the_queue_filters_pending_and_issued(reviewer_client, in_review, handbook_year, reviewer):
    done = submitted(paid(awaiting_payment_batch(year=handbook_year), reviewer))
    receipts_approve(batch=done, acting_user=reviewer)

    pending = reviewer_client.get(LIST, {"receipts": "pending"})
    issued = reviewer_client.get(LIST, {"receipts": "issued"})

    assert [batch.pk for batch in pending.context["cl"].result_list] == [in_review.pk]
    assert [batch.pk for batch in issued.context["cl"].result_list] == [done.pk]
    # Search by receipt number or title: one line per batch even when several receipts match.
    number = Receipt.objects.filter(batch=done).order_by("pk").first().number
    assert [batch.pk for batch in reviewer_client.get(LIST, {"q": number}).context["cl"].result_list] == [done.pk]
    by_title = reviewer_client.get(LIST, {"q": "公司"}).context["cl"].result_list
    assert sorted(batch.pk for batch in by_title) == sorted([in_review.pk, done.pk])


def test_the_todo_panel_counts_batches_waiting(in_review, handbook_year, reviewer):
    done = submitted(paid(awaiting_payment_batch(year=handbook_year), reviewer))
    receipts_approve(batch=done, acting_user=reviewer)

    [line] = [line for line in backoffice_queues(reviewer) if line.label == "专用收据审核"]

    assert (line.count, line.overdue, line.url) == (1, None, f"{LIST}?receipts=pending")
    assert not [line for line in backoffice_queues(UserFactory(role="union_staff")) if line.label == "专用收据审核"]


# --- the page (SPEC RCP-1) -----------------------------------------------------------------------------------


def test_the_page_shows_the_lines_their_sum_and_the_premium(reviewer_client, in_review):
    response = reviewer_client.get(page_url(in_review))

    assert response.status_code == 200
    assertContains(response, f"审核专用收据（参保批次 {in_review.number}）")
    assertContains(response, "<td>上海YYYY公司</td><td class=\"number\">450.00</td><td>-</td>", html=False)
    assertContains(response, "上海XXX公司")
    assertContains(response, "发票备注：2023年度互助保障")
    assertContains(response, '<tr><td>待审核合计</td><td class="number">720.00</td><td colspan="2"></td></tr>', html=True)
    assertContains(response, "应缴保费：720.00 元")
    assertContains(response, '收据合计 720.00 元：<span class="passes">一致</span>')
    assertContains(response, 'popovertarget="approve-dialog"')
    assertContains(response, f'action="{approve_url(in_review)}"')
    assertContains(response, f'action="{reject_url(in_review)}"')
    assertContains(response, "逐张编号并开具电子专用收据")


def test_lines_of_a_batch_not_yet_paid_can_be_reviewed_but_not_issued(reviewer_client, handbook_year):
    batch = awaiting_payment_batch(year=handbook_year)
    voucher_submit(
        account=batch.account, batch_numbers=[batch.number], payer="某公司", method="online", amount="720",
        draft_token=proof_draft(batch.account),
    )  # 缴费凭证待审核: the unit may already send its receipt lines (RCP-1 [interpretation])
    submitted(batch)

    page = reviewer_client.get(page_url(batch))
    assertContains(page, "该批次缴费凭证尚未审核通过（当前状态：缴费凭证待审核）")
    response = reviewer_client.post(approve_url(batch))

    assert response["Location"] == page_url(batch)
    assert messages_of(response) == ["该批次缴费凭证尚未审核通过，暂不能开具专用收据。"]
    assert not Receipt.objects.filter(batch=batch, status=RS.ISSUED).exists()


# --- 【审核通过】 and 【审核不通过】 (SPEC RCP-1, RCP-2) ------------------------------------------------------


def test_approve_issues_numbered_receipts(reviewer_client, in_review, reviewer):
    with time_machine.travel(dt.datetime(2023, 7, 10, 10, 0, tzinfo=SHANGHAI), tick=False):
        response = reviewer_client.post(approve_url(in_review))

    assert response.status_code == 302 and response["Location"] == LIST
    issued = list(Receipt.objects.filter(batch=in_review, status=RS.ISSUED).order_by("pk"))
    assert [receipt.number for receipt in issued] == ["202300000001", "202300000002"]
    assert all(receipt.reviewed_by == reviewer for receipt in issued)
    assert messages_of(response) == [
        f"参保批次 {in_review.number} 的专用收据审核通过，已开具 2 张电子专用收据：202300000001、202300000002。"
    ]


def test_a_double_click_on_approve_issues_once(reviewer_client, in_review):
    reviewer_client.post(approve_url(in_review))
    second = reviewer_client.post(approve_url(in_review))

    assert second["Location"] == page_url(in_review)
    assert messages_of(second)[-1] == f"参保批次 {in_review.number} 没有待审核的专用收据（已由审核人处理），无需重复审核。"
    assert Receipt.objects.filter(batch=in_review, status=RS.ISSUED).count() == 2


def test_reject_needs_a_reason_and_the_unit_adds_new_lines(reviewer_client, in_review):
    response = reviewer_client.post(reject_url(in_review), {"reason": ""})
    assert response["Location"] == page_url(in_review)
    assert messages_of(response) == ["请填写审核不通过的原因。"]
    assert Receipt.objects.filter(batch=in_review, status=RS.SUBMITTED).count() == 2

    response = reviewer_client.post(reject_url(in_review), {"reason": "抬头应为单位全称"})

    assert response["Location"] == LIST
    assert messages_of(response)[-1] == f"参保批次 {in_review.number} 的 2 张专用收据审核不通过，单位可重新填报：抬头应为单位全称"
    assert set(Receipt.objects.filter(batch=in_review).values_list("status", "reject_reason")) == {(RS.REJECTED, "抬头应为单位全称")}
    again = reviewer_client.post(reject_url(in_review), {"reason": "抬头应为单位全称"})
    assert "无需重复审核" in messages_of(again)[-1]
    # The rejected lines no longer count: the unit sends the full premium again.
    submitted(in_review, lines=(("上海长风示范科技有限公司", "720", ""),))
    page = reviewer_client.get(page_url(in_review))
    assertContains(page, "已作废或审核不通过的专用收据")
    assertContains(page, '<span class="passes">一致</span>')


def test_a_decided_batch_shows_no_buttons(reviewer_client, in_review, reviewer):
    receipts_reject(batch=in_review, acting_user=reviewer, reason="抬头有误")
    response = reviewer_client.get(page_url(in_review))
    assertNotContains(response, 'popovertarget="approve-dialog"')
    assertContains(response, "没有待审核的专用收据。")


# --- the PDF (SPEC RCP-2) -------------------------------------------------------------------------------------


@pytest.fixture
def issued(in_review, reviewer):
    return receipts_approve(batch=in_review, acting_user=reviewer)


def test_issued_receipts_are_listed_with_their_pdf_and_void_dialog(reviewer_client, in_review, issued):
    response = reviewer_client.get(page_url(in_review))
    for receipt in issued:
        assertContains(response, receipt.number)
        assertContains(response, f'href="{pdf_url(in_review, receipt)}"')
        assertContains(response, f'popovertarget="void-dialog-{receipt.pk}"')
        assertContains(response, f'action="{void_url(in_review, receipt)}"')
    content = response.content.decode()
    # The dialogs' forms sit outside the admin's own form (a form may not nest in another).
    assert content.index('id="void-dialog-') > content.index("</form>")


def test_the_pdf_downloads_with_a_chinese_file_name(reviewer_client, in_review, issued, tmp_path):
    first = issued[0]
    response = reviewer_client.get(pdf_url(in_review, first))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="receipt-{first.number}.pdf"')
    assert "filename*=UTF-8''%E4%B8%93%E7%94%A8%E6%94%B6%E6%8D%AE_" in disposition  # 专用收据_
    if shutil.which("pdftotext"):
        path = tmp_path / "receipt.pdf"
        path.write_bytes(response.content)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert "上海YYYY公司" in text and "人民币肆佰伍拾元整" in text


def test_without_weasyprint_the_page_names_the_debian_packages(reviewer_client, in_review, issued, monkeypatch):
    def unavailable(self, receipt):
        raise PdfUnavailable("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr("receipts.pdf.BuiltinReceiptIssuer.document", unavailable)
    response = reviewer_client.get(pdf_url(in_review, issued[0]))

    assert response.status_code == 503
    assertContains(response, "暂时无法生成专用收据 PDF", status_code=503)
    assertContains(response, "apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk", status_code=503)


def test_only_an_issued_receipt_of_this_batch_downloads(reviewer_client, in_review, issued, handbook_year, reviewer):
    other = submitted(paid(awaiting_payment_batch(year=handbook_year), reviewer))
    foreign = Receipt.objects.filter(batch=other).first()
    assert reviewer_client.get(pdf_url(in_review, foreign)).status_code == 404
    assert reviewer_client.get(pdf_url(other, foreign)).status_code == 404  # submitted, not issued


# --- 【作废并重开】 (SPEC RCP-2) ---------------------------------------------------------------------------------


def test_void_and_reissue_needs_a_reason_and_corrects_the_title(reviewer_client, in_review, issued):
    first = issued[0]
    response = reviewer_client.post(void_url(in_review, first), {"reason": "", "title": "上海YYYY有限公司", "remark": ""})
    assert response["Location"] == page_url(in_review)
    assert messages_of(response) == [f"收据 {first.number}：请填写作废原因。"]
    first.refresh_from_db()
    assert first.status == RS.ISSUED

    response = reviewer_client.post(
        void_url(in_review, first), {"reason": "单位现场申请更正抬头", "title": "上海YYYY有限公司", "remark": "更正"}
    )

    first.refresh_from_db()
    replacement = first.replaced_by
    assert (first.status, first.void_reason) == (RS.VOIDED, "单位现场申请更正抬头")
    assert (replacement.status, replacement.title, replacement.remark, replacement.amount) == (
        RS.ISSUED, "上海YYYY有限公司", "更正", first.amount,
    )
    assert messages_of(response)[-1] == (
        f"收据 {first.number} 已作废，已重新开具收据 {replacement.number}（抬头：上海YYYY有限公司，金额 450.00 元）。"
    )
    page = reviewer_client.get(page_url(in_review))
    assertContains(page, f"重开为 {replacement.number}")
    assertContains(page, f"（重开，原收据 {first.number}）")
    # A second click finds the receipt voided and issues nothing more.
    again = reviewer_client.post(void_url(in_review, first), {"reason": "单位现场申请更正抬头", "title": "上海YYYY有限公司"})
    assert "只有已开具的收据可以作废重开" in messages_of(again)[-1]
    assert Receipt.objects.filter(batch=in_review, status=RS.ISSUED).count() == 2


# --- who may (STYLE.md §10) ----------------------------------------------------------------------------------


@pytest.fixture
def every_get_url(in_review, issued):
    return [LIST, page_url(in_review), pdf_url(in_review, issued[0])]


@pytest.fixture
def every_post_url(in_review, issued):
    return [approve_url(in_review), reject_url(in_review), void_url(in_review, issued[0])]


def test_union_staff_are_forbidden(client, in_review, every_get_url, every_post_url):
    client.force_login(UserFactory(role="union_staff"))
    for url in every_get_url:
        assert client.get(url).status_code == 403, url
    for url in every_post_url:
        assert client.post(url, {"reason": "x", "title": "x"}).status_code == 403, url
    assert not Receipt.objects.filter(batch=in_review, status=RS.VOIDED).exists()


@pytest.mark.parametrize("who", ["anonymous", "unit_admin"])
def test_units_and_strangers_are_sent_to_the_login(client, in_review, every_get_url, every_post_url, who):
    if who == "unit_admin":
        client.force_login(in_review.account)
    for url in every_get_url:
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    for url in every_post_url:
        response = client.post(url, {"reason": "x", "title": "x"})
        assert response.status_code == 302 and "login" in response["Location"], url


def test_a_viewer_without_the_right_to_review_downloads_but_decides_nothing(client, in_review, issued):
    from django.contrib.auth.models import Permission

    viewer = UserFactory(role="union_staff", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_receiptreview", content_type__app_label="receipts"))
    client.force_login(viewer)

    page = client.get(page_url(in_review))
    assert page.status_code == 200
    assertNotContains(page, "作废并重开</button>")
    assert client.get(pdf_url(in_review, issued[0])).status_code == 200
    assert client.post(void_url(in_review, issued[0]), {"reason": "x"}).status_code == 403


def test_the_reviewer_role_holds_the_permissions(reviewer):
    assert reviewer.has_perm("receipts.view_receiptreview") and reviewer.has_perm("receipts.change_receiptreview")
    assert not UserFactory(role="union_staff").has_perm("receipts.view_receiptreview")
    assert not {"receipts.view_receiptreview", "receipts.change_receiptreview"} & ROLE_PERMISSIONS["union_staff"]


def test_a_post_without_its_csrf_token_is_refused(in_review, reviewer):
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(reviewer)
    assert client.post(approve_url(in_review)).status_code == 403
    assert Receipt.objects.filter(batch=in_review, status=RS.SUBMITTED).count() == 2


def test_the_batch_state_is_not_touched_by_the_receipt_review(reviewer_client, in_review):
    reviewer_client.post(approve_url(in_review))
    in_review.refresh_from_db()
    assert in_review.state == BatchState.COMPLETED
