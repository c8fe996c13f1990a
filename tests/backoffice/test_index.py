"""The back-office index leads each role to its pages (UI.md "Frame"; SPEC BO-2, BO-3): reviewers to 参保统计
and 导出中心, union staff to their organisation's units, and neither to the other's."""
import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_reviewers_see_statistics_and_exports_but_not_union_units(client, reviewer):
    client.force_login(reviewer)
    page = client.get("/backoffice/").content.decode()
    assert "参保统计" in page and "导出中心" in page
    assert "本组织参保单位" not in page


def test_union_staff_see_their_units_and_nothing_of_the_association(client, union_organisations):
    organisation = union_organisations.filter(level=1).first()
    client.force_login(UserFactory(role="union_staff", union_organisation=organisation))
    page = client.get("/backoffice/").content.decode()
    assert "本组织参保单位" in page and str(organisation) in page
    assert "参保统计" not in page and "导出中心" not in page
