"""Settings for closedwon.

Every value that differs between machines is read from the environment here, once
(cookiecutter-django style). Nothing else in the code base reads ``os.environ``.

Two shapes are supported:

* the embedded default (``make run``): SQLite file + Celery ``filesystem://`` broker, no
  servers needed;
* production: ``DATABASE_URL=postgres://…`` and ``CELERY_BROKER_URL=redis://…``,
  ``DEBUG`` off, a real ``SECRET_KEY`` (refuses to start without one).

A ``local.env`` file beside ``manage.py`` is read first (python-dotenv); the environment wins.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from core import export_formats as _export_formats

BASE_DIR = Path(__file__).resolve().parent.parent
# A local.env (written by `make run`: a generated SECRET_KEY and DEBUG=1) lets every
# `manage.py` command work from a second terminal. Variables already set in the
# environment win, so production and CI are configured by their environment alone.
load_dotenv(os.environ.get("CLOSEDWON_ENV_FILE", BASE_DIR / "local.env"), override=False)
DATA_DIR = Path(os.environ.get("CLOSEDWON_DATA_DIR", BASE_DIR / "var"))


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = _env_bool("DEBUG", False)

_INSECURE_KEY = "django-insecure-closedwon-development-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # Production mode: refuse to start with a guessable key (sessions and tokens
        # would be forgeable). DEBUG=1 (make run) gets a fixed development key.
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (production mode). "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    SECRET_KEY = _INSECURE_KEY
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for production: use at least 50 random characters."
    )

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "simple_history",
    "import_export",
    "django_htmx",
    "opportunities",
    "handoffs",
    "documents",
    "currencies",
    "events",
    "jobs",
    "approvals",
    "amendments",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # The app's 404/403/500 pages with DEBUG on too (Django's own pages when it is off).
    "closedwon.errorpages.AppErrorPagesMiddleware",
]

# bench/urls.py adds a bare DRF PATCH endpoint as the HTTP benchmark baseline.
ROOT_URLCONF = os.environ.get("ROOT_URLCONF", "closedwon.urls")
WSGI_APPLICATION = "closedwon.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "approvals.context_processors.notifications",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'closedwon.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers run beside a writer,
    # IMMEDIATE takes the write lock at BEGIN (no lock upgrade deadlocks) and the busy
    # timeout makes a writer wait instead of failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
    DATA_DIR.mkdir(parents=True, exist_ok=True)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Bound parameters, and the statements a connection repeats prepared on the server
    # after DATABASE_PREPARED_STATEMENTS uses (0: at the first): PostgreSQL then parses
    # and plans an approval's or a delivery's statements once per connection instead of
    # on every call (a fifth of its CPU per approval). "off" restores Django's defaults
    # (values quoted into the SQL text, nothing prepared): for a pooler in transaction
    # mode that cannot keep prepared statements (PgBouncer before 1.21, or without
    # max_prepared_statements).
    _prepare = os.environ.get("DATABASE_PREPARED_STATEMENTS", "5").strip().lower()
    if _prepare not in {"off", "false", "no"}:
        if not _prepare.isdigit():
            raise ImproperlyConfigured(
                "DATABASE_PREPARED_STATEMENTS must be a number of uses (e.g. 5) or 'off'."
            )
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": int(_prepare)}
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
AUTHENTICATION_BACKENDS = ["closedwon.auth.OneQueryModelBackend"]
# Sessions are read through the cache (Redis in production) and written through to the
# database: one query less on every signed-in request, nothing lost on a cache flush.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/signed-in/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- i18n ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# One set of date formats for the rep UI and the admin ("Mar 5, 2026, 14:05").
FORMAT_MODULE_PATH = ["closedwon.formats"]

# Days without a change after which a board card is flagged stale, per stage, e.g.
# "prospecting=30,negotiation=7"; stages not named keep the defaults of
# opportunities.web_board.STALE_DAYS.
BOARD_STALE_DAYS = {
    stage.strip(): int(days)
    for stage, _, days in (
        part.partition("=") for part in os.environ.get("BOARD_STALE_DAYS", "").split(",")
    )
    if stage.strip() and days.strip().isascii() and days.strip().isdigit()
}
DEFAULT_CURRENCY = os.environ.get("DEFAULT_CURRENCY", "USD").upper()
# The public base URL (e.g. https://closedwon.example.com): links in e-mails and payloads
# are absolute when it is set, relative otherwise.
SITE_URL = os.environ.get("SITE_URL", "")
# Totals across currencies are converted into this one with the dated exchange rates
# RevOps keep (currencies.ExchangeRate: reporting-currency units per 1 unit).
REPORTING_CURRENCY = (os.environ.get("REPORTING_CURRENCY") or DEFAULT_CURRENCY).upper()

# --- Static -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Evidence documents ---------------------------------------------------------------
# Private files: never under STATIC/MEDIA URLs; read back only through the download views.
# Local folder under the data folder by default; S3-compatible storage (django-storages)
# when DOCUMENT_STORAGE_URL=s3://bucket/prefix?endpoint_url=…&region=… or the usual
# AWS_STORAGE_BUCKET_NAME (+ AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME, credentials from
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY as boto3 reads them) is set.
DOCUMENT_STORAGE_URL = os.environ.get("DOCUMENT_STORAGE_URL", "")
DOCUMENT_ROOT = Path(os.environ.get("DOCUMENT_ROOT") or DATA_DIR / "documents")


def _document_storage(url: str) -> dict[str, object]:
    from urllib.parse import parse_qs, urlsplit

    if url:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ImproperlyConfigured(
                "DOCUMENT_STORAGE_URL must look like s3://bucket/prefix?endpoint_url=…&region=…"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        options: dict[str, object] = {
            "bucket_name": parts.netloc,
            "location": parts.path.strip("/"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        }
        if query.get("endpoint_url"):
            options["endpoint_url"] = query["endpoint_url"]
        if query.get("region"):
            options["region_name"] = query["region"]
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
        # django-storages reads the AWS_* settings below.
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"default_acl": None, "file_overwrite": False},
        }
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Never served by URL (no base_url is used): only through the download views.
        "OPTIONS": {"location": str(DOCUMENT_ROOT)},
    }


STORAGES["documents"] = _document_storage(DOCUMENT_STORAGE_URL)
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
AWS_LOCATION = os.environ.get("AWS_LOCATION", "")
# Largest accepted document in bytes (uploads and e-signature PDFs): 20 MB by default.
DOCUMENT_MAX_BYTES = int(os.environ.get("DOCUMENT_MAX_BYTES", str(20 * 1024 * 1024)))
# How long a signed download link (approval snapshot, billing payload) keeps working.
DOCUMENT_LINK_TTL_HOURS = float(os.environ.get("DOCUMENT_LINK_TTL_HOURS", "168"))
# The public origin (https://crm.example.com) used to make links absolute in payloads
# sent to other systems; empty: links are relative paths.
SITE_URL = os.environ.get("SITE_URL", "").rstrip("/")
# E-signature inbound: a Standard Webhooks secret (whsec_…) and/or the DocuSign Connect
# HMAC key. A scheme whose secret is empty refuses every call.
ESIGN_WEBHOOK_SECRET = os.environ.get("ESIGN_WEBHOOK_SECRET", "")
ESIGN_DOCUSIGN_HMAC_KEY = os.environ.get("ESIGN_DOCUSIGN_HMAC_KEY", "")

# --- Cache --------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Email --------------------------------------------------------------------------
# The embedded default writes each e-mail to a file under var/mail/ (one file per message)
# instead of printing it: printed by a Celery worker, every line of it became a WARNING.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "closedwon <noreply@closedwon.local>")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))

# --- Celery -------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
# "localhost" names the (ignored) host so kombu does not warn about a missing one.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://localhost/"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest task (hard time limit below), so a slow delivery is
        # never handed to a second worker while the first is still on it.
        "visibility_timeout": 3600,
        # Bounded socket waits: a publish from a web request fails within about a second
        # when Redis is down or unreachable (the outbox relay delivers later) instead of
        # hanging the request; 5 s stays well above BRPOP's 1 s poll in the worker.
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Anything a task prints is informational, not a warning.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = False
# Publishing must never hang a web request when the broker is down: the outbox relay
# delivers later anyway.
CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("max_retries", 1)
# The one retry (for a pooled connection that went stale) happens at once, not after
# kombu's default 2 s pause.
CELERY_BROKER_TRANSPORT_OPTIONS.setdefault("interval_start", 0)
CELERY_TASK_PUBLISH_RETRY = False
# Celery closes Django's database connections around every task unless told to reuse
# them, and a reconnect costs more than a whole webhook delivery. handoffs.tasks closes
# stale or broken connections around each task instead, as Django does per request
# (close_old_connections: CONN_MAX_AGE and health checks).
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "1000"))
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

# --- Handoffs -----------------------------------------------------------------------
# The four handoff kinds (handoffs.models.HandoffKind; a test holds the two equal).
_HANDOFF_KINDS = ("billing", "provisioning", "customer_success", "commission")
HANDOFF_ENDPOINTS = {
    kind: {
        "url": os.environ.get(f"HANDOFF_{kind.upper()}_URL", ""),
        "secret": os.environ.get(f"HANDOFF_{kind.upper()}_SECRET", ""),
    }
    for kind in _HANDOFF_KINDS
}
HANDOFF_CONNECT_TIMEOUT = float(os.environ.get("HANDOFF_CONNECT_TIMEOUT", "3"))
HANDOFF_READ_TIMEOUT = float(os.environ.get("HANDOFF_READ_TIMEOUT", "10"))
HANDOFF_RELAY_INTERVAL = float(os.environ.get("HANDOFF_RELAY_INTERVAL", "10"))
DEMO_RECEIVER = _env_bool("DEMO_RECEIVER", False)
DEMO_RECEIVER_SECRET = os.environ.get(
    "DEMO_RECEIVER_SECRET", "whsec_ZGVtby1yZWNlaXZlci1zZWNyZXQtZm9yLWNsb3NlZHdvbg=="
)
COMMISSION_DEFAULT_RATE = os.environ.get("COMMISSION_DEFAULT_RATE", "0.10")
# A won deal cancelled within this many days of its contract start claws its commission
# back (a negative credit); later cancellations leave the credit paid.
COMMISSION_CLAWBACK_DAYS = int(os.environ.get("COMMISSION_CLAWBACK_DAYS", "180"))
# Seconds to wait after each failed attempt; when they run out the handoff is dead.
HANDOFF_RETRY_DELAYS = tuple(
    float(s)
    for s in _env_list("HANDOFF_RETRY_DELAYS", "5,300,1800,7200,18000,36000,50400,72000,86400")
)
# A worker holds a handoff for this long while it sends it. Longer than a task may live
# (the hard time limit kills it), so a live sender is never overtaken; when a worker dies
# mid-send the relay re-sends once it expires (same webhook-id).
HANDOFF_CLAIM_LEASE = float(os.environ.get("HANDOFF_CLAIM_LEASE") or CELERY_TASK_TIME_LIMIT + 10)
# How long the relay's enqueued message may wait for a worker before the relay assumes
# it was lost and enqueues the handoff again.
HANDOFF_DISPATCH_LEASE = float(
    os.environ.get("HANDOFF_DISPATCH_LEASE") or max(60.0, 3 * HANDOFF_RELAY_INTERVAL)
)
HANDOFF_RELAY_BATCH = int(os.environ.get("HANDOFF_RELAY_BATCH", "200"))
# A new (pending) handoff's on-commit message gets this long before the relay sends the
# row too: under load the relay would otherwise re-queue, behind the backlog, rows whose
# messages are only waiting their turn. Retries are the relay's alone and are not delayed.
HANDOFF_RELAY_GRACE = float(os.environ.get("HANDOFF_RELAY_GRACE") or HANDOFF_RELAY_INTERVAL)
# Outbox rows per delivery task: what one transaction wrote goes out in one message, sent
# at the same time (an approval: its four handoffs and the decision e-mail, plus any
# deal.* webhooks; docs/benchmarks.md measures the CPU this saves); 1 gives one task per
# row.
HANDOFF_TASK_BATCH = int(os.environ.get("HANDOFF_TASK_BATCH", "8"))
# A Retry-After longer than this is capped (a typo downstream must not park a deal a year).
HANDOFF_MAX_RETRY_AFTER = float(os.environ.get("HANDOFF_MAX_RETRY_AFTER", "86400"))
CELERY_BEAT_SCHEDULE["handoffs-relay"] = {
    "task": "handoffs.relay",
    "schedule": HANDOFF_RELAY_INTERVAL,
    # A relay queued while no worker ran is stale by the time one starts: drop it.
    "options": {"expires": max(HANDOFF_RELAY_INTERVAL, 1.0)},
}

# --- Import / export (django-import-export) ------------------------------------------
# Every export escapes cells a spreadsheet would run as formulas (core.export_formats);
# the library's own IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT handles "=" only and stays off.
EXPORT_FORMATS = _export_formats.EXPORT_FORMATS
IMPORT_FORMATS = _export_formats.IMPORT_FORMATS
# --- Webhook endpoints, outgoing messages, handoff SLAs --------------------------------
# Endpoint URLs entered by RevOps: loopback / private / link-local addresses only with
# WEBHOOK_ALLOW_PRIVATE (default: DEBUG; tests turn it on) or inside these CIDRs.
WEBHOOK_ALLOW_PRIVATE = _env_bool("WEBHOOK_ALLOW_PRIVATE", DEBUG)
WEBHOOK_REQUIRE_HTTPS = _env_bool("WEBHOOK_REQUIRE_HTTPS", not DEBUG)
WEBHOOK_ALLOWED_NETWORKS = tuple(_env_list("WEBHOOK_ALLOWED_NETWORKS", ""))
# After a rotation the previous secret keeps signing (and stays valid) this long.
WEBHOOK_SECRET_OVERLAP = float(os.environ.get("WEBHOOK_SECRET_OVERLAP", str(24 * 3600)))
# An endpoint failing without a success this long is disabled and RevOps are told.
WEBHOOK_DISABLE_AFTER_DAYS = float(os.environ.get("WEBHOOK_DISABLE_AFTER_DAYS", "5"))
# Hours after approval by which downstream should confirm each handoff kind.
HANDOFF_SLA_HOURS = {
    kind: float(os.environ.get(f"HANDOFF_{kind.upper()}_SLA_HOURS") or default)
    for kind, default in (
        ("billing", 24),
        ("provisioning", 24),
        ("customer_success", 72),
        ("commission", 168),
    )
}
# Who gets RevOps notices (endpoint disabled, handoff overdue); empty: the RevOps group.
REVOPS_NOTIFY_EMAILS = tuple(_env_list("REVOPS_NOTIFY_EMAILS", ""))
# A Slack-compatible incoming webhook for chat notices (empty: chat messages are skipped).
CHAT_WEBHOOK_URL = os.environ.get("CHAT_WEBHOOK_URL", "")
CELERY_BEAT_SCHEDULE["webhook-endpoints-health"] = {
    "task": "handoffs.endpoints_health",
    "schedule": 3600.0,
    "options": {"expires": 3600.0},
}
CELERY_BEAT_SCHEDULE["handoffs-sla"] = {
    "task": "handoffs.sla_check",
    "schedule": 900.0,
    "options": {"expires": 900.0},
}

# --- REST framework -----------------------------------------------------------------
# How long an Idempotency-Key replays its first response.
API_IDEMPOTENCY_TTL_HOURS = int(os.environ.get("API_IDEMPOTENCY_TTL_HOURS", "24"))
API_THROTTLE_USER = os.environ.get("API_THROTTLE_USER", "6000/min")
API_THROTTLE_ANON = os.environ.get("API_THROTTLE_ANON", "120/min")
REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox's TokenAuthentication (hashed, revocable tokens, prefix "Token"), hardened
        # against header bytes that would otherwise crash it.
        "api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ReadWithViewPermission"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.CursorPagination",
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.UserThrottle", "api.throttling.AnonThrottle"],
    # The throttles read API_THROTTLE_USER / API_THROTTLE_ANON per request; these are
    # kept for anything that looks the scopes up the DRF way.
    "DEFAULT_THROTTLE_RATES": {"user": API_THROTTLE_USER, "anon": API_THROTTLE_ANON},
    "EXCEPTION_HANDLER": "api.problem.exception_handler",
    "DEFAULT_METADATA_CLASS": "api.metadata.Metadata",
}
# --- Change feed -------------------------------------------------------------------
EVENTS_RETENTION_DAYS = int(os.environ.get("EVENTS_RETENTION_DAYS", "30"))
CELERY_BEAT_SCHEDULE["events-purge"] = {"task": "events.purge", "schedule": 3600.0}

# --- API tokens ----------------------------------------------------------------------
# Integration users hold a token for months; people get a fresh one each sign-in. 0 means
# tokens never expire (not recommended): issue long-lived ones deliberately instead with
# `issue_token NAME --ttl-hours N` or `--no-expiry`.
API_TOKEN_TTL_HOURS = int(os.environ.get("API_TOKEN_TTL_HOURS", str(90 * 24)))
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(hours=API_TOKEN_TTL_HOURS) if API_TOKEN_TTL_HOURS > 0 else None,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "closedwon API",
    "DESCRIPTION": (
        "Opportunity stage gating: the Closed-Won gate, approvals and handoffs.\n\n"
        "Authenticate with `Authorization: Token <key>` (`python manage.py issue_token <user>`) "
        "or the browser session. Lists page by cursor (follow `next`; `limit` at most 200). Sync with the change feed, `GET /api/v1/events/`. "
        "Every error is an RFC 9457 problem (`application/problem+json`) with a stable `code`. "
        "Every POST honours `Idempotency-Key`; PATCH and transitions honour `If-Match`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess",
    ],
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "opportunities.stages.Stage",
        "LossReasonEnum": "opportunities.stages.LossReason",
        "DecisionEnum": "opportunities.models.Decision",
        "DocumentKindEnum": "documents.models.DocumentKind",
        "OpportunityTypeEnum": "opportunities.stages.OpportunityType",
        "HandoffKindEnum": "handoffs.models.HandoffKind",
        "HandoffStatusEnum": "handoffs.models.HandoffStatus",
        "CurrencyEnum": "opportunities.api.serializers.CURRENCIES",
        "RateCurrencyEnum": "currencies.api.serializers.RATE_CURRENCIES",
        "AmendmentKindEnum": "amendments.models.AmendmentKind",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security (production mode) ------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = _env_bool("CSRF_COOKIE_SECURE", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # httpx logs every request at INFO: each handoff POST is already an attempt row
        # (status, duration, error) in the console, and the line cost the worker CPU.
        "httpx": {"level": "WARNING"},
    },
}

# Approval policies: the business calendar SLAs are counted in (working days 0=Monday,
# working hours [start, end) in the time zone), how long an e-mail decision link lives.
APPROVAL_CALENDAR = {
    "days": [int(d) for d in _env_list("APPROVAL_WORKING_DAYS", "0,1,2,3,4")],
    "start_hour": int(os.environ.get("APPROVAL_DAY_START", "9")),
    "end_hour": int(os.environ.get("APPROVAL_DAY_END", "17")),
    "time_zone": os.environ.get("APPROVAL_TIME_ZONE", "UTC"),
}
APPROVAL_LINK_MAX_AGE = int(os.environ.get("APPROVAL_LINK_MAX_AGE", str(72 * 3600)))
CELERY_BEAT_SCHEDULE["approvals-sla"] = {"task": "approvals.sla", "schedule": 300.0}

# --- stage totals ----------------------------------------------------------------------
# The board's and the deal list's totals are change rows appended by database triggers;
# folding them every minute keeps what a page sums to about one row per stage, currency
# and owner.
CELERY_BEAT_SCHEDULE["stage-totals-compact"] = {
    "task": "opportunities.compact_stage_totals",
    "schedule": 60.0,
    "options": {"expires": 60.0},
}
