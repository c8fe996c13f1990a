"""参保批次管理 and 参保批次人员管理 keep every action of a row in view (SPEC X-5: "usable at 390 px and at
1280 px without hidden actions"): at 1280×800 and 1366×768 the 操作 column wraps instead of hiding behind a
horizontal scroll; at 390×844 (a phone) each row is a card. Every action link or button of a row must lie
inside the viewport once the row is scrolled to, and nothing scrolls sideways."""
import datetime as dt

import pytest

from enrollment.states import BatchKind, BatchState
from rosters.models import IdType, Sex, WorkStatus
from tests.browser.conftest import PHONE, log_in
from tests.browser.helpers import watch_csp
from tests.enrollment.helpers import make_code, make_handler_info
from tests.factories import UserFactory, make_batch, make_entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"
LONG_UNIT_NAME = "上海长风示范科技发展集团股份有限公司第二分公司"
# The states whose rows carry the most actions (SPEC BAT-3): 清册校验不通过 has five.
STATES = [BatchState.INVALID, BatchState.COMPLETED, BatchState.AWAITING_PAYMENT, BatchState.DRAFT]
# 查看详情, 参保清册, 清册校验, 清册提交, 批次删除
INVALID_ACTIONS = ["查看详情", "参保清册", "清册校验", "清册提交", "批次删除"]


@pytest.fixture
def unit_with_batches(current_year):
    account = UserFactory(username="cf-layout", first_name="丁一")
    code = make_code(account, unit_name=LONG_UNIT_NAME)
    make_handler_info(code)
    batches = [
        make_batch(code=code, year=current_year, kind=BatchKind.INSTANT, state=state, number=f"{current_year.year}S{index:06d}")
        for index, state in enumerate(STATES, start=1)
    ]
    return account, batches


@pytest.fixture
def roster_batch(current_year):
    """A draft whose people carry every row action: 查看, 编辑 (非身份证), 设置在职 (职退状态 "-"), 删除."""
    account = UserFactory(username="cf-layout-roster", first_name="丁一")
    code = make_code(account, unit_name=LONG_UNIT_NAME)
    make_handler_info(code)
    batch = make_batch(code=code, year=current_year, state=BatchState.DRAFT)
    for index, (name, id_type) in enumerate([("欧阳慕容雪", IdType.OTHER), ("王梅", IdType.RESIDENT), ("张贺", IdType.OTHER)]):
        make_entry(
            batch, name=name, id_type=id_type, work_status=WorkStatus.UNKNOWN, has_social_security=False,
            birth_date=dt.date(1980 + index, 3, 14), sex=Sex.FEMALE if index % 2 else Sex.MALE,
        )
    return account, batch


def actions_in_view(page, row) -> list[str]:
    """The names of the row's actions (links and buttons), after checking that each lies inside the
    viewport once the row is scrolled to: its whole box, not just a corner."""
    row.scroll_into_view_if_needed()
    viewport = page.viewport_size
    names = []
    actions = row.locator(".cell-actions a, .cell-actions button")
    for index in range(actions.count()):
        action = actions.nth(index)
        action.scroll_into_view_if_needed()
        box = action.bounding_box()
        name = action.inner_text().strip()
        assert box is not None and action.is_visible(), name
        assert 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"], (name, box, viewport)
        assert 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], (name, box, viewport)
        names.append(name)
    return names


def no_sideways_scroll(page, table_selector: str):
    """Neither the page nor the table's box scrolls sideways: nothing is hidden to the right."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator(table_selector).evaluate(
        "table => { const box = table.closest('.table-responsive'); return box.scrollWidth <= box.clientWidth; }"
    )


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 1366, "height": 768}, PHONE])
def test_every_action_of_a_batch_row_is_in_view(page, screenshot, unit_with_batches, viewport):
    account, batches = unit_with_batches
    refused = watch_csp(page)
    page.set_viewport_size(viewport)
    log_in(page, account.username, PASSWORD)
    page.goto(page.base_url + "/batches/")
    page.get_by_role("heading", name="参保批次管理").wait_for()

    no_sideways_scroll(page, ".batch-table")
    for batch in batches:
        row = page.locator(".batch-table tbody tr", has_text=batch.number)
        expected = [action.label for action in batch.actions]
        assert sorted(actions_in_view(page, row)) == sorted(expected), batch.state
    invalid = page.locator(".batch-table tbody tr", has_text=batches[0].number)
    assert actions_in_view(page, invalid) == INVALID_ACTIONS
    # Reachable by name, as the handbook calls them.
    invalid.get_by_role("link", name="清册提交").wait_for()
    invalid.get_by_role("button", name="批次删除").wait_for()
    if viewport == PHONE:
        # Each cell is headed by its column's name on the card.
        assert invalid.locator("td.cell-number").evaluate("td => getComputedStyle(td, '::before').content") == '"参保批次"'
        page.locator(".batch-toolbar").evaluate("bar => bar.scrollIntoView({block: 'start', behavior: 'instant'})")
        screenshot(page, "batches-phone", full_page=False)
    elif viewport["width"] == 1366:
        page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
        screenshot(page, "batches", full_page=False)
    else:
        page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
        screenshot(page, "batches-1280", full_page=False)
    assert refused == []


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 800}])
def test_every_action_of_a_roster_row_is_in_view(page, screenshot, roster_batch, viewport):
    account, batch = roster_batch
    refused = watch_csp(page)
    page.set_viewport_size(viewport)
    log_in(page, account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{batch.number}/roster/")
    page.get_by_role("heading", name="参保批次人员管理").wait_for()

    no_sideways_scroll(page, ".roster-table")
    rows = page.locator(".roster-table tbody tr")
    assert rows.count() == 3
    for index in range(3):
        names = actions_in_view(page, rows.nth(index))
        assert "查看" in names and "设置在职" in names and "删除" in names
    first = page.locator(".roster-table tbody tr", has_text="欧阳慕容雪")
    assert actions_in_view(page, first) == ["查看", "编辑", "设置在职", "删除"]
    # The row's tick box and 全选本页 stay usable on the card layout.
    first.get_by_label("选择 欧阳慕容雪").check()
    page.get_by_label("全选本页").check()
    assert page.locator(".roster-check:checked").count() == 3
    if viewport == PHONE:
        assert "全选本页" in page.locator(".roster-table thead").inner_text()
        page.locator(".roster-toolbar").evaluate("bar => bar.scrollIntoView({block: 'start', behavior: 'instant'})")
        screenshot(page, "roster-phone", full_page=False)
    else:
        page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
        screenshot(page, "roster", full_page=False)
    assert refused == []
