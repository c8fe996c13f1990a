"""Enrollment codes, applications, binding, handler info and change requests as services
(SPEC CODE-3, CODE-4, CODE-5, CODE-8, HND-1, HND-2, HND-3)."""
import re

import pytest
from django.core import mail

from accounts.models import UnionOrganisation
from enrollment.models import ChangeRequest, CodeApplication, EnrollmentCode, HandlerInfo, Unit, unit_name_key
from enrollment.services import (
    CODE_ALPHABET,
    DuplicateUnitError,
    EnrollmentError,
    SMS_PURPOSE_CODE_APPLICATION,
    SMS_PURPOSE_HANDLER,
    change_request_approve,
    change_request_reject,
    change_request_submit,
    code_application_approve,
    code_application_reject,
    code_application_submit,
    code_bind,
    code_generate,
    code_release,
    handler_info_save,
    unit_name_change,
)
from mutualaid import sms
from mutualaid.models import SmsCode
from mutualaid.attachments import attachment_draft_token, attachment_store, attachments_of
from tests.enrollment.helpers import png_upload
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def sms_code(django_capture_on_commit_callbacks, mobile, purpose):
    # The 60-second resend limit is the SMS service's own test; here each step just needs a code.
    SmsCode.objects.filter(mobile=mobile).delete()
    with django_capture_on_commit_callbacks(execute=True):
        sms.sms_code_send(mobile=mobile, purpose=purpose)
    return re.search(r"验证码为(\d{6})", sms.outbox[-1][1]).group(1)


@pytest.fixture
def committee(union_organisations):
    return UnionOrganisation.objects.get(name="普陀区总工会")


def application_fields(committee, **overrides):
    fields = {
        "unit_name": "上海示范机电有限公司",
        "committee": committee,
        "uscc": "91310000132206289R",
        "nature": "企业",
        "contact_name": "丁一",
        "address": "上海市普陀区长寿路1号",
        "contact_mobile": "13912345678",
        "postcode": "200060",
        "contact_email": "dingyi@example.com",
        "headcount": 200,
        "leader_name": "",
        "leader_mobile": "",
        "unit_phone": "",
    }
    fields.update(overrides)
    return fields


def submit(account, committee, capture, *, application=None, with_attachment=True, **overrides):
    fields = application_fields(committee, **overrides)
    token = attachment_draft_token()
    if with_attachment:
        attachment_store(upload=png_upload(), uploaded_by=account, draft_token=token)
    code = sms_code(capture, fields["contact_mobile"], SMS_PURPOSE_CODE_APPLICATION)
    return code_application_submit(account=account, fields=fields, sms_code=code, draft_token=token, application=application)


@pytest.fixture(autouse=True)
def clear_sms():
    sms.outbox.clear()


# --- CODE-8 ----------------------------------------------------------------------------------------


def test_codes_are_six_characters_without_i_and_o():
    codes = {code_generate() for _ in range(200)}
    assert all(len(code) == 6 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert not any(char in code for code in codes for char in "IO")
    assert len(codes) > 190  # random, not a sequence


# --- CODE-2/3/4: applications ------------------------------------------------------------------------


def test_an_application_needs_an_attachment(committee, django_capture_on_commit_callbacks):
    account = UserFactory()
    with pytest.raises(EnrollmentError, match="请上传附件"):
        submit(account, committee, django_capture_on_commit_callbacks, with_attachment=False)
    assert not CodeApplication.objects.exists()


def test_a_submitted_application_is_pending_with_its_attachment(committee, django_capture_on_commit_callbacks):
    account = UserFactory()
    application = submit(account, committee, django_capture_on_commit_callbacks)
    assert application.status == CodeApplication.Status.PENDING
    assert attachments_of(application).count() == 1


def test_a_wrong_sms_code_saves_nothing(committee):
    account = UserFactory()
    token = attachment_draft_token()
    attachment_store(upload=png_upload(), uploaded_by=account, draft_token=token)
    with pytest.raises(EnrollmentError, match="请先获取短信验证码"):
        code_application_submit(
            account=account, fields=application_fields(committee), sms_code="000000", draft_token=token
        )
    assert not CodeApplication.objects.exists()


@pytest.mark.parametrize(
    "existing,new,blocked",
    [
        ("上海ABC有限公司", "上海ＡＢＣ 有限公司", True),  # width-folded, spaces removed (CODE-3)
        ("上海ABC有限公司", " 上海ABC有限公司\u3000", True),
        ("上海ABC有限公司", "上海ABC有限责任公司", False),  # 有限公司 ≠ 有限责任公司
    ],
)
def test_duplicate_names_are_compared_folded(committee, django_capture_on_commit_callbacks, existing, new, blocked):
    submit(UserFactory(), committee, django_capture_on_commit_callbacks, unit_name=existing, contact_mobile="13911112222")
    second = UserFactory()
    if blocked:
        with pytest.raises(DuplicateUnitError) as refused:
            submit(second, committee, django_capture_on_commit_callbacks, unit_name=new, contact_mobile="13933334444")
        assert refused.value.message == "提交失败!该企业已申请过参保编码。【联系人:丁一,手机号:139****2222】"
    else:
        application = submit(second, committee, django_capture_on_commit_callbacks, unit_name=new, contact_mobile="13933334444")
        assert (application.account, application.unit_name, application.status) == (second, new, "pending")


def test_a_rejected_application_does_not_block_the_name(committee, django_capture_on_commit_callbacks):
    reviewer = UserFactory(role="reviewer")
    first = submit(UserFactory(), committee, django_capture_on_commit_callbacks, contact_mobile="13911112222")
    code_application_reject(application=first, acting_user=reviewer, reason="营业执照不清晰")
    again = submit(UserFactory(), committee, django_capture_on_commit_callbacks, contact_mobile="13933334444")
    assert again.pk != first.pk and again.status == "pending" and again.unit_name == first.unit_name


def test_an_existing_code_blocks_with_its_handlers_contact(committee, django_capture_on_commit_callbacks):
    code = EnrollmentCode.objects.create(code="09000X", unit_name="上海示范机电有限公司", source="imported")
    HandlerInfo.objects.create(
        code=code, handler_name="王经办", handler_mobile="13700001234", handler_email="w@example.com",
        economic_type="私营", address="x", industry="C", headcount=10,
    )
    with pytest.raises(DuplicateUnitError, match=r"【联系人:王经办,手机号:137\*\*\*\*1234】"):
        submit(UserFactory(), committee, django_capture_on_commit_callbacks)


def test_approval_creates_a_bound_code_and_the_lead_unit(committee, django_capture_on_commit_callbacks):
    account = UserFactory()
    reviewer = UserFactory(role="reviewer")
    application = submit(account, committee, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        code = code_application_approve(application=application, acting_user=reviewer)
    assert code.account == account and code.source == EnrollmentCode.Source.APPROVED  # CODE-5
    unit = Unit.objects.get(code=code)
    assert unit.is_lead and unit.name == "上海示范机电有限公司" and unit.headcount == 200
    application.refresh_from_db()
    assert application.status == CodeApplication.Status.APPROVED and application.code == code
    assert mail.outbox[-1].to == ["dingyi@example.com"] and code.code in mail.outbox[-1].body
    with pytest.raises(EnrollmentError, match="无需重复审核"):
        code_application_approve(application=application, acting_user=reviewer)
    assert EnrollmentCode.objects.count() == 1


def test_rejection_needs_a_reason_and_resubmission_returns_to_pending(committee, django_capture_on_commit_callbacks):
    account = UserFactory()
    reviewer = UserFactory(role="reviewer")
    application = submit(account, committee, django_capture_on_commit_callbacks)
    with pytest.raises(EnrollmentError, match="原因"):
        code_application_reject(application=application, acting_user=reviewer, reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        code_application_reject(application=application, acting_user=reviewer, reason="营业执照不清晰")
    assert "营业执照不清晰" in mail.outbox[-1].body
    again = submit(account, committee, django_capture_on_commit_callbacks, application=application, headcount=210)
    assert again.pk == application.pk and again.status == CodeApplication.Status.PENDING
    assert again.headcount == 210 and again.reject_reason == ""
    assert attachments_of(again).count() == 2


def test_only_the_owner_resubmits_a_rejected_application(committee, django_capture_on_commit_callbacks):
    application = submit(UserFactory(), committee, django_capture_on_commit_callbacks)
    with pytest.raises(EnrollmentError, match="只有审核不通过的申请"):
        submit(UserFactory(), committee, django_capture_on_commit_callbacks, application=application)


# --- CODE-5: binding ---------------------------------------------------------------------------------


def test_an_imported_code_is_bound_at_first_use_and_then_belongs_to_that_account():
    code = EnrollmentCode.objects.create(code="0072J3", unit_name="上海老单位有限公司", source="imported")
    first, second = UserFactory(), UserFactory()
    assert code_bind(code="0072j3", unit_name="上海老单位有限公司", account=first) == code
    code.refresh_from_db()
    assert code.account == first and code.bound_at is not None
    with pytest.raises(EnrollmentError, match="该参保编码已在其他平台账号中使用"):
        code_bind(code="0072J3", unit_name="上海老单位有限公司", account=second)
    # The handbook's remedy for 用错参保编码: deleting the batch releases the binding.
    code_release(code=code, acting_user=first)
    assert code_bind(code="0072J3", unit_name="上海老单位有限公司", account=second).account == second


def test_binding_needs_the_registered_unit_name():
    EnrollmentCode.objects.create(code="0072J3", unit_name="上海老单位有限公司", source="imported")
    with pytest.raises(EnrollmentError, match="不一致"):
        code_bind(code="0072J3", unit_name="上海别的单位", account=UserFactory())
    with pytest.raises(EnrollmentError, match="参保编码不存在"):
        code_bind(code="ZZZZZZ", unit_name="x", account=UserFactory())


def test_an_approved_code_is_not_released():
    account = UserFactory()
    code = EnrollmentCode.objects.create(code="A1B2C3", unit_name="u", source="approved", account=account)
    code_release(code=code, acting_user=account)
    code.refresh_from_db()
    assert code.account == account


# --- HND-1, HND-2, HND-3 -------------------------------------------------------------------------------


@pytest.fixture
def bound_code(db):
    account = UserFactory(email="old@example.com")
    code = EnrollmentCode.objects.create(code="A1B2C3", unit_name="上海示范机电有限公司", source="approved", account=account)
    Unit.objects.create(code=code, name=code.unit_name, address="旧地址1号")
    return code


def handler_fields(**overrides):
    fields = {
        "handler_name": "丁一", "handler_mobile": "13912345678", "handler_email": "dingyi@example.com",
        "economic_type": "私营", "union_level1": None, "union_level2": None, "address": "旧地址1号",
        "industry": "C", "headcount": 200,
    }
    fields.update(overrides)
    return fields


def test_handler_info_needs_the_sms_code_and_the_codes_own_account(bound_code, django_capture_on_commit_callbacks):
    account = bound_code.account
    with pytest.raises(EnrollmentError):
        handler_info_save(code=bound_code, account=account, fields=handler_fields(), sms_code="000000")
    code = sms_code(django_capture_on_commit_callbacks, "13912345678", SMS_PURPOSE_HANDLER)
    with pytest.raises(EnrollmentError, match="不属于本账号"):
        handler_info_save(code=bound_code, account=UserFactory(), fields=handler_fields(), sms_code=code)
    info = handler_info_save(code=bound_code, account=account, fields=handler_fields(), sms_code=code)
    assert info.handler_name == "丁一" and info.saved_by == account and not info.has_union


def test_an_approved_change_request_applies_the_new_values(bound_code, django_capture_on_commit_callbacks):
    account = bound_code.account
    code = sms_code(django_capture_on_commit_callbacks, "13912345678", SMS_PURPOSE_HANDLER)
    handler_info_save(code=bound_code, account=account, fields=handler_fields(), sms_code=code)
    token = attachment_draft_token()
    attachment_store(upload=png_upload("stamped.png"), uploaded_by=account, draft_token=token)
    Item = ChangeRequest.Item
    change = change_request_submit(
        account=account, code=bound_code,
        items=[Item.ADDRESS, Item.HANDLER_MOBILE, Item.UNIT_EMAIL, Item.RESEND_EMAIL],
        new_values={Item.ADDRESS: "新地址2号", Item.HANDLER_MOBILE: "13800001111", Item.UNIT_EMAIL: "new@example.com"},
        contact_name="丁一", contact_mobile="13912345678", batch_number="", draft_token=token,
    )
    assert change.original_values[Item.ADDRESS] == "旧地址1号"
    assert attachments_of(change).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        change_request_approve(change_request=change, acting_user=UserFactory(role="reviewer"))
    info = HandlerInfo.objects.get(code=bound_code)
    assert info.address == "新地址2号" and info.handler_mobile == "13800001111" and info.handler_email == "new@example.com"
    assert Unit.objects.get(code=bound_code).address == "新地址2号"
    account.refresh_from_db()
    assert account.email == "new@example.com" and account.email_confirmed_at is not None
    subjects = [message.subject for message in mail.outbox]
    assert any("重发" in subject for subject in subjects) and any("审核通过" in subject for subject in subjects)


def test_a_change_request_needs_items_and_the_stamped_scan(bound_code):
    account = bound_code.account
    with pytest.raises(EnrollmentError, match="请勾选"):
        change_request_submit(account=account, code=bound_code, items=[], new_values={}, contact_name="a",
                              contact_mobile="13912345678", batch_number="", draft_token="")
    with pytest.raises(EnrollmentError, match="扫描件"):
        change_request_submit(account=account, code=bound_code, items=["address"], new_values={"address": "x"},
                              contact_name="a", contact_mobile="13912345678", batch_number="", draft_token="nothing")


def test_a_rejected_change_request_changes_nothing(bound_code):
    account = bound_code.account
    token = attachment_draft_token()
    attachment_store(upload=png_upload(), uploaded_by=account, draft_token=token)
    change = change_request_submit(account=account, code=bound_code, items=["address"], new_values={"address": "新"},
                                   contact_name="a", contact_mobile="13912345678", batch_number="", draft_token=token)
    change_request_reject(change_request=change, acting_user=UserFactory(role="reviewer"), reason="未盖章")
    assert Unit.objects.get(code=bound_code).address == "旧地址1号"
    with pytest.raises(EnrollmentError, match="无需重复审核"):
        change_request_approve(change_request=change, acting_user=UserFactory(role="reviewer"))


def test_a_unit_name_change_renames_the_code_its_lead_unit_and_the_account(bound_code):
    reviewer = UserFactory(role="reviewer")
    change = unit_name_change(code=bound_code, new_name="上海新名称机电有限公司", note="准予变更登记通知书", acting_user=reviewer)
    bound_code.refresh_from_db()
    assert change.old_name == "上海示范机电有限公司"
    assert bound_code.unit_name == "上海新名称机电有限公司" and bound_code.name_key == unit_name_key("上海新名称机电有限公司")
    assert Unit.objects.get(code=bound_code).name == "上海新名称机电有限公司"
    bound_code.account.refresh_from_db()
    assert bound_code.account.unit_name == "上海新名称机电有限公司"
    EnrollmentCode.objects.create(code="B1B2B3", unit_name="上海另一家有限公司", source="imported")
    with pytest.raises(EnrollmentError, match="已有其他参保编码"):
        unit_name_change(code=bound_code, new_name="上海另一家有限公司", note="", acting_user=reviewer)
