"""The domain-error tree and the one helper that puts a domain error on a form (STYLE.md §2)."""
from django import forms

from accounts.services import AccountError
from enrollment.services import EnrollmentError
from mutualaid.errors import DomainError, form_error_add
from payments.services import PaymentError
from plans.services import PlanError
from receipts.services import ReceiptError
from rosters.errors import RosterError


class _Form(forms.Form):
    name = forms.CharField(required=False)
    new_address = forms.CharField(required=False)


def _bound() -> _Form:
    form = _Form(data={})
    assert form.is_valid()
    return form


def test_every_app_s_error_is_a_domain_error_and_a_roster_error_an_enrollment_error():
    for error in (AccountError, EnrollmentError, RosterError, PlanError, PaymentError, ReceiptError):
        assert issubclass(error, DomainError)
    assert issubclass(RosterError, EnrollmentError)
    refused = RosterError("清册已提交")
    assert (refused.message, refused.field, str(refused)) == ("清册已提交", "", "清册已提交")


def test_the_message_goes_beside_the_field_it_names():
    form = _bound()
    form_error_add(form, EnrollmentError("姓名不能为空", field="name"))
    assert form.errors == {"name": ["姓名不能为空"]}


def test_a_field_the_form_lacks_or_none_gives_a_non_field_error():
    for error in (EnrollmentError("短信验证码错误", field="sms_code"), RosterError("批次已删除")):
        form = _bound()
        form_error_add(form, error)
        assert form.non_field_errors() == [error.message]
        assert list(form.errors) == ["__all__"]


def test_a_service_s_field_name_is_translated_and_attachments_are_listed_apart():
    form, attachment_errors = _bound(), []
    form_error_add(form, EnrollmentError("地址不能为空", field="address"), fields={"address": "new_address"})
    form_error_add(form, PaymentError("请上传缴费凭证", field="attachments"), attachment_errors=attachment_errors)
    assert form.errors == {"new_address": ["地址不能为空"]}
    assert attachment_errors == ["请上传缴费凭证"]

    form = _bound()
    form_error_add(form, PaymentError("请上传缴费凭证", field="attachments"))  # a page without the list
    assert form.non_field_errors() == ["请上传缴费凭证"]
