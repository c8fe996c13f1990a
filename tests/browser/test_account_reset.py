"""Union staff reset a unit's password in the back office; the unit logs in with the temporary
password, must change it, and reaches its workspace (SPEC ACC-3, ACC-5, BO-2)."""
import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

from accounts.models import UnionOrganisation
from tests.browser.conftest import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "Xinmima#2026"



@pytest.fixture
def putuo(db):
    # A transactional test flushes the migration's organisations (unless it runs first): make sure
    # the ones the journey needs are there either way.
    district, _ = UnionOrganisation.objects.get_or_create(name="普陀区总工会", defaults={"short_name": "普陀区", "level": 1})
    streets = [
        UnionOrganisation.objects.get_or_create(name=f"普陀区{name}街道总工会", defaults={"level": 2, "parent": district})[0]
        for name in ("长寿路", "曹杨新村", "甘泉路")
    ]
    return district, streets


def test_union_staff_reset_a_password_and_the_unit_sets_a_new_one(page, screenshot, handbook_year, putuo):
    district, (changshou, caoyang, ganquan) = putuo
    UserFactory(username="union-putuo", first_name="普陀区总工会工作人员", role="union_staff", union_organisation=district)
    UserFactory(
        username="unit-changshou",
        unit_name="上海长寿机电有限公司",
        union_organisation=changshou,
        mobile="13912345678",
        uscc="91310107MA1G8XQ31K",
        email="hr@changshou.example.com",
        last_login=timezone.now() - dt.timedelta(days=3),
    )
    UserFactory(
        username="unit-caoyang",
        unit_name="曹杨新村社区服务中心",
        union_organisation=caoyang,
        mobile="13601234567",
        email="office@caoyang.example.com",
    )
    UserFactory(
        username="unit-ganquan",
        unit_name="甘泉物业管理有限公司",
        union_organisation=ganquan,
        mobile="18912340000",
        email="admin@ganquan.example.com",
        last_login=timezone.now() - dt.timedelta(hours=5),
    )
    UserFactory(username="unit-district", unit_name="普陀区文化馆", union_organisation=district, mobile="13788889999")
    UserFactory(username="unit-elsewhere", unit_name="别区单位", union_organisation=None)
    # One of them locked after five failed logins, so the list shows a lock and 【解锁】.
    AccessAttempt.objects.create(
        username="unit-caoyang",
        ip_address="10.8.8.8",
        user_agent="test",
        http_accept="*/*",
        path_info="/accounts/login/",
        attempt_time=timezone.now(),
        failures_since_start=settings.AXES_FAILURE_LIMIT,
    )

    # Union staff log in like everyone else and land in the back office.
    log_in(page, "union-putuo", "Portal#2026")
    page.wait_for_url("**/backoffice/")
    assert "上海市职工保障互助会 后台" in page.title()
    page.get_by_role("link", name="平台账号").first.click()
    page.wait_for_url("**/backoffice/accounts/user/")

    # SPEC BO-2: the units under 普陀区总工会 and its level-2 organisations, masked mobiles, lock states.
    table = page.locator("#result_list")
    rows = table.locator("tbody tr")
    assert rows.count() == 4
    assert "unit-elsewhere" not in table.inner_text()
    assert "union-putuo" not in table.inner_text()
    header = table.locator("thead").inner_text()
    for column in ("账号", "单位名称", "上级工会", "联系人手机", "邮箱", "锁定状态", "最后登录", "操作"):
        assert column in header
    changshou_row = rows.filter(has_text="unit-changshou")
    assert "139****5678" in changshou_row.inner_text()
    assert "普陀区长寿路街道总工会" in changshou_row.inner_text()
    assert "正常" in changshou_row.inner_text()
    caoyang_row = rows.filter(has_text="unit-caoyang")
    assert "已锁定（至" in caoyang_row.inner_text()
    assert caoyang_row.get_by_role("link", name="解锁").is_visible()
    assert changshou_row.get_by_role("link", name="解锁").count() == 0
    assert "13912345678" not in table.inner_text()
    screenshot(page, "union-accounts")

    # 【重置密码】 → a confirmation that says what will happen → the temporary password, once.
    changshou_row.get_by_role("link", name="重置密码").click()
    page.get_by_role("heading", name="重置密码：unit-changshou").wait_for()
    body = page.locator("#content").inner_text()
    for text in ("仅在下一页显示一次", "邮件发送给经办人", "下次登录须修改密码", "该账号所有登录会话将失效"):
        assert text in body
    page.get_by_role("button", name="确认重置").click()
    password = page.locator("#temporary-password").inner_text().strip()
    assert len(password) == 10
    assert password not in page.url
    assert "hr@changshou.example.com" in page.locator("#content").inner_text()
    screenshot(page, "temporary-password")

    # Shown once: a reload does not show it again.
    page.reload()
    assert page.locator("#temporary-password").count() == 0
    assert password not in page.content()
    assert page.get_by_role("heading", name="临时密码已不再显示").is_visible()

    # Back to the list; log out.
    page.get_by_role("link", name="返回账号列表").click()
    page.wait_for_url("**/backoffice/accounts/user/")
    page.locator("#logout-form button").click()
    page.wait_for_url("**/accounts/login/")

    # The unit logs in with the temporary password and must choose a new one first.
    log_in(page, "unit-changshou", password)
    page.wait_for_url("**/accounts/password/change/")
    assert "临时密码" in page.locator("main").inner_text()
    page.goto(page.base_url + "/")  # anything else sends it back
    page.wait_for_url("**/accounts/password/change/")
    # SPEC ACC-3: a failed attempt (原密码 left empty) and a logout keep the
    # temporary password; only the successful change spends it.
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    page.locator(".invalid-feedback").first.wait_for()
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/accounts/login/")
    log_in(page, "unit-changshou", password)
    page.wait_for_url("**/accounts/password/change/")
    page.locator("#id_old_password").fill(password)
    page.locator("#id_new_password1").fill(NEW_PASSWORD)
    page.locator("#id_new_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    page.wait_for_url("**/accounts/platform/")
    assert "密码已修改" in page.content()

    # SPEC ACC-5: a unit with a union goes through 【业务工作台】 to 【在职职工互助保障】.
    page.get_by_role("link", name="业务工作台").click()
    page.get_by_role("link", name="在职职工互助保障").click()
    page.wait_for_url(page.base_url + "/")
    assert page.get_by_role("heading", name="在职职工互助保障").is_visible()
    assert "unit-changshou" in page.locator("header.topbar").inner_text()
