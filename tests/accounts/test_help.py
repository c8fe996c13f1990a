"""【技术支持】, 【下载中心】 and the FAQ (SPEC ACC-6; the forms of ACC-3 and HND-2): public pages that
answer anonymous users and logged-in ones alike."""
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.faq import FAQ, faq_search, fold, highlight, search_terms
from accounts.models import SupportContact
from accounts.views.help import HANDBOOK_PATH
from mutualaid.pdf import WEASYPRINT_PACKAGES
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGES = ["accounts:support", "accounts:downloads", "accounts:faq"]
SHARED_HANDBOOK = Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_f32bae360a9589f3.txt"
HANDBOOK_FILENAME = "上海职工互助保障项目2020参保手册（2023年6月16日修订）.txt"
FORMS = {
    # url name: (Chinese file name, texts the printed form must carry)
    "accounts:download_account_reset_form": (
        "申工通账号找回或密码重置申请表.pdf",
        ["申工通账号找回或密码重置申请表", "账号找回", "密码重置", "单位盖章", "shzgh@gobestsoft.com"],
    ),
    "accounts:download_change_form": (
        "在职职工互助保障参保单位邮件重发或信息变更申请单.pdf",
        [
            "职工互助保障参保信息变更申请表",
            "在职职工互助保障参保单位邮件重发或信息变更申请单",
            "单位名称",
            "统一信用代码",
            "参保编码",
            "参保批次号",
            "单位联系人",
            "联系人手机",
            "重发邮件",
            "变更单位地址",
            "变更经办人姓名",
            "变更经办人固定电话",
            "变更经办人手机",
            "变更单位邮箱（重置邮箱）",
            "原信息",
            "新修改信息",
            "经办人签字",
            "经办人手机",
            "单位盖章",
            "申请日期",
            "上海市职工保障互助会审核",
            "63619921",
            "kefubu@shzbh.org.cn",
        ],
    ),
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _no_cached_pdfs():
    # The forms are cached once drawn; each test draws its own.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def pdftotext():
    path = shutil.which("pdftotext")
    if path is None:
        if _in_ci():
            pytest.fail("CI=true but pdftotext is missing (apt-get install poppler-utils)", pytrace=False)
        pytest.skip("pdftotext is missing (apt-get install poppler-utils)")

    def text_of(pdf: bytes) -> str:
        result = subprocess.run([path, "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
        return result.stdout.decode("utf-8")

    return text_of


def _without_spaces(text: str) -> str:
    return "".join(text.split())


# --- every page is public (SPEC ACC-6) ---------------------------------------------------------------


@pytest.mark.parametrize("url_name", PAGES)
def test_help_pages_answer_anonymous_users_with_the_top_bar_but_no_account(client, url_name):
    response = client.get(reverse(url_name))

    assert response.status_code == 200
    assertContains(response, "上海工会网上工作平台")
    assertContains(response, f'href="{reverse("accounts:login")}"')
    assertNotContains(response, "退出")
    assertNotContains(response, "bi-person-circle")


@pytest.mark.parametrize("url_name", PAGES)
@pytest.mark.parametrize("role", ["unit_admin", "reviewer", "union_staff"])
def test_help_pages_answer_logged_in_users_with_their_account(client, url_name, role):
    user = UserFactory(role=role)
    client.force_login(user)

    response = client.get(reverse(url_name))

    assert response.status_code == 200
    assertContains(response, f'<i class="bi bi-person-circle"></i> {user.username}</span>', html=False)
    assertContains(response, f'action="{reverse("accounts:logout")}"')


@pytest.mark.parametrize("url_name", ["accounts:download_handbook", *FORMS])
@pytest.mark.parametrize("logged_in", [False, True])
def test_downloads_answer_anonymous_and_logged_in_users(client, unit_admin, url_name, logged_in):
    if logged_in:
        client.force_login(unit_admin)

    response = client.get(reverse(url_name))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")


def test_help_pages_link_to_each_other(client):
    response = client.get(reverse("accounts:support"))

    for url_name in PAGES:
        assertContains(response, f'href="{reverse(url_name)}"')
    assertContains(response, 'aria-current="page"', count=1)


# --- links from the rest of the portal ---------------------------------------------------------------


def test_login_page_shows_the_support_link(client):
    # SPEC ACC-1: a 【技术支持】 link beside 【登录】.
    response = client.get(reverse("accounts:login"))

    support_link = f'<a class="btn btn-outline-secondary" href="{reverse("accounts:support")}">技术支持</a>'
    assertContains(response, support_link, html=True)


@pytest.mark.parametrize("url_name", ["accounts:landing", "portal:home"])
def test_portal_footers_link_to_downloads_and_faq(client, unit_admin, url_name):
    client.force_login(unit_admin)

    response = client.get(reverse(url_name))

    assert response.status_code == 200
    footer = response.content.decode().split('<footer class="portal-footer">', 1)[1].split("</footer>", 1)[0]
    assert "服务热线 12351" in footer
    assert f'<a href="{reverse("accounts:downloads")}">下载中心</a>' in footer
    assert f'<a href="{reverse("accounts:faq")}">常见问题</a>' in footer


# --- 【技术支持】 ---------------------------------------------------------------------------------------


def test_support_shows_the_handbook_contacts_in_full(client):
    # SPEC ACC-6: hotline 12351; 线上操作咨询 陶老师 17358071263, 郭老师 18119618417 (seeded by migration).
    response = client.get(reverse("accounts:support"))

    body = response.content.decode()
    for text in ("热线咨询", "12351", "线上操作咨询", "陶老师", "17358071263", "郭老师", "18119618417"):
        assert text in body, text
    assertContains(response, 'href="tel:17358071263"')
    assert body.index("热线咨询") < body.index("线上操作咨询")
    assert body.index("陶老师") < body.index("郭老师")


def test_support_hides_inactive_contacts_and_shows_new_ones(client):
    SupportContact.objects.filter(name="郭老师").update(is_active=False)
    SupportContact.objects.create(role="线上操作咨询", name="李老师", email="li@example.com", sort_order=25)

    response = client.get(reverse("accounts:support"))

    assertNotContains(response, "郭老师")
    assertNotContains(response, "18119618417")
    assertContains(response, "陶老师")
    assertContains(response, 'href="mailto:li@example.com"')
    body = response.content.decode()
    assert body.index("陶老师") < body.index("李老师")
    assertContains(response, "线上操作咨询", count=1)  # one group, however many contacts


def test_support_without_contacts_still_gives_the_hotline(client):
    SupportContact.objects.update(is_active=False)

    response = client.get(reverse("accounts:support"))

    assertContains(response, "请拨打服务热线 12351")


def test_a_contact_needs_a_phone_or_an_email():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        SupportContact(role="热线咨询", name="无联系方式").full_clean()
    with pytest.raises(ValidationError):
        SupportContact(role="热线咨询", name="错误电话", phone="12351 转 8").full_clean()
    with transaction.atomic(), pytest.raises(IntegrityError):
        SupportContact.objects.create(role="热线咨询", name="无联系方式")


def test_reviewers_maintain_the_contacts_in_the_back_office(client, reviewer):
    client.force_login(reviewer)

    changelist = client.get(reverse("admin:accounts_supportcontact_changelist"))
    added = client.post(
        reverse("admin:accounts_supportcontact_add"),
        {"role": "线上操作咨询", "name": "王老师", "phone": "021-63619921", "email": "", "sort_order": 40, "is_active": "on"},
    )

    assertContains(changelist, "陶老师")
    assert added.status_code == 302
    assert SupportContact.objects.filter(name="王老师", phone="021-63619921").exists()
    for permission in ("view", "add", "change", "delete"):
        assert reviewer.has_perm(f"accounts.{permission}_supportcontact")


def test_union_staff_and_units_cannot_change_the_contacts(client, union_staff, unit_admin):
    url = reverse("admin:accounts_supportcontact_changelist")
    client.force_login(union_staff)
    assert client.get(url).status_code == 403

    client.force_login(unit_admin)
    assertRedirects(client.get(url), f"{reverse('admin:login')}?next={url}", fetch_redirect_response=False)


# --- 【下载中心】 --------------------------------------------------------------------------------------


def test_downloads_page_lists_the_handbook_and_both_forms_with_how_to_send_them(client):
    response = client.get(reverse("accounts:downloads"))

    assertContains(response, "上海职工互助保障项目2020参保手册")
    assertContains(response, "申工通账号找回或密码重置申请表")
    assertContains(response, "在职职工互助保障参保单位邮件重发或信息变更申请单")
    for url_name in ("accounts:download_handbook", *FORMS):
        assertContains(response, f'href="{reverse(url_name)}"')
    # SPEC HND-2: fax or e-mail for changes; SPEC ACC-3: the account-reset address of the handbook.
    assertContains(response, "63619921")
    assertContains(response, 'href="mailto:kefubu@shzbh.org.cn"')
    assertContains(response, 'href="mailto:shzgh@gobestsoft.com"')
    # SPEC HND-3: a unit name changes on site only.
    assertContains(response, "五楼营业大厅“信息修改”窗口")


def test_handbook_download_is_the_handbook_as_utf8_text_with_its_chinese_name(client):
    response = client.get(reverse("accounts:download_handbook"))

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(HANDBOOK_FILENAME)}" in disposition
    assert 'filename="handbook.txt"' in disposition  # for clients that ignore filename*
    assert response.content.startswith(b"\xef\xbb\xbf")  # so old Windows Notepad reads it as UTF-8
    assert response.content.decode("utf-8-sig") == HANDBOOK_PATH.read_text(encoding="utf-8")
    assert "上海职工互助保障项目2020 参保手册" in response.content.decode("utf-8-sig")


def test_the_portals_handbook_is_the_shared_one():
    # The portal serves its own copy (it must not need ../shared at run time); the copy must not drift.
    if not SHARED_HANDBOOK.exists():
        pytest.skip(f"{SHARED_HANDBOOK} is not here to compare with")
    assert HANDBOOK_PATH.read_bytes() == SHARED_HANDBOOK.read_bytes()


@pytest.mark.parametrize("url_name", FORMS)
def test_forms_are_printable_pdfs_with_the_forms_text(client, pdftotext, url_name):
    filename, texts = FORMS[url_name]

    response = client.get(reverse(url_name))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f"filename*=UTF-8''{quote(filename)}" in response["Content-Disposition"]
    text = _without_spaces(pdftotext(response.content))
    for expected in texts:
        assert _without_spaces(expected) in text, expected


def test_account_reset_form_says_the_portal_issues_a_temporary_password(client, pdftotext):
    # SPEC ACC-3 [departure]: no fixed abc123456 any more.
    response = client.get(reverse("accounts:download_account_reset_form"))

    text = _without_spaces(pdftotext(response.content))
    assert "一次性临时密码" in text
    assert "须立即设置新密码" in text


def test_a_form_is_drawn_once_and_then_served_from_the_cache(client, monkeypatch):
    first = client.get(reverse("accounts:download_change_form"))
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # drawing again would now fail

    second = client.get(reverse("accounts:download_change_form"))

    assert second.status_code == 200
    assert second.content == first.content


@pytest.mark.parametrize("url_name", FORMS)
def test_without_weasyprint_the_form_page_says_what_to_install(client, monkeypatch, url_name):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # `import weasyprint` raises ImportError

    response = client.get(reverse(url_name))

    assert response.status_code == 503
    assertContains(response, "暂时无法生成 PDF", status_code=503)
    assertContains(response, WEASYPRINT_PACKAGES, status_code=503)
    assert WEASYPRINT_PACKAGES == "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk"
    assertNotContains(response, "Traceback", status_code=503)


# --- the FAQ (其他事项) ---------------------------------------------------------------------------------


def _faq_section() -> str:
    handbook = HANDBOOK_PATH.read_text(encoding="utf-8")
    section = handbook[handbook.index("四、其他事项") :]
    return section.replace("<https://zzgl.shzgh.org>", "https://zzgl.shzgh.org")  # a Markdown link


def test_faq_is_the_handbooks_verbatim_in_its_order():
    section = _faq_section()
    position = 0
    for entry in FAQ:
        position = section.index(entry.question, position)
        for block in entry.answer:
            for line in block if isinstance(block, tuple) else [block]:
                assert line in section, line
    assert len(FAQ) == 26


def test_faq_marks_where_the_portal_departs_from_the_handbook():
    notes = {entry.spec: entry for entry in FAQ if entry.spec}

    # SPEC ACC-3 [departure]: a one-time temporary password instead of abc123456.
    password = notes["ACC-3 [departure]"]
    assert "abc123456" in password.answer[-1]
    assert "一次性临时密码" in password.portal_note
    # SPEC ROS-9 [departure]: no 5000-person limit.
    rows = notes["ROS-9 [departure]"]
    assert "5000" in rows.answer[0]
    assert "不再限 5000 人" in rows.portal_note
    # SPEC HND-2 [departure]: the change form online too.
    assert "在线" in notes["HND-2 [departure]"].portal_note


def test_faq_page_shows_every_question_and_the_departure_notes(client):
    response = client.get(reverse("accounts:faq"))

    for entry in FAQ:
        assertContains(response, entry.question)
    assertContains(response, 'class="card faq-entry"', count=len(FAQ))
    assertContains(response, "一次性临时密码")
    assertContains(response, "不再限 5000 人")
    assertContains(response, "-&gt;")  # the handbook's arrows, escaped
    assertNotContains(response, "<mark>")
    assertNotContains(response, "没有找到相关问题")


def test_faq_search_finds_the_occupied_identity_question(client):
    response = client.get(reverse("accounts:faq"), {"q": "占用"})

    assertContains(response, "操作中碰到身份信息被<mark>占用</mark>，怎么办？", html=False)
    assertContains(response, 'class="card faq-entry"', count=1)
    assertContains(response, 'id="q26"')
    assertContains(response, 'name="q" value="占用"')  # the query stays in the box and the URL
    assertContains(response, 'method="get"')
    assertContains(response, "找到 1 个相关问题")
    assertContains(response, "搜索</button>")


@pytest.mark.parametrize("query", ["", "   ", "\u3000"])
def test_faq_empty_query_shows_everything(client, query):
    response = client.get(reverse("accounts:faq"), {"q": query})

    assert response.status_code == 200
    assertContains(response, 'class="card faq-entry"', count=len(FAQ))
    assertNotContains(response, "<mark>")


def test_faq_without_a_match_says_so(client):
    response = client.get(reverse("accounts:faq"), {"q": "火星保险"})

    assertContains(response, "没有找到相关问题")
    assertNotContains(response, 'class="card faq-entry"')
    assertContains(response, 'value="火星保险"')


def test_faq_search_escapes_the_query(client):
    query = '"><script>alert(1)</script>'

    response = client.get(reverse("accounts:faq"), {"q": query})

    assert response.status_code == 200
    assertNotContains(response, "<script>alert(1)</script>")
    assertContains(response, "&lt;script&gt;alert(1)&lt;/script&gt;")
    assertContains(response, 'value="&quot;&gt;&lt;script&gt;')


def test_faq_search_ignores_case_and_width(client):
    # Full-width letters and digits, as a Chinese input method types them.
    password = client.get(reverse("accounts:faq"), {"q": "ＡＢＣ１２３４５６"})
    browser = client.get(reverse("accounts:faq"), {"q": "gooGLE"})

    assertContains(password, "账号密码忘记？")
    assertContains(password, "<mark>abc123456</mark>", html=False)
    assertContains(browser, "<mark>Google</mark> Chrome", html=False)


def test_faq_search_needs_every_word():
    both = faq_search("密码 重置")
    assert [result.number for result in both] == [2]
    assert faq_search("密码 火星") == []


def test_faq_search_finds_the_portals_notes():
    assert [result.number for result in faq_search("临时密码")] == [2]


def test_faq_search_survives_a_long_query(client):
    response = client.get(reverse("accounts:faq"), {"q": "占用" * 500})

    assert response.status_code == 200
    assertContains(response, "没有找到相关问题")


def test_highlight_escapes_the_text_and_marks_every_term():
    assert highlight("a<b>占用与占用", ["占用"]) == "a&lt;b&gt;<mark>占用</mark>与<mark>占用</mark>"
    assert highlight("ＡＢＣ１２３", search_terms("abc")) == "<mark>ＡＢＣ</mark>１２３"
    assert highlight("批次删除", ["批次", "次删"]) == "<mark>批次删</mark>除"  # overlapping terms merge
    assert highlight("①导入", search_terms("1")) == "<mark>①</mark>导入"
    assert fold("ＧＯＯＧＬＥ（Ｃｈｒｏｍｅ）") == "google(chrome)"
    assert search_terms("  密码　重置 密码 ") == ["密码", "重置"]
