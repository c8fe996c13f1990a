"""参保编码申请 pages (SPEC CODE-1…4, X-1, X-3, X-4): the list, the form with its SMS code and
attachments, the duplicate dialog, double submission, 【编辑】 after 审核不通过, and who may see what."""
import datetime as dt
import io
import re
import threading

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import UnionOrganisation
from enrollment.models import CodeApplication, EnrollmentCode, HandlerInfo
from enrollment.forms import CodeApplicationForm
from enrollment.services import (
    SMS_PURPOSE_CODE_APPLICATION,
    EnrollmentError,
    code_application_approve,
    code_application_reject,
    code_application_submit,
)
from mutualaid import sms
from mutualaid.attachments import attachment_store, attachments_of
from mutualaid.models import Attachment
from mutualaid.validators import uscc_check_character
from tests.factories import UserFactory
from tests.second_factor import PortalClient

pytestmark = pytest.mark.django_db

MOBILE = "13912345678"
MASKED = "139****5678"
USCC_FIRST17 = "91310107MA1G0TQ2X"
USCC = USCC_FIRST17 + uscc_check_character(USCC_FIRST17)
LIST = reverse("enrollment:code_applications")
NEW = reverse("enrollment:code_applications_new")
SMS = reverse("enrollment:code_applications_sms")
UPLOAD = reverse("portal:attachment_draft_upload")
DUPLICATE_TITLE = "提交失败!该企业已申请过参保编码。"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def empty_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def committee(union_organisations):
    return UnionOrganisation.objects.get(name="普陀区总工会")


@pytest.fixture
def unit(client, unit_admin):
    client.force_login(unit_admin)
    return unit_admin


def png_file(name="营业执照.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def new_form(client):
    """GET the form; returns (draft_token, submission_token) as the page gives them."""
    response = client.get(NEW)
    assert response.status_code == 200
    return response.context["draft_token"], response.context["submission_token"]


def upload(client, draft_token):
    response = client.post(UPLOAD, {"draft_token": draft_token, "file": png_file()}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200


def send_code(client, capture, mobile=MOBILE):
    with capture(execute=True):
        response = client.post(SMS, {"contact_mobile": mobile}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return re.search(r"验证码为(\d{6})", sms.outbox[-1][1]).group(1)


def form_data(organisation, /, **overrides):
    data = {
        "unit_name": "上海示范机电有限公司",
        "committee": str(organisation.pk),
        "uscc": USCC,
        "nature": "企业",
        "contact_name": "丁一",
        "address": "上海市普陀区长寿路1号",
        "contact_mobile": MOBILE,
        "postcode": "200060",
        "contact_email": "dingyi@example.com",
        "headcount": "200",
        "leader_name": "王二",
        "leader_mobile": "13800001111",
        "unit_phone": "021-63619921",
        "sms_code": "000000",
    }
    data.update(overrides)
    return data


def ready_form(client, capture, organisation, /, **overrides):
    """A filled form with an uploaded attachment and a valid SMS code, as the browser would post it."""
    draft_token, submission_token = new_form(client)
    upload(client, draft_token)
    code = send_code(client, capture, overrides.get("contact_mobile", MOBILE))
    return form_data(organisation, sms_code=code, draft_token=draft_token, submission_token=submission_token, **overrides)


def apply(account, committee, capture, **overrides) -> CodeApplication:
    """An application of `account` submitted through the pages."""
    client = PortalClient()
    client.force_login(account)
    response = client.post(NEW, ready_form(client, capture, committee, **overrides))
    assertRedirects(response, LIST, fetch_redirect_response=False)
    return CodeApplication.objects.filter(account=account).latest("pk")


def make_application(account, committee, *, status=CodeApplication.Status.PENDING, **overrides) -> CodeApplication:
    fields = dict(
        account=account,
        unit_name="上海示范机电有限公司",
        committee=committee,
        nature="企业",
        contact_name="丁一",
        address="上海市普陀区长寿路1号",
        contact_mobile=MOBILE,
        postcode="200060",
        contact_email="dingyi@example.com",
        headcount=200,
        status=status,
    )
    fields.update(overrides)
    return CodeApplication.objects.create(**fields)


def field_errors(response, name):
    return response.context["form"].errors.get(name, [])


# --- CODE-1: the list ----------------------------------------------------------------------------------


def test_the_list_shows_only_this_accounts_applications_with_masks_and_badges(unit, client, committee):
    reviewer = UserFactory(role="reviewer")
    pending = make_application(unit, committee, unit_name="上海甲有限公司")
    rejected = make_application(unit, committee, unit_name="上海乙有限公司", status="rejected", reject_reason="附件不清晰")
    approved = make_application(unit, committee, unit_name="上海丙有限公司")
    code = code_application_approve(application=approved, acting_user=reviewer)
    make_application(UserFactory(), committee, unit_name="别人的单位有限公司")

    response = client.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    for header in ["单位名称", "参保编码", "联系人", "联系人手机", "状态", "最后更新时间", "操作"]:
        assert f'<th scope="col">{header}</th>' in html
    assertNotContains(response, "别人的单位有限公司")
    assert MOBILE not in html and MASKED in html  # SPEC X-1
    assert [a.pk for a in response.context["page"]] == [approved.pk, rejected.pk, pending.pk]  # newest change first
    assertContains(response, f"<strong>{code.code}</strong>", html=True)
    assertContains(response, '<span class="badge badge-state-progress">申请中</span>', html=True)
    assertContains(response, '<span class="badge badge-state-done">审核通过</span>', html=True)
    assertContains(response, '<span class="badge badge-state-rejected">审核不通过</span>', html=True)
    # 【查看详情】 always, 【编辑】 only when rejected.
    assertContains(response, ">查看详情</a>", count=3)
    assertContains(response, ">编辑</a>", count=1)
    assertContains(response, reverse("enrollment:code_applications_edit", args=[rejected.pk]))
    local = timezone.localtime(pending.updated_at)
    assertContains(response, local.strftime("%Y-%m-%d %H:%M:%S"))
    # The menu item stays highlighted on the page (the code_applications_ prefix).
    assert re.search(r'class="nav-link active" href="/codes/"', html)


def test_the_list_filters_by_name_and_state_in_the_url(unit, client, committee):
    make_application(unit, committee, unit_name="上海长风科技有限公司")
    make_application(unit, committee, unit_name="上海长风物流有限公司", status="rejected")
    make_application(unit, committee, unit_name="上海曹杨商贸有限公司", status="rejected")

    by_name = client.get(LIST, {"unit_name": "长风"})
    assert {a.unit_name for a in by_name.context["page"]} == {"上海长风科技有限公司", "上海长风物流有限公司"}
    both = client.get(LIST, {"unit_name": "长风", "status": "rejected"})
    assert [a.unit_name for a in both.context["page"]] == ["上海长风物流有限公司"]
    # The filters are shown as chosen, so the URL can be bookmarked and the page reloaded.
    assertContains(both, 'value="长风"')
    assertContains(both, '<option value="rejected" selected>审核不通过</option>', html=True)
    for label in ["全部", "申请中", "审核通过", "审核不通过"]:
        assertContains(both, f">{label}</option>")
    assertContains(both, " 搜索</button>")
    nothing = client.get(LIST, {"status": "approved"})
    assertContains(nothing, "没有找到符合条件的申请，请修改条件后点击【搜索】。")
    # A hand-edited state filters nothing rather than failing.
    assert len(client.get(LIST, {"status": "bogus"}).context["page"]) == 3


def test_the_list_has_15_a_page_with_the_handbooks_footer(unit, client, committee):
    for number in range(17):
        make_application(unit, committee, unit_name=f"上海分页测试{number:02d}有限公司", status="rejected")

    first = client.get(LIST, {"unit_name": "分页"})
    assert len(first.context["page"]) == 15
    assertContains(first, "显示第 1 到第 15 条记录，总共 17 条记录 每页显示 15 条记录")
    # The page links keep the filter.
    assertContains(first, 'href="?unit_name=%E5%88%86%E9%A1%B5&amp;page=2"')
    second = client.get(LIST, {"unit_name": "分页", "page": 2})
    assert len(second.context["page"]) == 2
    assertContains(second, "显示第 16 到第 17 条记录，总共 17 条记录 每页显示 15 条记录")


def test_the_apply_button_is_hidden_for_an_account_holding_a_code(unit, client, committee):
    response = client.get(LIST)
    assertContains(response, f'href="{NEW}"')
    assertContains(response, "已有参保编码的单位无需申请")

    EnrollmentCode.objects.create(code="09000X", unit_name="上海已有编码有限公司", account=unit, source="imported")
    response = client.get(LIST)
    assertNotContains(response, f'href="{NEW}"')
    assertContains(response, "已有参保编码的单位无需申请")
    # And the form itself sends it back (SPEC CODE-1: units that already have a code skip this).
    response = client.get(NEW, follow=True)
    assertRedirects(response, LIST)
    assertContains(response, "本账号已有参保编码")


# --- CODE-2: the form ----------------------------------------------------------------------------------


def test_the_form_has_the_handbooks_fields_in_two_columns(unit, client, committee):
    response = client.get(NEW)
    html = response.content.decode()
    required = ["单位名称", "工委名称", "单位性质", "联系人", "单位地址", "联系人手机", "邮政编码", "联系人邮箱", "在职人数", "验证码"]
    optional = ["统一信用代码", "负责人", "负责人手机", "单位电话"]
    for label in required:
        assert re.search(rf'<span class="text-danger">\*</span>{label}</label>', html), label
    for label in optional:
        assert re.search(rf'for="id_\w+">{label}</label>', html), label
    assert html.count('class="col-12 col-md-6"') == 14
    # 工委名称: level-1 organisations with their level-2 ones grouped under them.
    assert '<optgroup label="普陀区总工会">' in html
    assert ">普陀区长风新村街道总工会</option>" in html
    for nature in ["企业", "机关", "事业单位", "社会团体", "民办非企业单位", "其他"]:
        assert f">{nature}</option>" in html
    assertContains(response, "获取验证码")
    assertContains(response, "上传文件")
    assertContains(response, "《社会保险费缴费申报表》或《单位参加城镇社会保险基本情况》或法人登记证（复印件盖公章（红章））或营业执照（复印件盖公章（红章））")
    assertContains(response, '<button type="submit" class="btn btn-primary px-4">提交申请</button>', html=True)
    assertContains(response, ">返回</a>")
    assert re.search(r'name="draft_token" value="[0-9a-f]{32}"', html)
    assert re.search(r'name="submission_token" value="[0-9a-f]{32}"', html)
    assert "<script>" not in html and "style=" not in html  # CSP: no inline script or style


def test_the_form_is_filled_with_what_registration_asked(client, committee):
    """SPEC ACC-2, CODE-2: 企业注册 asked for the unit name, USCC, mobile, e-mail and union already;
    the form starts with them instead of asking again (the unit may still change them)."""
    level2 = UnionOrganisation.objects.get(name="普陀区长风新村街道总工会")
    account = UserFactory(
        username="cf-registered", unit_name="上海长风注册科技有限公司", uscc=USCC, mobile=MOBILE,
        email="hr@changfeng.example.com", union_organisation=level2,
    )
    client.force_login(account)

    response = client.get(NEW)

    form = response.context["form"]
    assert {name: form[name].value() for name in ["unit_name", "uscc", "contact_mobile", "contact_email", "committee"]} == {
        "unit_name": "上海长风注册科技有限公司",
        "uscc": USCC,
        "contact_mobile": MOBILE,
        "contact_email": "hr@changfeng.example.com",
        "committee": str(level2.pk),
    }
    html = response.content.decode()
    assert 'value="上海长风注册科技有限公司"' in html and f'value="{USCC}"' in html
    assert re.search(rf'<option value="{level2.pk}" selected>普陀区长风新村街道总工会</option>', html)
    # What registration does not ask stays empty.
    assert form["contact_name"].value() is None and form["address"].value() is None


def test_a_unit_without_a_union_gets_no_committee_chosen(client, committee):
    account = UserFactory(username="cf-nounion", unit_name="上海未建会商贸有限公司", uscc="", mobile="", union_organisation=None)
    client.force_login(account)

    form = client.get(NEW).context["form"]

    assert form["unit_name"].value() == "上海未建会商贸有限公司"
    assert form["committee"].value() is None and form["uscc"].value() is None


def test_a_rejected_application_is_edited_with_its_own_values_not_the_registration(unit, client, committee):
    """【编辑】 (SPEC CODE-4) shows what the unit sent, even where registration says otherwise."""
    unit.unit_name, unit.mobile = "上海注册时的名称有限公司", "13700000000"
    unit.save()
    application = CodeApplication.objects.create(
        account=unit, unit_name="上海申请时的名称有限公司", committee=committee, nature="企业", contact_name="丁一",
        address="上海市普陀区长寿路1号", contact_mobile=MOBILE, postcode="200060", contact_email="a@example.com",
        headcount=12, status=CodeApplication.Status.REJECTED, reject_reason="营业执照不清晰",
    )

    form = client.get(reverse("enrollment:code_applications_edit", kwargs={"pk": application.pk})).context["form"]

    assert (form["unit_name"].value(), form["contact_mobile"].value()) == ("上海申请时的名称有限公司", MOBILE)


def test_a_complete_form_creates_a_pending_application_with_its_attachment(unit, client, committee, django_capture_on_commit_callbacks):
    data = ready_form(client, django_capture_on_commit_callbacks, committee, uscc=" 91310107ma1g0tq2x" + USCC[-1].lower())

    response = client.post(NEW, data, follow=True)

    assertRedirects(response, LIST)
    assertContains(response, "申请已提交")
    application = CodeApplication.objects.get(account=unit)
    assert application.status == CodeApplication.Status.PENDING
    assert application.uscc == USCC  # stored normalised
    assert application.committee == committee
    assert application.headcount == 200
    assert attachments_of(application).count() == 1
    assertContains(response, '<span class="badge badge-state-progress">申请中</span>', html=True)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("uscc", USCC_FIRST17 + ("0" if USCC[-1] != "0" else "1"), f"统一社会信用代码校验位错误（应为 {USCC[-1]}），请核对。"),
        ("uscc", "1234", "统一社会信用代码应为18位。"),
        ("contact_mobile", "1391234567", "请输入11位手机号码。"),
        ("contact_mobile", "23912345678", "请输入11位手机号码。"),
        ("leader_mobile", "12345", "请输入11位手机号码。"),
        ("postcode", "20006", "请输入6位邮政编码。"),
        ("postcode", "2000AB", "请输入6位邮政编码。"),
        ("contact_email", "dingyi@", "请输入有效的邮箱地址，如 name@example.com。"),
        ("headcount", "0", "在职人数须大于0。"),
        ("headcount", "-3", "在职人数须大于0。"),
        ("headcount", "二百", "在职人数请填写整数。"),
        ("unit_name", "", "请输入单位名称。"),
        ("committee", "", "请选择工委名称。"),
        ("nature", "", "请选择单位性质。"),
        ("sms_code", "12ab", "请输入6位数字短信验证码。"),
    ],
)
def test_field_errors_are_chinese_and_beside_the_field(unit, client, committee, field, value, message):
    draft_token, submission_token = new_form(client)
    data = form_data(committee, draft_token=draft_token, submission_token=submission_token, **{field: value})

    response = client.post(NEW, data)

    assert response.status_code == 200
    assert field_errors(response, field) == [message]
    assertContains(response, f'<div class="invalid-feedback d-block">{message}</div>', html=True)
    assertContains(response, "请按提示修改标红的项目后重新提交。")
    # Nothing typed is lost (SPEC X-3).
    assertContains(response, 'value="上海市普陀区长寿路1号"')
    assert response.context["draft_token"] == draft_token
    assert response.context["submission_token"] == submission_token
    assert not CodeApplication.objects.exists()


def test_optional_fields_may_stay_empty(unit, client, committee, django_capture_on_commit_callbacks):
    data = ready_form(client, django_capture_on_commit_callbacks, committee, uscc="", leader_name="", leader_mobile="", unit_phone="")
    assertRedirects(client.post(NEW, data), LIST, fetch_redirect_response=False)
    application = CodeApplication.objects.get()
    assert (application.uscc, application.leader_mobile, application.unit_phone) == ("", "", "")


def test_a_missing_attachment_is_said_at_the_attachments_and_keeps_the_sms_code(unit, client, committee, django_capture_on_commit_callbacks):
    draft_token, submission_token = new_form(client)
    code = send_code(client, django_capture_on_commit_callbacks)
    data = form_data(committee, sms_code=code, draft_token=draft_token, submission_token=submission_token)

    response = client.post(NEW, data)

    assert response.status_code == 200
    assert response.context["attachment_errors"] == [
        "请上传附件：《社会保险费缴费申报表》、《单位参加城镇社会保险基本情况》、法人登记证或营业执照（复印件加盖公章）之一。"
    ]
    assertContains(response, '<div class="invalid-feedback d-block">请上传附件', count=1)
    assert not CodeApplication.objects.exists()
    # The code was not spent: upload the file and submit again.
    upload(client, draft_token)
    assertRedirects(client.post(NEW, data), LIST, fetch_redirect_response=False)
    assert CodeApplication.objects.count() == 1


# --- CODE-2: the SMS code, through the views -------------------------------------------------------------


def test_get_sms_code_sends_to_the_contact_mobile(unit, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SMS, {"contact_mobile": "139 1234 5678"}, HTTP_HX_REQUEST="true")
    assertContains(response, f"验证码已发送至 {MASKED}，5分钟内有效。")
    assertContains(response, 'data-retry-after="60"')
    assert sms.outbox[-1][0] == MOBILE


def test_get_sms_code_is_rate_limited_and_checks_the_mobile(unit, client, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        send_code(client, django_capture_on_commit_callbacks)
    with time_machine.travel(start + dt.timedelta(seconds=20), tick=False):
        response = client.post(SMS, {"contact_mobile": MOBILE}, HTTP_HX_REQUEST="true")
    assertContains(response, "验证码已发送，请41秒后再试。", status_code=429)
    assertContains(response, 'data-retry-after="41"', status_code=429)
    assertContains(response, "text-danger", status_code=429)
    assert len(sms.outbox) == 1

    response = client.post(SMS, {"contact_mobile": "1391234"}, HTTP_HX_REQUEST="true")
    assertContains(response, "请输入11位手机号码。")
    response = client.post(SMS, {"contact_mobile": ""}, HTTP_HX_REQUEST="true")
    assertContains(response, "请先填写联系人手机。")
    assert len(sms.outbox) == 1


def test_a_wrong_sms_code_is_said_at_the_field_and_nothing_is_lost(unit, client, committee, django_capture_on_commit_callbacks):
    data = ready_form(client, django_capture_on_commit_callbacks, committee)
    right = data["sms_code"]
    data["sms_code"] = "000000" if right != "000000" else "111111"

    response = client.post(NEW, data)

    assert field_errors(response, "sms_code") == ["验证码错误，请核对后重新输入。"]
    assertContains(response, 'value="上海示范机电有限公司"')
    assert response.context["draft_token"] == data["draft_token"]
    assert not CodeApplication.objects.exists()
    # The uploaded file is still there for the next try.
    assertContains(response, "已上传 <strong>1</strong> 个附件")
    data["sms_code"] = right
    assertRedirects(client.post(NEW, data), LIST, fetch_redirect_response=False)


def test_an_expired_sms_code_is_said_at_the_field(unit, client, committee, django_capture_on_commit_callbacks):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        data = ready_form(client, django_capture_on_commit_callbacks, committee)
    with time_machine.travel(start + dt.timedelta(minutes=5, seconds=1), tick=False):
        client.force_login(unit)  # the session's own clock moved too
        response = client.post(NEW, data)
    assert field_errors(response, "sms_code") == ["验证码已过期，请重新获取。"]
    assert not CodeApplication.objects.exists()


def test_a_code_sent_to_another_mobile_does_not_count(unit, client, committee, django_capture_on_commit_callbacks):
    data = ready_form(client, django_capture_on_commit_callbacks, committee)
    data["contact_mobile"] = "13700001111"
    response = client.post(NEW, data)
    assert field_errors(response, "sms_code") == ["请先获取短信验证码。"]


# --- CODE-3: the duplicate dialog -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "existing,typed,blocked",
    [
        ("上海ABC有限公司", "上海ＡＢＣ 有限公司", True),  # width-folded, white space removed
        ("上海 ABC 有限公司", "上海ABC有限公司", True),
        ("上海ABC有限公司", "上海ABC有限责任公司", False),  # 有限公司 and 有限责任公司 stay different
    ],
)
def test_a_name_in_progress_elsewhere_gets_the_handbooks_dialog(
    unit, client, committee, django_capture_on_commit_callbacks, existing, typed, blocked
):
    make_application(UserFactory(), committee, unit_name=existing, contact_name="是的", contact_mobile="17612345564")
    data = ready_form(client, django_capture_on_commit_callbacks, committee, unit_name=typed)

    response = client.post(NEW, data)

    if not blocked:
        assertRedirects(response, LIST, fetch_redirect_response=False)
        assert CodeApplication.objects.filter(account=unit).exists()
        return
    assert response.status_code == 200
    message = "提交失败!该企业已申请过参保编码。【联系人:是的,手机号:176****5564】"
    assert response.context["duplicate_message"] == message
    html = response.content.decode()
    dialog = re.search(r'<div class="modal fade" id="duplicate-dialog".*?</div>\s*</div>\s*</div>\s*</div>', html, re.S).group(0)
    assert "data-show-on-load" in dialog
    assert '<h2 class="modal-title fs-5" id="duplicate-dialog-title">提示</h2>' in dialog
    assert f"<span>{message}</span>" in dialog
    assert ">确定</button>" in dialog
    assert "17612345564" not in html
    # Nothing is lost: the values, the same draft token with its upload, the same submission token.
    assertContains(response, f'value="{typed}"')
    assert response.context["draft_token"] == data["draft_token"]
    assert response.context["submission_token"] == data["submission_token"]
    assertContains(response, f'value="{data["sms_code"]}"')
    assertContains(response, "已上传 <strong>1</strong> 个附件")
    assert not CodeApplication.objects.filter(account=unit).exists()


def test_a_rejected_application_does_not_block_the_name(unit, client, committee, django_capture_on_commit_callbacks):
    make_application(UserFactory(), committee, unit_name="上海示范机电有限公司", status="rejected")
    apply(unit, committee, django_capture_on_commit_callbacks)
    assert CodeApplication.objects.filter(account=unit, status="pending").count() == 1


def test_an_existing_code_blocks_with_its_handlers_contact(unit, client, committee, django_capture_on_commit_callbacks):
    code = EnrollmentCode.objects.create(code="0072J3", unit_name="上海示范机电有限公司", account=UserFactory(), source="imported")
    HandlerInfo.objects.create(
        code=code, handler_name="李经办", handler_mobile="13698765432", handler_email="li@example.com",
        economic_type="国有", address="上海市", industry="C", headcount=10,
    )
    response = client.post(NEW, ready_form(client, django_capture_on_commit_callbacks, committee))
    assert response.context["duplicate_message"] == "提交失败!该企业已申请过参保编码。【联系人:李经办,手机号:136****5432】"
    assertContains(response, "【联系人:李经办,手机号:136****5432】")


# --- double submission ------------------------------------------------------------------------------------


def test_posting_the_same_form_twice_creates_one_application(unit, client, committee, django_capture_on_commit_callbacks):
    data = ready_form(client, django_capture_on_commit_callbacks, committee)

    first = client.post(NEW, data)
    second = client.post(NEW, data, follow=True)

    assertRedirects(first, LIST, fetch_redirect_response=False)
    application = CodeApplication.objects.get()
    assertRedirects(second, reverse("enrollment:code_applications_detail", args=[application.pk]))
    assertContains(second, "该申请已提交，无需重复提交。")
    assert CodeApplication.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="two requests at once need PostgreSQL's row locks")
def test_a_double_click_at_the_same_moment_creates_one_application(unit_admin, committee, django_capture_on_commit_callbacks):
    setup = PortalClient()
    setup.force_login(unit_admin)
    data = ready_form(setup, django_capture_on_commit_callbacks, committee)
    cookie = setup.cookies["sessionid"].value
    responses = []
    barrier = threading.Barrier(2)

    def click():
        browser = PortalClient()
        browser.cookies["sessionid"] = cookie
        barrier.wait()
        try:
            responses.append(browser.post(NEW, data))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    application = CodeApplication.objects.get()
    locations = sorted(response["Location"] for response in responses)
    assert locations == sorted([LIST, reverse("enrollment:code_applications_detail", args=[application.pk])])


# --- CODE-4: detail, 【编辑】 and resubmission -----------------------------------------------------------------


def test_the_detail_shows_every_field_masked_with_the_attachments(unit, client, committee, django_capture_on_commit_callbacks):
    application = apply(unit, committee, django_capture_on_commit_callbacks)
    attachment = attachments_of(application).get()
    url = reverse("enrollment:code_applications_detail", args=[application.pk])

    response = client.get(url)

    for text in ["上海示范机电有限公司", "普陀区总工会", USCC, "企业", "丁一", "上海市普陀区长寿路1号", MASKED, "200060",
                 "dingyi@example.com", "王二", "138****1111", "021-63619921", "200", "申请中"]:
        assertContains(response, text)
    assertNotContains(response, MOBILE)
    assertNotContains(response, "13800001111")
    assertNotContains(response, ">编辑</a>")
    file_url = reverse("enrollment:code_applications_attachment", args=[application.pk, attachment.pk])
    assertContains(response, f'src="{file_url}"')
    served = client.get(file_url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"

    code = code_application_approve(application=application, acting_user=UserFactory(role="reviewer"))
    response = client.get(url)
    assertContains(response, f'<strong class="approved-code">{code.code}</strong>', html=True)
    assertContains(response, '<span class="badge badge-state-done">审核通过</span>', html=True)
    list_page = client.get(LIST)
    assertContains(list_page, f"<strong>{code.code}</strong>", html=True)
    assertNotContains(list_page, f'href="{NEW}"')  # the account now holds a code


def test_rejected_then_edited_then_resubmitted_is_pending_again(unit, client, committee, django_capture_on_commit_callbacks):
    application = apply(unit, committee, django_capture_on_commit_callbacks)
    reviewer = UserFactory(role="reviewer")
    code_application_reject(application=application, acting_user=reviewer, reason="营业执照复印件未加盖公章")
    edit_url = reverse("enrollment:code_applications_edit", args=[application.pk])

    detail = client.get(reverse("enrollment:code_applications_detail", args=[application.pk]))
    assertContains(detail, "营业执照复印件未加盖公章")
    assertContains(detail, f'href="{edit_url}"')

    page = client.get(edit_url)
    assert page.status_code == 200
    html = page.content.decode()
    alert = re.search(r'<div class="alert alert-danger reject-reason".*?</div>\s*</div>', html, re.S).group(0)
    assert "营业执照复印件未加盖公章" in alert
    assert html.index("reject-reason") < html.index('id="code-application-form"')  # at the top
    assertContains(page, 'value="上海示范机电有限公司"')
    assertContains(page, f'<option value="{committee.pk}" selected>普陀区总工会</option>', html=True)
    assertContains(page, 'value="200060"')
    kept = attachments_of(application).get()
    assertContains(page, reverse("enrollment:code_applications_attachment", args=[application.pk, kept.pk]))

    # The unit corrects the address and the contact, uploads the stamped copy, and resubmits with a
    # new code sent to the new contact mobile.
    draft_token, submission_token = page.context["draft_token"], page.context["submission_token"]
    upload(client, draft_token)
    code = send_code(client, django_capture_on_commit_callbacks, "13700001111")
    data = form_data(
        committee, address="上海市普陀区长寿路2号", contact_mobile="13700001111", sms_code=code,
        draft_token=draft_token, submission_token=submission_token,
    )
    response = client.post(edit_url, data, follow=True)

    assertRedirects(response, LIST)
    assertContains(response, "已修改并重新提交")
    application.refresh_from_db()
    assert application.status == CodeApplication.Status.PENDING
    assert application.reject_reason == ""
    assert (application.address, application.contact_mobile) == ("上海市普陀区长寿路2号", "13700001111")
    assert attachments_of(application).count() == 2
    assertContains(response, '<span class="badge badge-state-progress">申请中</span>', html=True)
    # No longer editable; posting the same form again leads to the application.
    assert client.get(edit_url).status_code == 404
    again = client.post(edit_url, data)
    assertRedirects(again, reverse("enrollment:code_applications_detail", args=[application.pk]), fetch_redirect_response=False)


def test_only_a_rejected_application_can_be_edited(unit, client, committee):
    pending = make_application(unit, committee)
    approved = make_application(unit, committee, unit_name="上海已通过有限公司")
    code_application_approve(application=approved, acting_user=UserFactory(role="reviewer"))
    for application in (pending, approved):
        assert client.get(reverse("enrollment:code_applications_edit", args=[application.pk])).status_code == 404


def test_a_kept_attachment_can_be_removed_while_editing(unit, client, committee, django_capture_on_commit_callbacks):
    application = apply(unit, committee, django_capture_on_commit_callbacks)
    code_application_reject(application=application, acting_user=UserFactory(role="reviewer"), reason="附件不清晰")
    kept = attachments_of(application).get()
    remove_url = reverse("enrollment:code_applications_attachment_delete", args=[application.pk, kept.pk])
    edit_url = reverse("enrollment:code_applications_edit", args=[application.pk])

    page = client.get(edit_url)
    assertContains(page, f'data-hx-post="{remove_url}"')
    response = client.post(remove_url, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assertContains(response, "已提交的附件已全部删除")
    assert not Attachment.objects.filter(pk=kept.pk).exists()
    assert client.post(remove_url, HTTP_HX_REQUEST="true").status_code == 200  # a second click does nothing

    # Without any attachment the resubmission is refused at the attachments.
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):  # past the 60 s between two codes
        code = send_code(client, django_capture_on_commit_callbacks)
    data = form_data(committee, sms_code=code, draft_token=page.context["draft_token"], submission_token=page.context["submission_token"])
    response = client.post(edit_url, data)
    assert response.context["attachment_errors"][0].startswith("请上传附件")
    application.refresh_from_db()
    assert application.status == CodeApplication.Status.REJECTED


def test_a_pending_applications_attachment_cannot_be_removed(unit, client, committee, django_capture_on_commit_callbacks):
    application = apply(unit, committee, django_capture_on_commit_callbacks)
    kept = attachments_of(application).get()
    url = reverse("enrollment:code_applications_attachment_delete", args=[application.pk, kept.pk])
    assert client.post(url).status_code == 404
    assert Attachment.objects.filter(pk=kept.pk).exists()


def test_more_attachments_than_allowed_are_refused_at_the_attachments(unit, client, committee, settings, django_capture_on_commit_callbacks):
    settings.ATTACHMENTS_PER_OBJECT = 2
    application = apply(unit, committee, django_capture_on_commit_callbacks)
    attachment_store(upload=png_file("第二页.png"), uploaded_by=unit, owner=application)
    code_application_reject(application=application, acting_user=UserFactory(role="reviewer"), reason="请补充材料")
    edit_url = reverse("enrollment:code_applications_edit", args=[application.pk])
    page = client.get(edit_url)
    upload(client, page.context["draft_token"])
    code = send_code(client, django_capture_on_commit_callbacks, "13700001111")
    data = form_data(
        committee, contact_mobile="13700001111", sms_code=code,
        draft_token=page.context["draft_token"], submission_token=page.context["submission_token"],
    )

    response = client.post(edit_url, data)

    assert response.context["attachment_errors"] == ["每项最多上传2个附件"]
    application.refresh_from_db()
    assert application.status == CodeApplication.Status.REJECTED
    assert attachments_of(application).count() == 2


def test_a_stale_rejected_application_is_not_resubmitted_twice(unit, committee, django_capture_on_commit_callbacks):
    """SPEC CODE-4: a second resubmission (a stale page, another tab) does not overwrite the first,
    now in review."""
    application = make_application(unit, committee, status="rejected", reject_reason="附件不清晰")
    attachment_store(upload=png_file(), uploaded_by=unit, owner=application)
    stale = CodeApplication.objects.get(pk=application.pk)
    fields = CodeApplicationForm.initial_from(application) | {"committee": committee}

    def code(mobile):
        with django_capture_on_commit_callbacks(execute=True):
            sms.sms_code_send(mobile=mobile, purpose=SMS_PURPOSE_CODE_APPLICATION)
        return re.search(r"验证码为(\d{6})", sms.outbox[-1][1]).group(1)

    code_application_submit(account=unit, fields=fields, sms_code=code(MOBILE), draft_token="", application=application)
    second = fields | {"contact_mobile": "13700001111"}
    with pytest.raises(EnrollmentError):
        code_application_submit(account=unit, fields=second, sms_code=code("13700001111"), draft_token="", application=stale)
    application.refresh_from_db()
    assert application.contact_mobile == MOBILE


# --- X-4 and roles: who may open these pages ----------------------------------------------------------------


@pytest.fixture
def someone_elses(committee, django_capture_on_commit_callbacks):
    owner = UserFactory()
    application = apply(owner, committee, django_capture_on_commit_callbacks)
    code_application_reject(application=application, acting_user=UserFactory(role="reviewer"), reason="请补充材料")
    return application, attachments_of(application).get()


def test_another_account_gets_404_for_the_application_and_its_attachments(unit, client, someone_elses):
    application, attachment = someone_elses
    for name, args in [
        ("enrollment:code_applications_detail", [application.pk]),
        ("enrollment:code_applications_edit", [application.pk]),
        ("enrollment:code_applications_attachment", [application.pk, attachment.pk]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 404, name
    edit = reverse("enrollment:code_applications_edit", args=[application.pk])
    assert client.post(edit, {"unit_name": "抢过来"}).status_code == 404
    remove = reverse("enrollment:code_applications_attachment_delete", args=[application.pk, attachment.pk])
    assert client.post(remove).status_code == 404
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_an_attachment_of_another_application_is_404_under_ones_own(unit, client, committee, someone_elses, django_capture_on_commit_callbacks):
    _, foreign = someone_elses
    own = apply(unit, committee, django_capture_on_commit_callbacks, unit_name="上海自己的单位有限公司", contact_mobile="13700002222")
    url = reverse("enrollment:code_applications_attachment", args=[own.pk, foreign.pk])
    assert client.get(url).status_code == 404


def all_urls(application, attachment):
    return [
        ("get", LIST),
        ("get", NEW),
        ("post", SMS),
        ("get", reverse("enrollment:code_applications_detail", args=[application.pk])),
        ("get", reverse("enrollment:code_applications_edit", args=[application.pk])),
        ("get", reverse("enrollment:code_applications_attachment", args=[application.pk, attachment.pk])),
        ("post", reverse("enrollment:code_applications_attachment_delete", args=[application.pk, attachment.pk])),
    ]


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_back_office_accounts_get_403_on_the_unit_pages(client, role, someone_elses):
    client.force_login(UserFactory(role=role))
    for method, url in all_urls(*someone_elses):
        assert getattr(client, method)(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_the_login(client, someone_elses):
    for method, url in all_urls(*someone_elses):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login") + "?next="), url


def test_csrf_is_enforced(unit_admin, committee):
    client = PortalClient(enforce_csrf_checks=True)
    client.force_login(unit_admin)
    assert client.post(NEW, form_data(committee)).status_code == 403
    assert client.post(SMS, {"contact_mobile": MOBILE}).status_code == 403
    assert sms.outbox == []
    assert not CodeApplication.objects.exists()
