"""本组织参保单位 (backoffice/views.py; SPEC BO-2, X-1): union staff see the units whose 经办人填报 names
their organisation (a level-1 organisation includes its level-2 ones), with the mobile masked, and nothing
of other organisations, batches, people or other queues."""
import re

import pytest
from django.urls import reverse

from accounts.models import UnionOrganisation
from enrollment.models import EnrollmentCode, HandlerInfo
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:union_units")


def code_under(name: str, code: str, *, level1=None, level2=None, mobile="13912345678"):
    account = UserFactory(role="unit_admin", unit_name=name, union_organisation=level2 or level1)
    enrollment_code = EnrollmentCode.objects.create(code=code, unit_name=name, account=account, source="approved")
    HandlerInfo.objects.create(
        code=enrollment_code, handler_name=f"{name[:2]}经办", handler_mobile=mobile, handler_email="h@example.com",
        economic_type="私营", address="上海市", industry="C", headcount=10, union_level1=level1, union_level2=level2,
    )
    return enrollment_code


@pytest.fixture
def organisations(union_organisations):
    level2 = UnionOrganisation.objects.filter(level=2).select_related("parent").first()
    sibling = UnionOrganisation.objects.filter(parent=level2.parent).exclude(pk=level2.pk).first()
    other = UnionOrganisation.objects.filter(level=1).exclude(pk=level2.parent_id).first()
    return {"level1": level2.parent, "level2": level2, "sibling": sibling, "other": other}


@pytest.fixture
def codes(organisations):
    o = organisations
    return {
        "direct": code_under("长风直属科技", "AAA111", level1=o["level1"]),
        "below": code_under("长风街道工厂", "AAA222", level1=o["level1"], level2=o["level2"], mobile="13800001111"),
        "sibling": code_under("兄弟街道商店", "AAA333", level1=o["level1"], level2=o["sibling"]),
        "other": code_under("别处公司", "BBB111", level1=o["other"]),
        "no_union": code_under("未建会公司", "CCC111"),
    }


def staff_of(organisation):
    return UserFactory(role="union_staff", union_organisation=organisation)


def listed_codes(response) -> set[str]:
    return set(re.findall(r"<td>([A-Z0-9]{6})</td>", response.content.decode()))


def test_level1_staff_see_their_units_and_those_of_their_level2_organisations(client, organisations, codes):
    client.force_login(staff_of(organisations["level1"]))
    response = client.get(URL)
    assert response.status_code == 200
    assert listed_codes(response) == {"AAA111", "AAA222", "AAA333"}
    text = response.content.decode()
    assert "长风街道工厂" in text and "138****1111" in text
    assert "13800001111" not in text  # SPEC X-1
    assert "别处公司" not in text and "未建会公司" not in text
    assert "总共 3 条记录" in text


def test_level2_staff_see_only_their_own_organisation(client, organisations, codes):
    client.force_login(staff_of(organisations["level2"]))
    response = client.get(URL)
    assert listed_codes(response) == {"AAA222"}


def test_search_stays_within_the_organisation(client, organisations, codes):
    client.force_login(staff_of(organisations["level2"]))
    assert listed_codes(client.get(URL, {"q": "BBB111"})) == set()
    assert listed_codes(client.get(URL, {"q": "别处"})) == set()
    assert listed_codes(client.get(URL, {"q": "aaa222"})) == {"AAA222"}


def test_only_unit_code_account_and_handler_are_shown(client, organisations, codes):
    client.force_login(staff_of(organisations["level1"]))
    text = client.get(URL).content.decode()
    headers = re.findall(r'<th scope="col">([^<]+)</th>', text)
    assert headers == ["单位名称", "参保编码", "平台账号", "经办人", "经办人电话", "工会组织"]
    assert codes["below"].account.username in text
    for hidden in ("参保批次", "证件号码", "保费"):
        assert hidden not in text


def test_who_may_not_see_the_page(client, organisations, codes, reviewer, unit_admin):
    client.force_login(reviewer)
    assert client.get(URL).status_code == 403
    client.force_login(UserFactory(role="union_staff"))  # no organisation: nothing to look after
    assert client.get(URL).status_code == 403
    client.force_login(unit_admin)
    assert client.get(URL).status_code == 302  # not back office: the login
    client.logout()
    assert client.get(URL).status_code == 302


def test_superusers_see_every_unit_with_a_union(client, codes):
    client.force_login(UserFactory(role="reviewer", is_superuser=True, is_staff=True))
    assert listed_codes(client.get(URL)) == {"AAA111", "AAA222", "AAA333", "BBB111"}


def test_the_account_list_links_to_the_units(client, organisations):
    client.force_login(staff_of(organisations["level1"]))
    assert URL in client.get(reverse("admin:accounts_user_changelist")).content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "admin:enrollment_codeapplication_changelist",
        "admin:enrollment_changerequest_changelist",
        "admin:enrollment_enrollmentcode_changelist",
        "admin:enrollment_handlerinfo_changelist",
        "admin:rosters_batchreview_changelist",
        "admin:payments_voucher_changelist",
        "admin:payments_overduebatch_changelist",
        "admin:receipts_receiptreview_changelist",
        "admin:exports",
    ],
)
def test_union_staff_see_nothing_of_the_queues(client, organisations, name):
    client.force_login(staff_of(organisations["level1"]))
    assert client.get(reverse(name)).status_code == 403
