"""【缴费凭证管理】, 【新增缴费信息】 and a voucher's 查看 as the unit sees them (SPEC PAY-2, PAY-3, BAT-8, X-1,
X-3, X-4): the list with its search and footer, a voucher equal / over / under the premiums, the live
退款金额 fragment, nothing lost on a refusal, one voucher per double click, and the access rules of
every view."""
import datetime as dt
import re
import threading
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from enrollment.states import BatchKind, BatchState
from mutualaid.attachments import attachment_draft_token, attachment_store, attachments_of, attachments_of_draft
from payments.models import Voucher
from payments.services import voucher_reject, voucher_submit
from tests.enrollment.helpers import png_upload
from tests.factories import SHANGHAI, UserFactory, VoucherFactory
from tests.payments.helpers import awaiting_payment_batch, proof_draft
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

FOOTER = "显示第 {start} 到第 {end} 条记录，总共 {total} 条记录 每页显示 15 条记录"
PAYER = "上海长风示范科技有限公司"
REFUND_NUMBER = "6222 0210 0112 3456 789"
REFUND_FIELDS = {
    "refund_account_kind": "active",
    "refund_account_number": REFUND_NUMBER,
    "refund_account_name": "上海长风示范科技有限公司",
    "refund_bank": "中国工商银行",
    "refund_method": "transfer",
}

LIST_URL = reverse("payments:vouchers")
NEW_URL = reverse("payments:voucher_new")
PREVIEW_URL = reverse("payments:voucher_refund_preview")


def detail_url(voucher) -> str:
    return reverse("payments:voucher_detail", kwargs={"pk": voucher.pk})


def attachment_url(voucher, attachment) -> str:
    return reverse("payments:voucher_attachment", kwargs={"pk": voucher.pk, "attachment_pk": attachment.pk})


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def field_errors(response, name: str) -> list[str]:
    """The error lines shown under field `name` of 新增缴费信息 (X-3: beside the field)."""
    html = response.content.decode()
    start = html.index(f"voucher-field-{name}")
    end = min(i for i in (html.find("voucher-field-", start + 1), html.find("</section>", start)) if i > 0)
    return re.findall(r'<div class="invalid-feedback d-block">([^<]*)</div>', html[start:end])


def ticked(response) -> list[str]:
    return re.findall(r'name="batches" value="([^"]+)" id="[^"]+" checked', response.content.decode())


def input_value(response, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', response.content.decode())
    assert match, f"no input {name}"
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def refund_section_hidden(response) -> bool:
    tag = re.search(r'<section[^>]*id="refund-section"[^>]*>', response.content.decode()).group(0)
    return " hidden" in tag


def make_voucher(account, *, payer=PAYER, at=None, amount="720.00", status=Voucher.Status.SUBMITTED, reason=""):
    """A voucher row as the list shows it (the list reads rows; the submission has its own tests)."""
    fields = {"submitted_at": at} if at else {}  # default: 2023-06-20 09:00
    return VoucherFactory(account=account, payer=payer, amount=Decimal(amount), status=status, reject_reason=reason, **fields)


@pytest.fixture
def batch(handbook_year):
    return awaiting_payment_batch(year=handbook_year)  # 4 × 180 = 720.00, 缴费凭证待上传


@pytest.fixture
def account(batch):
    return batch.account


@pytest.fixture
def unit_client(client, account):
    client.force_login(account)
    return client


def form_data(batch, *, amount="720.00", draft_token=None, batches=None, submission_token="", **extra):
    data = {
        "batches": [b.number for b in (batches or [batch])],
        "payer": PAYER,
        "method": "online",
        "amount": amount,
        "account_kind": "active",
        "refund_account_kind": "active",
        "refund_method": "transfer",
        "draft_token": draft_token if draft_token is not None else proof_draft(batch.account),
        "submission_token": submission_token or "ab" * 16,
    }
    data.update(extra)
    return data


# --- 缴费凭证管理 (SPEC PAY-2) --------------------------------------------------------------------------


def test_list_shows_the_columns_and_this_accounts_vouchers_newest_first(unit_client, account, batch):
    older = make_voucher(account, payer="上海甲公司", at=dt.datetime(2023, 6, 18, 9, 0, tzinfo=SHANGHAI))
    newer = make_voucher(account, payer="上海乙公司", amount="1000.00", at=dt.datetime(2023, 6, 19, 9, 0, tzinfo=SHANGHAI))
    newer.lines.create(batch=batch, premium=Decimal("720.00"))
    make_voucher(UserFactory(role="unit_admin"), payer="别人的公司")  # another account's

    response = unit_client.get(LIST_URL)

    assert response.status_code == 200
    html, text = response.content.decode(), page_text(response)
    for header in ("提交时间", "付款单位", "缴费方式", "缴费金额", "应缴保费", "退款金额", "参保批次", "审核状态", "操作"):
        assert re.search(rf"<th[^>]*>{header}</th>", html)
    assert re.findall(r'<td class="cell-payer">([^<]*)</td>', html) == ["上海乙公司", "上海甲公司"]
    assert "别人的公司" not in text
    assert "2023-06-19 09:00:00 上海乙公司 贷记(网银) 1,000.00 720.00 280.00 " + batch.number in text
    assert f'href="{detail_url(older)}"' in html and ">查看</a>" in html
    assert FOOTER.format(start=1, end=2, total=2) in text


def test_list_badges_and_the_reason_of_a_rejection(unit_client, account):
    make_voucher(account, payer="待审核公司")
    make_voucher(account, payer="通过公司", status=Voucher.Status.APPROVED)
    make_voucher(account, payer="退回公司", status=Voucher.Status.REJECTED, reason="凭证金额与到账金额不符")

    html = unit_client.get(LIST_URL).content.decode()

    assert '<span class="badge badge-state-progress">待审核</span>' in html
    assert '<span class="badge badge-state-done">审核通过</span>' in html
    assert '<span class="badge badge-state-rejected">审核不通过</span>' in html
    assert "原因：凭证金额与到账金额不符" in html


def test_list_searches_by_submission_dates_and_payer_in_the_url(unit_client, account):
    make_voucher(account, payer="上海甲公司", at=dt.datetime(2023, 6, 1, 23, 30, tzinfo=SHANGHAI))
    make_voucher(account, payer="上海乙公司", at=dt.datetime(2023, 6, 2, 0, 30, tzinfo=SHANGHAI))
    make_voucher(account, payer="北京丙公司", at=dt.datetime(2023, 6, 10, 12, 0, tzinfo=SHANGHAI))

    def payers(**query):
        response = unit_client.get(LIST_URL + "?" + urlencode(query))
        assert response.status_code == 200
        return re.findall(r'<td class="cell-payer">([^<]*)</td>', response.content.decode())

    # Shanghai dates, both ends included: 23:30 on 1 June is 1 June, not 2 June (UTC).
    assert payers(submitted_from="2023-06-02") == ["北京丙公司", "上海乙公司"]
    assert payers(submitted_to="2023-06-01") == ["上海甲公司"]
    assert payers(submitted_from="2023-06-02", submitted_to="2023-06-02") == ["上海乙公司"]
    assert payers(payer="上海") == ["上海乙公司", "上海甲公司"]
    assert payers(payer="上海", submitted_from="2023-06-02") == ["上海乙公司"]
    # A backwards range says so beside the field and filters nothing.
    response = unit_client.get(LIST_URL + "?" + urlencode({"submitted_from": "2023-06-10", "submitted_to": "2023-06-01"}))
    assert "结束日期不能早于开始日期。" in page_text(response)
    # Nothing found: the hint to change the search.
    assert "没有找到符合条件的缴费凭证" in page_text(unit_client.get(LIST_URL + "?payer=不存在"))


def test_list_pages_by_15_with_the_handbook_footer_and_keeps_the_search(unit_client, account):
    for day in range(17):
        make_voucher(account, payer=f"上海分页{day:02d}公司", at=dt.datetime(2023, 6, 1, 9, 0, tzinfo=SHANGHAI) + dt.timedelta(days=day))
    make_voucher(account, payer="其他单位")

    first = unit_client.get(LIST_URL + "?payer=上海分页")
    assert len(re.findall(r'<td class="cell-payer">', first.content.decode())) == 15
    assert FOOTER.format(start=1, end=15, total=17) in page_text(first)
    assert "payer=%E4%B8%8A%E6%B5%B7%E5%88%86%E9%A1%B5&amp;page=2" in first.content.decode()

    second = unit_client.get(LIST_URL + "?payer=上海分页&page=2")
    assert re.findall(r'<td class="cell-payer">([^<]*)</td>', second.content.decode()) == ["上海分页01公司", "上海分页00公司"]
    assert FOOTER.format(start=16, end=17, total=17) in page_text(second)


def test_new_button_is_a_link_while_a_batch_is_payable_and_disabled_with_why_otherwise(unit_client, account, batch):
    html = unit_client.get(LIST_URL).content.decode()
    assert f'href="{NEW_URL}"' in html and "新增缴费信息" in html

    voucher_submit(
        account=account, batch_numbers=[batch.number], payer=PAYER, method="online", amount="720.00",
        draft_token=proof_draft(account),
    )
    html = unit_client.get(LIST_URL).content.decode()
    assert f'href="{NEW_URL}"' not in html
    assert re.search(r'data-bs-toggle="tooltip"[^>]*title="当前没有待缴费的参保批次', html)
    assert re.search(r"<button[^>]*disabled[^>]*>.*新增缴费信息</button>", html)


# --- 新增缴费信息: the form (SPEC PAY-2) ------------------------------------------------------------------


def test_new_form_lists_the_payable_batches_and_prefills_the_payer(unit_client, account, batch, handbook_year):
    awaiting_payment_batch(year=handbook_year)  # another account's batch: never offered

    response = unit_client.get(NEW_URL)

    assert response.status_code == 200
    html, text = response.content.decode(), page_text(response)
    for header in ("选择", "参保批次", "单位名称", "参保类型", "保障年度", "保费"):
        assert re.search(rf"<th[^>]*>{header}</th>", html)
    assert re.findall(r'name="batches" value="([^"]+)"', html) == [batch.number]
    assert f"{batch.number} {batch.unit_name} 集中参保 2023 720.00" in text
    assert ticked(response) == [batch.number]  # the only payable batch is ticked
    assert input_value(response, "payer") == batch.code.unit_name
    for label in ("付款单位", "缴费方式", "缴费金额(凭证总金额)", "收款帐户类别"):
        assert re.search(rf'<span class="text-danger">\*</span>{re.escape(label)}</label>', html)
    assert "贷记(网银)" in text and "转账支票" in text and "电汇" in text and "现金" in text
    assert "缴费凭证上传" in text and "※审核时间为提交申请后10个工作日内" in text
    assert "【注意】 缴费凭证上传后，参保清册不能再进行修改" in text
    # 退款信息填报 is there, hidden until the amount exceeds the premiums (SPEC PAY-3).
    assert refund_section_hidden(response)
    assert "请选择退款银行" in text and "中国工商银行" in text and "划帐" in text
    # The binding action confirms in a modal (UI.md "Dialogs").
    assert 'data-bs-target="#voucher-confirm-dialog"' in html and 'form="voucher-form"' in html
    assert re.fullmatch(r"[0-9a-f]{32}", input_value(response, "draft_token"))


def test_review_time_is_the_coverage_years(unit_client, batch, handbook_year):
    handbook_year.voucher_review_working_days = 7
    handbook_year.save(update_fields=["voucher_review_working_days"])

    assert "※审核时间为提交申请后7个工作日内" in page_text(unit_client.get(NEW_URL))
    response = unit_client.post(NEW_URL, form_data(batch))
    assert flash(response)[0].endswith("审核时间为提交申请后7个工作日内。")
    assert "※审核时间为提交申请后7个工作日内" in page_text(unit_client.get(detail_url(Voucher.objects.get())))


def test_batch_in_the_url_preselects_it_among_several(unit_client, account, batch, handbook_year):
    second = awaiting_payment_batch(year=handbook_year, account=account, people=2, kind=BatchKind.INSTANT)

    assert ticked(unit_client.get(NEW_URL)) == []  # several: the unit ticks
    assert ticked(unit_client.get(NEW_URL + f"?batch={second.number}")) == [second.number]
    assert ticked(unit_client.get(NEW_URL + "?batch=2023J999999")) == []


def test_new_form_without_a_payable_batch_goes_back_to_the_list_saying_why(client, unit_admin):
    client.force_login(unit_admin)

    response = client.get(NEW_URL)

    assert response.status_code == 302 and response.url == LIST_URL
    assert any("当前没有待缴费的参保批次" in message for message in flash(response))


# --- submitting: equal, over, under (SPEC PAY-3) ----------------------------------------------------------


def test_equal_amount_creates_the_voucher_and_moves_the_batch_to_review(unit_client, account, batch):
    response = unit_client.post(NEW_URL, form_data(batch, amount="720.00"))

    assert response.status_code == 302 and response.url == LIST_URL
    voucher = Voucher.objects.get()
    assert (voucher.account, voucher.payer, voucher.amount, voucher.refund_amount) == (account, PAYER, Decimal("720.00"), 0)
    assert attachments_of(voucher).count() == 1
    batch.refresh_from_db()
    assert batch.state == BatchState.PAYMENT_REVIEW  # SPEC PAY-2; BAT-8: the roster is locked from here
    assert flash(response) == [
        f"缴费信息已提交（缴费金额720.00元），参保批次 {batch.number} 状态为“缴费凭证待审核”。审核时间为提交申请后10个工作日内。"
    ]
    listed = unit_client.get(LIST_URL)
    assert f"{PAYER} 贷记(网银) 720.00 720.00 - {batch.number} 待审核" in page_text(listed)


def test_over_amount_requires_the_refund_fields_and_keeps_everything(unit_client, account, batch):
    token = proof_draft(account)

    response = unit_client.post(NEW_URL, form_data(batch, amount="2,000.00", draft_token=token, payer="上海某某公司"))

    assert response.status_code == 200
    assert field_errors(response, "refund_account_number") == ["缴费金额超出应缴保费，请填写退款帐号。"]
    assert not Voucher.objects.exists()
    batch.refresh_from_db()
    assert batch.state == BatchState.AWAITING_PAYMENT
    # nothing typed, ticked or uploaded is lost, and 退款信息填报 is open with the refund.
    assert ticked(response) == [batch.number]
    assert input_value(response, "payer") == "上海某某公司"
    assert input_value(response, "amount") == "2,000.00"
    assert input_value(response, "draft_token") == token
    assert attachments_of_draft(draft_token=token, uploaded_by=account).count() == 1
    assert "已上传 1 个附件" in page_text(response)
    assert not refund_section_hidden(response)
    assert re.search(r'<strong id="refund-amount" class="refund-amount">1,280.00</strong>', response.content.decode())
    assert '<option value="transfer" selected>划帐</option>' in response.content.decode()


def test_over_amount_with_refund_fields_saves_them_encrypted_and_shows_them_masked(unit_client, account, batch):
    response = unit_client.post(NEW_URL, form_data(batch, amount="2000", **{**REFUND_FIELDS}))

    assert response.status_code == 302
    voucher = Voucher.objects.get()
    assert voucher.refund_amount == Decimal("1280.00")
    assert voucher.refund_account_number == "6222021001123456789"
    assert (voucher.refund_account_name, voucher.refund_bank, voucher.refund_method) == (PAYER, "中国工商银行", "transfer")
    assert "，退款金额1280.00元" in flash(response)[0]

    detail = unit_client.get(detail_url(voucher))
    html, text = detail.content.decode(), page_text(detail)
    assert '<dd class="col-sm-8 col-lg-4 voucher-refund-account">6222***********6789</dd>' in html
    assert "6222021001123456789" not in html and REFUND_NUMBER not in html
    assert "退款金额 1,280.00 元" in text and "划帐" in text and "中国工商银行" in text
    listed = page_text(unit_client.get(LIST_URL))
    assert "2,000.00 720.00 1,280.00" in listed and "6222021001123456789" not in listed


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("refund_account_name", "缴费金额超出应缴保费，请填写退款帐户名称。"),
        ("refund_bank", "请选择退款银行。"),
    ],
)
def test_each_missing_refund_field_is_refused_at_its_field(unit_client, batch, missing, message):
    response = unit_client.post(NEW_URL, form_data(batch, amount="800", **{**REFUND_FIELDS, missing: ""}))

    assert field_errors(response, missing) == [message]
    assert not Voucher.objects.exists()


def test_under_amount_shows_the_shortfall_and_saves_nothing(unit_client, account, batch):
    token = proof_draft(account)

    response = unit_client.post(NEW_URL, form_data(batch, amount="700.50", draft_token=token))

    assert response.status_code == 200
    assert field_errors(response, "amount") == ["缴费金额700.50元少于所选批次应缴保费合计720.00元，还差19.50元，请补足后再提交。"]
    assert not Voucher.objects.exists()
    batch.refresh_from_db()
    assert batch.state == BatchState.AWAITING_PAYMENT
    assert ticked(response) == [batch.number]
    assert input_value(response, "amount") == "700.50"
    assert input_value(response, "draft_token") == token
    assert refund_section_hidden(response)
    assert "还差19.50元" in re.search(r'<div id="refund-preview".*?</div>\s*</div>', response.content.decode(), re.S).group(0)


def test_two_batches_in_one_voucher(unit_client, account, batch, handbook_year):
    second = awaiting_payment_batch(year=handbook_year, account=account, people=2, kind=BatchKind.INSTANT)  # 360.00

    response = unit_client.post(NEW_URL, form_data(batch, amount="1080.00", batches=[batch, second]))

    assert response.status_code == 302
    voucher = Voucher.objects.get()
    assert voucher.premiums == Decimal("1080.00")
    assert sorted(line.batch.number for line in voucher.lines.all()) == sorted([batch.number, second.number])
    for each in (batch, second):
        each.refresh_from_db()
        assert each.state == BatchState.PAYMENT_REVIEW


def test_form_errors_are_shown_in_chinese_beside_their_fields(unit_client, account, batch):
    token = proof_draft(account)
    data = form_data(batch, draft_token=token, payer="", method="", amount="12.345")
    data.pop("batches")

    response = unit_client.post(NEW_URL, data)

    assert field_errors(response, "payer") == ["请输入付款单位。"]
    assert field_errors(response, "method") == ["请选择缴费方式。"]
    assert field_errors(response, "amount") == ["金额最多保留两位小数。"]
    assert "请在“选择批次”中勾选本次缴费的参保批次。" in page_text(response)
    assert input_value(response, "draft_token") == token
    assert not Voucher.objects.exists()


def test_without_a_proof_the_upload_is_asked_for(unit_client, batch):
    response = unit_client.post(NEW_URL, form_data(batch, draft_token=attachment_draft_token()))

    assert response.status_code == 200
    assert "请点击【缴费凭证上传】上传缴费凭证（图片或PDF，可多张）。" in page_text(response)
    assert not Voucher.objects.exists()


def test_several_proofs_all_go_to_the_voucher(unit_client, account, batch):
    token = proof_draft(account)
    attachment_store(upload=png_upload("第二笔汇款.png"), uploaded_by=account, draft_token=token)

    unit_client.post(NEW_URL, form_data(batch, draft_token=token))

    assert attachments_of(Voucher.objects.get()).count() == 2


def test_a_double_click_creates_one_voucher(unit_client, account, batch):
    data = form_data(batch, submission_token="cd" * 16)

    first = unit_client.post(NEW_URL, data)
    second = unit_client.post(NEW_URL, data)

    assert first.status_code == second.status_code == 302
    assert second.url == LIST_URL
    assert Voucher.objects.count() == 1
    assert flash(second)[-1] == "该缴费信息已提交，无需重复提交。"


def click_twice_at_once(account, payloads: list[dict]) -> list:
    """Two requests of one session at the same moment (a double click, or two windows)."""
    setup = PortalClient()
    setup.force_login(account)
    cookie = setup.cookies["sessionid"].value
    responses = []
    barrier = threading.Barrier(len(payloads))

    def click(data):
        browser = PortalClient()
        browser.cookies["sessionid"] = cookie
        barrier.wait()
        try:
            responses.append(browser.post(NEW_URL, data))
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=(data,)) for data in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two requests at once need PostgreSQL's row locks")
def test_a_double_click_at_the_same_moment_creates_one_voucher(handbook_year):
    batch = awaiting_payment_batch(year=handbook_year)
    data = form_data(batch, submission_token="12" * 16)

    responses = click_twice_at_once(batch.account, [data, data])

    assert Voucher.objects.count() == 1
    assert [response.status_code for response in responses] == [302, 302]
    assert {response["Location"] for response in responses} == {LIST_URL}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two requests at once need PostgreSQL's row locks")
def test_two_windows_paying_one_batch_at_the_same_moment_make_one_voucher(handbook_year):
    batch = awaiting_payment_batch(year=handbook_year)
    account = batch.account
    windows = [form_data(batch, submission_token=token * 16) for token in ("34", "56")]

    responses = click_twice_at_once(account, windows)

    assert Voucher.objects.count() == 1
    assert sorted(response.status_code for response in responses) == [200, 302]
    refused = next(response for response in responses if response.status_code == 200)
    assert "不能上传缴费凭证" in page_text(refused) or "已不能缴费" in page_text(refused)


def test_a_batch_already_paid_in_another_window_is_refused(unit_client, account, batch):
    stale = form_data(batch, submission_token="ef" * 16)
    voucher_submit(
        account=account, batch_numbers=[batch.number], payer=PAYER, method="online", amount="720.00",
        draft_token=proof_draft(account),
    )

    response = unit_client.post(NEW_URL, stale)

    assert response.status_code == 200
    assert Voucher.objects.count() == 1
    assert f"所选批次 {batch.number} 已不能缴费（可能已上传缴费凭证），请刷新页面后重新选择。" in page_text(response)


def test_after_a_rejection_the_batch_is_payable_again(unit_client, account, batch, reviewer):
    voucher = voucher_submit(
        account=account, batch_numbers=[batch.number], payer=PAYER, method="online", amount="720.00",
        draft_token=proof_draft(account),
    )
    voucher_reject(voucher=voucher, acting_user=reviewer, reason="凭证模糊，请重新上传")

    form = unit_client.get(NEW_URL)
    assert f"{batch.number} 缴费凭证审核不通过" in page_text(form)
    response = unit_client.post(NEW_URL, form_data(batch))

    assert response.status_code == 302
    assert Voucher.objects.count() == 2
    batch.refresh_from_db()
    assert batch.state == BatchState.PAYMENT_REVIEW


# --- the live 退款金额 (SPEC PAY-3, htmx) ---------------------------------------------------------------


def preview(client, batches, amount):
    response = client.post(PREVIEW_URL, {"batches": [b.number for b in batches], "amount": amount}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response


def test_preview_equal_over_and_under(unit_client, batch):
    equal = preview(unit_client, [batch], "720")
    assert 'data-refund="0"' in equal.content.decode()
    assert "应缴保费合计： 720.00 元" in page_text(equal)
    assert "缴费金额与应缴保费合计一致，不必填写退款信息。" in page_text(equal)

    over = preview(unit_client, [batch], "2,000.00")
    html = over.content.decode()
    assert 'data-refund="1"' in html
    assert "退款金额： 1,280.00 元" in page_text(over)
    # The 退款金额 of 退款信息填报 follows out of band.
    assert '<strong id="refund-amount" class="refund-amount" data-hx-swap-oob="true">1,280.00</strong>' in html

    under = preview(unit_client, [batch], "700")
    assert 'data-refund="0"' in under.content.decode()
    assert "缴费金额700.00元少于所选批次应缴保费合计720.00元，还差20.00元，请补足后再提交。" in page_text(under)


def test_preview_says_what_is_missing(unit_client, batch):
    assert "请在“选择批次”中勾选本次缴费的参保批次。" in page_text(preview(unit_client, [], "720"))
    assert "请填写缴费金额(凭证总金额)。" in page_text(preview(unit_client, [batch], ""))
    assert "请输入金额，例如 2000.00。" in page_text(preview(unit_client, [batch], "两千"))


def test_preview_sums_the_ticked_batches_and_ignores_anothers(unit_client, account, batch, handbook_year):
    second = awaiting_payment_batch(year=handbook_year, account=account, people=2, kind=BatchKind.INSTANT)  # 360.00
    foreign = awaiting_payment_batch(year=handbook_year)  # another account's 720.00

    response = preview(unit_client, [batch, second, foreign], "1100")

    assert "应缴保费合计： 1,080.00 元 （2 个批次）" in page_text(response)
    assert "退款金额： 20.00 元" in page_text(response)


def test_preview_writes_nothing(unit_client, batch):
    preview(unit_client, [batch], "2000")
    batch.refresh_from_db()
    assert batch.state == BatchState.AWAITING_PAYMENT and not Voucher.objects.exists()


# --- 查看 (SPEC PAY-2, PAY-4) ---------------------------------------------------------------------------


def test_detail_shows_the_fields_batches_proofs_and_the_reason(unit_client, account, batch, reviewer):
    voucher = voucher_submit(
        account=account, batch_numbers=[batch.number], payer=PAYER, method="wire", amount="720.00",
        draft_token=proof_draft(account),
    )
    attachment = attachments_of(voucher).get()

    response = unit_client.get(detail_url(voucher))
    text, html = page_text(response), response.content.decode()
    assert "付款单位 上海长风示范科技有限公司" in text and "缴费方式 电汇" in text
    assert "缴费金额(凭证总金额) 720.00 元" in text and "应缴保费合计 720.00 元" in text
    assert "缴费金额与应缴保费合计一致，无退款。" in text
    assert f"{batch.number} {batch.unit_name} 集中参保 2023 720.00 缴费凭证待审核" in text
    assert f'href="{attachment_url(voucher, attachment)}"' in html and "转账回单.png" in text
    assert "审核不通过原因" not in text

    voucher_reject(voucher=voucher, acting_user=reviewer, reason="凭证模糊，请重新上传")
    response = unit_client.get(detail_url(voucher))
    assert "审核不通过原因 凭证模糊，请重新上传" in page_text(response)
    assert f'href="{NEW_URL}"' in response.content.decode()  # the batch is payable again (PAY-4)

    proof = unit_client.get(attachment_url(voucher, attachment))
    assert proof.status_code == 200 and proof["Content-Type"] == "image/png"


# --- access (SPEC X-4; STYLE.md §10: anonymous, another unit, the wrong role) -----------------------------


@pytest.fixture
def voucher(account, batch):
    return voucher_submit(
        account=account, batch_numbers=[batch.number], payer=PAYER, method="online", amount="720.00",
        draft_token=proof_draft(account),
    )


def every_view(voucher):
    attachment = attachments_of(voucher).get()
    return [
        ("get", LIST_URL),
        ("get", NEW_URL),
        ("post", NEW_URL),
        ("post", PREVIEW_URL),
        ("get", detail_url(voucher)),
        ("get", attachment_url(voucher, attachment)),
    ]


def test_anonymous_is_sent_to_the_login_page_everywhere(client, voucher):
    for method, url in every_view(voucher):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("accounts:login")), url


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_back_office_roles_get_403_everywhere(client, voucher, role):
    client.force_login(UserFactory(role=role))
    for method, url in every_view(voucher):
        assert getattr(client, method)(url).status_code == 403, url


def test_another_unit_gets_404_for_the_voucher_and_its_proofs_and_cannot_pay_the_batch(client, voucher, batch, handbook_year):
    other = awaiting_payment_batch(year=handbook_year)
    client.force_login(other.account)

    assert client.get(detail_url(voucher)).status_code == 404
    assert client.get(attachment_url(voucher, attachments_of(voucher).get())).status_code == 404
    assert "总共 0 条记录" in page_text(client.get(LIST_URL))
    # A hand-made POST naming this account's batch is refused and creates nothing.
    response = client.post(NEW_URL, form_data(batch, draft_token=proof_draft(other.account)))
    assert response.status_code == 200 and Voucher.objects.count() == 1
    assert "已不能缴费" in page_text(response)


def test_pages_answer_only_their_methods(unit_client, voucher):
    assert unit_client.get(PREVIEW_URL).status_code == 405
    assert unit_client.post(LIST_URL).status_code == 405
    assert unit_client.post(detail_url(voucher)).status_code == 405
