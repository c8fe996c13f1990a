"""【经办人填报】 and 参保信息变更申请 through their pages (SPEC HND-1, HND-2, HND-3, ACC-2, X-1, X-3, X-4)."""
import datetime as dt
import io
import re

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import UnionOrganisation
from enrollment.models import ChangeRequest, CodeApplication, HandlerInfo, Unit
from enrollment.selectors import handler_info_complete
from enrollment.services import (
    EnrollmentError,
    change_request_reject,
    change_request_submit,
    handler_info_save,
)
from enrollment.views.access import handler_info_required
from mutualaid import sms
from mutualaid.attachments import attachment_draft_token, attachment_store, attachments_of
from tests.enrollment.handler_helpers import MOBILE, handler_data, make_code, send_code
from tests.factories import UNIT_NAME, USCC, UserFactory

pytestmark = pytest.mark.django_db

HANDBOOK_NOTE = "若单位名称有误，请至职保中心五楼营业大厅“信息修改”窗口办理更新！"


@pytest.fixture(autouse=True)
def clean_outbox_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def putuo(union_organisations):
    return UnionOrganisation.objects.get(name="普陀区总工会")


@pytest.fixture
def changfeng(putuo):
    return UnionOrganisation.objects.get(name="普陀区长风新村街道总工会")


@pytest.fixture
def xujiahui(union_organisations):
    return UnionOrganisation.objects.get(name="徐汇区徐家汇街道总工会")


@pytest.fixture
def account(db):
    return UserFactory(username="cf-unit", first_name="丁一", mobile=MOBILE, email="hr@example.com")


@pytest.fixture
def code(account, changfeng):
    return make_code(account, committee=changfeng)


@pytest.fixture
def unit_client(client, account):
    client.force_login(account)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- HND-1: 经办人填报 ---------------------------------------------------------------------------------


def test_without_a_code_the_page_leads_to_the_code_application(client, account):
    """SPEC ACC-2: an account without a code can only apply for one (or bind it in 参保批次管理)."""
    client.force_login(account)
    response = client.get(reverse("enrollment:handler"))
    assert response.status_code == 302 and response.url == reverse("enrollment:code_applications")
    assert any("请先申请参保编码" in message for message in messages_of(response))


def test_the_form_has_the_handbooks_fields_in_order_prefilled_from_the_code(unit_client, code, changfeng):
    """SPEC HND-1, HND-3: name and USCC from the code, read only, with the handbook's warning."""
    response = unit_client.get(reverse("enrollment:handler"))
    assert response.status_code == 200
    page = response.content.decode()
    labels = ["经办人姓名", "经办人电话", "经办人邮箱", "单位名称", "统一社会信用代码", "经济类型名称", "验证码",
              "一级工会组织名称", "二级工会组织名称", "单位地址", "单位所属行业名称", "职工人数"]
    positions = [page.index(f"{label}</label>") for label in labels]
    assert positions == sorted(positions)
    form = response.context["form"]
    assert form["unit_name"].value() == UNIT_NAME and form["uscc"].value() == USCC
    assert form.fields["unit_name"].disabled and form.fields["uscc"].disabled
    assert HANDBOOK_NOTE in page
    # Before the first save: the lead unit's address and union, the account's contact.
    assert form["address"].value() == "上海市普陀区长风路1号"
    assert form["handler_mobile"].value() == MOBILE and form["handler_email"].value() == "hr@example.com"
    assert form["union_level1"].value() == str(changfeng.parent_id)
    assert form["union_level2"].value() == str(changfeng.pk)
    assert "获取验证码" in page and reverse("enrollment:handler_sms") in page


def test_the_code_application_prefills_a_new_handler(unit_client, account, putuo):
    code = make_code(account, address="")
    CodeApplication.objects.create(
        account=account, unit_name=UNIT_NAME, committee=putuo, nature="企业", contact_name="王经办", address="申请地址8号",
        contact_mobile="13700001234", postcode="200060", contact_email="wang@example.com", headcount=66,
        status=CodeApplication.Status.APPROVED, code=code,
    )
    form = unit_client.get(reverse("enrollment:handler")).context["form"]
    assert form["handler_name"].value() == "王经办" and form["handler_mobile"].value() == "13700001234"
    assert form["address"].value() == "申请地址8号"
    assert form["union_level1"].value() == str(putuo.pk) and form["union_level2"].value() == ""


def test_save_then_the_batch_gate_opens(unit_client, code, putuo, changfeng, django_capture_on_commit_callbacks):
    """SPEC HND-1: until 经办人填报 is saved no batch operation is possible; 【保存】 opens it."""
    gate = handler_info_required(lambda request: HttpResponse("批次页面"))

    def through_gate():
        request = RequestFactory().get("/batches/")
        request.user = code.account
        SessionMiddleware(lambda r: None).process_request(request)
        MessageMiddleware(lambda r: None).process_request(request)
        return gate(request), request

    response, request = through_gate()
    assert response.status_code == 302 and response.url == reverse("enrollment:handler")
    assert [str(m) for m in get_messages(request)] == ["请先完成【经办人填报】并保存，才可以进行后续操作。"]
    assert not handler_info_complete(code=code)

    sms_code = send_code(unit_client, django_capture_on_commit_callbacks)
    response = unit_client.post(reverse("enrollment:handler"), handler_data(putuo, changfeng, sms_code=sms_code))

    assert response.status_code == 302 and response.url == reverse("enrollment:handler")
    assert "保存成功，可以进行后续操作。" in messages_of(response)
    info = HandlerInfo.objects.get(code=code)
    assert (info.handler_name, info.handler_mobile, info.handler_email) == ("丁一", MOBILE, "dingyi@example.com")
    assert (info.union_level1, info.union_level2) == (putuo, changfeng)
    assert (info.economic_type, info.industry, info.headcount, info.address) == ("私营", "I", 85, "上海市普陀区长风路2号")
    assert info.saved_by == code.account
    assert handler_info_complete(code=code)
    response, _ = through_gate()
    assert response.status_code == 200 and response.content.decode() == "批次页面"
    # The page shows the saved values and says it is done.
    page = unit_client.get(reverse("enrollment:handler"))
    assert page.context["form"]["handler_email"].value() == "dingyi@example.com"
    assert "经办人信息已于" in page.content.decode()


def test_the_read_only_name_and_uscc_cannot_be_changed_by_posting(unit_client, code, django_capture_on_commit_callbacks):
    """SPEC HND-3: unit name changes are on site only; posted values are ignored."""
    sms_code = send_code(unit_client, django_capture_on_commit_callbacks)
    other_uscc = "91310000132206289R"
    response = unit_client.post(
        reverse("enrollment:handler"),
        handler_data(None, None, sms_code=sms_code, unit_name="上海冒名顶替有限公司", uscc=other_uscc),
    )
    assert response.status_code == 302
    code.refresh_from_db()
    assert (code.unit_name, code.uscc) == (UNIT_NAME, USCC)
    assert Unit.objects.get(code=code).name == UNIT_NAME
    form = unit_client.get(reverse("enrollment:handler")).context["form"]
    assert (form["unit_name"].value(), form["uscc"].value()) == (UNIT_NAME, USCC)


def test_a_unit_without_a_union_chooses_no_union_for_both(unit_client, code, django_capture_on_commit_callbacks):
    """SPEC HND-1: 未建会 for both union fields, stored as none."""
    sms_code = send_code(unit_client, django_capture_on_commit_callbacks)
    response = unit_client.post(reverse("enrollment:handler"), handler_data(None, None, sms_code=sms_code))
    assert response.status_code == 302
    info = HandlerInfo.objects.get(code=code)
    assert info.union_level1 is None and info.union_level2 is None and not info.has_union


def test_no_union_at_level_one_means_no_union_at_level_two(unit_client, code, changfeng):
    response = unit_client.post(reverse("enrollment:handler"), handler_data(None, changfeng))
    assert response.status_code == 200
    assert response.context["form"].errors["union_level2"] == ["所选二级工会组织不属于所选一级工会组织，请重新选择。"]
    assert not HandlerInfo.objects.exists()


def test_the_level_two_organisation_must_belong_to_the_chosen_level_one(
    unit_client, code, putuo, xujiahui, django_capture_on_commit_callbacks
):
    """SPEC HND-1: the level-2 list follows the level-1 one; a posted pair that does not match is refused
    beside the field, and the SMS code is not spent by it."""
    sms_code = send_code(unit_client, django_capture_on_commit_callbacks)
    response = unit_client.post(reverse("enrollment:handler"), handler_data(putuo, xujiahui, sms_code=sms_code))
    assert response.status_code == 200
    assert response.context["form"].errors["union_level2"] == ["所选二级工会组织不属于所选一级工会组织，请重新选择。"]
    assert "is-invalid" in response.content.decode()
    assert not HandlerInfo.objects.exists()
    # An organisation must be chosen at level 2 when the level-1 one has some.
    response = unit_client.post(reverse("enrollment:handler"), handler_data(putuo, None, union_level2=""))
    assert response.context["form"].errors["union_level2"] == ["请选择二级工会组织名称。"]
    # The SMS code was not consumed by the refused posts.
    response = unit_client.post(
        reverse("enrollment:handler"), handler_data(putuo, putuo.children.first(), sms_code=sms_code)
    )
    assert response.status_code == 302


def test_the_service_checks_the_union_pair_too(code, putuo, xujiahui):
    """SPEC HND-1: handler_info_save refuses a mismatched pair whatever called it."""
    fields = {
        "handler_name": "丁一", "handler_mobile": MOBILE, "handler_email": "a@example.com", "economic_type": "私营",
        "union_level1": putuo, "union_level2": xujiahui, "address": "x", "industry": "C", "headcount": 3,
    }
    with pytest.raises(EnrollmentError, match="不属于所选一级工会组织") as refused:
        handler_info_save(code=code, account=code.account, fields=fields, sms_code="123456")
    assert refused.value.field == "union_level2"
    with pytest.raises(EnrollmentError, match="也须为“未建会”"):
        handler_info_save(code=code, account=code.account, fields={**fields, "union_level1": None}, sms_code="123456")


def test_the_level_two_options_follow_the_level_one_choice(unit_client, code, putuo, xujiahui):
    url = reverse("enrollment:handler_level2_options")
    options = unit_client.get(url, {"union_level1": putuo.pk}, HTTP_HX_REQUEST="true").content.decode()
    names = re.findall(r'<option value="\d+">([^<]+)</option>', options)
    assert names == list(putuo.children.filter(is_active=True).order_by("sort_order", "name").values_list("name", flat=True))
    assert xujiahui.name not in options
    assert unit_client.get(url, {"union_level1": "none"}).content.decode().strip() == '<option value="none">未建会</option>'
    assert "请先选择一级工会组织" in unit_client.get(url).content.decode()


def test_the_lists_come_filled_for_the_chosen_level_one_and_wait_for_their_script(unit_client, code, changfeng):
    """The level-2 list is rendered for the level-1 organisation already chosen; the level-1 select and
    【获取验证码】 stay disabled until htmx has bound them (static/js/portal.js enables each
    data-bound-by-script), so nothing chosen while the scripts still load is lost."""
    page = unit_client.get(reverse("enrollment:handler")).content.decode()
    level1 = re.search(r'<select name="union_level1"[^>]*>', page).group(0)
    assert " disabled" in level1 and "data-bound-by-script" in level1 and 'data-hx-trigger="change"' in level1
    level2 = re.search(r'<select name="union_level2".*?</select>', page, re.S).group(0)
    assert f'<option value="{changfeng.pk}" selected>{changfeng.name}</option>' in level2
    button = re.search(r'<button type="button"[^>]*data-sms-send[^>]*>', page).group(0)
    assert " disabled" in button and "data-bound-by-script" in button


def test_a_wrong_sms_code_is_refused_beside_the_field(unit_client, code, django_capture_on_commit_callbacks):
    send_code(unit_client, django_capture_on_commit_callbacks)
    response = unit_client.post(reverse("enrollment:handler"), handler_data(None, None, sms_code="000000"))
    assert response.status_code == 200
    assert response.context["form"].errors["sms_code"] == ["验证码错误，请核对后重新输入。"]
    assert response.context["form"]["handler_name"].value() == "丁一"  # nothing typed is lost
    assert not HandlerInfo.objects.exists()


def test_an_expired_sms_code_is_refused(unit_client, code, django_capture_on_commit_callbacks):
    sms_code = send_code(unit_client, django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6)):
        response = unit_client.post(reverse("enrollment:handler"), handler_data(None, None, sms_code=sms_code))
    assert response.context["form"].errors["sms_code"] == ["验证码已过期，请重新获取。"]
    assert not HandlerInfo.objects.exists()


def test_the_sms_code_goes_to_the_handler_mobile_only_when_it_is_a_mobile(unit_client, code):
    response = unit_client.post(reverse("enrollment:handler_sms"), {"handler_mobile": "021-6361992"})
    assert "请输入11位手机号码。" in response.content.decode() and sms.outbox == []
    response = unit_client.post(reverse("enrollment:handler_sms"), {})
    assert "请先填写经办人电话" in response.content.decode()


def test_field_checks(unit_client, code):
    response = unit_client.post(
        reverse("enrollment:handler"),
        handler_data(None, None, handler_mobile="12345", handler_email="not-an-email", headcount="0", economic_type=""),
    )
    errors = response.context["form"].errors
    assert errors["handler_mobile"] == ["请输入11位手机号码。"]
    assert errors["handler_email"] == ["请输入有效的邮箱地址，如 name@example.com。"]
    assert errors["headcount"] == ["职工人数须大于0。"]
    assert errors["economic_type"] == ["请选择经济类型名称。"]


def test_an_account_with_several_codes_chooses_one(unit_client, account, code):
    second = make_code(account, code="0072K4", unit_name="上海长风示范科技有限公司分公司", uscc="")
    response = unit_client.get(reverse("enrollment:handler"))
    assert response.context["code"] == code  # the first by default
    assert response.context["code_switch"] is not None
    response = unit_client.get(reverse("enrollment:handler"), {"code": "0072k4"})
    assert response.context["code"] == second
    assert response.context["form"]["unit_name"].value() == "上海长风示范科技有限公司分公司"
    other = make_code(UserFactory(), code="999999", unit_name="别家单位")
    assert unit_client.get(reverse("enrollment:handler"), {"code": other.code}).status_code == 404


def test_one_code_shows_no_select(unit_client, code):
    assert unit_client.get(reverse("enrollment:handler")).context["code_switch"] is None


# --- HND-2: 参保信息变更申请 ------------------------------------------------------------------------------


def png_upload(name="申请单.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), "white").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def stamped_scan(account) -> str:
    """A draft upload of the stamped form, as the attachment component leaves it; its token."""
    token = attachment_draft_token()
    attachment_store(upload=png_upload(), uploaded_by=account, draft_token=token)
    return token


@pytest.fixture
def handler_info(code):
    return HandlerInfo.objects.create(
        code=code, handler_name="丁一", handler_mobile=MOBILE, handler_email="dingyi@example.com", economic_type="私营",
        address="上海市普陀区长风路1号", industry="I", headcount=120, saved_by=code.account,
    )


def change_data(token, **overrides) -> dict:
    data = {"code": "0072J3", "batch_number": "", "contact_name": "丁一", "contact_mobile": MOBILE, "draft_token": token}
    data.update(overrides)
    return data


def test_the_change_form_mirrors_the_printed_one(unit_client, code, handler_info):
    """SPEC HND-2 [departure]: header prefilled, the six items, the printable form to download."""
    response = unit_client.get(reverse("enrollment:handler_changes_new"))
    assert response.status_code == 200
    page = response.content.decode()
    for text in ["职工互助保障参保信息变更申请表（线上）", UNIT_NAME, USCC, "0072J3", "参保批次号", "单位联系人", "联系人手机",
                 "※ 请在需变更的事项栏打钩", "原信息", "新修改信息", "打印后加盖参保单位公章，扫描或拍照上传"]:
        assert text in page, text
    labels = [label for _, label in ChangeRequest.Item.choices]
    positions = [page.index(f">{label}</label>") for label in labels]
    assert positions == sorted(positions)
    assert reverse("accounts:download_change_form") in page
    form = response.context["form"]
    assert form["contact_name"].value() == "丁一" and form["contact_mobile"].value() == MOBILE
    assert 'name="draft_token"' in page
    # 原信息 of the handler mobile is masked (SPEC X-1).
    rows = {row["item"]: row for row in response.context["rows"]}
    assert rows[ChangeRequest.Item.HANDLER_MOBILE]["original"] == "139****5678"
    assert rows[ChangeRequest.Item.ADDRESS]["original"] == "上海市普陀区长风路1号"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "items", "请勾选需变更的事项。"),
        ({"items": ["handler_mobile"], "new_handler_mobile": "1391234"}, "new_handler_mobile", "请输入11位手机号码。"),
        ({"items": ["unit_email"], "new_unit_email": "hr@"}, "new_unit_email", "请输入有效的邮箱地址，如 name@example.com。"),
        ({"items": ["address"], "new_address": ""}, "new_address", "请填写新单位地址。"),
        ({"items": ["handler_phone"], "new_handler_phone": "电话"}, "new_handler_phone", "请填写电话号码，只含数字和“-”，如 021-63619921。"),
        ({"items": ["address"], "new_address": "上海市普陀区长风路1号"}, "new_address", "新修改信息与原信息相同，请核对。"),
        ({"items": ["address"], "new_address": "x", "contact_mobile": ""}, "contact_mobile", "请输入联系人手机。"),
    ],
    ids=["no-item", "bad-mobile", "bad-email", "missing-value", "bad-phone", "unchanged", "no-contact-mobile"],
)
def test_the_change_form_checks_its_fields(unit_client, code, handler_info, data, field, message):
    token = stamped_scan(code.account)
    response = unit_client.post(reverse("enrollment:handler_changes_new"), change_data(token, **data))
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert not ChangeRequest.objects.exists()
    # The scan uploaded before the error is still there.
    assert f'value="{token}"' in response.content.decode()


def test_the_stamped_scan_is_required(unit_client, code, handler_info):
    response = unit_client.post(
        reverse("enrollment:handler_changes_new"),
        change_data(attachment_draft_token(), items=["address"], new_address="上海市普陀区长风路9号"),
    )
    assert response.status_code == 200
    assert response.context["attachment_errors"] == ["请上传加盖参保单位公章的申请单扫描件或照片。"]
    assert not ChangeRequest.objects.exists()


def test_a_change_request_is_submitted_with_its_scan_and_the_original_values(unit_client, code, handler_info):
    token = stamped_scan(code.account)
    response = unit_client.post(
        reverse("enrollment:handler_changes_new"),
        change_data(
            token,
            batch_number=" 2023j000123 ",
            items=["resend_email", "address", "handler_mobile"],
            new_address="上海市普陀区长风路9号",
            new_handler_mobile="138 0000 1111",
            new_unit_email="ignored@example.com",  # not ticked: not part of the request
        ),
    )
    change = ChangeRequest.objects.get()
    assert response.status_code == 302 and response.url == reverse("enrollment:handler_changes_detail", args=[change.pk])
    assert "参保信息变更申请已提交，请等待上海市职工保障互助会审核。" in messages_of(response)
    assert change.account == code.account and change.code == code and change.status == ChangeRequest.Status.PENDING
    assert change.items == ["resend_email", "address", "handler_mobile"]
    assert change.batch_number == "2023J000123"
    assert {item: change.original_value(item) for item in change.items} == {
        "resend_email": "dingyi@example.com", "address": "上海市普陀区长风路1号", "handler_mobile": MOBILE,
    }
    assert change.new_values.keys() == {"address", "handler_mobile"}
    assert (change.new_value("address"), change.new_value("handler_mobile")) == ("上海市普陀区长风路9号", "13800001111")
    # SPEC SEC-4: the handler's mobiles are kept encrypted in the JSON, the other values in clear.
    assert change.original_values["address"] == "上海市普陀区长风路1号"
    assert MOBILE not in str(change.original_values) and "13800001111" not in str(change.new_values)
    assert [a.original_name for a in attachments_of(change)] == ["申请单.png"]

    detail = unit_client.get(response.url).content.decode()
    for text in ["申请中", "上海市普陀区长风路9号", "138****1111", "139****5678", "2023J000123", "申请单.png"]:
        assert text in detail, text
    assert MOBILE not in detail  # masked everywhere

    listing = unit_client.get(reverse("enrollment:handler_changes")).content.decode()
    assert "重发邮件、变更单位地址、变更经办人手机" in listing and "badge-state-progress" in listing
    assert "显示第 1 到第 1 条记录，总共 1 条记录 每页显示 15 条记录" in listing

    # The same form posted again (back button) leads to the request it made, not a second one.
    again = unit_client.post(reverse("enrollment:handler_changes_new"), change_data(token, items=["address"], new_address="y"))
    assert again.url == reverse("enrollment:handler_changes_detail", args=[change.pk])
    assert ChangeRequest.objects.count() == 1


def test_handler_items_need_a_saved_handler_info(unit_client, code):
    token = stamped_scan(code.account)
    response = unit_client.post(
        reverse("enrollment:handler_changes_new"), change_data(token, items=["handler_name"], new_handler_name="王二")
    )
    assert response.status_code == 200
    assert "尚未完成【经办人填报】" in response.context["form"].errors["items"][0]
    assert not ChangeRequest.objects.exists()


def test_a_rejected_request_shows_its_reason(unit_client, code, handler_info):
    change = change_request_submit(
        account=code.account, code=code, items=["address"], new_values={"address": "新地址"}, contact_name="丁一",
        contact_mobile=MOBILE, batch_number="", draft_token=stamped_scan(code.account),
    )
    change_request_reject(change_request=change, acting_user=UserFactory(role="reviewer"), reason="申请单未加盖公章")
    listing = unit_client.get(reverse("enrollment:handler_changes")).content.decode()
    assert "申请单未加盖公章" in listing and "审核不通过" in listing and "badge-state-rejected" in listing
    detail = unit_client.get(reverse("enrollment:handler_changes_detail", args=[change.pk])).content.decode()
    assert "审核不通过原因" in detail and "申请单未加盖公章" in detail


def test_another_account_gets_404_for_the_request_and_its_scan(client, unit_client, code, handler_info):
    """SPEC X-4: only the owning account sees a change request and its attachments."""
    change = change_request_submit(
        account=code.account, code=code, items=["address"], new_values={"address": "新地址"}, contact_name="丁一",
        contact_mobile=MOBILE, batch_number="", draft_token=stamped_scan(code.account),
    )
    attachment = attachments_of(change).get()
    detail_url = reverse("enrollment:handler_changes_detail", args=[change.pk])
    file_url = reverse("enrollment:handler_changes_attachment", args=[change.pk, attachment.pk])

    response = unit_client.get(file_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert unit_client.get(detail_url).status_code == 200

    other = UserFactory(username="other-unit")
    make_code(other, code="888888", unit_name="别家单位")
    client.force_login(other)
    assert client.get(detail_url).status_code == 404
    assert client.get(file_url).status_code == 404
    assert "暂无变更申请" in client.get(reverse("enrollment:handler_changes")).content.decode()
    # An attachment of another owner under this request's URL is 404 too.
    foreign = attachment_store(upload=png_upload(), uploaded_by=other, draft_token=attachment_draft_token())
    assert unit_client.get(reverse("enrollment:handler_changes_attachment", args=[change.pk, foreign.pk])).status_code == 404


@pytest.mark.parametrize(
    "url_name",
    ["enrollment:handler", "enrollment:handler_level2_options", "enrollment:handler_changes", "enrollment:handler_changes_new"],
)
def test_back_office_accounts_get_403_and_anonymous_users_the_login(client, reviewer, url_name):
    client.force_login(reviewer)
    assert client.get(reverse(url_name)).status_code == 403
    client.logout()
    response = client.get(reverse(url_name))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_back_office_accounts_get_403_on_the_detail_and_the_sms(client, reviewer, code, handler_info):
    change = change_request_submit(
        account=code.account, code=code, items=["address"], new_values={"address": "新地址"}, contact_name="丁一",
        contact_mobile=MOBILE, batch_number="", draft_token=stamped_scan(code.account),
    )
    client.force_login(reviewer)
    assert client.get(reverse("enrollment:handler_changes_detail", args=[change.pk])).status_code == 403
    attachment = attachments_of(change).get()
    assert client.get(reverse("enrollment:handler_changes_attachment", args=[change.pk, attachment.pk])).status_code == 403
    assert client.post(reverse("enrollment:handler_sms"), {"handler_mobile": MOBILE}).status_code == 403
    assert sms.outbox == []


def test_the_list_pages_by_fifteen(unit_client, code, handler_info):
    for number in range(16):
        ChangeRequest.objects.create(
            account=code.account, code=code, items=["address"], original_values={}, new_values={"address": f"地址{number}"},
            contact_name="丁一", contact_mobile=MOBILE,
        )
    page = unit_client.get(reverse("enrollment:handler_changes")).content.decode()
    assert "显示第 1 到第 15 条记录，总共 16 条记录 每页显示 15 条记录" in page
    page = unit_client.get(reverse("enrollment:handler_changes"), {"page": 2}).content.decode()
    assert "显示第 16 到第 16 条记录，总共 16 条记录" in page


# --- SEC-7: after the first save the contact fields change only through 参保信息变更申请 -----------------


def test_after_the_first_save_a_posted_contact_change_is_ignored_and_the_rest_saves(unit_client, code, handler_info, putuo, changfeng):
    """SPEC SEC-7: a POST with a new mobile, name, e-mail and address after the first save changes none
    of them and sends no SMS; 经济类型, 行业, 职工人数 and the union fields still save, without a code."""
    response = unit_client.post(
        reverse("enrollment:handler"),
        handler_data(
            putuo, changfeng, handler_name="冒名", handler_mobile="13800001111", handler_email="evil@example.com",
            address="别处1号", economic_type="国有", industry="C", headcount="300", sms_code="",
        ),
    )
    assert response.status_code == 302 and "保存成功，可以进行后续操作。" in messages_of(response)
    info = HandlerInfo.objects.get(code=code)
    assert (info.handler_name, info.handler_mobile, info.handler_email, info.address) == (
        "丁一", MOBILE, "dingyi@example.com", "上海市普陀区长风路1号"
    )
    assert (info.economic_type, info.industry, info.headcount) == ("国有", "C", 300)
    assert (info.union_level1, info.union_level2) == (putuo, changfeng)
    assert sms.outbox == []


def test_after_the_first_save_the_service_keeps_the_contacts_too(code, handler_info):
    """SPEC SEC-7: handler_info_save itself ignores contact fields once saved, whoever calls it."""
    fields = {
        "handler_name": "冒名", "handler_mobile": "13800001111", "handler_email": "evil@example.com",
        "economic_type": "集体", "union_level1": None, "union_level2": None, "address": "别处1号",
        "industry": "A", "headcount": 7,
    }
    info = handler_info_save(code=code, account=code.account, fields=fields)
    info.refresh_from_db()
    assert (info.handler_name, info.handler_mobile, info.handler_email, info.address) == (
        "丁一", MOBILE, "dingyi@example.com", "上海市普陀区长风路1号"
    )
    assert (info.economic_type, info.industry, info.headcount) == ("集体", "A", 7)


def test_after_the_first_save_the_page_shows_the_contacts_read_only_and_the_change_link(unit_client, code, handler_info):
    """SPEC SEC-7, HND-2, HND-3: disabled contact inputs, no 【获取验证码】, 【信息变更申请】 and the on-site note."""
    response = unit_client.get(reverse("enrollment:handler"))
    form = response.context["form"]
    assert all(form.fields[name].disabled for name in ("handler_name", "handler_mobile", "handler_email", "address"))
    assert not any(form.fields[name].disabled for name in ("economic_type", "industry", "headcount", "union_level1"))
    assert "sms_code" not in form.fields
    page = response.content.decode()
    assert f'href="{reverse("enrollment:handler_changes_new")}">信息变更申请</a>' in page
    assert "获取验证码" not in page
    assert HANDBOOK_NOTE in page and "五楼营业大厅“信息修改”窗口现场办理" in page
    assert re.search(r'<input[^>]*name="handler_mobile"[^>]*disabled', page)


def test_before_the_first_save_everything_is_editable(unit_client, code):
    """SPEC SEC-7: until the first save the contact fields are free and the SMS code is asked."""
    response = unit_client.get(reverse("enrollment:handler"))
    form = response.context["form"]
    assert not form.fields["handler_mobile"].disabled and "sms_code" in form.fields
    assert "handler-locked" not in response.content.decode()
