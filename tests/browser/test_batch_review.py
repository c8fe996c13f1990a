"""A reviewer works the 清册审核 queue in the back office (SPEC VAL-7, BO-1, BAT-4, YEAR-3): login through
the portal, the 待办 panel, the queue, the batch with its ratio table beside the 情况说明, 【审核通过】; the
unit then sees its batch 职保会审核通过 in 参保批次管理."""

import pytest

from enrollment.models import BatchLog
from enrollment.states import BatchState
from mutualaid.attachments import attachment_store
from rosters.rules import KIND_SITUATION
from rosters.submission import batch_submit
from tests.browser.conftest import forget_session, log_in
from tests.browser.helpers import situation_note_png
from tests.factories import UserFactory
from tests.rosters.helpers import IN_CENTRALISED_WINDOW, ready_batch
from tests.rosters.importfiles import previous

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"


def test_reviewer_approves_a_batch_from_the_queue(page, screenshot, handbook_year):
    account = UserFactory(username="unit-changfeng", unit_name="上海长风示范科技有限公司", password=PASSWORD)
    # A continuing unit whose roster shrank from 20 to 3 (VAL-3 outside ±10 %) with 3 of 10 paying
    # people (VAL-4 30 %): it uploaded its 情况说明 and submitted → 职保会待审核.
    batch = ready_batch(handbook_year, people=3, paying_headcount=10, account=account)
    for sequence in range(17):
        previous(2022, batch.code.code, f"31010119800101{sequence:03d}X", f"去年{sequence}")
    attachment_store(upload=situation_note_png(), uploaded_by=account, owner=batch, kind=KIND_SITUATION.value)
    batch_submit(batch=batch, acting_user=account, agreed=True, at=IN_CENTRALISED_WINDOW)
    assert batch.state == BatchState.IN_REVIEW
    UserFactory(username="reviewer-li", first_name="李审核", role="reviewer", password=PASSWORD)

    log_in(page, "reviewer-li", PASSWORD)
    page.wait_for_url("**/backoffice/")
    line = page.locator("#backoffice-queues tr.queue-line").filter(has_text="清册审核")
    assert "1 件" in line.locator("td.count").first.inner_text()
    # Submitted on 15 June 2023: its 2 working days are long past.
    assert "1 件已超期" in line.inner_text()

    line.get_by_role("link", name="清册审核").click()
    page.wait_for_url("**/backoffice/rosters/batchreview/?state=in_review")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    row_text = rows.first.inner_text()
    for text in (batch.number, batch.code.code, "上海长风示范科技有限公司", "集中参保", "2023-06-15 10:00", "2023-06-19 24:00", "已超期", "职保会待审核"):
        assert text in row_text
    overdue = rows.first.locator(".state-overdue")
    assert overdue.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(220, 53, 69)"
    screenshot(page, "batch-review-queue")

    rows.first.get_by_role("link", name=batch.number).click()
    page.wait_for_url(f"**/backoffice/rosters/batchreview/{batch.pk}/change/**")
    result = page.locator("#validation-result")
    assert "清册增减幅度校验(10%)" in result.inner_text()
    ratio_row = page.locator("#ratio-rows tbody tr").first
    assert [cell.strip() for cell in ratio_row.inner_text().split("\t")] == ["00108537", "上海长风示范科技有限公司", "3", "10", "30.00%"]
    # The 情况说明 beside it, as a thumbnail that loaded from the attachment view.
    page.wait_for_function(
        "() => { const img = document.querySelector('img.attachment-thumb'); return img && img.complete && img.naturalWidth > 0; }"
    )
    assert "情况说明（加盖公章）" in page.locator("fieldset.attachments").inner_text()
    # Side by side at 1366 px: the attachments start to the right of the result, at the same height.
    result_box = result.bounding_box()
    attachments_box = page.locator(".review-attachments").bounding_box()
    assert attachments_box["x"] > result_box["x"] + result_box["width"] - 1
    assert abs(attachments_box["y"] - result_box["y"]) < 2
    screenshot(page, "batch-review-page", full_page=False)
    screenshot(page, "batch-review-page-full")

    page.get_by_role("button", name="审核通过", exact=True).click()
    dialog = page.locator("#approve-dialog")
    dialog.wait_for(state="visible")
    assert batch.number in dialog.inner_text()
    dialog.get_by_role("button", name="确认审核通过").click()
    page.wait_for_url("**/backoffice/rosters/batchreview/*")
    assert "职保会审核通过" in page.locator("ul.messagelist li.success").inner_text()
    batch.refresh_from_db()
    assert batch.state == BatchState.REVIEW_APPROVED
    assert BatchLog.objects.filter(batch=batch, to_state=BatchState.REVIEW_APPROVED).count() == 1
    page.goto(page.base_url + "/backoffice/rosters/batchreview/")
    assert "职保会审核通过" in page.locator("#result_list tbody tr").first.inner_text()
    screenshot(page, "batch-review-approved")

    # The unit sees it in 参保批次管理.
    forget_session(page)
    log_in(page, "unit-changfeng", PASSWORD)
    page.goto(page.base_url + "/batches/")
    batch_row = page.locator("tr").filter(has_text=batch.number)
    assert "职保会审核通过" in batch_row.inner_text()
    screenshot(page, "batch-review-unit-list")
