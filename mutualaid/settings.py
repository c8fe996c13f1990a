"""Settings of the portal, read from the environment (django-environ).

Every variable is listed in README.md. Defaults make `make run` work on a laptop with no
services: SQLite, Celery in eager mode, e-mail and SMS to the console. With DEBUG=0 outside the
test suite, the portal refuses to start without real secrets (see `_require_production_secrets`)
nor with console e-mail or SMS or a local PORTAL_BASE_URL (`_require_production_services`).
"""
import datetime as dt
import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The test suite sets this itself (tests/conftest.py); nothing else should.
TESTING = "pytest" in sys.modules or env.bool("MUTUALAID_TESTING", default=False)

DEBUG = env.bool("DEBUG", default=True)

# Development-only values: refused when DEBUG=0 outside the tests.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0000000000"
_DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy1sb25nISE="  # base64 of 32 bytes
_DEV_PII_HASH_KEY = "dev-only-pii-hash-key-do-not-use-in-production"

SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY)
PII_KEY = env.str("PII_KEY", default=_DEV_PII_KEY)
PII_HASH_KEY = env.str("PII_HASH_KEY", default=_DEV_PII_HASH_KEY)


def _key_ids(name: str) -> dict[int, str]:
    """SPEC SEC-10: `NAME=2:key,3:key` — keys by id, besides key id 1 (PII_KEY / PII_HASH_KEY).
    The id comes before the first colon; keys must not contain a comma (base64 never does)."""
    keys = {}
    for item in filter(None, (part.strip() for part in env.str(name, default="").split(","))):
        key_id, separator, key = item.partition(":")
        if not separator or not key_id.isdigit() or not 1 <= int(key_id) <= 31 or not key:
            raise ImproperlyConfigured(f"{name}: write the keys as id:key,id:key with ids from 1 to 31.")
        keys[int(key_id)] = key
    return keys


# SPEC SEC-10: keys rotate. PII_KEY is key id 1 (every cipher written before keys rotated starts
# with "1:"); PII_KEYS adds others; PII_KEY_ID is the one that encrypts, the rest decrypt only until
# `manage.py rotate_pii_key` has re-encrypted their data. The same for the hash key, where a key
# listed in PII_HASH_KEYS_RETIRED is kept for audit queries only (README.md, 密钥轮换与托管).
PII_KEYS = _key_ids("PII_KEYS")
PII_KEY_ID = env.int("PII_KEY_ID", default=1)
PII_HASH_KEYS = _key_ids("PII_HASH_KEYS")
PII_HASH_KEY_ID = env.int("PII_HASH_KEY_ID", default=1)
PII_HASH_KEYS_RETIRED = env.list("PII_HASH_KEYS_RETIRED", cast=int, default=[])


def _current_key_id(name: str) -> int:
    return PII_KEY_ID if name == "PII_KEY" else PII_HASH_KEY_ID


def _require_production_secrets():
    missing = [
        name
        for name, value, dev_value in (
            ("SECRET_KEY", SECRET_KEY, _DEV_SECRET_KEY),
            ("PII_KEY", PII_KEY, _DEV_PII_KEY),
            ("PII_HASH_KEY", PII_HASH_KEY, _DEV_PII_HASH_KEY),
        )
        # Key id 1 may be retired once a rotation has moved its data (SPEC SEC-10): then it is empty.
        if value == dev_value or not value and (name == "SECRET_KEY" or _current_key_id(name) == 1)
    ]
    missing += [
        f"{name}S (key {_current_key_id(name)})"
        for name, keys in (("PII_KEY", PII_KEYS), ("PII_HASH_KEY", PII_HASH_KEYS))
        if _current_key_id(name) != 1 and _current_key_id(name) not in keys
    ]
    if missing:
        raise ImproperlyConfigured(
            "DEBUG=0 requires real secrets; set " + ", ".join(missing) + " (see README.md, 生产环境配置)."
        )


if not DEBUG and not TESTING:
    _require_production_secrets()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "backoffice.apps.BackOfficeAdminConfig",  # django.contrib.admin with the back office's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "django_htmx",
    "django_filters",
    "django_celery_beat",
    "mutualaid.audit_apps.AuditTrailConfig",
    "csp",
    "captcha",
    "axes",
    # SPEC SEC-8: the second factor (TOTP devices and one-time backup codes).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "mutualaid",
    "accounts",
    "enrollment",
    "rosters",
    "plans",
    "payments",
    "receipts",
    # SPEC LOOK-1: 参保查询, a top app beside the back office (ARCHITECTURE.md).
    "lookup",
    # SPEC API-1 … API-3: the roster API for group HR systems, a top app beside 参保查询 (ARCHITECTURE.md).
    "ninja",  # django-ninja: its vendored Swagger UI files (static/ninja/), no CDN
    "api",
]

MIDDLEWARE = [
    # SPEC OPS-2: request latency for /metrics (outermost but one: it times all the others).
    "mutualaid.metrics.RequestMetricsMiddleware",
    "mutualaid.middleware.RequestIdMiddleware",
    # SPEC API-3: every error under /api/v1/ as problem+json, whichever layer answered it.
    "api.problems.ApiProblemMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # No LocaleMiddleware (SPEC OPS-3): the portal has one language, and Django uses LANGUAGE_CODE where
    # no language is activated; the middleware parsed every request's Accept-Language to choose it again.
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # SPEC SEC-8: request.user.is_verified() (SecondFactorMiddleware below acts on it).
    "django_otp.middleware.OTPMiddleware",
    # SPEC OPS-3: the account itself in request.user from here on, not two lazy proxies.
    "accounts.middleware.ResolvedUserMiddleware",
    # SPEC SEC-4: no-store on every response to a logged-in user (wraps the ones below, 400 included).
    "mutualaid.middleware.NoStoreForUsersMiddleware",
    # SPEC SEC-5: control characters in a query or form value are a 400, never a view's 500.
    "mutualaid.middleware.ControlCharacterMiddleware",
    # Every page needs a login unless its view says otherwise (login_not_required).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # SPEC SEC-8: no page for an account that needs a second factor and has not passed it in this
    # session (it is logged out and sent to the login, with a message).
    "accounts.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # SPEC SEC-6: 403s and object-URL 404s into the audit trail; outside auditlog's own context.
    "mutualaid.middleware.DenialAuditMiddleware",
    # django-auditlog's, with one receiver for all requests (SPEC OPS-3).
    "mutualaid.audit.AuditContextMiddleware",
    "accounts.middleware.SessionLimitsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into our page with the time left.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mutualaid.urls"
# Widgets may use project templates (templates/accounts/widgets/…).
FORM_RENDERER = "mutualaid.renderers.PortalFormRenderer"
WSGI_APPLICATION = "mutualaid.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # SPEC OPS-3: {% url %} with its answers kept per process (mutualaid.reversing).
            "builtins": ["mutualaid.templatetags.remembered_urls"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "enrollment.context_processors.portal",
            ],
        },
    },
]

# Database: SQLite for the demo, PostgreSQL in CI and production.
# An empty DATABASE_URL counts as unset (`make run` clears it to force the demo database).
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The default random_page_cost (4) makes PostgreSQL scan millions of rows instead of probing
    # the hash index (ARCHITECTURE.md, "Query plans"); set on every connection, tests included.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = (options.get("options", "") + " -c random_page_cost=1.1").strip()
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# SPEC SEC-9 (README, 数据库角色): in production DATABASE_URL names the application's role, which owns
# no table but the reference data's; migrations run with DATABASE_URL naming the owner role, and
# DATABASE_APP_ROLE names the application's role for the migration that hands it the reference tables.
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LockoutBackend",  # first: refuses a locked (account, address) pair
    "accounts.roles.RolePermissionBackend",
]
# SPEC ACC-1, OPS-3: Argon2id with OWASP's parameters first (accounts/hashers.py); the others only read
# older hashes, which Django upgrades at the next login.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:landing"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sessions: 30 minutes idle (renewed on every request), 12 hours absolute (SESSION_ABSOLUTE_SECONDS,
# enforced by accounts.middleware.SessionLimitsMiddleware); a new session key at every login.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 3600)
# The self-service reset link (SPEC ACC-3) is valid 30 minutes and single use.
PASSWORD_RESET_TIMEOUT = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
# SPEC OPS-3: with Redis, sessions live in it (the cache, which compose's Redis keeps on disk): renewing
# the idle limit on every request was a SELECT and an UPDATE of django_session per request, the
# database's busiest statements under the deadline load (README, "The deadline crush"). Without Redis
# (`make run`, the tests) they stay in the database. Losing Redis logs everyone out; nothing else is lost.
# mutualaid.sessions renews an unchanged session with one EXPIRE instead of a read and a write.
SESSION_ENGINE = env.str(
    "SESSION_ENGINE",
    default="mutualaid.sessions" if env.str("REDIS_URL", default="") and not TESTING else "django.contrib.sessions.backends.db",
)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
# Chinese labels for third-party apps that ship none (locale/zh_Hans: django-auditlog).
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Tests and the demo serve static files straight from static/ (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "mutualaid.storage.StaticStorage"  # WhiteNoise's compressed manifest, addresses kept
        )
    },
}

# Upload limits (bytes). Attachments are images or PDFs; rosters and reference files are larger
# and streamed to disk (Django writes anything above FILE_UPLOAD_MAX_MEMORY_SIZE to a temp file).
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
ATTACHMENTS_PER_OBJECT = env.int("ATTACHMENTS_PER_OBJECT", default=20)
ROSTER_UPLOAD_MAX_BYTES = env.int("ROSTER_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
# SPEC API-2: a roster posted as JSON rows (rosters.importer.roster_import_start_rows) is streamed to disk,
# never held whole in memory, so it has its own limit instead of DATA_UPLOAD_MAX_MEMORY_SIZE.
ROSTER_API_MAX_BYTES = env.int("ROSTER_API_MAX_BYTES", default=64 * 1024 * 1024)
# SPEC SEC-3: per-account quotas per clock hour (mutualaid/quotas.py); over them: 429 and Retry-After.
QUOTA_ROSTER_IMPORTS_PER_HOUR = env.int("QUOTA_ROSTER_IMPORTS_PER_HOUR", default=30)
QUOTA_ATTACHMENT_UPLOADS_PER_HOUR = env.int("QUOTA_ATTACHMENT_UPLOADS_PER_HOUR", default=200)
QUOTA_EXPORTS_PER_HOUR = env.int("QUOTA_EXPORTS_PER_HOUR", default=20)
# SPEC SEC-3, API-1: requests per API token and minute (every operation counts; over it 429).
API_REQUESTS_PER_MINUTE = env.int("API_REQUESTS_PER_MINUTE", default=120)
REFERENCE_UPLOAD_MAX_BYTES = env.int("REFERENCE_UPLOAD_MAX_BYTES", default=1024 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=5000)
FILE_UPLOAD_PERMISSIONS = 0o640

# E-mail and SMS: console by default; a real gateway is a dotted path to a backend class.
# Development-only back ends, refused when DEBUG=0 outside the tests (_require_production_services).
_DEV_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
_DEV_SMS_BACKEND = "mutualaid.sms.ConsoleSmsBackend"
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=_DEV_EMAIL_BACKEND)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="上海市职工保障互助会 <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SMS_BACKEND = env.str("SMS_BACKEND", default=_DEV_SMS_BACKEND)

# E-receipts (SPEC RCP-2): the issuer is a dotted path, so a fiscal e-receipt platform can replace
# the built-in PDF; PORTAL_BASE_URL makes the receipt's QR code an absolute verification address.
RECEIPT_ISSUER = env.str("RECEIPT_ISSUER", default="receipts.pdf.BuiltinReceiptIssuer")
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
ASSOCIATION_NAME = "上海市职工保障互助会"


# SPEC SEC-4: production must not print mails and SMS codes to the console, nor print a local address
# into the receipts' QR codes.
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def _require_production_services():
    wrong = []
    if EMAIL_BACKEND == _DEV_EMAIL_BACKEND:
        wrong.append("EMAIL_BACKEND")
    if SMS_BACKEND == _DEV_SMS_BACKEND:
        wrong.append("SMS_BACKEND")
    if urlsplit(PORTAL_BASE_URL).hostname in _LOCAL_HOSTS | {None}:
        wrong.append("PORTAL_BASE_URL")
    if wrong:
        raise ImproperlyConfigured(
            "DEBUG=0 requires real services; set " + ", ".join(wrong) + " (see README.md, Production configuration)."
        )


if not DEBUG and not TESTING:
    _require_production_services()

# Celery: without REDIS_URL every task runs eagerly in-process (the demo, most tests).
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or TESTING
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# SPEC SEC-2 (mutualaid/jobs.py): a worker beats every JOB_HEARTBEAT_SECONDS while it works; a running
# job silent for JOB_STALE_SECONDS lost its worker and is taken over (at most JOB_MAX_ATTEMPTS times);
# a queued job older than JOB_QUEUED_STALE_SECONDS lost its task and is sent again by the sweep.
JOB_HEARTBEAT_SECONDS = env.float("JOB_HEARTBEAT_SECONDS", default=10.0)
JOB_STALE_SECONDS = env.float("JOB_STALE_SECONDS", default=60.0)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
JOB_QUEUED_STALE_SECONDS = env.float("JOB_QUEUED_STALE_SECONDS", default=15 * 60.0)
# SPEC SEC-4: a job's private scratch folder (the plain copy of a sealed upload while the job reads
# it, an export before it is sealed), <kind>-<id> under this folder; removed when the job ends, and
# by the job sweep after a crash. Local to each worker machine, never shared or backed up.
JOB_SCRATCH_DIR = env.path("JOB_SCRATCH_DIR", default=BASE_DIR / "var" / "scratch")
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A job's state lives in its own row (SPEC SEC-2, mutualaid/jobs.py), so no task's return value is read
# and none is stored: with results kept, every task sent from a page subscribed the web process to its
# result channel in Redis (one more round trip under a lock shared by the process's threads, SPEC OPS-3).
# The health check's ping (mutualaid.tasks.ping) keeps its result: it is waited for.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TIMEZONE = TIME_ZONE
# django-celery-beat's DatabaseScheduler, stamping beat's time for the health checks (SPEC OPS-2).
CELERY_BEAT_SCHEDULER = "mutualaid.beat:StampingScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# SPEC OPS-4: two queues, each with its own workers (docker-compose.yml: worker, worker-bulk), so a
# city-scale reference load or a night's sweep never waits in front of a unit's validation. Every task
# of the portal is named here (tests/mutualaid/test_queues.py fails for one that is not); a task not
# named would go to the default queue, interactive.
CELERY_TASK_DEFAULT_QUEUE = "interactive"
CELERY_TASK_ROUTES = {
    # interactive: what a person waits for (imports, validations, submissions), reminders, health
    "mutualaid.tasks.ping": {"queue": "interactive"},
    "rosters.tasks.run_roster_import": {"queue": "interactive"},
    "rosters.tasks.run_validation": {"queue": "interactive"},
    "payments.tasks.send_payment_reminders": {"queue": "interactive"},
    "lookup.tasks.send_lookup_code": {"queue": "interactive"},
    # bulk: reference loads, exports, sweeps and purges
    "rosters.tasks.load_reference_file": {"queue": "bulk"},
    "mutualaid.tasks.run_export": {"queue": "bulk"},
    "mutualaid.tasks.sweep_jobs": {"queue": "bulk"},
    "mutualaid.tasks.purge_stale_drafts": {"queue": "bulk"},
    "mutualaid.tasks.purge_exports": {"queue": "bulk"},
    "rosters.tasks.purge_roster_uploads": {"queue": "bulk"},
    "enrollment.tasks.sweep_audit_trail": {"queue": "bulk"},
}
CELERY_QUEUE_NAMES = ("interactive", "bulk")

# SPEC OPS-2 (mutualaid/health.py): /healthz asks the database, Redis (with REDIS_URL) and, when tasks
# run on workers, each queue's worker stamp and beat's stamp. Workers and beat stamp every
# HEALTH_STAMP_SECONDS; a stamp older than its threshold fails the check (a few missed stamps, not one).
HEALTH_CHECK_CELERY = env.bool("HEALTH_CHECK_CELERY", default=not CELERY_TASK_ALWAYS_EAGER)
HEALTH_STAMP_SECONDS = env.float("HEALTH_STAMP_SECONDS", default=15.0)
HEALTH_WORKER_STALE_SECONDS = env.float("HEALTH_WORKER_STALE_SECONDS", default=90.0)
HEALTH_BEAT_STALE_SECONDS = env.float("HEALTH_BEAT_STALE_SECONDS", default=90.0)
# SPEC OPS-2 (mutualaid/metrics.py): /metrics and /healthz/detail answer 404 to any client outside these
# networks (CIDRs; the client address as the lockout reads it, mutualaid.audit.client_ip: REMOTE_ADDR,
# or behind AXES_IPWARE_PROXY_COUNT proxies the forwarded one). Staff may also read /healthz/detail.
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
# Schedules (django-celery-beat copies these into its tables, where reviewers may adjust them).
CELERY_BEAT_SCHEDULE = {
    "purge-stale-attachment-drafts": {"task": "mutualaid.tasks.purge_stale_drafts", "schedule": 6 * 3600},
    # SPEC X-1: export files (personal data) are deleted with their jobs after 7 days.
    "purge-exports": {"task": "mutualaid.tasks.purge_exports", "schedule": 6 * 3600},
    # SPEC X-1: roster uploads (kept for their marked copy) are deleted after 7 days.
    "purge-roster-uploads": {"task": "rosters.tasks.purge_roster_uploads", "schedule": 6 * 3600},
    # SPEC SEC-2: jobs whose worker died or whose task never came are re-queued or failed.
    "sweep-jobs": {"task": "mutualaid.tasks.sweep_jobs", "schedule": 60},
    # SPEC PAY-5: handlers of batches 缴费凭证待上传 are e-mailed on day 10 and 14, each reminder once;
    # daily at 09:00 Shanghai time (CELERY_TIMEZONE), when the clerks read their mail.
    "payment-reminders": {"task": "payments.tasks.send_payment_reminders", "schedule": crontab(hour=9, minute=0)},
    # SPEC SEC-9: audit rows past their kind's period (AUDIT_RETENTION_YEARS) go; daily, at night.
    "sweep-audit-trail": {"task": "enrollment.tasks.sweep_audit_trail", "schedule": crontab(hour=3, minute=30)},
}

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL and not TESTING
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Security headers. Production values come on with DEBUG=0 (check --deploy passes).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Content-Security-Policy (django-csp 4): only our own scripts and styles, no plugins, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}

# Login lockout (SPEC ACC-4, django-axes): an (account, address) pair after 5 failures, for 15
# minutes after the last one; the account-wide limit (100 an hour) is accounts.services'.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # 15 minutes, however often one retries
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_CALLABLE = "accounts.views.auth.lockout_response"
AXES_USERNAME_FORM_FIELD = "username"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)  # proxies in front (nginx: 1)
AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
AXES_VERBOSE = False

# The second factor (SPEC SEC-8, django-otp). Wrong codes count towards the login lockout above
# (ACC-4), which says how long the wait is; django-otp's own throttle would on top silently refuse
# the right code for seconds after a wrong one, so it is off.
OTP_TOTP_ISSUER = "上海市职工保障互助会"
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# SMS abuse limits (SPEC SEC-3): per IP address and in all, per clock hour; the per-number limits
# (60 s, 5 an hour) are in mutualaid.sms. Reaching the budget logs an alarm (CRITICAL).
SMS_PER_IP_PER_HOUR = env.int("SMS_PER_IP_PER_HOUR", default=10)
SMS_BUDGET_PER_HOUR = env.int("SMS_BUDGET_PER_HOUR", default=5000)
# 参保查询 limits (SPEC LOOK-2, SEC-3): look-ups per IP address and per ID number (by its hash), per
# clock hour and per calendar day (lookup/limits.py); over them: 429 with Retry-After.
LOOKUP_PER_IP_PER_HOUR = env.int("LOOKUP_PER_IP_PER_HOUR", default=20)
LOOKUP_PER_IP_PER_DAY = env.int("LOOKUP_PER_IP_PER_DAY", default=100)
LOOKUP_PER_ID_PER_HOUR = env.int("LOOKUP_PER_ID_PER_HOUR", default=3)
LOOKUP_PER_ID_PER_DAY = env.int("LOOKUP_PER_ID_PER_DAY", default=10)

# Login captcha (django-simple-captcha, drawn locally). Test mode also accepts "PASSED": on for the
# demo and the tests, never in production unless asked.
CAPTCHA_TEST_MODE = env.bool("CAPTCHA_TEST_MODE", default=DEBUG or TESTING)
CAPTCHA_LENGTH = 4
CAPTCHA_IMAGE_SIZE = (110, 38)
CAPTCHA_FONT_SIZE = 28
CAPTCHA_TIMEOUT = 10

AUDITLOG_INCLUDE_ALL_MODELS = True
AUDITLOG_EXCLUDE_TRACKING_MODELS = (
    "sessions",
    "admin.LogEntry",
    "auditlog.LogEntry",
    "django_celery_beat",
    "contenttypes",
    "axes",
    "captcha",
    # SPEC SEC-8: the devices hold secrets and backup codes, and change at every verification; the
    # second-factor services write their own events (enrolled, reset) instead.
    "otp_totp",
    "otp_static",
    "mutualaid.SmsCode",
    # Reference data is written in bulk only and audited as one event per load (ReferenceLoad).
    "rosters.SuggestedPerson",
    "rosters.SsUnit",
    "rosters.UnionMember",
    "rosters.PreviousEnrolment",
    # Roster entries and registry rows are written in bulk (COPY); each roster operation is audited as
    # one event on its batch with its counts (rosters.services.roster_audit).
    "rosters.RosterEntry",
    "rosters.EnrolmentRegistry",
    # SPEC LOOK-2, SEC-3: 参保查询 keeps its own append-only record of every look-up (lookup.LookupAudit:
    # the ID's keyed hash, address, outcome); copying its rows into the general log added four statements
    # to every look-up (bench/lookup.py) and a second place holding who asked about whom.
    "lookup",
)
AUDITLOG_DISABLE_REMOTE_ADDR = False
# SPEC SEC-9: how long each kind of audit row is kept, in years, before the retention sweep
# (enrollment.tasks.sweep_audit_trail, daily) deletes it. "access": access, export, look-up and denial
# records (auditlog's ACCESS entries); "record": every change entry of auditlog (batches, payments,
# refunds, codes, accounts …) and the batches' 操作日志 — accounting archives. On PostgreSQL the purge
# functions refuse a shorter period than these, whatever the settings say.
AUDIT_RETENTION_YEARS = {"access": 3, "record": 30}
# Password hashes never go into the trail; a login is not a change of the account.
AUDITLOG_EXCLUDE_TRACKING_FIELDS = ("password", "last_login", "token_hash")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "mutualaid.middleware.RequestIdLogFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # WeasyPrint logs a handful of INFO lines for every PDF drawn (fonts, stylesheets).
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
