"""Back-office roles reach only the admin pages their role gives them (issue 10; SPEC BO-1, BO-2, BO-3):
every registered changelist answers 200 to a role holding its view or change permission and 403 to
one without, so no page is open by accident."""
import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _changelists():
    for model in admin.site._registry:
        meta = model._meta
        yield meta.label, reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"), meta


def _allowed(user, meta) -> bool:
    return any(user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}") for action in ("view", "change"))


@pytest.mark.parametrize("role", ["reviewer", "union_staff"])
def test_each_changelist_answers_as_the_role_allows(client, role, union_organisations):
    user = UserFactory(role=role, union_organisation=union_organisations.filter(level=1).first() if role == "union_staff" else None)
    client.force_login(user)
    seen = {"allowed": [], "refused": []}
    for label, url, meta in _changelists():
        status = client.get(url).status_code
        if _allowed(user, meta):
            assert status == 200, f"{role} should open {label}"
            seen["allowed"].append(label)
        else:
            assert status == 403, f"{role} must not open {label} (got {status})"
            seen["refused"].append(label)
    assert seen["allowed"] and seen["refused"]  # the walk found pages of both kinds


def test_a_reviewer_cannot_open_infrastructure_pages(client, reviewer):
    client.force_login(reviewer)
    for label in ("auth.group", "django_celery_beat.periodictask", "axes.accessattempt"):
        app_label, model_name = label.split(".")
        assert client.get(reverse(f"admin:{app_label}_{model_name}_changelist")).status_code == 403, label


def test_union_staff_cannot_open_the_association_queues(client, union_organisations):
    client.force_login(UserFactory(role="union_staff", union_organisation=union_organisations.first()))
    for name in ("enrollment_codeapplication", "rosters_batchreview", "payments_voucher", "receipts_receiptreview"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 403, name
    assert client.get(reverse("admin:statistics")).status_code == 403
