"""Settings read from the environment: production hardening, refusal to start without real secrets,
and the database choice (ARCHITECTURE.md, "Services", "Query plans").

Production behaviour is tested in a fresh interpreter started the way an operator starts the portal
(`manage.py`, no pytest loaded, MUTUALAID_TESTING unset), because inside the test run
`settings.TESTING` is true and the production branches of settings.py are never taken.
"""
import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from mutualaid import settings as project_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
MANAGE_PY = REPO_ROOT / "manage.py"
SUBPROCESS_TIMEOUT = 30  # seconds; each run takes well under 2 s, this only stops a hang

# Only what an interpreter needs from the outer environment: nothing the settings read
# (DEBUG, DATABASE_URL, REDIS_URL, MUTUALAID_TESTING, ...) leaks in from the test run.
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")

# Prints what production cares about, and answers one request the way nginx forwards it.
_INSPECT_SCRIPT = r"""
import json, sys
import django
from django.conf import settings
django.setup()
from django.test import Client

client = Client(HTTP_HOST="portal.example.cn")
https = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
http = client.get("/healthz", HTTP_X_FORWARDED_PROTO="http")
print(json.dumps({
    "pytest_loaded": "pytest" in sys.modules,
    "TESTING": settings.TESTING,
    "DEBUG": settings.DEBUG,
    "SECURE_HSTS_SECONDS": getattr(settings, "SECURE_HSTS_SECONDS", 0),
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": getattr(settings, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False),
    "SECURE_HSTS_PRELOAD": getattr(settings, "SECURE_HSTS_PRELOAD", False),
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SESSION_COOKIE_HTTPONLY": settings.SESSION_COOKIE_HTTPONLY,
    "SECURE_REFERRER_POLICY": settings.SECURE_REFERRER_POLICY,
    "X_FRAME_OPTIONS": settings.X_FRAME_OPTIONS,
    "CSP_DIRECTIVES": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"],
    "DATABASE": {k: settings.DATABASES["default"].get(k) for k in ("ENGINE", "NAME", "HOST", "OPTIONS")},
    "https": {"status": https.status_code, "headers": dict(https.headers)},
    "http": {"status": http.status_code, "location": http.get("Location")},
}))
"""

_SETTINGS_ONLY_SCRIPT = r"""
import json
from django.conf import settings
print(json.dumps({
    "TESTING": settings.TESTING,
    "DEBUG": settings.DEBUG,
    "DATABASE": {k: settings.DATABASES["default"].get(k) for k in ("ENGINE", "NAME", "HOST", "OPTIONS")},
}))
"""


def _dotenv_names() -> set[str]:
    """Names a developer's .env would supply (settings.py reads it without overriding the environment)."""
    dotenv = REPO_ROOT / ".env"
    if not dotenv.exists():
        return set()
    names = set()
    for line in dotenv.read_text(encoding="utf-8").splitlines():
        line = line.strip().removeprefix("export ").strip()
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def _base_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env["DJANGO_SETTINGS_MODULE"] = "mutualaid.settings"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _production_env(tmp_path) -> dict[str, str]:
    return {
        **_base_env(),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),  # 67 characters, the alphabet check --deploy wants
        "PII_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "PII_HASH_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "portal.example.cn",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        # SPEC SEC-4: real gateways and the public address (settings only compare these names).
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "SMS_BACKEND": "gateway.sms.GatewaySmsBackend",
        "PORTAL_BASE_URL": "https://portal.example.cn",
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    assert "MUTUALAID_TESTING" not in env  # else settings.TESTING would switch production checks off
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )


def _inspect(script: str, env: dict[str, str]) -> dict:
    result = _run(["-c", script], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- production (DEBUG=0) -------------------------------------------------------------------------


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = _run([str(MANAGE_PY), "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_would_catch_a_weakened_production_setting(tmp_path):
    """Guards the test above: check --deploy really runs the production branch and fails on a gap."""
    env = {**_production_env(tmp_path), "SECURE_HSTS_SECONDS": "0", "SECURE_SSL_REDIRECT": "0"}

    result = _run([str(MANAGE_PY), "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "security.W004" in result.stderr  # HSTS
    assert "security.W008" in result.stderr  # SSL redirect


def test_production_settings_and_headers(tmp_path):
    seen = _inspect(_INSPECT_SCRIPT, _production_env(tmp_path))

    assert seen["pytest_loaded"] is False
    assert seen["TESTING"] is False
    assert seen["DEBUG"] is False
    assert seen["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert seen["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert seen["SECURE_HSTS_PRELOAD"] is True
    assert seen["SECURE_SSL_REDIRECT"] is True
    assert seen["SESSION_COOKIE_SECURE"] is True
    assert seen["CSRF_COOKIE_SECURE"] is True
    assert seen["SESSION_COOKIE_HTTPONLY"] is True
    assert seen["SECURE_REFERRER_POLICY"] == "strict-origin-when-cross-origin"
    assert seen["X_FRAME_OPTIONS"] == "DENY"
    assert seen["CSP_DIRECTIVES"]["object-src"] == ["'none'"]
    assert seen["CSP_DIRECTIVES"]["frame-ancestors"] == ["'none'"]

    # The headers a browser actually receives behind the TLS-terminating proxy.
    https = seen["https"]
    assert https["status"] == 200
    headers = https["headers"]
    hsts = headers["Strict-Transport-Security"]
    assert "includeSubDomains" in hsts and "preload" in hsts
    max_age = int(hsts.split("max-age=")[1].split(";")[0])
    assert max_age >= 365 * 24 * 3600
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "object-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Request-ID"]

    # Plain HTTP is sent to HTTPS.
    assert seen["http"]["status"] == 301
    assert seen["http"]["location"] == "https://portal.example.cn/healthz"


_SECRETS = ("SECRET_KEY", "PII_KEY", "PII_HASH_KEY")
_DEV_DEFAULTS = {
    "SECRET_KEY": project_settings._DEV_SECRET_KEY,
    "PII_KEY": project_settings._DEV_PII_KEY,
    "PII_HASH_KEY": project_settings._DEV_PII_HASH_KEY,
}


@pytest.mark.parametrize("how", ["unset", "development default", "empty"])
@pytest.mark.parametrize("name", _SECRETS)
def test_production_refuses_to_start_without_a_real_secret(tmp_path, name, how):
    env = _production_env(tmp_path)
    if how == "unset":
        if name in _dotenv_names():
            pytest.skip(f".env in the repository sets {name}, so it cannot be unset here")
        del env[name]
    elif how == "development default":
        env[name] = _DEV_DEFAULTS[name]
    else:
        env[name] = ""

    result = _run([str(MANAGE_PY), "check"], env)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: DEBUG=0 requires real secrets")
    named = last_line.split("; set ", 1)[1].split(" (", 1)[0].split(", ")
    assert named == [name]  # the one missing, not the ones that are set


_SERVICES_REFUSED = {
    "EMAIL_BACKEND": [project_settings._DEV_EMAIL_BACKEND],
    "SMS_BACKEND": [project_settings._DEV_SMS_BACKEND],
    "PORTAL_BASE_URL": ["http://127.0.0.1:8000", "http://localhost:8000/", "", "portal.example.cn"],
}


@pytest.mark.parametrize(
    "name, value", [(name, value) for name, values in _SERVICES_REFUSED.items() for value in [None, *values]]
)
def test_production_refuses_to_start_with_console_services_or_a_local_address(tmp_path, name, value):
    # SPEC SEC-4: console e-mail, console SMS, or PORTAL_BASE_URL unset (None), local or not a URL.
    env = _production_env(tmp_path)
    if value is None:
        if name in _dotenv_names():
            pytest.skip(f".env in the repository sets {name}, so it cannot be unset here")
        del env[name]
    else:
        env[name] = value

    result = _run([str(MANAGE_PY), "check"], env)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: DEBUG=0 requires real services")
    named = last_line.split("; set ", 1)[1].split(" (", 1)[0].split(", ")
    assert named == [name]


def test_development_defaults_are_accepted_with_debug_on(tmp_path):
    """The demo (`make run`) needs no secrets, and keeps e-mail and SMS on the console (SPEC SEC-4)."""
    env = {**_base_env(), "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}

    result = _run([str(MANAGE_PY), "check"], env)

    assert result.returncode == 0, result.stderr


# --- database choice ------------------------------------------------------------------------------


def test_sqlite_is_used_when_database_url_is_unset():
    if "DATABASE_URL" in _dotenv_names():
        pytest.skip(".env in the repository sets DATABASE_URL")
    env = {**_base_env(), "DEBUG": "1"}

    seen = _inspect(_SETTINGS_ONLY_SCRIPT, env)

    assert seen["DEBUG"] is True
    assert seen["DATABASE"]["ENGINE"] == "django.db.backends.sqlite3"
    assert seen["DATABASE"]["NAME"] == str(REPO_ROOT / "db.sqlite3")
    assert "random_page_cost" not in json.dumps(seen["DATABASE"]["OPTIONS"] or {})


def test_postgres_connections_lower_random_page_cost():
    env = {**_base_env(), "DEBUG": "1", "DATABASE_URL": "postgres://portal:secret@db.example.cn:5432/mutualaid"}

    seen = _inspect(_SETTINGS_ONLY_SCRIPT, env)

    database = seen["DATABASE"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["NAME"] == "mutualaid"
    assert database["HOST"] == "db.example.cn"
    assert database["OPTIONS"]["options"] == "-c random_page_cost=1.1"


@pytest.mark.django_db
def test_live_postgres_connection_has_random_page_cost_1_1():
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL (DATABASE_URL=postgres://...); this run uses {connection.vendor}")
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        (value,) = cursor.fetchone()

    assert float(value) == 1.1
