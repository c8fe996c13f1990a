"""A reviewer exports a batch's people from the back office's 导出中心 (SPEC BO-3, X-1; UI.md "Long work"):
login through the portal, 导出中心, the batch number, 【导出】, the job's page ending on 导出完成, the file
downloaded and read with openpyxl (IDs masked); then a union staff member's 本组织参保单位 (BO-2). Celery runs
eagerly in the tests, so the job is over when its page opens; the polling is covered by
tests/mutualaid/test_exports.py."""
import datetime as dt

import pytest
from openpyxl import load_workbook

from accounts.models import UnionOrganisation
from enrollment.models import HandlerInfo
from plans.services import premium_confirm
from tests.browser.conftest import log_in
from tests.factories import UserFactory, make_entry, resident_id
from tests.plans.helpers import approved_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Portal#2026"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_reviewer_exports_the_people_of_a_batch(page, screenshot, handbook_year, tmp_path):
    batch = approved_batch(year=handbook_year, social_security=3)
    number = resident_id(dt.date(1971, 2, 3), 517)
    make_entry(batch, name="胡庆庆", id_number=number, birth_date=dt.date(1971, 2, 3), has_social_security=True)
    premium_confirm(batch=batch, codes=["A0", "B0", "C0"], acting_user=batch.account)
    UserFactory(username="reviewer-chen", first_name="陈审核", role="reviewer", password=PASSWORD)

    log_in(page, "reviewer-chen", PASSWORD)
    page.goto(page.base_url + "/backoffice/exports/")
    assert "将脱敏导出" in page.locator("#export-id-note").inner_text()
    screenshot(page, "backoffice-exports")
    form = page.locator("#export-enrolled_people")
    form.get_by_label("参保批次").fill(batch.number)
    form.get_by_role("button", name="导出").click()
    page.wait_for_load_state()

    assert "导出完成，共 4 行" in page.locator("#export-job").inner_text()
    assert "脱敏显示" in page.inner_text("body")
    screenshot(page, "backoffice-export-job")
    with page.expect_download() as download_info:
        page.locator(".export-download").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"参保人员_{batch.number}_")
    path = tmp_path / "people.xlsx"
    download.save_as(path)
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    assert len(rows) == 5
    hu = next(row for row in rows if row[2] == "胡庆庆")
    assert hu[4] == f"{number[:4]}*****{number[-4:]}"

    page.goto(page.base_url + "/backoffice/exports/")
    assert batch.number in page.locator("#export-jobs").inner_text()


def test_union_staff_see_their_organisations_units(page, screenshot, handbook_year, union_organisations):
    level2 = UnionOrganisation.objects.filter(level=2).select_related("parent").first()
    batch = approved_batch(year=handbook_year, social_security=1)
    HandlerInfo.objects.filter(code=batch.code).update(union_level1=level2.parent, union_level2=level2)
    UserFactory(username="union-li", role="union_staff", union_organisation=level2.parent, password=PASSWORD)

    log_in(page, "union-li", PASSWORD)
    page.goto(page.base_url + "/backoffice/union-units/")
    table = page.locator("#union-units").inner_text()
    assert batch.code.code in table and "139****5678" in table
    assert batch.number not in page.inner_text("body")
    screenshot(page, "backoffice-union-units")
