"""参保批次人员管理 in Chromium (SPEC ROS-6, ROS-8): filter by 职退状态, tick two rows, 【批量设置为在职】,
confirm `确认批量设置在职?`, and see them 在职."""
import datetime as dt

import pytest

from enrollment.states import BatchState
from rosters.models import IdType, RosterEntry, Sex, WorkStatus
from tests.browser.conftest import log_in, page_ready
from tests.browser.helpers import wait_until_shown
from tests.factories import make_batch, make_entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"


def watch_csp(page) -> list:
    refused = []
    page.on("console", lambda message: "Content Security Policy" in message.text and refused.append(message.text))
    return refused


@pytest.fixture
def roster(handbook_year):
    batch = make_batch(year=handbook_year, state=BatchState.DRAFT)
    people = [
        ("胡庆庆", WorkStatus.ACTIVE, True, IdType.RESIDENT),
        ("王梅", WorkStatus.UNKNOWN, False, IdType.RESIDENT),
        ("张贺", WorkStatus.UNKNOWN, False, IdType.OTHER),
        ("叶开", WorkStatus.UNKNOWN, False, IdType.RESIDENT),
        ("李老师", WorkStatus.RETIRED, False, IdType.RESIDENT),
        ("赵敏", WorkStatus.ACTIVE, False, IdType.RESIDENT),
    ]
    for index, (name, status, insured, id_type) in enumerate(people):
        make_entry(
            batch,
            name=name,
            work_status=status,
            has_social_security=insured,
            id_type=id_type,
            birth_date=dt.date(1980 + index, 3, 14),
            sex=Sex.FEMALE if index % 2 else Sex.MALE,
            is_suggested=status != WorkStatus.UNKNOWN,
            ss_unit_code="00108537" if status != WorkStatus.UNKNOWN else "",
        )
    return batch


def test_filter_tick_two_and_bulk_set_active(page, screenshot, roster):
    refused = watch_csp(page)
    log_in(page, roster.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{roster.number}/roster/")
    page.get_by_role("heading", name="参保批次人员管理").wait_for()
    assert page.locator(".roster-table tbody tr").count() == 6
    screenshot(page, "roster_page")

    # 职退状态 = "-", 【搜索】: the three unknown people.
    page.get_by_label("职退状态").select_option("-")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**work_status=-**")
    rows = page.locator(".roster-table tbody tr")
    assert rows.count() == 3
    assert [name.strip() for name in page.locator(".roster-table td.cell-name").all_inner_texts()] == ["王梅", "张贺", "叶开"]

    # Tick 王梅 and 叶开, 【批量设置为在职】, the handbook's box, 【确定】.
    page.get_by_label("选择 王梅").check()
    page.get_by_label("选择 叶开").check()
    assert page.locator(".roster-selected").inner_text() == "已选择 2 人"
    page.get_by_role("button", name="批量设置为在职").click()
    dialog = page.locator("#roster-confirm")
    dialog.get_by_text("确认批量设置在职?").wait_for()
    wait_until_shown(page, "#roster-confirm")
    screenshot(page, "roster_bulk_set_active_confirm", full_page=False)
    dialog.get_by_role("button", name="确定").click()

    # Back on the same filtered list: only 张贺 is still "-"; the message says 2.
    page.get_by_text("已将2位人员设置为在职（有社保）。").wait_for()
    assert "work_status=-" in page.url
    assert [name.strip() for name in page.locator(".roster-table td.cell-name").all_inner_texts()] == ["张贺"]

    page.get_by_label("职退状态").select_option("在职")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url("**work_status=%E5%9C%A8%E8%81%8C**")
    active = [name.strip() for name in page.locator(".roster-table td.cell-name").all_inner_texts()]
    assert active == ["胡庆庆", "王梅", "叶开", "赵敏"]
    row = page.locator(".roster-table tbody tr", has_text="王梅")
    assert row.locator(".cell-work-status").inner_text().strip() == "在职"
    assert row.locator(".cell-social-security").inner_text().strip() == "是"
    assert "设置在职" not in row.locator(".cell-actions").inner_text()
    screenshot(page, "roster_after_bulk_set_active")

    assert set(RosterEntry.objects.filter(batch=roster, work_status=WorkStatus.ACTIVE, has_social_security=True).values_list("name", flat=True)) == {"胡庆庆", "王梅", "叶开"}
    assert refused == []


def test_bulk_delete_asks_with_the_count_and_nothing_ticked_says_so(page, screenshot, roster):
    log_in(page, roster.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{roster.number}/roster/")
    # 查看 first: every field, the number masked (SPEC X-1); 【返回】 comes back to the list.
    page.locator(".roster-table tbody tr", has_text="胡庆庆").get_by_role("link", name="查看").click()
    page.get_by_role("heading", name="查看参保人员").wait_for()
    assert "3101*****" in page.locator(".detail-list").inner_text()
    screenshot(page, "roster_entry")
    page.get_by_role("link", name="返回").click()
    page.get_by_role("heading", name="参保批次人员管理").wait_for()
    page.get_by_role("button", name="批量删除").click()
    dialog = page.locator("#roster-confirm")
    dialog.get_by_text("请先勾选要操作的人员。").wait_for()
    assert not dialog.get_by_role("button", name="确定").is_visible()
    dialog.get_by_role("button", name="关闭", exact=True).last.click()
    dialog.wait_for(state="hidden")

    page.get_by_label("全选本页").check()
    page.get_by_role("button", name="批量删除").click()
    dialog.get_by_text("确认删除选中的6位人员?").wait_for()
    dialog.get_by_role("button", name="取消").click()
    dialog.wait_for(state="hidden")
    assert RosterEntry.objects.filter(batch=roster).count() == 6  # 取消 changes nothing

    page.get_by_label("全选本页").uncheck()
    page.locator(".roster-table tbody tr", has_text="李老师").get_by_role("button", name="删除").click()
    dialog.get_by_text("确认删除“李老师”?").wait_for()
    dialog.get_by_role("button", name="确定").click()
    page.get_by_text("已删除“李老师”。").wait_for()
    assert not RosterEntry.objects.filter(batch=roster, name="李老师").exists()


def test_confirm_a_name_mismatch_and_edit_a_passport_holder(page, screenshot, roster):
    wang = RosterEntry.objects.get(batch=roster, name="王梅")
    RosterEntry.objects.filter(pk=wang.pk).update(name_mismatch=True, imported_name="王梅晓", member_name="王梅")
    log_in(page, roster.account.username, PASSWORD)
    page.goto(page.base_url + f"/batches/{roster.number}/roster/")

    # SPEC ROS-5: the banner leads to the table; nothing is preselected, so 【确认】 without a choice
    # says so at the row; the unit chooses, then 【确认】.
    page.get_by_role("link", name="姓名匹配异常，请人工确认").click()
    page.get_by_text("勾选完成后，请点击“确认”按钮").wait_for()
    page_ready(page)
    assert not page.get_by_label("王梅", exact=True).is_checked() and not page.get_by_label("王梅晓").is_checked()
    page.get_by_role("button", name="确认").click()
    page.locator(".roster-names-table tr.table-danger").get_by_text("请选择该人员的正确姓名").wait_for()
    assert page.get_by_text("还有1位人员未选择姓名").first.is_visible()
    page_ready(page)
    page.get_by_label("王梅晓").check()
    screenshot(page, "roster_names")
    page.get_by_role("button", name="确认").click()
    page.get_by_text("已确认1位人员的姓名。").wait_for()
    assert page.get_by_role("link", name="姓名匹配异常，请人工确认").count() == 0
    wang.refresh_from_db()
    assert (wang.name, wang.name_mismatch) == ("王梅晓", False)

    # SPEC ROS-7: 编辑 of the 非身份证 row; the number is shown masked and never editable.
    row = page.locator(".roster-table tbody tr", has_text="张贺")
    row.get_by_role("link", name="编辑").click()
    page.get_by_role("heading", name="编辑参保人员").wait_for()
    page.get_by_label("姓名").fill("张贺明")
    page.get_by_label("手机号").fill("1391234")
    page.get_by_role("button", name="保存").click()
    page.get_by_text("请输入11位手机号码。").wait_for()
    screenshot(page, "roster_edit_error")
    page.get_by_label("手机号").fill("13912345678")
    page.get_by_role("button", name="保存").click()
    page.get_by_text("已保存“张贺明”的人员信息。").wait_for()
    entry = RosterEntry.objects.get(batch=roster, id_type=IdType.OTHER)
    assert (entry.name, entry.mobile) == ("张贺明", "13912345678")

    # SPEC ROS-7 [departure] (参保查询, LOOK-1): the page counts who has no mobile; a 身份证 entry's
    # 【修改手机号】 (not 【编辑】, which stays the 非身份证 entries') holds the 手机号 only.
    page.get_by_text("有5人未登记手机号：未登记的人员无法通过【参保查询】查看本人参保情况。").wait_for()
    page.locator(".roster-table tbody tr", has_text="胡庆庆").get_by_role("link", name="修改手机号").click()
    page.get_by_role("heading", name="修改手机号").wait_for()
    assert page.get_by_label("姓名").count() == 0 and page.get_by_text("只能修改手机号").is_visible()
    page.get_by_label("手机号").fill("139 0000 1111")
    screenshot(page, "roster_edit_resident_mobile")
    page.get_by_role("button", name="保存").click()
    page.get_by_text("已保存“胡庆庆”的人员信息。").wait_for()
    page.get_by_text("有4人未登记手机号").wait_for()
    assert RosterEntry.objects.get(batch=roster, name="胡庆庆").mobile == "13900001111"
