"""One settings module, read from the environment.

Every default works on a laptop with nothing installed: SQLite for Django, a local MLflow server
(started by `make run`) with its SQLite store and artifact folder under `var/`, and a Celery broker
on a SQLite file. Production parts are chosen by environment variables, never by another module.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dj_database_url

from mlopsadmin.lib.uris import split_uri_credentials
from mlopsadmin.settings_helpers import (
    env_bool,
    env_float,
    env_int,
    env_list,
    logging_config,
    package_dir,
    redis_caches,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# django-ninja's templates and static files (the API reference at /api/v1/docs, served locally) by folder,
# not as an installed app: installed apps are imported by every process, `manage.py help` included.
NINJA_DIR = package_dir("ninja")
VAR_DIR = Path(os.environ.get("MLOPSADMIN_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


DEBUG = env_bool("DEBUG", False)

# A default key only in DEBUG; a production start without SECRET_KEY is reported by check E001.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production-0123456789abcdef"
# The audit chain's HMAC key: kept outside the database (env / secret store), so a database writer cannot
# recompute the chain. A dev default only in DEBUG; production without it is check E010.
AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY", "")
if not AUDIT_HMAC_KEY and DEBUG:
    AUDIT_HMAC_KEY = "insecure-dev-only-audit-key"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "mlopsadmin.core",
    "mlopsadmin.accounts",
    "catalog",
    "registry_ui",
    "registry_ui.promotion",
    "maintenance",
    "checklists",
    "configuration",
    "monitoring",
    "notifications",
]

MIDDLEWARE = [
    "monitoring.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mlopsadmin.core.middleware.RequestIdMiddleware",
    "mlopsadmin.core.middleware.RequestContractMiddleware",
    "mlopsadmin.core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mlopsadmin.core.middleware.SessionIdleTimeoutMiddleware",
    "mlopsadmin.core.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "mlopsadmin.core.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "mlopsadmin.urls"
WSGI_APPLICATION = "mlopsadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mlopsadmin.core.context_processors.navigation",
            ],
            "builtins": ["mlopsadmin.core.templatetags.mlops"],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "mlopsadmin.sqlite3")),
            # IMMEDIATE takes the write lock at BEGIN, so the audit hash chain never forks.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            # A file, not memory: test worker processes (Celery, gunicorn) must see the test database.
            "TEST": {
                "NAME": os.environ.get("SQLITE_TEST_PATH")
                or str(Path(tempfile.gettempdir()) / f"mlopsadmin-test-{os.getpid()}.sqlite3")
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
# Idle timeout: the session expires SESSION_COOKIE_AGE after last use, give or take SESSION_REFRESH_SECONDS
# (SessionIdleTimeoutMiddleware refreshes the expiry at most that often instead of on every request).
SESSION_REFRESH_SECONDS = env_int("SESSION_REFRESH_SECONDS", 60)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Local passwords: "all" (default), "admins" (break-glass: superusers and the Admin role only) or "off".
LOCAL_LOGIN = os.environ.get("LOCAL_LOGIN", "all").strip().lower()
AUTHENTICATION_BACKENDS = [
    "mlopsadmin.accounts.backends.LocalPasswordBackend",
    "mlopsadmin.accounts.backends.CompanySignInBackend",
]

# --- Company sign-in (OpenID Connect): mlopsadmin/settings_oidc.py --------------------------------
from mlopsadmin.settings_oidc import *  # noqa: E402, F403

LOGIN_RATE_LIMIT = env_int("LOGIN_RATE_LIMIT", 10)  # failed attempts per username+IP per window
LOGIN_RATE_WINDOW_SECONDS = env_int("LOGIN_RATE_WINDOW_SECONDS", 300)

# --- Security (production values whenever DEBUG is off) ---------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env_list("SILENCED_SYSTEM_CHECKS", [])

# --- Static files (htmx and CSS are served by the app itself: air-gapped) --------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from static/ when collectstatic has not run (dev, tests)

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

# --- MLflow ---------------------------------------------------------------------------------
MLFLOW_LOCAL_PORT = env_int("MLFLOW_LOCAL_PORT", 5050)
# https://user:password@host works too: the credentials become MLFLOW_TRACKING_USERNAME/PASSWORD (unless those
# are set) and the URI kept here, shown on pages and in errors, has none.
MLFLOW_TRACKING_URI, _URI_USERNAME, _URI_PASSWORD = split_uri_credentials(
    os.environ.get("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{MLFLOW_LOCAL_PORT}")
)
# Link target for "open in MLflow"; differs from the API URI behind a proxy.
MLFLOW_UI_URL = split_uri_credentials(os.environ.get("MLFLOW_UI_URL", MLFLOW_TRACKING_URI))[0].rstrip("/")
MLFLOW_TRACKING_USERNAME = os.environ.get("MLFLOW_TRACKING_USERNAME", "") or _URI_USERNAME
MLFLOW_TRACKING_PASSWORD = os.environ.get("MLFLOW_TRACKING_PASSWORD", "") or _URI_PASSWORD
MLFLOW_REQUEST_TIMEOUT = env_float("MLFLOW_REQUEST_TIMEOUT", 15.0)
MLFLOW_REQUEST_MAX_RETRIES = env_int("MLFLOW_REQUEST_MAX_RETRIES", 1)
# The backend store of the tracking server, needed only by the optional purge and the
# database-size capacity probe; empty means "not known to mlopsadmin".
MLFLOW_BACKEND_STORE_URI = os.environ.get("MLFLOW_BACKEND_STORE_URI", "")
MLFLOW_WEBHOOK_SECRET = os.environ.get("MLFLOW_WEBHOOK_SECRET", "")
# Permissions in step with a tracking server run with `--app-name basic-auth` (README "MLflow permissions").
# DEFAULT must equal the server's `default_permission` (basic_auth.ini); the others are what mlopsadmin grants.
MLFLOW_PERMISSIONS_DEFAULT = os.environ.get("MLFLOW_PERMISSIONS_DEFAULT", "READ").upper()
MLFLOW_PERMISSIONS_TEAM_EXPERIMENTS = os.environ.get("MLFLOW_PERMISSIONS_TEAM_EXPERIMENTS", "EDIT").upper()
MLFLOW_PERMISSIONS_TEAM_MODELS = os.environ.get("MLFLOW_PERMISSIONS_TEAM_MODELS", "READ").upper()
# MLflow users left alone besides the service account (MLFLOW_TRACKING_USERNAME), e.g. other automation.
MLFLOW_PERMISSIONS_EXEMPT_USERS = env_list("MLFLOW_PERMISSIONS_EXEMPT_USERS", [])
# Whether the scheduled sync creates MLflow users for people who need grants (the page and command ask).
MLFLOW_PERMISSIONS_CREATE_USERS = env_bool("MLFLOW_PERMISSIONS_CREATE_USERS", False)

# --- S3 (artifact store sizes) --------------------------------------------------------------
S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL", os.environ.get("MLFLOW_S3_ENDPOINT_URL", ""))
S3_REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
S3_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID", "")
S3_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")

# --- Redis, Celery --------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get(
    "CELERY_BROKER_URL", REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
# Task state lives in maintenance.TaskRun; Celery's own result backend is not needed.
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task gives the message back
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long tasks: never hoard messages another worker could run
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600)
# Longer than the hard time limit, or Redis hands a long task to a second worker.
# (Redis only: the SQLAlchemy transport of the embedded broker passes options to create_engine and
# refuses this one, so the worker would not start.)
# Seconds each broker command and connect may take (Redis): a broker that accepts connections and never
# answers (a frozen server) fails a publish after this instead of holding the web worker (mlopsadmin.task_queue).
CELERY_BROKER_SOCKET_TIMEOUT = env_float("CELERY_BROKER_SOCKET_TIMEOUT", 5.0)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": CELERY_TASK_TIME_LIMIT + 600,
        "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    }
    if CELERY_BROKER_URL.startswith(("redis", "rediss"))
    else {}
)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")  # workers must consume it
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")


# Nav badges that are the same for every user (overdue checklists, a capacity warning) are computed once per
# this many seconds for all users and processes (the cache); what changes them shows on the next page at once.
NAV_SHARED_BADGE_SECONDS = env_float("NAV_SHARED_BADGE_SECONDS", 30.0)

DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "mlopsadmin.cache"
if REDIS_URL:
    CACHES = redis_caches(REDIS_URL)
else:
    # Shared by every process on the machine (gunicorn workers, Celery) without a server.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Notifications (notifications app; checked at start-up by mlopsadmin.E020…E027) -------------
# Email: Django's backends, every SMTP setting from the environment (console backend by default).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "mlopsadmin@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)  # STARTTLS, usually port 587
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS, usually port 465
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # seconds per SMTP operation
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))  # for the file backend
# Everyone gets these, besides the people of each event (team leads, requester, watchers, operators).
NOTIFY_EMAILS = env_list("NOTIFY_EMAILS", [])
# A Slack-compatible incoming webhook for every event (per-team webhooks are set in the admin).
NOTIFY_WEBHOOK_URL = os.environ.get("NOTIFY_WEBHOOK_URL", "")
NOTIFY_WEBHOOK_TIMEOUT = env_float("NOTIFY_WEBHOOK_TIMEOUT", 10.0)
# Each notification (one event, one channel, one recipient) is retried on its own: this many retries,
# the first after NOTIFY_RETRY_DELAY seconds, doubling each time (5 retries ≈ 15 minutes with 30 s).
NOTIFY_MAX_RETRIES = env_int("NOTIFY_MAX_RETRIES", 5)
NOTIFY_RETRY_DELAY = env_float("NOTIFY_RETRY_DELAY", 30.0)
# The base of every link in a message (the address people open mlopsadmin at).
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Catalog (experiment naming catalog) -----------------------------------------------------
CATALOG_SYNC_PAGE_SIZE = env_int("CATALOG_SYNC_PAGE_SIZE", 1000)
# Run scans of several experiments in parallel (the MLflow server does the work; 4 threads on 2 cores).
CATALOG_SYNC_WORKERS = env_int("CATALOG_SYNC_WORKERS", 4)
# An incremental sync rescans changed experiments only; every so often rescan all (external tag edits).
CATALOG_FULL_RESCAN_SECONDS = env_int("CATALOG_FULL_RESCAN_SECONDS", 6 * 3600)
CATALOG_PAGE_SIZE = env_int("CATALOG_PAGE_SIZE", 50)
# Registry index (registry_ui.index_sync): a full sync (every version and source run) at least this often.
REGISTRY_FULL_SYNC_SECONDS = env_int("REGISTRY_FULL_SYNC_SECONDS", 3600)
# The drill-down reads MLflow live for one experiment: at most this many offending runs are listed.
CATALOG_DRILLDOWN_LIMIT = env_int("CATALOG_DRILLDOWN_LIMIT", 200)


# --- Registry (models, approvals) -------------------------------------------------------------
REGISTRY_DEFAULT_GATE_METRIC = os.environ.get("REGISTRY_DEFAULT_GATE_METRIC", "val_ndcg_at_10")
# Metric direction (comparison colours, the chart, the gate): a metric whose name has one of these words
# (split at _ - . / : and camelCase) is lower-is-better; exact names in METRICS_HIGHER_IS_BETTER win.
# Added to the defaults in registry_ui/metric_direction.py (loss, error, latency, mae, rmse, ...).
METRICS_LOWER_IS_BETTER = env_list("METRICS_LOWER_IS_BETTER", [])
METRICS_HIGHER_IS_BETTER = env_list("METRICS_HIGHER_IS_BETTER", [])


# --- Promotion (gate, locks, alias history) ---------------------------------------------------
PROMOTION_LOCK_TTL_SECONDS = env_int("PROMOTION_LOCK_TTL_SECONDS", 60)
# One deadline per alias change (reads, gate, writes and the read-back that decides the outcome). It must
# be shorter than the lock's TTL and the web worker's timeout (gunicorn --timeout, WEB_TIMEOUT_SECONDS),
# so a slow MLflow ends the change with a truthful record instead of a killed worker (check E009).
PROMOTION_DEADLINE_SECONDS = env_float("PROMOTION_DEADLINE_SECONDS", 40.0)
WEB_TIMEOUT_SECONDS = env_int("WEB_TIMEOUT_SECONDS", 60)
# A copy to another environment (issue 22) moves a version's artifacts: it runs in a Celery worker (the
# page polls its task, the API answers 202 with the task), not in the web request a long copy would
# outlive. False runs it in the request (no worker: a small setup, or the tests of the copy itself).
ENVIRONMENT_COPY_QUEUED = env_bool("ENVIRONMENT_COPY_QUEUED", True)
# In a worker, a copy waits this long for another copy into the same target model (CI promoting v1 then
# v2, taken by two workers) before it fails with 409; well under CELERY_TASK_SOFT_TIME_LIMIT. A copy run in
# the request never waits: a second click is refused at once.
ENVIRONMENT_COPY_LOCK_WAIT_SECONDS = env_float("ENVIRONMENT_COPY_LOCK_WAIT_SECONDS", 1800.0)
# How long a promotion waits for another change of the same model to finish before answering 409.
PROMOTION_LOCK_WAIT_SECONDS = env_float("PROMOTION_LOCK_WAIT_SECONDS", 5.0)
# Gate defaults for models without their own policy (the operations guide's values).
PROMOTION_GATE_THRESHOLD = env_float("PROMOTION_GATE_THRESHOLD", 0.80)
PROMOTION_GATE_MAX_DROP_PCT = env_float("PROMOTION_GATE_MAX_DROP_PCT", 2.0)
PROMOTION_GATE_REQUIRE_APPROVAL = env_bool("PROMOTION_GATE_REQUIRE_APPROVAL", True)
# Whether approvals recorded in MLflow before mlopsadmin (approved_by/approval_date tags, imported)
# satisfy the gate of models without their own policy.
PROMOTION_GATE_COUNT_IMPORTED_APPROVALS = env_bool("PROMOTION_GATE_COUNT_IMPORTED_APPROVALS", True)
# MLflow webhook deliveries older (or newer) than this are refused as replays.
PROMOTION_WEBHOOK_MAX_AGE_SECONDS = env_int("PROMOTION_WEBHOOK_MAX_AGE_SECONDS", 300)


# --- Maintenance (cleanup, reaper, capacity) and checklists: mlopsadmin/settings_maintenance.py ------
from mlopsadmin.settings_maintenance import *  # noqa: E402, F403

# --- Metrics (GET /metrics, Prometheus) -----------------------------------------------------------
# A scraper sends `Authorization: Bearer <METRICS_TOKEN>`, or calls from one of METRICS_ALLOWED_NETWORKS
# (CIDRs, e.g. "10.0.0.0/8,127.0.0.1/32"); with neither set, /metrics answers 403 to everyone. Run gunicorn
# and Celery with PROMETHEUS_MULTIPROC_DIR (an empty folder) so every process's counters are added up.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
# The audit chain status on /metrics comes from a verification at most this old.
METRICS_AUDIT_VERIFY_SECONDS = env_int("METRICS_AUDIT_VERIFY_SECONDS", 300)


# --- Audit ------------------------------------------------------------------------------------
AUDIT_PAGE_SIZE = env_int("AUDIT_PAGE_SIZE", 50)
# Where the audit chain's head (id, hash, count) is written outside the database: a file path or
# s3://bucket/key; empty = no checkpoint. Written after every AUDIT_CHECKPOINT_EVERY-th event and by verify.
AUDIT_CHECKPOINT_PATH = os.environ.get("AUDIT_CHECKPOINT_PATH", "")
AUDIT_CHECKPOINT_EVERY = env_int("AUDIT_CHECKPOINT_EVERY", 100)


LOGGING = logging_config(os.environ.get("LOG_LEVEL", "INFO"))
