"""Shared fixtures and the rules for tests that need services.

- `real_worker` tests need Redis (REDIS_URL). Without it they are skipped, except under CI=true,
  where a missing service is a failure, never a skip.
- `browser` tests need Debian's Chromium at /usr/bin/chromium; the same rule applies.
"""
import importlib
import os
import shutil

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command

from tests.factories import UserFactory
from tests.second_factor import PortalClient

CHROMIUM = "/usr/bin/chromium"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing_service(item):
    if item.get_closest_marker("real_worker") and not os.environ.get("REDIS_URL"):
        return "REDIS_URL is not set (the real-worker Celery tests need Redis)"
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    return None


def pytest_runtest_setup(item):
    reason = _missing_service(item)
    if reason is None:
        return
    if _in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    """Uploaded files of a test go to its own temporary folder, never to the project's media/; so do
    the jobs' scratch folders (SPEC SEC-4)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JOB_SCRATCH_DIR = tmp_path / "scratch"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def clear_cache():
    """The test cache (LocMemCache) outlives a test: each test starts with empty counters (SPEC SEC-3:
    the per-account quotas, the SMS limits per IP and per hour) and no other test's tokens (SQLite
    reuses rolled-back ids)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client():
    """pytest-django's client, whose logins pass the second factor (SPEC SEC-8, tests/second_factor.py)."""
    return PortalClient()


@pytest.fixture
def unit_admin(db):
    return UserFactory(role="unit_admin")


@pytest.fixture
def reviewer(db):
    return UserFactory(role="reviewer")


@pytest.fixture
def union_staff(db):
    return UserFactory(role="union_staff")


def _rerun_data_migration(module: str, function: str) -> None:
    getattr(importlib.import_module(module), function)(django_apps, None)


@pytest.fixture
def handbook_year(db):
    """The 2023 coverage year of the handbook. The data migration creates it, but a transactional
    test (browser tests) flushes the tables, so tests that need it ask for it here."""
    _rerun_data_migration("enrollment.migrations.0002_coverage_year_2023", "create_2023")
    return django_apps.get_model("enrollment", "CoverageYear").objects.get(year=2023)


@pytest.fixture
def union_organisations(db):
    """The seeded union organisations (data migration), again after a transactional test's flush."""
    _rerun_data_migration("accounts.migrations.0003_seed_union_organisations", "seed")
    return django_apps.get_model("accounts", "UnionOrganisation").objects.all()


@pytest.fixture
def demo_data(handbook_year, union_organisations):
    """What `make run` loads: the demo years and accounts (manage.py seed_demo)."""
    call_command("seed_demo", stdout=open(os.devnull, "w"))
