"""First journey: a unit administrator logs in and sees the workspace frame (UI.md, SPEC ACC-1, ACC-5)."""
import pytest

from accounts.models import UnionOrganisation
from tests.browser.conftest import PHONE, log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MENU = ["参保编码申请", "经办人填报", "参保批次管理", "缴费凭证管理"]



def test_unit_admin_logs_in_and_sees_the_workspace(page, screenshot, demo_data, union_organisations):
    UserFactory(username="unit-demo", first_name="演示单位经办人", role="unit_admin", union_organisation=UnionOrganisation.objects.get(name="普陀区总工会"))

    log_in(page, "unit-demo", "Portal#2026")

    # SPEC ACC-5: a unit with a union lands on the platform, then 【业务工作台】 → 【在职职工互助保障】.
    page.get_by_role("link", name="业务工作台").click()
    page.get_by_role("link", name="在职职工互助保障").click()
    page.wait_for_url(page.base_url + "/")
    top_bar = page.locator("header.topbar")
    assert "上海工会网上工作平台" in top_bar.inner_text()
    assert "申工通工作平台" in top_bar.inner_text()
    assert "unit-demo" in top_bar.inner_text()
    assert top_bar.get_by_role("button", name="退出").is_visible()
    sidebar = page.locator("#sidebar")
    assert "互助保障管理" in sidebar.inner_text()
    for label in MENU:
        assert sidebar.get_by_text(label).is_visible()
    assert page.get_by_role("heading", name="在职职工互助保障").is_visible()
    assert page.locator(".year-banner").inner_text().strip().startswith("参保年度为")
    # Our own CSS and fonts are served (vendored, no CDN): the accent colour is applied.
    assert page.locator("header.topbar").evaluate("e => getComputedStyle(e).backgroundImage").startswith("linear-gradient")
    screenshot(page, "workspace", full_page=False)

    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/accounts/login/")
    assert page.get_by_role("button", name="登录").is_visible()


def test_wrong_password_gets_a_chinese_message(page, screenshot):
    UserFactory(username="unit-demo", role="unit_admin")

    log_in(page, "unit-demo", "wrong-password")

    assert page.get_by_role("alert").inner_text().strip() == "账号或密码错误，请重新输入。"
    screenshot(page, "login-error")


def test_the_workspace_is_usable_on_a_phone(page, screenshot):
    UserFactory(username="unit-demo", role="unit_admin")
    page.set_viewport_size(PHONE)

    log_in(page, "unit-demo", "Portal#2026")
    # A unit without a union (未建会) sees 【在职职工互助保障】 at once (SPEC ACC-5).
    page.locator(".app-tile", has_text="在职职工互助保障").click()
    page.wait_for_url(page.base_url + "/")

    # The menu folds away behind a button and opens over the page.
    assert not page.locator("#sidebar").get_by_text("参保批次管理").is_visible()
    page.get_by_role("button", name="打开菜单").click()
    page.locator("#sidebar").get_by_text("参保批次管理").wait_for(state="visible")
    # Nothing is wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "workspace-phone", full_page=False)
