"""A reviewer's day in the back office (issue 10; SPEC BO-1, BO-3): the 待办 panel on the index with
我的 / 未分配, 【领取】 on a 清册审核 page, 综合查询 by batch number, and 参保统计 of the year with its charts —
in Chromium, against the live server."""
import pytest

from enrollment.states import BatchState
from mutualaid.attachments import attachment_store
from rosters.rules import KIND_SITUATION
from rosters.submission import batch_submit
from tests.browser.conftest import log_in
from tests.browser.helpers import situation_note_png
from tests.factories import UserFactory
from tests.rosters.helpers import IN_CENTRALISED_WINDOW, ready_batch
from tests.rosters.importfiles import previous

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"


def test_reviewer_takes_an_item_searches_and_reads_the_statistics(page, screenshot, handbook_year):
    account = UserFactory(username="unit-changfeng", unit_name="上海长风示范科技有限公司", password=PASSWORD)
    # A unit whose roster shrank from 20 to 3: its 情况说明 sends the batch to 职保会待审核 (VAL-3, VAL-6).
    batch = ready_batch(handbook_year, people=3, paying_headcount=10, account=account)
    for sequence in range(17):
        previous(2022, batch.code.code, f"31010119800101{sequence:03d}X", f"去年{sequence}")
    attachment_store(upload=situation_note_png(), uploaded_by=account, owner=batch, kind=KIND_SITUATION.value)
    batch_submit(batch=batch, acting_user=account, agreed=True, at=IN_CENTRALISED_WINDOW)
    assert batch.state == BatchState.IN_REVIEW
    UserFactory(username="reviewer-wang", first_name="王审核", role="reviewer", password=PASSWORD)

    log_in(page, "reviewer-wang", PASSWORD)
    page.wait_for_url("**/backoffice/")
    line = page.locator("#backoffice-queues tr.queue-line").filter(has_text="清册审核")
    assert "1 件" in line.locator("td.count").first.inner_text()

    # 【领取】 on the item's page: the reviewer becomes its 处理人, and 我的 counts it on the index.
    page.goto(page.base_url + f"/backoffice/rosters/batchreview/{batch.pk}/change/")
    assert "未分配" in page.locator("#assignment").inner_text()
    page.locator("#assignment-take").click()
    page.wait_for_load_state()
    assert "reviewer-wang" in page.locator("#assignment").inner_text()
    assert page.locator("#assignment-release").is_visible()
    page.goto(page.base_url + "/backoffice/")
    line = page.locator("#backoffice-queues tr.queue-line").filter(has_text="清册审核")
    assert line.locator(".queue-mine").inner_text() == "1 件"
    assert line.locator(".queue-unassigned").inner_text() == "0 件"
    screenshot(page, "backoffice-home")

    # 综合查询 by batch number: the batch, its unit and the queue that holds it.
    page.goto(page.base_url + "/backoffice/search/")
    page.locator("#id_q").fill(batch.number)
    page.get_by_role("button", name="搜索").click()
    page.wait_for_load_state()
    results = page.inner_text("#content-main")
    assert batch.number in results and "上海长风示范科技有限公司" in results and "职保会待审核" in results

    # 参保统计 of 2023: the submitted batch and its 3 people, drawn as SVG charts.
    page.goto(page.base_url + "/backoffice/statistics/?year=2023")
    summary = page.locator("#stats-summary").inner_text()
    assert "参保人数" in summary and "3" in summary
    assert page.locator("#content-main svg").count() >= 3
    assert "职保会待审核" in page.locator("#stats-states").inner_text()
    screenshot(page, "statistics-small")
