"""A reviewer loads a suggested roster in the back office (SPEC REF-1, BO-3; UI.md "Long work"): login
through the portal, 参考数据导入, 【上传参考数据】 with a small CSV, the progress page ending on the result
summary, and the load in the list. Celery runs eagerly in the tests, so the load is over by the time the
progress page opens; the polling itself is covered by tests/rosters/test_reference_upload.py."""
import csv
import io

import pytest

from mutualaid.validators import resident_id_check_character
from rosters.models import ReferenceLoad
from tests.browser.conftest import log_in
from tests.factories import CoverageYearFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT



def resident_id(serial: int, birth: str) -> str:
    first17 = f"310104{birth}{serial:03d}"
    return first17 + resident_id_check_character(first17)


def suggested_roster_csv() -> bytes:
    """Five people of a small unit; the last one's ID has a wrong check character."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["证件号码", "社保姓名", "单位社保编码", "个人社保登记号", "职退状态", "医保享受在职待遇"])
    writer.writerow([resident_id(11, "19850312"), "张伟", "0100001", "SB20250001", "在职", "是"])
    writer.writerow([resident_id(22, "19900705"), "王芳", "0100001", "SB20250002", "在职", "是"])
    writer.writerow([resident_id(33, "19781120"), "李娜", "0100001", "SB20250003", "在职", "是"])
    writer.writerow([resident_id(45, "19600228"), "刘洋", "", "SB20250004", "退休", "否"])
    bad = resident_id(57, "19950101")
    writer.writerow([bad[:17] + ("0" if bad[17] != "0" else "1"), "陈静", "0100001", "SB20250005", "在职", "是"])
    return buffer.getvalue().encode("utf-8")


def test_reviewer_uploads_a_suggested_roster_and_sees_the_result(page, screenshot, tmp_path):
    CoverageYearFactory(year=2025)
    UserFactory(username="reviewer-chen", first_name="陈审核", role="reviewer", password=PASSWORD)
    roster = tmp_path / "2025年度建议清册.csv"
    roster.write_bytes(suggested_roster_csv())

    log_in(page, "reviewer-chen", PASSWORD)
    page.wait_for_url("**/backoffice/")
    page.get_by_role("link", name="参考数据导入").first.click()
    page.wait_for_url("**/backoffice/rosters/referenceload/")
    page.get_by_role("link", name="上传参考数据").click()
    page.wait_for_url("**/referenceload/add/")

    # The format of each kind is written next to its choice (SPEC REF-1..REF-4).
    suggested = page.locator("label[for=id_kind_0]")
    assert "证件号码、社保姓名、单位社保编码、个人社保登记号（可无此列）、职退状态" in suggested.inner_text()
    assert "单个不超过 1GB" in page.locator(".field-file").inner_text()
    suggested.click()
    page.get_by_label("保障年度").select_option("2025")
    page.get_by_label("数据文件").set_input_files(str(roster))
    assert "已选择：2025年度建议清册.csv" in page.locator("#file-chosen").inner_text()
    page.get_by_role("button", name="上传并导入").click()

    page.wait_for_url("**/referenceload/*/change/")
    status = page.locator("#load-status")
    status.locator(".result-summary").wait_for()
    assert "已完成" in status.inner_text()
    assert "读取 5 行，导入 4 行，错误 1 行" in status.inner_text()
    assert status.get_by_role("link", name="下载错误行（CSV）").is_visible()
    assert "2025年度建议清册.csv" in page.locator(".summary-table").inner_text()
    load = ReferenceLoad.objects.get()
    assert (load.status, load.rows_loaded, load.rows_rejected) == ("done", 4, 1)
    screenshot(page, "reference-upload")

    # The reviewer can leave and come back: the list links to the load's page.
    page.get_by_role("link", name="返回列表").click()
    row = page.locator("#result_list tbody tr").first
    assert "已完成" in row.inner_text() and "建议清册" in row.inner_text()
    row.get_by_role("link", name="2025年度建议清册.csv").click()
    page.wait_for_url(f"**/referenceload/{load.pk}/change/")
    assert "读取 5 行，导入 4 行，错误 1 行" in page.locator("#load-status").inner_text()
