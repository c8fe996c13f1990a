"""参保查询 on a phone (SPEC LOOK-1, LOOK-2): from 【参保查询】 on the login page, a worker types their name
and ID number, gets the SMS code on the mobile their unit registered, sees their coverage and downloads
the one-page 参保证明, whose QR code's page shows the masked name and never the ID number; a stranger
typing an ID nobody enrolled gets the same page and no SMS."""
import re
import shutil
import subprocess

import pytest

from lookup.models import CoverageProof
from lookup.selectors import mask_name
from mutualaid import sms
from tests.browser.conftest import PHONE, page_ready
from tests.factories import resident_id
from tests.lookup.test_lookup import MOBILE, confirmed_items, enrol

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="pdfinfo (poppler-utils) is missing"),
]

NAME = "王小明"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def step1(page, *, name, id_number):
    page.get_by_label("姓名").fill(name)
    page.get_by_label("证件号码").fill(id_number)
    page.get_by_label("验证码").fill("PASSED")  # django-simple-captcha's test mode
    page.get_by_role("button", name="查询").click()
    page_ready(page)


def test_a_worker_sees_their_coverage_on_a_phone_and_downloads_the_proof(new_page, current_year, tmp_path, screenshot):
    import datetime as dt

    number = resident_id(dt.date(1986, 4, 2), 153)
    entry = enrol(current_year, name=NAME, id_number=number)
    confirmed_items(entry.batch, codes=("A0", "B0", "C0"))
    sms.outbox.clear()
    page = new_page(PHONE)

    page.goto(page.base_url + "/accounts/login/")
    page.get_by_role("link", name="参保查询").click()
    page_ready(page)
    step1(page, name=NAME, id_number=number)
    assert page.get_by_text("如已参保且单位登记了您的手机号，您将收到短信验证码").is_visible()
    assert number not in page.content()
    mobile, text = sms.outbox[-1]
    assert mobile == MOBILE
    page.get_by_label("短信验证码").fill(re.search(r"\d{6}", text).group(0))
    page.get_by_role("button", name="确认").click()
    page_ready(page)

    assert page.get_by_role("heading", name="参保查询结果").is_visible()
    body = page.content()
    assert entry.batch.unit_name in body and "A0" in body and number not in body
    # UI.md "Look": nothing scrolls sideways on a 390 px phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "lookup-result-phone")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("下载参保证明")).click()
    pdf = tmp_path / "proof.pdf"
    download.value.save_as(pdf)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert number not in text and entry.batch.unit_name in text

    proof = CoverageProof.objects.get()
    page.goto(page.base_url + f"/lookup/proof/{proof.token}/")
    verified = page.content()
    assert mask_name(NAME) in verified and NAME not in verified and number not in verified


def test_a_stranger_gets_the_same_page_and_no_sms(new_page, current_year):
    import datetime as dt

    enrol(current_year, name=NAME, id_number=resident_id(dt.date(1986, 4, 2), 153))
    sms.outbox.clear()
    page = new_page(PHONE)
    page.goto(page.base_url + "/lookup/")
    step1(page, name=NAME, id_number=resident_id(dt.date(1970, 1, 1), 111))
    assert page.get_by_text("如已参保且单位登记了您的手机号，您将收到短信验证码").is_visible()
    assert sms.outbox == []
