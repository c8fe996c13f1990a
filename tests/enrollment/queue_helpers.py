"""Shared helpers of the back office's review queues (SPEC BO-1, CODE-4, HND-2, HND-3): a code application,
a code with its lead unit and 经办人填报, a change request as change_request_submit stores it, and the
admin change page of an object."""
import datetime as dt

from django.urls import reverse

from enrollment.models import ChangeRequest, CodeApplication, EnrollmentCode
from enrollment.services import change_request_current_values
from tests.factories import SHANGHAI, EnrollmentCodeFactory, HandlerInfoFactory, UnitFactory, UserFactory


def shanghai(*args) -> dt.datetime:
    """A datetime in Shanghai time."""
    return dt.datetime(*args, tzinfo=SHANGHAI)


def make_application(committee, *, unit_name="上海示范机电有限公司", submitted_at=None, status="pending", **fields):
    """A 参保编码申请 to `committee` in `status`, of a new account unless `account` is given."""
    account = fields.pop("account", None) or UserFactory(unit_name=unit_name)
    values = {
        "uscc": "91310000132206289R",
        "nature": "企业",
        "contact_name": "丁一",
        "address": "上海市普陀区长寿路1号",
        "contact_mobile": "13912345678",
        "postcode": "200060",
        "contact_email": "dingyi@example.com",
        "headcount": 200,
        **fields,
    }
    return CodeApplication.objects.create(
        account=account,
        unit_name=unit_name,
        committee=committee,
        status=status,
        submitted_at=submitted_at or shanghai(2026, 9, 30, 10, 0),
        **values,
    )


def make_code(*, code="09000X", unit_name="上海长寿机电有限公司", account=None, with_handler=True) -> EnrollmentCode:
    """An approved code of `account` (a new one by default) with its lead unit and, unless
    `with_handler` is false, its 经办人填报."""
    account = account or UserFactory(unit_name=unit_name, email="hr@changshou.example.com")
    enrollment_code = EnrollmentCodeFactory(
        code=code, unit_name=unit_name, uscc="91310107MA1G8XQ31K", account=account, source=EnrollmentCode.Source.APPROVED
    )
    UnitFactory(code=enrollment_code, uscc="", address="上海市普陀区长寿路100号", headcount=None)
    if with_handler:
        HandlerInfoFactory(
            code=enrollment_code, handler_mobile="13811112222", handler_phone="021-62220000",
            handler_email="wang@changshou.example.com", address="上海市普陀区长寿路100号", headcount=120, saved_by=account,
        )
    return enrollment_code


def make_change_request(code, items, new_values, *, submitted_at=None, **fields):
    """A pending 参保信息变更申请 of `code` changing `items` to `new_values`."""
    current = change_request_current_values(code=code, account=code.account)
    return ChangeRequest.objects.create(
        account=code.account,
        code=code,
        items=list(items),
        # As change_request_submit stores them: the handler's mobile encrypted (SPEC SEC-4).
        original_values=ChangeRequest.stored_values({item: current.get(item, "") for item in items}),
        new_values=ChangeRequest.stored_values(dict(new_values)),
        contact_name=fields.get("contact_name", "王经办"),
        contact_mobile=fields.get("contact_mobile", "13811112222"),
        submitted_at=submitted_at or shanghai(2026, 10, 8, 9, 0),
    )


def change_page(obj) -> str:
    """The back office's change page of an enrollment object."""
    return reverse(f"admin:enrollment_{obj._meta.model_name}_change", args=[obj.pk])
