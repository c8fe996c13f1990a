"""【保障项目选择】 through its page (SPEC PLAN-2, PLAN-3, PREM-1…PREM-4, PAY-1, BAT-3, X-4):
【生成保费信息】 shows the handbook's 保费信息, 【提交确认保费】 fixes exactly what was generated and moves the batch
to 缴费凭证待上传 with the payment instructions; PREM-4 shows the centralised selection read only."""
import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.template import Context, Template
from django.urls import reverse

from enrollment.models import Batch
from enrollment.states import BatchKind, BatchState
from plans.forms import REGENERATE_MESSAGE
from plans.models import BatchPremium, PlanItem, PlanSelection
from plans.services import premium_confirm
from plans.templatetags.plans_tags import payment_countdown, yuan
from plans.views.selection import LOCKED_NOTE, PRICES_CHANGED_MESSAGE
from tests.factories import SHANGHAI, UserFactory, make_batch
from tests.plans.helpers import approved_batch

pytestmark = pytest.mark.django_db

WORKED_EXAMPLE = ["A0", "B0", "C0", "A3", "B3", "C3"]  # SPEC PREM-3
CONFIRM_DAY = dt.datetime(2023, 7, 12, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def instant_batch(handbook_year):
    """SPEC PREM-3's worked example: an instant batch started 2023-07-10 with 4 people with 社保."""
    return approved_batch(year=handbook_year, kind=BatchKind.INSTANT, social_security=4, start=dt.date(2023, 7, 10))


@pytest.fixture
def owner(client, instant_batch):
    client.force_login(instant_batch.account)
    return client


def url(batch) -> str:
    return reverse("plans:selection", kwargs={"number": batch.number})


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def line_cells(response, label: str) -> list[str]:
    """The cells of one 保费信息 line: 费用标准, 优惠金额, 社保 人数 / 实际费用, 非社保 人数 / 实际费用, 合计费用."""
    html = response.content.decode()
    row = re.search(rf'<tr class="premium-line" data-label="{label}">(.*?)</tr>', html, re.S)
    assert row, f"no line {label}"
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def generate(client, batch, codes):
    return client.post(url(batch), {"op": "generate", "codes": codes})


def confirm(client, batch, codes, *, generated=None, total="4780.00"):
    generated = codes if generated is None else generated
    return client.post(
        url(batch), {"op": "confirm", "codes": codes, "generated": " ".join(generated), "generated_total": total}
    )


def checked_codes(response) -> set[str]:
    return set(re.findall(r'name="codes" value="(\w\d)" id="code-\w\d" checked', response.content.decode()))


# --- access (Kiwi TCMS style: without and with the permission) --------------------------------------


def test_anonymous_goes_to_login(client, instant_batch):
    response = client.get(url(instant_batch))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_another_units_batch_is_404(client, instant_batch, handbook_year):
    other = make_batch(year=handbook_year)  # another account with its own code and 经办人填报
    client.force_login(other.account)
    assert client.get(url(instant_batch)).status_code == 404
    assert generate(client, instant_batch, WORKED_EXAMPLE).status_code == 404
    assert not PlanSelection.objects.filter(batch=instant_batch).exists()


def test_reviewer_is_forbidden(client, instant_batch):
    client.force_login(UserFactory(role="reviewer"))
    assert client.get(url(instant_batch)).status_code == 403
    assert generate(client, instant_batch, WORKED_EXAMPLE).status_code == 403


def test_state_without_the_action_goes_back_to_the_batch_list(client, handbook_year):
    """SPEC BAT-3: 【保障项目选择】 only in 清册校验通过 / 职保会审核通过 / 缴费凭证待上传."""
    batch = approved_batch(year=handbook_year, state=BatchState.IN_REVIEW)
    client.force_login(batch.account)
    response = client.get(url(batch))
    assert response.status_code == 302
    assert response["Location"] == reverse("enrollment:batches")
    assert "不能进行【保障项目选择】操作" in str(list(get_messages(response.wsgi_request))[0])
    assert generate(client, batch, WORKED_EXAMPLE).status_code == 302
    assert not PlanSelection.objects.filter(batch=batch).exists()


# --- the page -----------------------------------------------------------------------------------------


def test_page_shows_the_handbook_layout(owner, instant_batch):
    response = owner.get(url(instant_batch))
    assert response.status_code == 200
    page = text(response)
    for word in ("选择保障项目", "基本保障", "加强保障", "保费一览表", "选择规则", "生成保费信息", "A3", "C1"):
        assert word in page
    # the twelve check boxes, none ticked yet, all editable
    assert len(re.findall(r'type="checkbox" name="codes"', page)) == 12
    assert checked_codes(response) == set()
    assert 'name="codes" value="A0" id="code-A0" disabled' not in page
    # the 保费一览表 dialog holds the year's table with benefits and the ※ note
    assert 'id="price-table-dialog"' in page and "上海职工互助保障项目2023一览表" in page
    assert "起付线补助" in page
    # the batch's tier (SPEC PREM-2): started 2023-07-10 → full-year prices
    assert "本批次起保日期为2023年7月10日" in page and "按<strong>一年</strong>缴费标准" in page
    # no table and no 【提交确认保费】 before 【生成保费信息】
    assert 'id="premium-table"' not in page and "#premium-confirm-dialog" not in page


def test_generate_shows_the_worked_example(owner, instant_batch):
    """SPEC PREM-3: 4 people with 社保, A0 B0 C0 A3 B3 C3 → A0B0C0 4 × 180 = 720, A3 1,320, B3 1,840,
    C3 900, total 4,780."""
    response = generate(owner, instant_batch, WORKED_EXAMPLE)
    assert response.status_code == 200
    assert line_cells(response, "A0 B0 C0") == ["190", "10", "4", "720.00", "0", "0.00", "720.00"]
    assert line_cells(response, "A3") == ["330", "0", "4", "1,320.00", "0", "0.00", "1,320.00"]
    assert line_cells(response, "B3") == ["460", "0", "4", "1,840.00", "0", "0.00", "1,840.00"]
    assert line_cells(response, "C3") == ["225", "0", "4", "900.00", "0", "0.00", "900.00"]
    page = text(response)
    assert re.search(r'<td class="premium-total">4,780.00</td>', page)
    assert "总计" in page and "----" in page
    # the ticks stay, the table remembers what it was generated for, 【提交确认保费】 with its dialog
    assert checked_codes(response) == set(WORKED_EXAMPLE)
    assert 'name="generated" value="A0 B0 C0 A3 B3 C3"' in page
    assert 'name="generated_total" value="4780.00"' in page
    assert 'data-bs-target="#premium-confirm-dialog"' in page and 'id="premium-confirm-dialog"' in page
    assert PlanSelection.objects.get(batch=instant_batch).codes == "A0 B0 C0 A3 B3 C3"
    instant_batch.refresh_from_db()
    assert instant_batch.state == BatchState.ROSTER_APPROVED  # 生成 changes no state


def test_generate_half_year_prices_without_bundle(client, handbook_year):
    """SPEC PREM-2, PREM-1: a start in 2024 → half-year prices, A0 B0 C0 as separate lines."""
    batch = approved_batch(year=handbook_year, kind=BatchKind.INSTANT, social_security=2, start=dt.date(2024, 1, 1))
    client.force_login(batch.account)
    response = generate(client, batch, ["A0", "B0", "C0", "A1"])
    assert line_cells(response, "A1") == ["67.50", "0", "2", "135.00", "0", "0.00", "135.00"]
    assert line_cells(response, "C0") == ["7.50", "0", "2", "15.00", "0", "0.00", "15.00"]
    assert 'data-label="A0 B0 C0"' not in response.content.decode()
    assert "半年缴费标准" in text(response)


def test_people_without_social_security_pay_no_a0(client, handbook_year):
    """SPEC PLAN-3: 非社保人员 get every item but A0; the table counts them in their own columns."""
    batch = approved_batch(year=handbook_year, social_security=3, without_social_security=2)
    client.force_login(batch.account)
    response = generate(client, batch, ["A0", "B0", "C0"])
    assert line_cells(response, "A0 B0 C0") == ["190", "10", "3", "540.00", "0", "0.00", "540.00"]
    assert line_cells(response, "B0") == ["55", "0", "0", "0.00", "2", "110.00", "110.00"]
    assert line_cells(response, "C0") == ["15", "0", "0", "0.00", "2", "30.00", "30.00"]
    assert '<td class="premium-total">680.00</td>' in text(response)


@pytest.mark.parametrize(
    "codes, message, ticks",
    [
        (["A1"], "基本保障项目A0、B0、C0至少选1种", {"A1"}),  # SPEC PLAN-2
        (["A0", "A1", "A2"], "加强保障项目A1、A2、A3至多选1种", {"A0", "A1", "A2"}),  # SPEC PLAN-2
        ([], "基本保障项目A0、B0、C0至少选1种", set()),
    ],
)
def test_refused_selection_shows_why_and_keeps_the_ticks(owner, instant_batch, codes, message, ticks):
    response = generate(owner, instant_batch, codes)
    assert response.status_code == 200
    page = text(response)
    assert 'id="codes-errors"' in page and message in page
    assert checked_codes(response) == ticks
    assert 'id="premium-table"' not in page
    assert not PlanSelection.objects.filter(batch=instant_batch).exists()


def test_only_a0_with_people_without_social_security_is_refused(client, handbook_year):
    """SPEC PLAN-3 [interpretation]: the message names how many people and suggests B0 or C0."""
    batch = approved_batch(year=handbook_year, social_security=2, without_social_security=3)
    client.force_login(batch.account)
    page = text(generate(client, batch, ["A0", "A3"]))
    assert "本批次有3位非社保人员不能参加A0" in page and "请加选B0或C0" in page


def test_unknown_code_is_refused_at_the_check_boxes(owner, instant_batch):
    page = text(generate(owner, instant_batch, ["A0", "X9"]))
    assert "保障项目“X9”不存在。" in page


# --- 【提交确认保费】 ------------------------------------------------------------------------------------


def test_confirm_moves_to_awaiting_payment_and_shows_the_deadline(owner, instant_batch):
    """SPEC PREM-3, PAY-1: the confirmed table, 缴费凭证待上传, 15 days to pay, shown with the days left."""
    with time_machine.travel(CONFIRM_DAY, tick=False):
        generate(owner, instant_batch, WORKED_EXAMPLE)
        response = confirm(owner, instant_batch, WORKED_EXAMPLE)
        assert response.status_code == 302 and response["Location"] == url(instant_batch)
        instant_batch.refresh_from_db()
        assert instant_batch.state == BatchState.AWAITING_PAYMENT
        premium = BatchPremium.objects.get(batch=instant_batch)
        assert premium.total == Decimal("4780.00") and premium.payment_due == dt.date(2023, 7, 27)
        assert premium.lines.count() == 4
        page_response = owner.get(response["Location"])
    page = text(page_response)
    assert "保费已确认，保费总计4,780.00元" in page and "请于2023-07-27前" in page
    # read only now: the confirmed table from its lines, no buttons to change it
    assert line_cells(page_response, "A0 B0 C0") == ["190", "10", "4", "720.00", "0", "0.00", "720.00"]
    assert '<td class="premium-total">4,780.00</td>' in page
    assert checked_codes(page_response) == set(WORKED_EXAMPLE)
    assert len(re.findall(r"checked disabled", page)) == 6 and len(re.findall(r" disabled>", page)) == 12
    assert 'value="generate"' not in page and "#premium-confirm-dialog" not in page
    # the payment instructions (SPEC PAY-1) with the countdown, 【批次撤回】
    assert "提交确认保费后，请于<strong>15天内</strong>将保费汇至以下账号" in page
    assert "上海市职工保障互助会" in page and "31602300008022150" in page and "上海银行人民广场支行" in page
    assert '<strong class="payment-due">2023-07-27</strong>' in page and "还剩15天" in page
    assert reverse("plans:withdraw", kwargs={"number": instant_batch.number}) in page
    assert "保费详细" in page


def test_payment_countdown_turns_overdue(owner, instant_batch):
    with time_machine.travel(CONFIRM_DAY, tick=False):
        generate(owner, instant_batch, WORKED_EXAMPLE)
        confirm(owner, instant_batch, WORKED_EXAMPLE)
    with time_machine.travel(dt.datetime(2023, 7, 27, 23, 0, tzinfo=SHANGHAI), tick=False):
        owner.force_login(instant_batch.account)  # the session of 07-12 has expired
        assert "今天截止" in text(owner.get(url(instant_batch)))
    with time_machine.travel(dt.datetime(2023, 7, 30, 9, 0, tzinfo=SHANGHAI), tick=False):
        owner.force_login(instant_batch.account)
        assert "已逾期3天" in text(owner.get(url(instant_batch)))


def test_countdown_helper():
    assert payment_countdown(due=dt.date(2023, 7, 27), today=dt.date(2023, 7, 12)) == {
        "due": dt.date(2023, 7, 27), "days_left": 15, "overdue_days": 0, "due_today": False,
    }
    assert payment_countdown(due=dt.date(2023, 7, 27), today=dt.date(2023, 7, 29))["overdue_days"] == 2
    assert yuan(Decimal("1234567.5")) == "1,234,567.50" and yuan(Decimal("0")) == "0.00"


def test_confirm_after_changing_the_ticks_is_refused(owner, instant_batch):
    """SPEC PREM-3: the confirmation prices what was generated; changed ticks → 生成 again."""
    generate(owner, instant_batch, WORKED_EXAMPLE)
    response = confirm(owner, instant_batch, ["A0", "B0", "C0", "A2"], generated=WORKED_EXAMPLE)
    assert response.status_code == 200
    assert REGENERATE_MESSAGE in text(response)
    assert checked_codes(response) == {"A0", "B0", "C0", "A2"}
    instant_batch.refresh_from_db()
    assert instant_batch.state == BatchState.ROSTER_APPROVED
    assert not BatchPremium.objects.filter(batch=instant_batch).exists()


def test_confirm_without_generating_is_refused(owner, instant_batch):
    response = owner.post(url(instant_batch), {"op": "confirm", "codes": WORKED_EXAMPLE})
    assert REGENERATE_MESSAGE in text(response)
    assert not BatchPremium.objects.filter(batch=instant_batch).exists()


def test_confirm_after_another_browser_generated_otherwise_is_refused(owner, instant_batch):
    generate(owner, instant_batch, WORKED_EXAMPLE)
    PlanSelection.objects.filter(batch=instant_batch).update(codes="A0 B0 C0")  # a newer 生成 elsewhere
    response = confirm(owner, instant_batch, WORKED_EXAMPLE)
    assert REGENERATE_MESSAGE in text(response)
    assert not BatchPremium.objects.filter(batch=instant_batch).exists()


def test_confirm_after_a_price_change_is_refused(owner, instant_batch):
    generate(owner, instant_batch, WORKED_EXAMPLE)
    PlanItem.objects.filter(coverage_year=instant_batch.coverage_year, code="A3").update(price=Decimal("340"))
    response = confirm(owner, instant_batch, WORKED_EXAMPLE)
    assert PRICES_CHANGED_MESSAGE in text(response)
    assert not BatchPremium.objects.filter(batch=instant_batch).exists()


def test_double_click_confirms_once(owner, instant_batch):
    generate(owner, instant_batch, WORKED_EXAMPLE)
    first = confirm(owner, instant_batch, WORKED_EXAMPLE)
    second = confirm(owner, instant_batch, WORKED_EXAMPLE)
    assert first.status_code == second.status_code == 302
    assert [str(m) for m in get_messages(second.wsgi_request)][-1].endswith("的保费已确认，无需重复提交。")
    assert BatchPremium.objects.filter(batch=instant_batch).count() == 1
    assert instant_batch.log.filter(to_state=BatchState.AWAITING_PAYMENT).count() == 1


def test_confirm_with_an_empty_roster_is_refused(client, handbook_year):
    batch = approved_batch(year=handbook_year, social_security=0)
    client.force_login(batch.account)
    response = generate(client, batch, ["A0"])
    assert "参保清册中没有人员" in text(response) and "#premium-confirm-dialog" not in text(response)
    response = confirm(client, batch, ["A0"], total="0.00")
    assert "参保清册中没有人员，不能确认保费。" in text(response)
    batch.refresh_from_db()
    assert batch.state == BatchState.ROSTER_APPROVED


# --- PREM-4: the centralised selection, read only ----------------------------------------------------


@pytest.fixture
def centralised_confirmed(instant_batch, handbook_year):
    """The same code's centralised batch of the year, confirmed with A0 B0 C0 A1."""
    centralised = approved_batch(year=handbook_year, account=instant_batch.account, social_security=2)
    assert centralised.code_id == instant_batch.code_id
    premium_confirm(batch=centralised, codes=["A0", "B0", "C0", "A1"], acting_user=centralised.account)
    return centralised


def test_prem4_shows_the_centralised_selection_read_only(owner, instant_batch, centralised_confirmed):
    response = owner.get(url(instant_batch))
    page = text(response)
    assert LOCKED_NOTE in page and centralised_confirmed.number in page
    assert len(re.findall(r"checked disabled", page)) == 4
    assert len(re.findall(r'type="checkbox" name="codes" value="\w\d" id="code-\w\d"( checked)? disabled', page)) == 12
    assert 'value="generate"' in page  # straight to 【生成保费信息】


def test_prem4_generates_and_confirms_the_centralised_selection(owner, instant_batch, centralised_confirmed):
    """What the form sends is ignored: the centralised batch's A0 B0 C0 A1 is priced (4 × (180 + 135))."""
    response = generate(owner, instant_batch, ["A3"])
    assert line_cells(response, "A0 B0 C0") == ["190", "10", "4", "720.00", "0", "0.00", "720.00"]
    assert line_cells(response, "A1") == ["135", "0", "4", "540.00", "0", "0.00", "540.00"]
    assert 'name="generated" value="A0 B0 C0 A1"' in text(response)
    response = owner.post(
        url(instant_batch), {"op": "confirm", "generated": "A0 B0 C0 A1", "generated_total": "1260.00"}
    )
    assert response.status_code == 302
    premium = BatchPremium.objects.get(batch=instant_batch)
    assert premium.codes == "A0 B0 C0 A1" and premium.total == Decimal("1260.00")


# --- 查看详情 shows the payment instructions once there is a premium ---------------------------------------


def test_batch_detail_shows_the_payment_instructions_only_with_a_premium(owner, instant_batch):
    detail = reverse("enrollment:batches_detail", kwargs={"number": instant_batch.number})
    assert "payment-info" not in text(owner.get(detail))
    with time_machine.travel(CONFIRM_DAY, tick=False):
        generate(owner, instant_batch, WORKED_EXAMPLE)
        confirm(owner, instant_batch, WORKED_EXAMPLE)
        page = text(owner.get(detail))
    assert "payment-info" in page and "31602300008022150" in page and "还剩15天" in page
    assert '<strong class="payment-amount">4,780.00</strong>' in page


@pytest.mark.parametrize("state", [BatchState.PAYMENT_REVIEW, BatchState.COMPLETED])
def test_batch_detail_asks_for_the_payment_only_while_it_is_awaited(owner, instant_batch, state):
    # SPEC PAY-1: 请于15天内将保费汇至以下账号 while 缴费凭证待上传 (batch.payment_awaited),
    # not once the voucher is in or the batch is completed; the account stays for reference.
    detail = reverse("enrollment:batches_detail", kwargs={"number": instant_batch.number})
    with time_machine.travel(CONFIRM_DAY, tick=False):
        generate(owner, instant_batch, WORKED_EXAMPLE)
        confirm(owner, instant_batch, WORKED_EXAMPLE)
        assert "将保费汇至以下账号" in text(owner.get(detail))
        Batch.objects.filter(pk=instant_batch.pk).update(state=state)
        page = text(owner.get(detail))
    assert "payment-info" in page and "31602300008022150" in page
    assert "将保费汇至以下账号" not in page and "还剩15天" not in page


def test_batch_list_links_the_page(owner, instant_batch):
    page = text(owner.get(reverse("enrollment:batches")))
    assert url(instant_batch) in page
    assert Batch.objects.get(pk=instant_batch.pk).state == BatchState.ROSTER_APPROVED


# One check box as plans/_code_box.html wrote it, before plans.views.selection._boxes made the boxes in
# Python (SPEC OPS-3): the reference they must match character for character.
REFERENCE_BOX = Template(
    """
<div class="form-check plan-code">
  <input class="form-check-input" type="checkbox" name="codes" value="{{ box.code }}" id="code-{{ box.code }}"{% if box.checked %} checked{% endif %}{% if checkboxes_disabled %} disabled{% endif %}>
  <label class="form-check-label fw-semibold" for="code-{{ box.code }}" title="{{ box.series }} {{ box.code }}：{{ box.price|floatformat:'-2' }}元/人">{{ box.code }}</label>
</div>
"""
)


@pytest.mark.parametrize("disabled", [False, True])
def test_boxes_are_the_templates_boxes(disabled):
    from plans.models import Series
    from plans.views.selection import _boxes

    codes = ["A0", "B0", "C0", "A1", "B3"]
    prices = {"A0": Decimal("120"), "B0": Decimal("27.50"), "C0": Decimal("7.5"), "A1": Decimal("135.00"), "B3": Decimal("0.05")}
    selected = ["A0", "B3"]
    series = dict(Series.choices)
    expected = "".join(
        REFERENCE_BOX.render(
            Context(
                {
                    "box": {"code": code, "checked": code in selected, "price": prices[code], "series": series[code[0]]},
                    "checkboxes_disabled": disabled,
                }
            )
        )
        for code in codes
    )
    assert "".join(_boxes(codes, selected=selected, prices=prices, disabled=disabled)) == expected
    assert 'title="特种重病 B0：27.50元/人"' in expected and 'title="在职住院 A0：120元/人"' in expected
