"""导入人员名单 through its pages (rosters/views/imports.py): SPEC ROS-1, ROS-2, ROS-10, X-1, X-4."""
import datetime as dt
import io

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from enrollment.models import BatchState
from rosters.importer import roster_import_start
from rosters.models import RosterEntry, RosterImport
from tests.factories import IMPORT_CODE, UserFactory, make_batch
from tests.rosters.importfiles import many_rows, previous, resident_id, row, template_xlsx, upload, wrong_check
from mutualaid.jobs import JobStatus

pytestmark = pytest.mark.django_db

PASSWORD = "Portal#2026"
ALICE = resident_id("19900101", 101)
BETTY = resident_id("19850615", 202)


@pytest.fixture
def account(db):
    return UserFactory(username="cf-unit")


@pytest.fixture
def batch(account, handbook_year):
    return make_batch(account, year=handbook_year, code=IMPORT_CODE)


@pytest.fixture
def client_in(client, account):
    client.login(username=account.username, password=PASSWORD)
    return client


def url(name, batch, **kwargs):
    return reverse(f"rosters:{name}", kwargs={"number": batch.number, **kwargs})


def _finished_import(batch, account) -> RosterImport:
    return roster_import_start(
        batch=batch, upload=upload(template_xlsx([row(number=ALICE), row("李梅", number=wrong_check(BETTY))])), acting_user=account
    )


GETS = ["roster_import", "roster_import_template", "roster_import_result", "roster_import_progress", "roster_import_marked"]
POSTS = ["roster_import_upload", "roster_import_previous", "roster_import_members"]


def _all_urls(batch, roster_import):
    for name in GETS + POSTS:
        kwargs = {"import_id": roster_import.pk} if name in ("roster_import_result", "roster_import_progress", "roster_import_marked") else {}
        yield name, url(name, batch, **kwargs), "post" if name in POSTS else "get"


# --- access (STYLE.md §10: with and without permission) --------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, batch, account):
    roster_import = _finished_import(batch, account)
    for name, address, method in _all_urls(batch, roster_import):
        response = getattr(client, method)(address)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login")), name


def test_another_unit_gets_404_for_this_batch(client, batch, account, handbook_year):
    # SPEC X-4: another account's batch does not exist for this one.
    roster_import = _finished_import(batch, account)
    other = UserFactory(username="other-unit")
    make_batch(other, year=handbook_year, code="0A1B2C", unit_name="上海别的有限公司")
    client.login(username=other.username, password=PASSWORD)
    for name, address, method in _all_urls(batch, roster_import):
        assert getattr(client, method)(address).status_code == 404, name
    assert RosterImport.objects.count() == 1


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_back_office_roles_get_403(client, batch, account, role):
    roster_import = _finished_import(batch, account)
    staff = UserFactory(username=f"staff-{role}", role=role)
    client.login(username=staff.username, password=PASSWORD)
    for name, address, method in _all_urls(batch, roster_import):
        assert getattr(client, method)(address).status_code == 403, name


def test_an_import_of_another_batch_is_404_under_this_batch(client_in, batch, account, handbook_year):
    other_batch = make_batch(UserFactory(username="other-unit"), year=handbook_year, code="0A1B2C")
    foreign = _finished_import(other_batch, other_batch.account)
    for name in ("roster_import_result", "roster_import_progress", "roster_import_marked"):
        assert client_in.get(url(name, batch, import_id=foreign.pk)).status_code == 404


# --- the page --------------------------------------------------------------------------------------------


def test_the_page_offers_the_three_sources_the_template_and_the_limits(client_in, batch):
    # SPEC ROS-1 (the handbook's buttons, verbatim), UI.md "Files" (limits next to the control).
    response = client_in.get(url("roster_import", batch))
    for text in (
        "导入人员名单",
        "获取上年度参保名单",
        "获取“会员库”本单位工会会员名单",
        "上传本地参保名单文件",
        "选择导入文件",
        "点击下载参保名单导入模板",
        "单个文件不超过 50MB",
        "※证件类型为非身份证的",
    ):
        assertContains(response, text)
    assertContains(response, url("roster_import_template", batch))
    assertContains(response, 'src="/static/js/roster_import.js"')
    assertNotContains(response, "<script>")
    assertNotContains(response, 'style="')


@pytest.mark.parametrize("state", [BatchState.IN_REVIEW, BatchState.COMPLETED, BatchState.VALIDATING])
def test_a_locked_roster_shows_why_and_its_posts_change_nothing(client_in, account, handbook_year, state):
    batch = make_batch(account, year=handbook_year, state=state, code=IMPORT_CODE)
    previous(handbook_year.year - 1, batch.code.code, ALICE, "王豆豆")
    response = client_in.get(url("roster_import", batch))
    assertContains(response, "参保清册不能修改")
    assertNotContains(response, "选择导入文件")
    for name, data in (
        ("roster_import_upload", {"file": upload(template_xlsx([row(number=ALICE)]))}),
        ("roster_import_previous", {}),
        ("roster_import_members", {}),
    ):
        response = client_in.post(url(name, batch), data, follow=True)
        assertContains(response, "参保清册不能修改")
    assert RosterImport.objects.count() == 0
    assert RosterEntry.objects.count() == 0


# --- uploading -------------------------------------------------------------------------------------------


def test_uploading_a_file_shows_the_log_the_bad_rows_and_the_way_back(client_in, batch):
    # SPEC ROS-1: `-----信息处理开始-----`, the summary line, then 【返回】; ROS-10: bad rows on screen.
    content = template_xlsx([row("王豆豆", number=ALICE), row("李梅", number=wrong_check(BETTY))])
    response = client_in.post(url("roster_import_upload", batch), {"file": upload(content), "submission": "t1"})
    roster_import = RosterImport.objects.get()
    assertRedirects(response, url("roster_import_result", batch, import_id=roster_import.pk))
    page = client_in.get(response["Location"])
    assertContains(page, "-----信息处理开始-----")
    assertContains(page, "-----处理完成 数据读取：2人，成功导入：1条信息（新增加1人，修改0人），导入失败：1条信息。-----")
    assertContains(page, "证件号码校验位错误")
    masked = wrong_check(BETTY)[:4] + "*****" + wrong_check(BETTY)[-4:]
    assertContains(page, masked)
    assertNotContains(page, wrong_check(BETTY))
    assertContains(page, url("roster_import_marked", batch, import_id=roster_import.pk))
    assertContains(page, f'href="{reverse("rosters:roster", kwargs={"number": batch.number})}"')
    assertContains(page, ">返回<")


def test_an_invalid_mobile_is_listed_as_typed_and_the_id_number_stays_masked(client_in, batch):
    # SPEC ROS-10: 139****4567 would look like a valid number, so the unit's own
    # error list shows the invalid mobile as typed; the ID number of the same row stays masked.
    content = template_xlsx([row("王豆豆", number=wrong_check(ALICE), mobile="1391234567"), row("李梅", number=BETTY, mobile="13912345678")])
    response = client_in.post(url("roster_import_upload", batch), {"file": upload(content), "submission": "m1"})
    page = client_in.get(response["Location"])
    assertContains(page, "手机号应为11位数字")
    assertContains(page, ">1391234567<")
    assertNotContains(page, "139****4567")
    assertContains(page, wrong_check(ALICE)[:4] + "*****" + wrong_check(ALICE)[-4:])
    assertNotContains(page, wrong_check(ALICE))
    # The valid mobile of the imported row is masked on the roster as before.
    roster = client_in.get(reverse("rosters:roster", kwargs={"number": batch.number}))
    assertNotContains(roster, "13912345678")


def test_the_upload_and_both_buttons_keep_the_client_ip(client_in, batch, handbook_year):
    # SPEC ROS-11, SEC-3: the import runs later (maybe in a worker); its naming audit needs the IP.
    previous(handbook_year.year - 1, batch.code.code, ALICE, "王豆豆")
    content = template_xlsx([row("王豆豆", number=ALICE)])
    client_in.post(url("roster_import_upload", batch), {"file": upload(content)}, REMOTE_ADDR="192.0.2.44")
    client_in.post(url("roster_import_previous", batch), {"submission": "ip-p"}, REMOTE_ADDR="192.0.2.45")
    client_in.post(url("roster_import_members", batch), {"submission": "ip-m"}, REMOTE_ADDR="192.0.2.46")
    addresses = list(RosterImport.objects.order_by("pk").values_list("source", "remote_addr"))
    assert addresses == [("file", "192.0.2.44"), ("previous", "192.0.2.45"), ("members", "192.0.2.46")]


def test_a_refused_file_shows_its_message_on_the_import_page_and_nothing_changes(client_in, batch):
    # SPEC ROS-10
    response = client_in.post(url("roster_import_upload", batch), {"file": upload(b"a,b\n1,2\n", "名单.xlsx")}, follow=True)
    assertRedirects(response, url("roster_import", batch))
    assertContains(response, "不是Excel表格")
    header = ["*姓名", "*证件类型", "*是否有社保"]
    response = client_in.post(url("roster_import_upload", batch), {"file": upload(template_xlsx([["王", "身份证", "是"]], header))}, follow=True)
    assertContains(response, "缺少必填列“证件号码”")
    assert RosterEntry.objects.count() == 0


def test_posting_without_a_file_asks_for_one(client_in, batch):
    response = client_in.post(url("roster_import_upload", batch), follow=True)
    assertContains(response, "请点击【选择导入文件】")


def test_a_double_click_imports_once(client_in, batch):
    # UI.md "Dialogs": the POST is idempotent under a double click.
    content = template_xlsx([row(number=ALICE)])
    first = client_in.post(url("roster_import_upload", batch), {"file": upload(content), "submission": "same"})
    second = client_in.post(url("roster_import_upload", batch), {"file": upload(content), "submission": "same"})
    assert RosterImport.objects.count() == 1
    assert first["Location"] == second["Location"]
    client_in.post(url("roster_import_upload", batch), {"file": upload(content), "submission": "another"})
    assert RosterImport.objects.count() == 2  # a new form is a new import (and updates, ROS-4)
    assert RosterEntry.objects.count() == 1


def test_the_previous_year_and_member_buttons(client_in, batch, handbook_year):
    # SPEC ROS-1: each source ends with the handbook's summary line.
    previous(handbook_year.year - 1, batch.code.code, ALICE, "王豆豆")
    response = client_in.post(url("roster_import_previous", batch), {"submission": "p"}, follow=True)
    assertContains(response, "-----处理完成 数据读取：1人，成功导入：1条信息（新增加1人，修改0人），导入失败：0条信息。-----")
    response = client_in.post(url("roster_import_members", batch), {"submission": "m"}, follow=True)
    assertRedirects(response, url("roster_import", batch))
    assertContains(response, "会员库中没有本单位")


def test_a_name_mismatch_after_import_points_to_the_confirmation(client_in, batch, handbook_year):
    # SPEC ROS-5: 【警告】 and 【姓名匹配异常，请人工确认】.
    previous(handbook_year.year - 1, batch.code.code, ALICE, "王梅")
    response = client_in.post(url("roster_import_upload", batch), {"file": upload(template_xlsx([row("王梅晓", number=ALICE)]))}, follow=True)
    assertContains(response, "【警告】本批次有 1 人")
    assertContains(response, "姓名匹配异常，请人工确认")


def test_many_bad_rows_are_paginated_15_a_page(client_in, batch, account):
    roster_import = roster_import_start(batch=batch, upload=upload(template_xlsx(many_rows(40, bad_every=1))), acting_user=account)
    assert roster_import.rows_failed == 40
    response = client_in.get(url("roster_import_result", batch, import_id=roster_import.pk))
    assertContains(response, "显示第 1 到第 15 条记录，总共 40 条记录 每页显示 15 条记录")
    response = client_in.get(url("roster_import_result", batch, import_id=roster_import.pk) + "?page=3")
    assertContains(response, "显示第 31 到第 40 条记录，总共 40 条记录")


def test_the_recent_imports_are_listed_on_the_import_page(client_in, batch, account):
    roster_import = _finished_import(batch, account)
    response = client_in.get(url("roster_import", batch))
    assertContains(response, "最近的导入")
    assertContains(response, url("roster_import_result", batch, import_id=roster_import.pk))


# --- progress --------------------------------------------------------------------------------------------


def test_a_running_import_shows_its_progress_and_the_poll_reloads_the_page_when_done(client_in, batch, account):
    # UI.md "Long work": 已处理 N / M with a progress bar, polled by htmx.
    roster_import = RosterImport.objects.create(
        batch=batch, account=account, source=RosterImport.Source.FILE, status=JobStatus.RUNNING, rows_total=50_000, rows_done=12_000
    )
    page = client_in.get(url("roster_import_result", batch, import_id=roster_import.pk))
    assertContains(page, "已处理 12000 / 50000")
    assertContains(page, f'data-hx-get="{url("roster_import_progress", batch, import_id=roster_import.pk)}"')
    assertContains(page, 'data-hx-trigger="every 1s"')
    assertContains(page, '<progress class="import-progress-bar" aria-label="导入进度" max="50000" value="12000">')
    partial = client_in.get(url("roster_import_progress", batch, import_id=roster_import.pk))
    assertContains(partial, "已处理 12000 / 50000")
    assertNotContains(partial, "<html")
    RosterImport.objects.filter(pk=roster_import.pk).update(status=JobStatus.DONE)
    finished = client_in.get(url("roster_import_progress", batch, import_id=roster_import.pk))
    assert finished["HX-Refresh"] == "true"


# --- downloads ------------------------------------------------------------------------------------------


def test_the_template_downloads_with_its_chinese_name(client_in, batch):
    # SPEC ROS-2, UI.md "Files".
    response = client_in.get(url("roster_import_template", batch))
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "filename*=utf-8''%E5%8F%82%E4%BF%9D%E5%90%8D%E5%8D%95%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value == "*姓名"


def test_the_marked_copy_is_for_the_uploader_for_7_days(client_in, client, batch, account):
    # SPEC X-1: the marked copy returns the unit's own file unmasked, only to the uploading account, 7 days.
    roster_import = _finished_import(batch, account)
    address = url("roster_import_marked", batch, import_id=roster_import.pk)
    response = client_in.get(address)
    assert response.status_code == 200
    today = timezone.localdate().strftime("%Y%m%d")
    assert f"{batch.number}_{today}.xlsx" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.cell(row=3, column=3).value == wrong_check(BETTY)  # the unit's own file, unmasked
    RosterImport.objects.filter(pk=roster_import.pk).update(created_at=timezone.now() - dt.timedelta(days=7, minutes=1))
    assert client_in.get(address).status_code == 404
    page = client_in.get(url("roster_import_result", batch, import_id=roster_import.pk))
    assertNotContains(page, address)


def test_the_marked_copy_is_404_for_another_user_of_the_same_batch(client, batch, account):
    # Only the uploading account: an import started by someone else (e.g. support acting for the unit)
    # is not offered to this account.
    roster_import = _finished_import(batch, account)
    helper = UserFactory(username="helper")
    RosterImport.objects.filter(pk=roster_import.pk).update(account=helper)
    client.login(username=account.username, password=PASSWORD)
    assert client.get(url("roster_import_marked", batch, import_id=roster_import.pk)).status_code == 404


def test_the_marked_copy_is_gone_after_the_purge(client_in, batch, account):
    from rosters.importer import roster_imports_purge

    roster_import = _finished_import(batch, account)
    with time_machine.travel(timezone.now() + dt.timedelta(days=8)):
        assert roster_imports_purge() == 1
    page = client_in.get(url("roster_import_result", batch, import_id=roster_import.pk))
    assertContains(page, "已超过7天，已删除")
    assert client_in.get(url("roster_import_marked", batch, import_id=roster_import.pk)).status_code == 404


def test_messages_never_show_english_or_tracebacks(client_in, batch):
    response = client_in.post(url("roster_import_upload", batch), {"file": upload(b"PK\x03\x04broken zip", "x.xlsx")}, follow=True)
    shown = [str(message) for message in get_messages(response.wsgi_request)] or [response.content.decode()]
    assert any("不是Excel表格" in text for text in shown) or "不是Excel表格" in response.content.decode()
    assertNotContains(response, "Traceback")
