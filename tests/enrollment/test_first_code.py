"""account_first_code (SPEC ACC-2, HND-1): the code every unit page's decorators read, written in SQL
(OPS-3), must answer as the querysets it replaces — account_codes' first code and
handler_info_complete — in every case."""
import pytest

from enrollment.models import HandlerInfo
from enrollment.selectors import account_codes, account_first_code, handler_info_complete
from tests.factories import EnrollmentCodeFactory, HandlerInfoFactory, UserFactory

pytestmark = pytest.mark.django_db


def _as_querysets(account):
    code = account_codes(account=account).first()
    return (code.pk, handler_info_complete(code=code)) if code else None


def _as_sql(account):
    code = account_first_code(account=account)
    return (code.pk, bool(code.handler_complete)) if code else None


def test_no_code():
    account = UserFactory()
    EnrollmentCodeFactory(account=UserFactory())  # another account's
    assert account_first_code(account=account) is None


def test_the_first_code_by_its_text_with_the_handler_info_of_that_code():
    account = UserFactory()
    later = EnrollmentCodeFactory(account=account, code="Z99999")
    first = EnrollmentCodeFactory(account=account, code="A00001")
    HandlerInfoFactory(code=later)  # the other code's 经办人填报 does not count
    assert _as_sql(account) == _as_querysets(account) == (first.pk, False)
    HandlerInfoFactory(code=first)
    assert _as_sql(account) == _as_querysets(account) == (first.pk, True)
    found = account_first_code(account=account)
    assert (found.code, found.unit_name, found.account_id) == (first.code, first.unit_name, account.pk)


@pytest.mark.parametrize("email, mobile, complete", [("a@example.com", "13912345678", True), ("", "13912345678", False), ("a@example.com", "", False)])
def test_handler_info_counts_only_with_email_and_phone(email, mobile, complete):
    account = UserFactory()
    code = EnrollmentCodeFactory(account=account)
    HandlerInfoFactory(code=code)
    info = HandlerInfo.objects.get(code=code)
    info.handler_email = email
    info.handler_mobile = mobile
    info.save()
    assert _as_sql(account) == _as_querysets(account) == (code.pk, complete)


def test_the_same_model_as_the_orm_field_by_field():
    # SPEC OPS-3: the row becomes a model as the ORM makes it (mutualaid.rows): every field, its type,
    # and a model that saves.
    account = UserFactory()
    HandlerInfoFactory(code=EnrollmentCodeFactory(account=account, code="B00002"))
    expected = account_codes(account=account).first()
    found = account_first_code(account=account)
    fields = [field.attname for field in type(expected)._meta.concrete_fields]
    assert {name: getattr(found, name) for name in fields} == {name: getattr(expected, name) for name in fields}
    assert [type(getattr(found, name)) for name in fields] == [type(getattr(expected, name)) for name in fields]
    assert found.handler_complete is True and not found._state.adding
    found.unit_name = "改名后的单位"
    found.save(update_fields=["unit_name"])
    assert account_codes(account=account).first().unit_name == "改名后的单位"
