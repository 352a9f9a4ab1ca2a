"""adplatform settings, all from the environment (django-environ).

With no DATABASE_URL / REDIS_URL the platform runs on an embedded default that needs no
server: SQLite in WAL mode and Celery's filesystem transport in `.data/`. With them set, it
runs on PostgreSQL and Redis.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The process environment wins over the file (ADPLATFORM_ENV_FILE: another file than .env).
environ.Env.read_env(os.environ.get("ADPLATFORM_ENV_FILE", BASE_DIR / ".env"), overwrite=False)
DATA_DIR = Path(env.str("ADPLATFORM_DATA_DIR", default=str(BASE_DIR / ".data")))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "adplatform.kernel",
    "ads_write",
    "ads_read",
    "audit",
    "notifications",
]

MIDDLEWARE = [
    "adplatform.middleware.RequestIdMiddleware",
    "adplatform.middleware.MetricsMiddleware",
    "adplatform.middleware.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "audit.staff.StaffActorMiddleware",  # names staff as the actor of audited account changes
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "adplatform.urls"
WSGI_APPLICATION = "adplatform.wsgi.application"

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
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------------
# SQLite needs WAL + synchronous=NORMAL + IMMEDIATE transactions + a long timeout to take
# web and worker writing at once without "database is locked" (measured, DESIGN.md §12).
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def _database(url):
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    else:
        config.setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASE_URL = env.str("DATABASE_URL", default="")
if not DATABASE_URL:  # the embedded default: SQLite in the data folder
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{DATA_DIR / 'adplatform.sqlite3'}"
DATABASES = {"default": _database(DATABASE_URL)}
READ_DATABASE_URL = env.str("READ_DATABASE_URL", default="")
if READ_DATABASE_URL:
    # A read replica: selectors read through it; tests mirror it onto default.
    DATABASES["replica"] = {**_database(READ_DATABASE_URL), "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["adplatform.routers.ReadReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
BROKER_FOLDER = DATA_DIR / "broker"
# Bounds on every Redis call (broker and cache), so that a request path that publishes
# fails within about this long when Redis is down or hung, instead of blocking.
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
if REDIS_URL:
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="adp"),
            # Fail fast when Redis is down or hung (redis-py waits 5 s by default).
            "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "socket_timeout": REDIS_SOCKET_TIMEOUT},
        }
    }
else:
    # Embedded default: a broker that lives in a local folder (development only: it does
    # not redeliver after the whole worker is SIGKILLed).
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# Time limit of the pipeline's tasks, in seconds (the report sender has its own, below); the
# broker's visibility timeout must exceed the longest, or Redis hands an unacknowledged
# message to a second worker while the first still works on it.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
# Celery's Django fixup closes every database connection before and after every task unless
# this is set (celery#9824 went back to that): each message then paid for a new PostgreSQL
# session, its catalog caches cold (measured: the projection's cost per message doubled).
# Set, the fixup closes them only every this many tasks; in between, the worker's own task
# signals (adplatform/celery.py) do what Django does around a request: drop a connection that
# broke or outlived CONN_MAX_AGE, keep the others.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
BROKER_VISIBILITY_TIMEOUT = env.int("BROKER_VISIBILITY_TIMEOUT", default=3600)
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("messages", "control"):  # kombu's folder transport expects them to exist
        (BROKER_FOLDER / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_FOLDER / "messages"),
        "data_folder_out": str(BROKER_FOLDER / "messages"),
        "control_folder": str(BROKER_FOLDER / "control"),
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
        # How often a worker looks for messages whose worker died (unacknowledged for
        # longer than the visibility timeout) and puts them back on their queue.
        "unacked_restore_interval": env.int("BROKER_RESTORE_INTERVAL", default=30),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        # A publish whose connection is refused fails at once, instead of retrying the connect
        # for REDIS_CONNECT_TIMEOUT (measured: 2 s per request while Redis was down). Workers
        # and beat still reconnect for as long as it takes (celery.py).
        "max_retries": 0,
    }
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        # kombu's Redis transport, with a Redis client reused per channel (kernel/broker.py).
        CELERY_BROKER_TRANSPORT = "adplatform.kernel.broker:Transport"

# Where an intake event goes on the request path (sync | cqrs | direct; DESIGN.md §3).
AD_INTAKE_MODE = env.str("AD_INTAKE_MODE", default="direct")
# Seconds a client is told to wait when the broker cannot take a message.
BROKER_RETRY_AFTER = env.int("BROKER_RETRY_AFTER", default=5)
# How long the "accepted, still pending" marker lives for read-your-writes in async modes,
# at most (an ad never projected); once its read row is written it goes after
# PENDING_MARKER_LINGER (a read that just missed the row still finds the marker).
PENDING_MARKER_TTL = env.int("PENDING_MARKER_TTL", default=7 * 24 * 3600)
PENDING_MARKER_LINGER = env.int("PENDING_MARKER_LINGER", default=300)
# Outbox rows older than this are swept by beat when the after-commit publish missed them.
OUTBOX_SWEEP_AFTER = env.int("OUTBOX_SWEEP_AFTER", default=5)
# Published outbox rows are kept this many days (to trace what was sent), then purged daily.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
# Ads still pending after this many seconds are re-published by the reconciliation sweep.
RECONCILE_PENDING_AFTER = env.int("RECONCILE_PENDING_AFTER", default=300)
# Body size limit for the API (bytes); larger is 413.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
API_MAX_BATCH_BODY_BYTES = env.int("API_MAX_BATCH_BODY_BYTES", default=16 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BATCH_BODY_BYTES

# --- DRF ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["adplatform.kernel.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["adplatform.kernel.auth.IsRetailer"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["adplatform.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["adplatform.kernel.ratelimit.RetailerRateThrottle"],
    # No OPTIONS metadata: the OpenAPI schema describes the API, and OPTIONS answers 405.
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "adplatform.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "adplatform API",
    "DESCRIPTION": "Ad intake for retailers: submit ads, read their validation state.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the drf-spectacular-sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "adplatform.openapi.add_api_manners"],
}

# --- Auth, i18n, static ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="reports@adplatform.local")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Pipeline ----------------------------------------------------------------------------
# Retries of a failing consumer before its message becomes a dead letter (backoff drawn at
# random up to 1 s, 2 s, 4 s … capped at PIPELINE_RETRY_BACKOFF_MAX: about 10 minutes on
# average with the defaults; while the database is down no dead letter can be written, and
# the message goes back on the queue instead: kernel/pipeline.py).
PIPELINE_MAX_RETRIES = env.int("PIPELINE_MAX_RETRIES", default=16)
# Ads per intake message: a batch is split into messages of this size so that workers share it.
INTAKE_MESSAGE_SIZE = env.int("INTAKE_MESSAGE_SIZE", default=100)
# Consumer batching: a worker buffers intake messages and judges them together once it has
# this many messages or this many seconds have passed. Its prefetch must admit the buffer.
# Off by default: a buffer whose worker process dies is not acknowledged and comes back only
# after the visibility timeout, and the fault tests prove at-least-once for the plain
# consumer. On (with WORKER_PREFETCH >= INTAKE_BATCH_SIZE) for throughput with single-ad intake.
INTAKE_BATCHING = env.bool("INTAKE_BATCHING", default=False)
INTAKE_BATCH_SIZE = env.int("INTAKE_BATCH_SIZE", default=50)
INTAKE_BATCH_INTERVAL = env.float("INTAKE_BATCH_INTERVAL", default=0.1)
# Serve static files (the admin's) straight from the apps, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- Detailed validation -------------------------------------------------------------------
# The ruleset file (versioned data: lists, limits); its version is stored on every verdict.
AD_RULESET = env.path("AD_RULESET", default=BASE_DIR / "ads_write" / "validation" / "rulesets" / "2026-11.json")
AD_VELOCITY_KEY_PREFIX = env.str("AD_VELOCITY_KEY_PREFIX", default="adp:velocity:")
# Fingerprints for FRAUD.DUPLICATE_CONTENT are kept this many days (the rule looks back 30).
CONTENT_FINGERPRINT_RETENTION_DAYS = env.int("CONTENT_FINGERPRINT_RETENTION_DAYS", default=31)
# The optional external validator ("the other API"); empty URL = off.
EXTERNAL_VALIDATOR_URL = env.str("EXTERNAL_VALIDATOR_URL", default="")
EXTERNAL_VALIDATOR_TIMEOUT = env.float("EXTERNAL_VALIDATOR_TIMEOUT", default=2.0)
EXTERNAL_VALIDATOR_RETRIES = env.int("EXTERNAL_VALIDATOR_RETRIES", default=2)
EXTERNAL_VALIDATOR_BACKOFF = env.float("EXTERNAL_VALIDATOR_BACKOFF", default=0.2)
EXTERNAL_VALIDATOR_CONCURRENCY = env.int("EXTERNAL_VALIDATOR_CONCURRENCY", default=64)
EXTERNAL_VALIDATOR_BREAKER_THRESHOLD = env.int("EXTERNAL_VALIDATOR_BREAKER_THRESHOLD", default=5)
EXTERNAL_VALIDATOR_BREAKER_COOLDOWN = env.float("EXTERNAL_VALIDATOR_BREAKER_COOLDOWN", default=30.0)

# --- Audit and admin -----------------------------------------------------------------------
# The audit log is this many hash chains, each with its own lock: writers wait only for
# writers of the same chain. Changing it is safe (each entry keeps its chain's number).
AUDIT_CHAINS = env.int("AUDIT_CHAINS", default=16)
if not 1 <= AUDIT_CHAINS <= 32767:
    raise ImproperlyConfigured(f"AUDIT_CHAINS ({AUDIT_CHAINS}) must be between 1 and 32767.")
# The admin's "Verify chain" stops after this many seconds (web workers have a timeout) and
# says how far it got; `manage.py verify_audit_chain` always walks the whole chain.
AUDIT_VERIFY_ADMIN_SECONDS = env.float("AUDIT_VERIFY_ADMIN_SECONDS", default=20.0)

# --- Notifications: webhooks and the daily failed-ads report --------------------------------
# SMTP for the report mails (used when EMAIL_BACKEND is Django's smtp backend).
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# Where Django's file mail backend (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend) writes.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(DATA_DIR / "mail"))
# When beat sends the daily failed-ads report ("HH:MM" in REPORT_TIMEZONE). Each retailer gets
# the previous day of its own time zone.
REPORT_DAILY_AT = env.str("REPORT_DAILY_AT", default="02:00")
REPORT_TIMEZONE = env.str("REPORT_TIMEZONE", default="UTC")
# One retailer's report may take this long to build and send (a million failed ads takes a
# few minutes); a report claimed but not marked sent for REPORT_CLAIM_TIMEOUT (a worker died
# mid-send) may be sent again. Keep time limit < claim timeout < BROKER_VISIBILITY_TIMEOUT.
REPORT_SEND_TIME_LIMIT = env.int("REPORT_SEND_TIME_LIMIT", default=25 * 60)
REPORT_CLAIM_TIMEOUT = env.int("REPORT_CLAIM_TIMEOUT", default=30 * 60)
# Attachments larger than this are gzipped; past the second limit the mail carries no
# attachment and points to the API download instead (mail servers refuse huge messages).
REPORT_GZIP_OVER_BYTES = env.int("REPORT_GZIP_OVER_BYTES", default=1024 * 1024)
REPORT_MAX_ATTACHMENT_BYTES = env.int("REPORT_MAX_ATTACHMENT_BYTES", default=20 * 1024 * 1024)
# Webhooks: only https, and never to loopback/private/link-local/reserved addresses, unless
# these allow it (tests and local development).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
# Retries back off exponentially (WEBHOOK_BACKOFF_BASE doubling, capped at WEBHOOK_BACKOFF_MAX,
# with jitter) until WEBHOOK_RETRY_WINDOW seconds after the first attempt; then the delivery fails.
WEBHOOK_BACKOFF_BASE = env.int("WEBHOOK_BACKOFF_BASE", default=30)
WEBHOOK_BACKOFF_MAX = env.int("WEBHOOK_BACKOFF_MAX", default=3600)
WEBHOOK_RETRY_WINDOW = env.int("WEBHOOK_RETRY_WINDOW", default=24 * 3600)
WEBHOOK_MAX_ENDPOINTS = env.int("WEBHOOK_MAX_ENDPOINTS", default=10)
# Extra CA bundle for webhook TLS (empty: the system's trust store).
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="")


# --- API manners: idempotency, batch, rate limits, metrics ---------------------------------
# Ads per batch request (POST /api/v1/ads/batch); more is a 422 problem.
API_MAX_BATCH_SIZE = env.int("API_MAX_BATCH_SIZE", default=1000)
# Idempotency keys: the first answer is replayed for this long (s); a request still in flight
# after IDEMPOTENCY_LOCK_TIMEOUT (s, above any request's run time) is taken to have died.
IDEMPOTENCY_KEY_TTL = env.int("IDEMPOTENCY_KEY_TTL", default=24 * 3600)
IDEMPOTENCY_LOCK_TIMEOUT = env.int("IDEMPOTENCY_LOCK_TIMEOUT", default=60)
# Per-retailer quota (requests, or ads in a batch, per minute) unless the retailer has its
# own. Needs Redis: without REDIS_URL there is no rate limit.
RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
RATE_LIMIT_PER_MINUTE = env.int("RATE_LIMIT_PER_MINUTE", default=120_000)
# Prometheus multiprocess mode: every process of this host (web, workers) writes its samples
# here and /metrics adds them up. Set before prometheus_client is imported; emptied by
# `make run` at start.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(DATA_DIR / "prometheus"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# Who may read /metrics: a Bearer token, and/or clients from these networks.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])

# --- Fault tolerance: reconciliation, dead letters -----------------------------------------
# Longest wait between two retries of a failing consumer (s). A worker holds a retry,
# unacknowledged, until it is due and then runs it: Redis would hand it to a second worker
# if that took longer than the visibility timeout.
PIPELINE_RETRY_BACKOFF_MAX = env.int("PIPELINE_RETRY_BACKOFF_MAX", default=120)
# The longest time limit of any task: the report sender has its own (REPORT_SEND_TIME_LIMIT).
_LONGEST_TASK = max(CELERY_TASK_TIME_LIMIT, REPORT_SEND_TIME_LIMIT)
if "visibility_timeout" in CELERY_BROKER_TRANSPORT_OPTIONS and (
    BROKER_VISIBILITY_TIMEOUT <= PIPELINE_RETRY_BACKOFF_MAX + _LONGEST_TASK
):
    raise ImproperlyConfigured(
        f"BROKER_VISIBILITY_TIMEOUT ({BROKER_VISIBILITY_TIMEOUT} s) must exceed PIPELINE_RETRY_BACKOFF_MAX "
        f"+ the longest task time limit, CELERY_TASK_TIME_LIMIT or REPORT_SEND_TIME_LIMIT "
        f"({PIPELINE_RETRY_BACKOFF_MAX} + {_LONGEST_TASK} s), or messages are duplicated."
    )
if not REPORT_SEND_TIME_LIMIT < REPORT_CLAIM_TIMEOUT:
    raise ImproperlyConfigured(
        f"REPORT_CLAIM_TIMEOUT ({REPORT_CLAIM_TIMEOUT} s) must exceed REPORT_SEND_TIME_LIMIT "
        f"({REPORT_SEND_TIME_LIMIT} s), or a report still being sent is taken over and sent twice."
    )
# Seconds between two outbox sweeps (beat).
OUTBOX_SWEEP_INTERVAL = env.float("OUTBOX_SWEEP_INTERVAL", default=5.0)
# The reconciliation sweep runs every RECONCILE_PENDING_AFTER seconds (so it re-publishes a
# stuck ad at most once per that time) and re-publishes at most this many ads per run.
RECONCILE_BATCH_LIMIT = env.int("RECONCILE_BATCH_LIMIT", default=1000)
# The read-model sweep: every READ_MODEL_SWEEP_INTERVAL seconds, ads changed between
# LOOKBACK and GRACE seconds ago whose read row is missing or older are projected again (at
# most LIMIT per run). GRACE leaves projections still in flight alone; LOOKBACK bounds the
# work, so it must exceed GRACE + INTERVAL or some changes are never looked at.
READ_MODEL_SWEEP_INTERVAL = env.int("READ_MODEL_SWEEP_INTERVAL", default=300)
READ_MODEL_SWEEP_LOOKBACK = env.int("READ_MODEL_SWEEP_LOOKBACK", default=3600)
READ_MODEL_SWEEP_GRACE = env.int("READ_MODEL_SWEEP_GRACE", default=60)
READ_MODEL_SWEEP_LIMIT = env.int("READ_MODEL_SWEEP_LIMIT", default=1000)
if READ_MODEL_SWEEP_LOOKBACK <= READ_MODEL_SWEEP_GRACE + READ_MODEL_SWEEP_INTERVAL:
    raise ImproperlyConfigured(
        f"READ_MODEL_SWEEP_LOOKBACK ({READ_MODEL_SWEEP_LOOKBACK} s) must exceed READ_MODEL_SWEEP_GRACE "
        f"+ READ_MODEL_SWEEP_INTERVAL ({READ_MODEL_SWEEP_GRACE} + {READ_MODEL_SWEEP_INTERVAL} s), or changes slip past the sweep."
    )

# --- Celery beat ---------------------------------------------------------------------------
from celery.schedules import crontab  # noqa: E402

from notifications.schedules import daily_at  # noqa: E402

# Periodic jobs (Celery beat). Each entry names its task; the task's module says what it does.
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "ads_write.tasks.maintenance_outbox_sweep_task",
        "schedule": OUTBOX_SWEEP_INTERVAL,
        "options": {"expires": 30},
    },
    "reconcile-pending": {
        "task": "ads_write.tasks.maintenance_reconcile_pending_task",
        "schedule": float(RECONCILE_PENDING_AFTER),
        "options": {"expires": RECONCILE_PENDING_AFTER},
    },
    "purge-content-fingerprints": {
        "task": "ads_write.tasks.maintenance_purge_fingerprints_task",
        "schedule": crontab(hour=3, minute=30),
    },
    "purge-outbox": {
        "task": "ads_write.tasks.maintenance_outbox_purge_task",
        "schedule": crontab(hour=3, minute=45),
    },
    "report-daily-failed-ads": {
        "task": "notifications.tasks.report_daily_failed_ads_task",
        "schedule": daily_at(REPORT_DAILY_AT, zone=REPORT_TIMEZONE),
    },
    "webhook-sweep": {
        "task": "notifications.tasks.webhook_sweep_task",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
    "read-model-sweep": {
        "task": "ads_write.tasks.maintenance_read_model_reconcile_task",
        "schedule": float(READ_MODEL_SWEEP_INTERVAL),
        "options": {"expires": READ_MODEL_SWEEP_INTERVAL},
    },
    "purge-idempotency-keys": {
        "task": "ads_write.tasks.maintenance_idempotency_purge_task",
        "schedule": 3600.0,
        "options": {"expires": 600},
    },
}

# --- The compliance workspace (review queue, decisions, appeals) ---------------------------
# A held ad (or an open appeal) waiting longer than this is overdue: the queue shows it first.
REVIEW_SLA_HOURS = env.float("REVIEW_SLA_HOURS", default=24.0)
# A reviewer's claim on an item ("being reviewed by") lapses after this many minutes.
REVIEW_CLAIM_MINUTES = env.int("REVIEW_CLAIM_MINUTES", default=30)
# The written reason of a staff decision has at least this many characters.
REVIEW_REASON_MIN_LENGTH = env.int("REVIEW_REASON_MIN_LENGTH", default=20)
# Four eyes: an approval that overrules a reject-severity finding takes effect only once a
# second, different reviewer confirms it.
REVIEW_FOUR_EYES = env.bool("REVIEW_FOUR_EYES", default=False)
# Admin times as ISO 8601 with the zone's offset (adplatform/formats/en).
FORMAT_MODULE_PATH = ["adplatform.formats"]
