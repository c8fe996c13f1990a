"""The back office is one admin site (backoffice/site.py), the default one: every app's ModelAdmin is
registered on it, and its own pages keep their names and addresses."""
import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains

from backoffice.site import BackOfficeSite


def test_the_default_site_is_the_back_office_with_every_apps_models():
    assert isinstance(admin.site, BackOfficeSite)
    labels = {model._meta.app_label for model in admin.site._registry}
    assert {"accounts", "enrollment", "rosters", "plans", "payments", "receipts", "mutualaid"} <= labels


def test_its_own_pages_keep_their_names_and_addresses():
    assert reverse("admin:index") == "/backoffice/"
    assert reverse("admin:login") == "/backoffice/login/"
    assert reverse("admin:backoffice_search") == "/backoffice/search/"
    assert reverse("admin:statistics") == "/backoffice/statistics/"
    assert reverse("admin:exports") == "/backoffice/exports/"
    assert reverse("admin:union_units") == "/backoffice/union-units/"


@pytest.mark.django_db
def test_the_index_wears_the_associations_titles(client, reviewer):
    client.force_login(reviewer)

    response = client.get(reverse("admin:index"))

    assertContains(response, "<title>工作台 | 上海市职工保障互助会 后台</title>", html=True)
    assertContains(response, "上海市职工保障互助会 后台")


# --- SPEC OPS-3: a list's page counts its own rows, not the whole table beside them -------------------


def _whole_table_counts(queries) -> list[str]:
    return [query["sql"] for query in queries if query["sql"].startswith("SELECT COUNT(*)") and " WHERE " not in query["sql"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who, url_name, query",
    [
        ("reviewer", "admin:payments_voucher_changelist", {"status__exact": "submitted"}),
        ("reviewer", "admin:rosters_batchreview_changelist", {"q": "2026"}),
        ("union_staff", "admin:accounts_user_changelist", {"q": "上海"}),
    ],
)
def test_a_filtered_list_does_not_count_the_whole_table(client, request, who, url_name, query):
    client.force_login(request.getfixturevalue(who))

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(url_name), query)

    assert response.status_code == 200
    assert _whole_table_counts(queries.captured_queries) == []
    # The search bar offers the whole list instead of counting it.
    assertContains(response, "显示全部")
