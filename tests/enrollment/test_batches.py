"""【参保批次管理】 through its pages (SPEC BAT-1, BAT-2, BAT-3, BAT-5, BAT-7, CODE-5, CODE-6, HND-1,
HND-3, X-4; UI.md "Lists", "Dialogs"): the list, the two 办理 dialogs, 查看详情 with 操作日志,
【批次删除】 and 【参保流程】."""
import datetime as dt
import re
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from enrollment.models import Batch, BatchLog
from enrollment.services import HANDLER_INFO_MISSING, batch_transition
from enrollment.states import BatchAction, BatchKind, BatchState
from enrollment.views import batches as batch_views
from tests.enrollment.helpers import (  # noqa: F401 - the window fixtures
    IN_CENTRALISED_WINDOW, IN_INSTANT_WINDOW, centralised_window,
    instant_window,
    make_code,
    make_handler_info,
)
from tests.factories import UNIT_NAME, UserFactory, make_batch, make_entry
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
S = BatchState
LIST = reverse("enrollment:batches")
OPEN = reverse("enrollment:batches_open")
FLOW = reverse("enrollment:batches_flow")
HND3_NOTE = "若单位名称有误，请至职保中心五楼营业大厅“信息修改”窗口办理更新！"


def detail_url(number):
    return reverse("enrollment:batches_detail", kwargs={"number": number})


def delete_url(number):
    return reverse("enrollment:batches_delete", kwargs={"number": number})


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def account(db):
    return UserFactory(username="cf-unit", first_name="丁一")


@pytest.fixture
def code(account):
    return make_code(account)


@pytest.fixture
def ready_code(code):
    make_handler_info(code)
    return code


@pytest.fixture
def unit_client(client, account):
    client.force_login(account)
    return client




@pytest.fixture
def every_action_built(monkeypatch):
    """Every action links to one known page with the number, so a test can list the links by label."""
    monkeypatch.setattr(
        batch_views, "ACTION_URL_NAMES", {action: "enrollment:batches_detail" for action in BatchAction.values}
    )


def open_data(response, dialog_kind: str, **overrides) -> dict:
    """The dialog's fields as the page rendered them (hidden token included), with `overrides`."""
    dialog = next(d for d in response.context["dialogs"] if d["kind"] == dialog_kind)
    form = dialog["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(overrides)
    return data


# --- SPEC BAT-1: the list -------------------------------------------------------------------------------------


def test_the_page_has_the_handbooks_banner_buttons_filters_and_columns(unit_client, ready_code, handbook_year, centralised_window):
    response = unit_client.get(LIST)

    assert response.status_code == 200
    assertContains(response, "参保年度为2023年7月1日至2024年6月30日。")
    for header in ["参保批次", "参保编码", "单位名称", "参保类型", "保障年度", "状态", "最后更新时间", "操作"]:
        assertContains(response, f'<th scope="col">{header}</th>', html=True)
    for label in ["批次号", "单位名称", "批次状态"]:
        assertContains(response, f">{label}</label>")
    states = response.context["filters"].fields["state"].choices
    assert states == [("", "全部"), *BatchState.choices]
    assertContains(response, "搜索")
    assertContains(response, f'href="{FLOW}"')
    assertContains(response, "参保流程")
    # The menu entry is highlighted (UI.md "Frame").
    assert [item["label"] for group in response.context["portal_menu"] for item in group["items"] if item["active"]] == ["参保批次管理"]


def test_the_list_shows_only_this_accounts_batches_newest_first(unit_client, ready_code, handbook_year):
    older = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    newer = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000002")
    stranger_code = make_code(UserFactory(), code="0099AB", unit_name="上海别家公司")
    make_batch(code=stranger_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000003")
    Batch.objects.filter(pk=older.pk).update(updated_at=newer.updated_at - dt.timedelta(hours=1))

    response = unit_client.get(LIST)

    assert [batch.number for batch in response.context["page"]] == ["2023S000002", "2023S000001"]
    assertNotContains(response, "2023S000003")
    assertNotContains(response, "上海别家公司")
    row = re.search(r"<tr>\s*<td class=\"cell-number\" data-label=\"参保批次\">2023S000002</td>.*?</tr>", response.content.decode(), re.S).group(0)
    for text in ["0072J3", UNIT_NAME, "即时参保", "2023", '<span class="badge badge-state-draft">清册待校验</span>']:
        assert text in row


def test_filters_by_number_unit_name_and_state_stay_in_the_url(unit_client, ready_code, handbook_year):
    make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000002", state=S.IN_REVIEW)
    make_batch(code=ready_code, year=handbook_year, number="2023J000001", kind=BatchKind.CENTRALISED, state=S.IN_REVIEW)
    other_unit = make_code(ready_code.account, code="0072J5", unit_name="上海长风分公司")
    make_batch(code=other_unit, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000009")

    def numbers(**query):
        return sorted(batch.number for batch in unit_client.get(LIST, query).context["page"])

    assert numbers(number="s00000") == ["2023S000001", "2023S000002", "2023S000009"]
    assert numbers(number=" 2023j000001 ") == ["2023J000001"]
    assert numbers(unit_name="分公司") == ["2023S000009"]
    assert numbers(state="in_review") == ["2023J000001", "2023S000002"]
    assert numbers(state="in_review", number="S") == ["2023S000002"]
    assert numbers(state="nonsense") == ["2023J000001", "2023S000001", "2023S000002", "2023S000009"]
    response = unit_client.get(LIST, {"number": "none"})
    assertContains(response, "没有找到符合条件的批次，请修改条件后点击【搜索】。")


def test_fifteen_a_page_with_the_handbooks_footer_keeping_the_filters(unit_client, ready_code, handbook_year):
    for index in range(17):
        make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number=f"2023S{index + 1:06d}")

    first = unit_client.get(LIST, {"state": "draft"})
    second = unit_client.get(LIST, {"state": "draft", "page": "2"})

    assertContains(first, "显示第 1 到第 15 条记录，总共 17 条记录 每页显示 15 条记录")
    assert len(first.context["page"]) == 15
    assertContains(first, 'href="?state=draft&amp;page=2"')
    assertContains(second, "显示第 16 到第 17 条记录，总共 17 条记录 每页显示 15 条记录")
    assert len(second.context["page"]) == 2


def test_the_list_costs_the_same_queries_for_one_batch_or_fifteen(unit_client, ready_code, handbook_year, django_assert_max_num_queries):
    """No query per row: codes and years come with the batches; the actions are the state's data."""
    make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    unit_client.get(LIST)
    with django_assert_max_num_queries(12) as one:
        unit_client.get(LIST)
    for index in range(2, 21):
        make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number=f"2023S{index:06d}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        unit_client.get(LIST)


def test_the_list_reads_its_rows_with_their_count_and_pages_alike(unit_client, ready_code, handbook_year, django_assert_max_num_queries):
    """OPS-3: the rows come with the list's count (one query, not COUNT then rows), on any page; a
    page past the end still shows the last one, as Paginator.get_page does."""
    for index in range(1, 18):
        make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number=f"2023S{index:06d}")
    unit_client.get(LIST)
    with django_assert_max_num_queries(9) as first:
        response = unit_client.get(LIST)
    assert sum('"enrollment_batch"' in query["sql"] and "COUNT(" in query["sql"] for query in first.captured_queries) == 1
    assertContains(response, "总共 17 条记录 每页显示 15 条记录")
    assertContains(response, "2023S000017")
    assertNotContains(response, "2023S000002<")
    for page in ("2", "9", "x", "0", str(10**20)):
        expected = "2023S000017" if page == "x" else "2023S000002"
        assertContains(unit_client.get(LIST, {"page": page}), expected)


def test_an_empty_list_says_what_to_do(unit_client, ready_code, handbook_year):
    response = unit_client.get(LIST)
    assertContains(response, "总共 0 条记录 每页显示 15 条记录")
    assertContains(response, "暂无参保批次。请点击【集中参保办理】或【即时参保办理】")


@pytest.mark.parametrize("state", BatchState.values)
def test_the_actions_column_offers_what_the_state_allows(unit_client, ready_code, handbook_year, every_action_built, state):
    """SPEC BAT-3; UI.md: only the allowed actions, 【批次删除】 only in 清册待校验/清册校验不通过."""
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, state=state)
    response = unit_client.get(LIST)
    cell = re.search(r'<td class="cell-actions" data-label="操作">(.*?)</td>', response.content.decode(), re.S).group(1)

    expected = [action.label for action in batch.actions if action != BatchAction.DELETE]
    if state == S.VALIDATING:
        expected.append("查看校验进度")  # 清册校验中 shows progress only (SPEC BAT-3)
    assert re.findall(r'<a class="btn btn-link[^"]*" href="[^"]+">([^<]+)</a>', cell) == expected
    assert ("批次删除" in cell) == (state in {S.DRAFT, S.INVALID})


def test_the_roster_link_goes_to_the_roster_page(ready_code, handbook_year):
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT)
    roster = reverse("rosters:roster", kwargs={"number": batch.number})
    links = {link["action"]: link["url"] for link in batch_views.batch_action_links(batch)}
    assert links.get("roster") == roster


# --- SPEC BAT-2, BAT-10: the 办理 buttons and dialogs ------------------------------------------------------------


def test_inside_the_centralised_window_its_dialog_is_offered_prefilled(unit_client, ready_code, handbook_year, centralised_window):
    """SPEC BAT-2, CODE-6: the account's code and its registered unit; the HND-3 warning; 【确定操作】."""
    response = unit_client.get(LIST)
    page = response.content.decode()

    dialogs = {dialog["kind"]: dialog for dialog in response.context["dialogs"]}
    assert dialogs["centralised"]["unavailable"] == ""
    assert dialogs["instant"]["unavailable"] == "即时参保通道将于2023年7月1日开启，请届时办理。"
    assertContains(response, 'data-bs-target="#batch-open-centralised">集中参保办理</button>')
    # The unavailable one: disabled, with its reason as text beside it, not only on hover (UI.md).
    assert re.search(
        r'<button type="button" class="btn btn-primary" disabled aria-describedby="batch-open-instant-why">即时参保办理</button>\s*'
        r'<span class="batch-open-why small" id="batch-open-instant-why">.*?即时参保通道将于2023年7月1日开启，请届时办理。</span>',
        page,
    )
    assert 'id="batch-open-instant"' not in page
    dialog = page[page.index('id="batch-open-centralised"'):]
    assert 'value="0072J3"' in dialog and f'value="{UNIT_NAME}"' in dialog
    for text in ["<span class=\"text-danger\">*</span> 参保编码", "<span class=\"text-danger\">*</span> 参保单位", HND3_NOTE, "确定操作"]:
        assert text in dialog


def test_after_the_centralised_window_only_instant_enrolment_is_offered(unit_client, ready_code, handbook_year, instant_window):
    response = unit_client.get(LIST)
    dialogs = {dialog["kind"]: dialog for dialog in response.context["dialogs"]}
    assert dialogs["centralised"]["unavailable"] == "2023年度集中参保通道已关闭（截止2023年6月30日24时），请通过【即时参保办理】参保。"
    assert dialogs["instant"]["unavailable"] == ""
    assertContains(response, 'data-bs-target="#batch-open-instant">即时参保办理</button>')
    assertContains(response, 'id="batch-open-instant"')


def test_without_a_coverage_year_both_buttons_say_why(unit_client, ready_code, handbook_year):
    with time_machine.travel(dt.datetime(2023, 5, 1, tzinfo=SHANGHAI)):
        response = unit_client.get(LIST)
    assert {dialog["unavailable"] for dialog in response.context["dialogs"]} == {"当前没有开放的保障年度，请关注职保会通知。"}
    assertNotContains(response, "参保年度为")


def test_an_account_without_a_code_sees_the_page_and_an_empty_dialog(unit_client, handbook_year, centralised_window):
    """SPEC CODE-5, ACC-2: the dialog is where an imported code is bound."""
    response = unit_client.get(LIST)
    assert response.status_code == 200
    form = response.context["dialogs"][0]["form"]
    assert form["code"].value() is None and form["unit_name"].value() is None
    assertContains(response, 'name="code"')
    assert not any(dialog["handler_missing_code"] for dialog in response.context["dialogs"])


def test_without_handler_information_the_dialogs_lead_to_it(unit_client, code, handbook_year, centralised_window):
    """SPEC HND-1: the page shows, the dialog says what to do first and links to 经办人填报."""
    response = unit_client.get(LIST)
    page = response.content.decode()
    dialog = page[page.index('id="batch-open-centralised"'):]
    assert HANDLER_INFO_MISSING in dialog
    assert f'href="{reverse("enrollment:handler")}?code=0072J3">经办人填报</a>' in dialog
    assert 'name="code"' not in dialog


def test_confirming_the_dialog_opens_the_batch_and_goes_to_its_roster(unit_client, account, ready_code, handbook_year, centralised_window):
    data = open_data(unit_client.get(LIST), "centralised")

    response = unit_client.post(OPEN, data)

    batch = Batch.objects.get()
    assert (batch.number, batch.kind, batch.account, batch.code) == ("2023J000001", "centralised", account, ready_code)
    assertRedirects(response, batch_views._batch_home(batch), fetch_redirect_response=False)
    assert messages_of(response) == ["参保批次 2023J000001 已创建，请添加参保人员。"]
    listed = unit_client.get(LIST)
    assertContains(listed, "2023J000001")
    assertContains(listed, "集中参保")


def test_an_imported_code_is_bound_through_the_dialog(unit_client, account, handbook_year, instant_window):
    """SPEC CODE-5: typed as on last year's 保障单, full-width and in lower case."""
    imported = make_code(None, source="imported")
    make_handler_info(imported, account=account)
    data = open_data(unit_client.get(LIST), "instant", code="００７２ｊ３", unit_name=UNIT_NAME)

    response = unit_client.post(OPEN, data)

    assert response.status_code == 302
    imported.refresh_from_db()
    assert imported.account == account
    assert Batch.objects.get().number == "2023S000001"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"unit_name": "上海长风科技有限公司"}, "unit_name", "参保单位名称与参保编码登记的单位名称不一致。" + HND3_NOTE),
        ({"code": "0099AB"}, "code", "该参保编码已在其他平台账号中使用"),
        ({"code": "ZZZZZZ"}, "code", "参保编码不存在，请核对。忘记参保编码可查看上一年度保障单或拨打12351热线查询。"),
        ({"code": "12"}, "code", "参保编码为6位数字或字母，请核对。忘记参保编码可查看上一年度保障单或拨打12351热线查询。"),
        ({"code": ""}, "code", "请输入参保编码。"),
        ({"unit_name": "  "}, "unit_name", "请输入参保单位。"),
    ],
)
def test_a_refusal_comes_back_in_the_open_dialog_beside_its_field(
    unit_client, ready_code, handbook_year, centralised_window, overrides, field, message
):
    make_code(UserFactory(), code="0099AB", unit_name=UNIT_NAME + "二")
    data = open_data(unit_client.get(LIST), "centralised", **overrides)

    response = unit_client.post(OPEN, data)

    assert response.status_code == 200
    assert not Batch.objects.exists()
    page = response.content.decode()
    dialog = page[page.index('id="batch-open-centralised"'):]
    assert dialog.index("data-show-on-load") < dialog.index(">")  # opens on load
    widget = re.search(rf'<input[^>]*name="{field}"[^>]*>', dialog).group(0)
    assert "is-invalid" in widget and 'aria-invalid="true"' in widget
    after_widget = dialog[dialog.index(widget) + len(widget):]
    assert after_widget.lstrip().startswith(f'<div class="invalid-feedback d-block">{message}</div>')
    # The HND-3 warning is said once: in the message when the name is refused, under the fields otherwise.
    assert dialog[:dialog.index("</form>")].count(HND3_NOTE) == 1
    # What was typed stays (SPEC X-3), with a new one-time token.
    assert response.context["dialogs"][0]["form"]["submission_token"].value() != data["submission_token"]


def test_a_refusal_of_the_window_is_shown_at_the_top_of_the_dialog(unit_client, ready_code, handbook_year, instant_window):
    data = open_data(unit_client.get(LIST), "instant", kind="centralised")

    response = unit_client.post(OPEN, data)

    assert response.status_code == 200 and not Batch.objects.exists()
    assertContains(response, "2023年度集中参保通道已关闭（截止2023年6月30日24时），请通过【即时参保办理】参保。")
    assert response.context["dialogs"][0]["show"]


# --- SPEC CODE-6: an account with several codes ----------------------------------------------------------------

SECOND_UNIT = "上海长风示范物流有限公司"


@pytest.fixture
def second_code(account, ready_code):
    """A second code of the same account, after 0072J3 in alphabetical order, with its 经办人填报."""
    code = make_code(account, code="09000X", unit_name=SECOND_UNIT)
    make_handler_info(code)
    return code


def prefilled(response, kind: str) -> tuple:
    form = next(d for d in response.context["dialogs"] if d["kind"] == kind)["form"]
    return form["code"].value(), form["unit_name"].value()


def test_the_centralised_dialog_prefills_the_only_code_without_its_centralised_batch(
    unit_client, ready_code, second_code, handbook_year, centralised_window
):
    """SPEC CODE-6, BAT-2: the first code has its centralised batch this year; the dialog offers the
    other one, and 【确定操作】 as prefilled opens its batch instead of refusing a code never typed."""
    make_batch(code=ready_code, year=handbook_year, number="2023J000900")

    response = unit_client.get(LIST)

    assert prefilled(response, "centralised") == ("09000X", SECOND_UNIT)
    response = unit_client.post(OPEN, open_data(response, "centralised"))
    batch = Batch.objects.get(code=second_code)
    assertRedirects(response, batch_views._batch_home(batch), fetch_redirect_response=False)
    assert (batch.kind, batch.unit_name) == (BatchKind.CENTRALISED, SECOND_UNIT)


def test_the_dialogs_prefill_the_unit_of_the_page(unit_client, ready_code, second_code, handbook_year, instant_window):
    """SPEC CODE-6: a list showing one unit's batches prefills that unit; a list of both prefills
    nothing and names the account's codes instead of guessing."""
    make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    make_batch(code=second_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000002")

    filtered = unit_client.get(LIST, {"unit_name": "物流"})
    assert prefilled(filtered, "instant") == ("09000X", SECOND_UNIT)

    both = unit_client.get(LIST)
    assert prefilled(both, "instant") == (None, None)
    page = both.content.decode()
    dialog = page[page.index('id="batch-open-instant"'):]
    assert f"本账号有多个参保编码，请填写要办理的参保编码及其单位名称：0072J3（{UNIT_NAME}）；09000X（{SECOND_UNIT}）" in dialog


def test_one_code_with_its_centralised_batch_is_still_prefilled(unit_client, ready_code, handbook_year, centralised_window):
    """With a single code there is nothing to choose: the refusal then says why (BAT-2)."""
    make_batch(code=ready_code, year=handbook_year, number="2023J000001")
    assert prefilled(unit_client.get(LIST), "centralised") == ("0072J3", UNIT_NAME)


def test_a_prefilled_code_without_handler_information_leads_to_its_own(unit_client, account, ready_code, handbook_year, centralised_window):
    """SPEC HND-1: the link to 经办人填报 opens the prefilled code's, not the first code's."""
    make_batch(code=ready_code, year=handbook_year, number="2023J000001")
    make_code(account, code="09000X", unit_name=SECOND_UNIT)

    response = unit_client.get(LIST)

    page = response.content.decode()
    dialog = page[page.index('id="batch-open-centralised"'):]
    assert f'href="{reverse("enrollment:handler")}?code=09000X">经办人填报</a>' in dialog


def test_the_top_bar_shows_the_unit_of_the_batch_being_viewed(unit_client, ready_code, second_code, handbook_year):
    """SPEC CODE-6 (UI.md "Frame"): on a batch's pages the top bar names that batch's unit."""
    batch = make_batch(code=second_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000002")

    for url in [detail_url(batch.number), reverse("rosters:roster", kwargs={"number": batch.number})]:
        response = unit_client.get(url)
        assert response.status_code == 200
        assert response.context["portal_unit_name"] == SECOND_UNIT
        assertContains(response, f'<i class="bi bi-building"></i> {SECOND_UNIT}</span>')
    # Elsewhere: the account's first code, as before.
    assert unit_client.get(LIST).context["portal_unit_name"] == UNIT_NAME


def test_another_accounts_batch_number_names_no_unit_in_the_top_bar(unit_client, ready_code, handbook_year):
    stranger_code = make_code(UserFactory(), code="0099AB", unit_name="上海别家公司")
    theirs = make_batch(code=stranger_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000007")

    response = unit_client.get(detail_url(theirs.number))

    assert response.status_code == 404
    assertNotContains(response, "上海别家公司", status_code=404)


def test_a_made_up_kind_is_refused_in_the_first_dialog(unit_client, ready_code, handbook_year, centralised_window):
    response = unit_client.post(OPEN, open_data(unit_client.get(LIST), "centralised", kind="group"))
    assert response.status_code == 200 and not Batch.objects.exists()
    assertContains(response, "请选择参保类型：集中参保或即时参保。")
    assert response.context["dialogs"][0]["show"]


def test_a_second_centralised_batch_is_refused_in_the_dialog(unit_client, ready_code, handbook_year, centralised_window):
    unit_client.post(OPEN, open_data(unit_client.get(LIST), "centralised"))

    response = unit_client.post(OPEN, open_data(unit_client.get(LIST), "centralised"))

    assertContains(response, "该参保编码本年度已办理过集中参保，请在原批次中继续操作；遗漏的人员可在即时参保通道开启后办理。")
    assert Batch.objects.count() == 1


def test_without_handler_information_the_dialog_leads_to_it(unit_client, account, handbook_year, centralised_window):
    """SPEC HND-1: binding an imported code works, then 经办人填报 comes first (HandlerInfoMissing)."""
    imported = make_code(None, source="imported")
    data = open_data(unit_client.get(LIST), "centralised", code="0072J3", unit_name=UNIT_NAME)

    response = unit_client.post(OPEN, data)

    assertRedirects(response, reverse("enrollment:handler"), fetch_redirect_response=False)
    assert messages_of(response) == [HANDLER_INFO_MISSING]
    imported.refresh_from_db()
    assert imported.account == account  # bound, so 经办人填报 can be filled in for it
    assert not Batch.objects.exists()


@pytest.mark.parametrize("kind", ["centralised", "instant"])
def test_posting_the_same_dialog_twice_opens_one_batch(unit_client, ready_code, handbook_year, kind):
    """UI.md "Dialogs": a double click does nothing twice (instant batches have no constraint)."""
    moment = IN_CENTRALISED_WINDOW if kind == "centralised" else IN_INSTANT_WINDOW
    with time_machine.travel(moment, tick=True):
        data = open_data(unit_client.get(LIST), kind)
        first = unit_client.post(OPEN, data)
        second = unit_client.post(OPEN, data)

    batch = Batch.objects.get()
    assert first["Location"] == second["Location"] == batch_views._batch_home(batch)
    # (The first one's message is still waiting: the redirects were not followed.)
    assert messages_of(second)[-1] == f"参保批次 {batch.number} 已创建，无需重复提交。"


def test_a_new_dialog_opens_a_new_instant_batch(unit_client, ready_code, handbook_year, instant_window):
    unit_client.post(OPEN, open_data(unit_client.get(LIST), "instant"))
    unit_client.post(OPEN, open_data(unit_client.get(LIST), "instant"))
    assert sorted(Batch.objects.values_list("number", flat=True)) == ["2023S000001", "2023S000002"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two requests at once need PostgreSQL's row locks")
def test_a_double_click_at_the_same_moment_opens_one_instant_batch(handbook_year):
    account = UserFactory(username="cf-double")
    make_handler_info(make_code(account))
    setup = PortalClient()
    setup.force_login(account)
    with time_machine.travel(IN_INSTANT_WINDOW, tick=True):
        data = open_data(setup.get(LIST), "instant")
        cookie = setup.cookies[settings.SESSION_COOKIE_NAME].value
        responses = []
        barrier = threading.Barrier(2)

        def click():
            browser = PortalClient()
            browser.cookies[settings.SESSION_COOKIE_NAME] = cookie
            barrier.wait()
            try:
                responses.append(browser.post(OPEN, data))
            finally:
                connection.close()

        threads = [threading.Thread(target=click) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    batch = Batch.objects.get()
    assert [response.status_code for response in responses] == [302, 302]
    assert {response["Location"] for response in responses} == {batch_views._batch_home(batch)}


def test_a_get_of_the_dialogs_address_goes_back_to_the_list(unit_client, ready_code):
    """A page link of the list shown after a refusal (?page=2) lands on the list."""
    assertRedirects(unit_client.get(OPEN, {"page": "2"}), LIST + "?page=2", fetch_redirect_response=False)


# --- 查看详情 and 操作日志 (SPEC BAT-7) ------------------------------------------------------------------------------


def test_the_detail_shows_the_fields_the_headcount_and_the_log_newest_last(unit_client, account, ready_code, handbook_year, reviewer, every_action_built):
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    make_entry(batch)
    make_entry(batch, id_number="310101199003074271", name="李四")
    BatchLog.objects.create(batch=batch, actor=account, action="即时参保办理", to_state=S.DRAFT)
    batch_transition(batch=batch, to=S.IN_REVIEW, acting_user=account, action="清册提交")
    batch_transition(batch=batch, to=S.REVIEW_REJECTED, acting_user=reviewer, action="审核不通过", reason="情况说明未加盖公章")

    response = unit_client.get(detail_url(batch.number))

    for text in ["2023S000001", "0072J3", UNIT_NAME, "即时参保", "2023", "创建时间", "最后更新时间"]:
        assertContains(response, text)
    assertContains(response, '<dd class="col-sm-8 col-lg-4 batch-headcount">2</dd>', html=True)
    for header in ["操作时间", "操作人", "操作", "原状态", "新状态", "原因"]:
        assertContains(response, f'<th scope="col">{header}</th>', html=True)
    rows = [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)][1:]
        for row in re.findall(r"<tr>(.*?)</tr>", response.content.decode().split("操作日志")[1], re.S)[1:]
    ]
    assert rows == [
        ["cf-unit", "即时参保办理", "-", "清册待校验", "-"],
        ["cf-unit", "清册提交", "清册待校验", "职保会待审核", "-"],
        ["市职保会", "审核不通过", "职保会待审核", "职保会审核不通过", "情况说明未加盖公章"],
    ]
    # The actions of 职保会审核不通过: 查看详情, 参保清册, 【清册提交】; no 删除.
    assert [link["label"] for link in response.context["action_links"]] == ["参保清册", "清册提交"]
    assertNotContains(response, "批次删除</button>")


def _log_rows(response) -> list[list[str]]:
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)][1:3]
        for row in re.findall(r"<tr>(.*?)</tr>", response.content.decode().split("操作日志")[1], re.S)[1:]
    ]


def test_the_log_names_the_system_the_unit_another_unit_account_and_staff(
    unit_client, account, ready_code, handbook_year, reviewer
):
    """SPEC BAT-7 操作人: 系统 for background work, a unit account by its name, staff as 市职保会. Only
    accounts other than the unit's own are read, in one query, and none when there are none."""
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    BatchLog.objects.create(batch=batch, actor=account, action="即时参保办理", to_state=S.DRAFT)
    BatchLog.objects.create(batch=batch, actor=None, action="清册校验", from_state=S.DRAFT, to_state=S.VALIDATING)

    def detail_users_queries() -> tuple[object, int]:
        with CaptureQueriesContext(connection) as captured:
            response = unit_client.get(detail_url(batch.number))
        return response, sum('FROM "accounts_user"' in query["sql"] for query in captured.captured_queries)

    response, before = detail_users_queries()
    assert _log_rows(response) == [["cf-unit", "即时参保办理"], ["系统", "清册校验"]]

    other_unit = UserFactory(username="cf-other")
    BatchLog.objects.create(batch=batch, actor=other_unit, action="清册提交", from_state=S.DRAFT, to_state=S.IN_REVIEW)
    BatchLog.objects.create(
        batch=batch, actor=reviewer, action="审核不通过", from_state=S.IN_REVIEW, to_state=S.REVIEW_REJECTED
    )
    response, after = detail_users_queries()
    assert _log_rows(response)[2:] == [["cf-other", "清册提交"], ["市职保会", "审核不通过"]]
    assert after == before + 1


# The 操作日志 row as the detail template wrote it with filters, before enrollment.views.batches
# _log_rows made the rows in Python: the reference they must match character for character.
REFERENCE_LOG_ROWS = Template(
    """{% for row in log %}
          <tr>
            <td class="text-nowrap">{{ row.at|date:"Y-m-d H:i:s" }}</td>
            <td>{{ row.actor_label }}</td>
            <td>{{ row.action }}</td>
            <td>{{ row.get_from_state_display|default:"-" }}</td>
            <td>{{ row.get_to_state_display }}</td>
            <td class="cell-reason">{{ row.reason|default:"-"|linebreaksbr }}</td>
          </tr>
          {% endfor %}"""
)


def test_log_rows_are_the_templates_rows(account, ready_code, handbook_year, reviewer):
    """_log_rows writes what the template wrote: the local time, 操作人, state names or "-", the
    reason escaped with its line breaks as <br> (SPEC BAT-7)."""
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    at = dt.datetime(2026, 6, 30, 17, 5, 9, tzinfo=dt.timezone.utc)  # 7月1日 01:05:09 in Shanghai
    BatchLog.objects.create(batch=batch, actor=account, action="即时参保办理", to_state=S.DRAFT, at=at)
    BatchLog.objects.create(batch=batch, actor=None, action="清册校验", from_state=S.DRAFT, to_state=S.INVALID)
    BatchLog.objects.create(
        batch=batch,
        actor=reviewer,
        action="审核不通过",
        from_state=S.IN_REVIEW,
        to_state=S.REVIEW_REJECTED,
        reason="第一行 <b>&\"'\r\n第二行\r第三行\n",
    )
    BatchLog.objects.create(batch=batch, actor=UserFactory(username="cf-<other>"), action="批次删除", from_state=S.DRAFT)
    log = list(batch.log.order_by("at", "pk"))
    actors = batch_views._log_actors(log, account)
    for row in log:
        row.actor_label = batch_views._actor_label(row, account, actors)

    expected = REFERENCE_LOG_ROWS.render(Context({"log": log}))
    assert "".join(batch_views._log_rows(log, account)) == expected
    assert "2026-07-01 01:05:09" in expected and "<br>第二行<br>第三行<br>" in expected


def test_the_detail_of_a_draft_offers_deletion(unit_client, ready_code, handbook_year):
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    response = unit_client.get(detail_url(batch.number))
    assertContains(response, f'data-delete-url="{delete_url(batch.number)}"')
    assertContains(response, f'<form method="post" action="{delete_url(batch.number)}" class="batch-delete-form">')
    assertContains(response, "暂无操作记录。")


# --- 【批次删除】 (SPEC BAT-5) -----------------------------------------------------------------------------------


def test_the_list_has_one_confirmation_dialog_with_the_handbooks_text(unit_client, ready_code, handbook_year):
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    response = unit_client.get(LIST)
    assertContains(response, 'id="batch-delete-dialog"', count=1)
    assertContains(response, f'data-batch-number="{batch.number}" data-delete-url="{delete_url(batch.number)}"')
    assertContains(response, "删除后，该批次及该批次下参保人员信息将全部删除，且不可恢复。")


def test_deleting_a_draft(unit_client, ready_code, handbook_year):
    batch = make_batch(code=ready_code, year=handbook_year, number="2023J000001", kind=BatchKind.CENTRALISED)
    make_entry(batch)

    response = unit_client.post(delete_url(batch.number))

    assertRedirects(response, LIST, fetch_redirect_response=False)
    assert messages_of(response) == ["批次 2023J000001 已删除"]
    assert not Batch.objects.exists()
    # The second click of a double click finds it gone and says so.
    unit_client.get(LIST)  # the message is shown
    again = unit_client.post(delete_url(batch.number))
    assertRedirects(again, LIST, fetch_redirect_response=False)
    assert messages_of(again) == ["批次 2023J000001 已删除"]


def test_deletion_is_refused_in_other_states_with_the_services_message(unit_client, ready_code, handbook_year):
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001", state=S.IN_REVIEW)

    response = unit_client.post(delete_url(batch.number))

    assertRedirects(response, LIST, fetch_redirect_response=False)
    assert messages_of(response) == ["批次当前状态为“职保会待审核”，不能进行【批次删除】操作。"]
    assert Batch.objects.filter(pk=batch.pk).exists()


def test_deletion_is_a_post(unit_client, ready_code, handbook_year):
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT)
    assert unit_client.get(delete_url(batch.number)).status_code == 405
    assert Batch.objects.exists()


# --- 【参保流程】 (SPEC BAT-1, BAT-3) -----------------------------------------------------------------------------


def test_the_flow_page_shows_the_picture_and_each_states_actions(unit_client):
    response = unit_client.get(FLOW)

    assertContains(response, 'src="/static/img/batch_flow.svg"')
    assertContains(response, "参保状态说明")
    rows = {row["state"].label: row["actions"] for row in response.context["rows"]}
    assert list(rows) == [label for _, label in BatchState.choices]
    assert rows["清册待校验"] == ["查看详情", "参保清册（可编辑）", "清册校验", "批次删除"]
    assert rows["职保会待审核"] == ["查看详情", "参保清册（只读）"]
    assert rows["缴费凭证待上传"] == ["查看详情", "参保清册（只读）", "保障项目选择", "批次撤回"]


def test_the_picture_names_every_state_and_is_safe_under_the_csp():
    picture = (Path(settings.BASE_DIR) / "static" / "img" / "batch_flow.svg").read_text()
    for _, label in BatchState.choices:
        assert f">{label}<" in picture, label
    for button in ["【清册校验】", "【清册提交】", "【保障项目选择】", "【提交确认保费】", "【批次撤回】", "【批次删除】"]:
        assert button in picture
    assert "style=" not in picture and "<script" not in picture and "<style" not in picture


# --- access (SPEC X-4; STYLE.md §10) -----------------------------------------------------------------------------

PAGES = [
    ("get", LIST),
    ("post", OPEN),
    ("get", FLOW),
    ("get", detail_url("2023S000001")),
    ("post", delete_url("2023S000001")),
]


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_anonymous_users_are_sent_to_the_login(client, method, url):
    response = getattr(client, method)(url)
    assertRedirects(response, f"{reverse('accounts:login')}?next={url}", fetch_redirect_response=False)


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
@pytest.mark.parametrize(("method", "url"), PAGES)
def test_back_office_accounts_get_403(client, ready_code, handbook_year, role, method, url):
    make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    client.force_login(UserFactory(role=role))
    assert getattr(client, method)(url).status_code == 403
    assert Batch.objects.exists()


def test_another_accounts_batch_is_404_on_detail_and_delete(unit_client, ready_code, handbook_year):
    stranger_code = make_code(UserFactory(), code="0099AB", unit_name="上海别家公司")
    theirs = make_batch(code=stranger_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000007")

    assert unit_client.get(detail_url(theirs.number)).status_code == 404
    assert unit_client.post(delete_url(theirs.number)).status_code == 404
    assert Batch.objects.filter(pk=theirs.pk).exists()
    assert unit_client.get(detail_url("2023S999999")).status_code == 404


# --- batch numbers in page URLs (SPEC SEC-1, X-4) ------------------------------------------------------


@pytest.mark.parametrize("number", ["2023s000001", "２０２３S００００01", "2023S\u200b000001"])
def test_a_batch_number_typed_otherwise_finds_the_batch(unit_client, ready_code, handbook_year, number):
    batch = make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    response = unit_client.get(f"/batches/{number}/")
    assert response.status_code == 200
    assert batch.number in response.content.decode()


@pytest.mark.parametrize("number", ["2023S000001%00", "%00", "2023S%01000001", "٢٠٢٣S000001", "x" * 60, "-1", "2023S000001%27"])
def test_hostile_batch_numbers_are_404_never_500(unit_client, ready_code, handbook_year, number):
    make_batch(code=ready_code, year=handbook_year, kind=BatchKind.INSTANT, number="2023S000001")
    for tail in ("", "roster/", "roster/import/", "validation/", "plans/", "premium/"):
        assert unit_client.get(f"/batches/{number}/{tail}").status_code == 404


def test_a_page_outside_the_batches_names_the_first_codes_unit(unit_client, ready_code, second_code):
    """The top bar on a page whose view read no code (enrollment.context_processors.portal, SPEC OPS-3:
    the prepared look-up of the first code): the first code's unit, and the menu open."""
    response = unit_client.get(reverse("accounts:landing"))

    assert response.context["portal_unit_name"] == UNIT_NAME
    assert all(item["url"] for group in response.context["portal_menu"] for item in group["items"])


def test_an_account_without_a_code_sees_its_own_unit_and_the_menu_waiting_for_one(client):
    account = UserFactory(role="unit_admin", unit_name="上海尚无编码公司")
    client.force_login(account)

    response = client.get(reverse("accounts:landing"))

    assert response.context["portal_unit_name"] == "上海尚无编码公司"
    items = {item["label"]: item for group in response.context["portal_menu"] for item in group["items"]}
    assert items["经办人填报"]["url"] is None and items["参保批次管理"]["url"]
