"""【API令牌】 (SPEC API-1): the pages and services of API tokens — created for one of the account's codes
with an expiry of at most a year, shown once, stored as a digest, listed, revoked after a confirmation
by POST; staff never hold one; every create, revoke and use audited (a use at most once a minute)."""
import datetime as dt
import hashlib

import pytest
import time_machine
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from api.models import ApiToken
from api.services import ApiTokenError, api_token_authenticate, api_token_create, api_token_revoke
from tests.enrollment.helpers import make_code
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("api:tokens")
NEW = reverse("api:tokens_new")


@pytest.fixture
def unit_client(client, account, code):
    client.force_login(account)
    return client


def audit_texts(token) -> list[str]:
    return list(
        LogEntry.objects.filter(object_pk=str(token.pk), content_type__model="apitoken", action=LogEntry.Action.ACCESS)
        .order_by("pk")
        .values_list("changes_text", flat=True)
    )


def create(unit_client, own_code, **fields):
    data = {"name": "人事系统", "code": own_code.pk, "days": 365, "expires_on": "", **fields}
    return unit_client.post(NEW, data)


def test_the_unit_menu_links_to_the_token_page(unit_client):
    response = unit_client.get(reverse("enrollment:batches"))
    assertContains(response, f'href="{LIST}"')
    assertContains(response, "API令牌")


def test_create_shows_the_token_once_and_stores_only_its_digest(unit_client, code):
    response = create(unit_client, code)
    token = ApiToken.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("api:tokens_created", kwargs={"token_id": token.pk})

    shown = unit_client.get(response["Location"])
    secret = shown.context["secret"]
    assert secret.startswith("mhb_") and len(secret) > 40
    assertContains(shown, secret)
    assertContains(shown, "离开本页后将不再显示")
    assertContains(shown, f"{timezone.localdate() + dt.timedelta(days=365):%Y-%m-%d}")  # the last day, as chosen
    # Stored: the SHA-256 digest and a short prefix, never the secret.
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(token.prefix) and len(token.prefix) < 12
    stored = " ".join(str(value) for value in ApiToken.objects.values_list().get())
    assert secret not in stored
    trail = " ".join(entry.changes_text + str(entry.changes) for entry in LogEntry.objects.all())
    assert secret not in trail and token.token_hash not in trail
    assert token.account.username == "hr-unit" and token.code == code
    assert token.expires_at.date() >= timezone.localdate() + dt.timedelta(days=365)

    again = unit_client.get(response["Location"])  # a reload, the back button
    assertNotContains(again, secret)
    assertContains(again, "现已不再显示")


def test_the_list_shows_the_day_chosen_as_the_last_day(unit_client, code, account):
    # SPEC API-1: valid to the end of 到期日期; stored as the next midnight, shown as the chosen day.
    last_day = timezone.localdate() + dt.timedelta(days=30)
    token, _ = api_token_create(account=account, code_id=code.pk, name="集团HR平台", expires_on=last_day)
    assert timezone.localtime(token.expires_at).date() == last_day + dt.timedelta(days=1)
    response = unit_client.get(LIST)
    assertContains(response, f"<td>{last_day:%Y-%m-%d}</td>", html=True)
    assertNotContains(response, f"{last_day + dt.timedelta(days=1):%Y-%m-%d}")


def test_the_list_shows_the_columns_of_api_1(unit_client, code, account):
    token, _ = api_token_create(account=account, code_id=code.pk, name="集团HR平台", expires_on=timezone.localdate() + dt.timedelta(days=30))
    response = unit_client.get(LIST)
    for text in ("名称", "参保编码", "前缀", "创建时间", "最后使用", "有效期至", "状态", "集团HR平台", code.code, token.prefix, "从未使用", "有效"):
        assertContains(response, text)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"expires_on": "2099-01-01"}, "有效期最长一年"),
        ({"expires_on": "2000-01-01"}, "到期日期须晚于今天"),
        ({"name": ""}, "请输入名称"),
        ({"days": 800}, "选择一个有效的选项"),
    ],
)
def test_create_refuses_bad_input(unit_client, code, fields, message):
    response = create(unit_client, code, **fields)
    assert response.status_code == 200
    assertContains(response, message)
    assert not ApiToken.objects.exists()


def test_create_refuses_another_accounts_code(unit_client, code):
    other = make_code(UserFactory(), code="0099Z9")
    response = create(unit_client, code, code=other.pk)
    assert response.status_code == 200
    assert not ApiToken.objects.exists()


def test_the_service_refuses_staff_a_foreign_code_and_more_than_a_year(account, code, reviewer):
    in_a_year = timezone.localdate() + dt.timedelta(days=366)
    with pytest.raises(ApiTokenError, match="后台账号"):
        api_token_create(account=reviewer, code_id=code.pk, name="x", expires_on=in_a_year)
    with pytest.raises(ApiTokenError, match="参保编码"):
        api_token_create(account=UserFactory(), code_id=code.pk, name="x", expires_on=in_a_year)
    with pytest.raises(ApiTokenError, match="最长一年"):
        api_token_create(account=account, code_id=code.pk, name="x", expires_on=in_a_year + dt.timedelta(days=1))
    assert not ApiToken.objects.exists()


def test_no_token_row_can_be_made_for_staff(reviewer, union_staff):
    staff_code = make_code(reviewer, code="0055C5")
    for staff in (reviewer, union_staff):
        with pytest.raises(ValueError, match="unit administrators only"):
            ApiToken.objects.create(
                account=staff, code=staff_code, name="x", prefix="mhb_x", token_hash="0" * 64,
                expires_at=timezone.now() + dt.timedelta(days=1),
            )
    assert not ApiToken.objects.exists()


def test_revoke_is_a_post_after_a_confirmation_and_idempotent(unit_client, token):
    page = unit_client.get(LIST)
    revoke_url = reverse("api:tokens_revoke", kwargs={"token_id": token.pk})
    # UI.md "Dialogs": the button opens a modal whose form posts; the GET does nothing.
    assertContains(page, f'data-bs-target="#api-token-revoke-{token.pk}"')
    assertContains(page, f'action="{revoke_url}"')
    assertContains(page, "确定撤销令牌")
    assert unit_client.get(revoke_url).status_code == 405

    response = unit_client.post(revoke_url)
    assert response.status_code == 302
    token.refresh_from_db()
    revoked_at = token.revoked_at
    assert revoked_at is not None
    assert unit_client.post(revoke_url).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at == revoked_at
    assertContains(unit_client.get(LIST), "已撤销")
    assert sum("撤销API令牌" in text for text in audit_texts(token)) == 1


def test_staff_cannot_reach_the_token_pages(client, reviewer, union_staff, token):
    for user in (reviewer, union_staff):
        client.force_login(user)
        for url in (LIST, NEW, reverse("api:tokens_created", kwargs={"token_id": token.pk})):
            assert client.get(url).status_code == 403
        assert client.post(reverse("api:tokens_revoke", kwargs={"token_id": token.pk})).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_anonymous_visitors_are_sent_to_the_login(token):
    from django.test import Client

    response = Client().get(LIST)
    assert response.status_code == 302 and "/accounts/login" in response["Location"]


def test_another_accounts_token_is_a_404(client, token):
    stranger = UserFactory()
    make_code(stranger, code="0099Z9")
    client.force_login(stranger)
    assert client.get(reverse("api:tokens_created", kwargs={"token_id": token.pk})).status_code == 404
    assert client.post(reverse("api:tokens_revoke", kwargs={"token_id": token.pk})).status_code == 404
    assertNotContains(client.get(LIST), token.prefix)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_create_and_revoke_and_use_are_audited_a_use_once_a_minute(account, token_and_secret):
    token, secret = token_and_secret
    assert any("创建API令牌" in text for text in audit_texts(token))
    assert api_token_authenticate(secret=secret, remote_addr="10.0.0.1", path="/api/v1/batches/") == token
    assert api_token_authenticate(secret=secret, remote_addr="10.0.0.1", path="/api/v1/batches/") == token
    assert sum("使用API令牌" in text for text in audit_texts(token)) == 1
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        api_token_authenticate(secret=secret, path="/api/v1/batches/")
    assert sum("使用API令牌" in text for text in audit_texts(token)) == 2
    token.refresh_from_db()
    assert token.last_used_at > first_use
    api_token_revoke(token=token, acting_user=account)
    assert any("撤销API令牌" in text for text in audit_texts(token))
    assert api_token_authenticate(secret=secret) is None
