"""adplatform settings, all from the environment (django-environ).

With no DATABASE_URL / REDIS_URL the platform runs on an embedded default that needs no
server: SQLite in WAL mode and Celery's filesystem transport in `.data/`. With them set, it
runs on PostgreSQL and Redis.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(environ.Env().str("ADPLATFORM_DATA_DIR", default=str(BASE_DIR / ".data")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

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
    "django_filters",
    "adplatform.kernel",
    "ads_write",
    "ads_read",
    "audit",
]

MIDDLEWARE = [
    "adplatform.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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


DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'adplatform.sqlite3'}")
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

# Longest task we run, in seconds; the broker's visibility timeout must exceed it, or Redis
# hands an unacknowledged message to a second worker while the first still works on it.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
BROKER_VISIBILITY_TIMEOUT = env.int("BROKER_VISIBILITY_TIMEOUT", default=3600)
if CELERY_BROKER_URL.startswith("filesystem://"):
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

# Where an intake event goes on the request path (sync | cqrs | direct; DESIGN.md §3).
AD_INTAKE_MODE = env.str("AD_INTAKE_MODE", default="direct")
# Seconds a client is told to wait when the broker cannot take a message.
BROKER_RETRY_AFTER = env.int("BROKER_RETRY_AFTER", default=5)
# How long the "accepted, still pending" marker lives for read-your-writes in async modes.
PENDING_MARKER_TTL = env.int("PENDING_MARKER_TTL", default=7 * 24 * 3600)
# Outbox rows older than this are swept by beat when the after-commit publish missed them.
OUTBOX_SWEEP_AFTER = env.int("OUTBOX_SWEEP_AFTER", default=5)
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
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "adplatform.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "adplatform API",
    "DESCRIPTION": "Ad intake for retailers: submit ads, read their validation state.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
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
# Serve static files (the admin's) straight from the apps, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- Audit and admin -----------------------------------------------------------------------

# --- Notifications: webhooks and the daily failed-ads report --------------------------------

# --- API manners: idempotency, batch, rate limits, metrics ---------------------------------

# --- Fault tolerance: reconciliation, dead letters -----------------------------------------
# Longest wait between two retries of a failing consumer (s). A worker holds a retry,
# unacknowledged, until it is due and then runs it: Redis would hand it to a second worker
# if that took longer than the visibility timeout.
PIPELINE_RETRY_BACKOFF_MAX = env.int("PIPELINE_RETRY_BACKOFF_MAX", default=120)
if "visibility_timeout" in CELERY_BROKER_TRANSPORT_OPTIONS and (
    BROKER_VISIBILITY_TIMEOUT <= PIPELINE_RETRY_BACKOFF_MAX + CELERY_TASK_TIME_LIMIT
):
    raise ImproperlyConfigured(
        f"BROKER_VISIBILITY_TIMEOUT ({BROKER_VISIBILITY_TIMEOUT} s) must exceed PIPELINE_RETRY_BACKOFF_MAX "
        f"+ CELERY_TASK_TIME_LIMIT ({PIPELINE_RETRY_BACKOFF_MAX} + {CELERY_TASK_TIME_LIMIT} s), or messages are duplicated."
    )
# Seconds between two outbox sweeps (beat).
OUTBOX_SWEEP_INTERVAL = env.float("OUTBOX_SWEEP_INTERVAL", default=5.0)
# The reconciliation sweep runs every RECONCILE_PENDING_AFTER seconds (so it re-publishes a
# stuck ad at most once per that time) and re-publishes at most this many ads per run.
RECONCILE_BATCH_LIMIT = env.int("RECONCILE_BATCH_LIMIT", default=1000)
