"""ctportal settings: everything from the environment, with embedded defaults (see .env.example)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import dj_database_url
from cryptography.fernet import Fernet

from ctportal.envvars import env_bool, env_int, env_list, env_secret, env_secret_list, env_str
from ctportal.keys import key_file, refuse_weak_keys

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("CTPORTAL_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("CTPORTAL_DEBUG", False)
# Unset, each key is a random one made once in the data directory (mode 0600): no key is ever public.
SECRET_KEY = env_secret("CTPORTAL_SECRET_KEY") or key_file(DATA_DIR / "secret_key", lambda: token_urlsafe(50))
SECRET_KEY_FALLBACKS = env_secret_list("CTPORTAL_SECRET_KEY_FALLBACKS")
# Encrypt secrets stored in the database: the first encrypts, all decrypt (syncjobs/secrets.py).
# CTPORTAL_FIELD_ENCRYPTION_KEY is the one-key name of earlier versions.
FIELD_ENCRYPTION_KEYS = (
    env_secret_list("CTPORTAL_FIELD_ENCRYPTION_KEYS")
    or env_secret_list("CTPORTAL_FIELD_ENCRYPTION_KEY")
    or [key_file(DATA_DIR / "field_encryption_key", lambda: Fernet.generate_key().decode())]
)
if not DEBUG:
    refuse_weak_keys("CTPORTAL_SECRET_KEY", [SECRET_KEY])
    refuse_weak_keys("CTPORTAL_SECRET_KEY_FALLBACKS", SECRET_KEY_FALLBACKS)
    refuse_weak_keys("CTPORTAL_FIELD_ENCRYPTION_KEYS", FIELD_ENCRYPTION_KEYS, allow_fernet=True)
# Sqlite files and FileServer folders of linked services must lie inside these folders (comma-separated).
CTPORTAL_FILE_ROOTS = env_list("CTPORTAL_FILE_ROOTS", [str(DATA_DIR / "files")])
ALLOWED_HOSTS = env_list("CTPORTAL_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CTPORTAL_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "syncjobs.admin_site.PortalAdminConfig",  # django.contrib.admin, for Admins only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    "syncjobs",
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
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "ctportal.urls"
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
                "syncjobs.context.portal",
            ],
        },
    },
]
WSGI_APPLICATION = "ctportal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_secret("CTPORTAL_DATABASE_URL", f"sqlite:///{DATA_DIR / 'portal.sqlite3'}"),
        conn_max_age=env_int("CTPORTAL_DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL and a busy timeout let the web process and the worker share the embedded database.
    # IMMEDIATE transactions take the write lock when they begin, where the busy timeout waits for
    # it: a transaction that read first and wrote later would fail at once with "database is locked"
    # whenever another process had written in between (SQLite cannot wait for that upgrade).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files from the web process itself, with or without DEBUG.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing (before collectstatic)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "syncjobs:home"  # Home: what needs attention, and a guide on a fresh portal

# Sign-in: failed attempts lock one user name out from one address for a while (django-axes, in the
# database, so SQLite and PostgreSQL alike). API bearer tokens never pass through it.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("CTPORTAL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("CTPORTAL_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "ctportal.signin.locked_out"
AXES_CLIENT_IP_CALLABLE = "ctportal.signin.client_address"
AXES_VERBOSE = False  # no banner on every manage.py command; lockouts are still logged
# Proxies in front of the portal that append the address they saw to X-Forwarded-For.
CTPORTAL_PROXY_COUNT = env_int("CTPORTAL_PROXY_COUNT", 0)

# HTTPS (behind a TLS-terminating proxy): Secure cookies, HSTS, redirects to https.
if env_bool("CTPORTAL_HTTPS", False):
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the proxy's health probe may use plain http
    SECURE_HSTS_SECONDS = env_int("CTPORTAL_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CTPORTAL_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("CTPORTAL_HSTS_PRELOAD", True)
    # The header the proxy sets to say the client's request came over https; empty: no proxy.
    _proxy_header = env_str("CTPORTAL_PROXY_SSL_HEADER", "X-Forwarded-Proto")
    if _proxy_header:
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

# Mail, for password reset (offered only when CTPORTAL_EMAIL_HOST is set).
EMAIL_HOST = env_str("CTPORTAL_EMAIL_HOST", "")
EMAIL_PORT = env_int("CTPORTAL_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("CTPORTAL_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_secret("CTPORTAL_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("CTPORTAL_EMAIL_STARTTLS", True)
EMAIL_USE_SSL = env_bool("CTPORTAL_EMAIL_SSL", False)
DEFAULT_FROM_EMAIL = SERVER_EMAIL = env_str("CTPORTAL_EMAIL_FROM", "ctportal@localhost")

# Run pipeline runs inside the request that triggers them (tests, one-off scripts), not on a worker.
CTPORTAL_TASKS_INLINE = env_bool("CTPORTAL_TASKS_INLINE", False)
# A running run whose worker has been silent this long is failed (a worker heartbeats every
# CTPORTAL_HEARTBEAT_SECONDS from a background thread, also through long statements).
CTPORTAL_STALLED_RUN_SECONDS = env_int("CTPORTAL_STALLED_RUN_SECONDS", 120)
CTPORTAL_HEARTBEAT_SECONDS = env_int("CTPORTAL_HEARTBEAT_SECONDS", 2)
# Per run on a worker: tables of one ChangeTrackingCopy copied at once (an activity's batchCount may ask
# for fewer), and activities with no dependency between them run at once (as ADF does).
CTPORTAL_WORKER_TABLE_CONCURRENCY = env_int("CTPORTAL_WORKER_TABLE_CONCURRENCY", 4)
CTPORTAL_WORKER_ACTIVITY_CONCURRENCY = env_int("CTPORTAL_WORKER_ACTIVITY_CONCURRENCY", 4)
# A queued run whose task left the broker without starting it is handed over again after this long,
# and failed if no worker started it this long after its trigger.
CTPORTAL_QUEUED_RUN_SECONDS = env_int("CTPORTAL_QUEUED_RUN_SECONDS", 300)
CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS = env_int("CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS", 86400)
# Minutes between change-tracking cleanups of PostgreSQL and SQLite sources (retention, as SQL Server's).
CTPORTAL_CHANGE_TRACKING_CLEANUP_MINUTES = env_int("CTPORTAL_CHANGE_TRACKING_CLEANUP_MINUTES", 30)

# Alerts (services/alerts): a run in progress longer than this is an incident; a table failing raises
# its event again every N more failures; retention risk looks this many hours ahead.
CTPORTAL_ALERT_RUN_LONG_MINUTES = env_int("CTPORTAL_ALERT_RUN_LONG_MINUTES", 120)
CTPORTAL_ALERT_TABLE_FAILING_REPEAT = env_int("CTPORTAL_ALERT_TABLE_FAILING_REPEAT", 5)
CTPORTAL_ALERT_RETENTION_HORIZON_HOURS = env_int("CTPORTAL_ALERT_RETENTION_HORIZON_HOURS", 12)
# A table is late (an incident) after this many schedule intervals without a success.
CTPORTAL_ALERT_LATE_FACTOR = env_int("CTPORTAL_ALERT_LATE_FACTOR", 2)
# The first pass after an install reads this far back.
CTPORTAL_ALERT_LOOKBACK_HOURS = env_int("CTPORTAL_ALERT_LOOKBACK_HOURS", 24)
# Deliveries: attempts per event and channel, the first backoff in milliseconds (doubled each time), the HTTP timeout.
CTPORTAL_ALERT_ATTEMPTS = env_int("CTPORTAL_ALERT_ATTEMPTS", 4)
CTPORTAL_ALERT_BACKOFF_MS = env_int("CTPORTAL_ALERT_BACKOFF_MS", 2000)
CTPORTAL_ALERT_TIMEOUT_SECONDS = env_int("CTPORTAL_ALERT_TIMEOUT_SECONDS", 10)
# Webhooks and generic apprise URLs (json://, form://, xml://) are refused towards loopback, private and
# link-local addresses (cloud metadata) unless this is true: an Admin sets them, but the portal sends.
CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS = env_bool("CTPORTAL_ALERT_ALLOW_PRIVATE_TARGETS", False)

# Days of run history kept (0: forever); purged daily by the worker.
CTPORTAL_RUN_RETENTION_DAYS = env_int("CTPORTAL_RUN_RETENTION_DAYS", 0)

_REDIS_URL = env_secret("CTPORTAL_REDIS_URL", "")
Q_CLUSTER: dict[str, Any] = {
    # Workers sharing one Redis serve the queue of this name (a second portal on the same Redis: another name).
    "name": env_str("CTPORTAL_Q_CLUSTER_NAME", "ctportal"),
    "workers": env_int("CTPORTAL_WORKERS", 2),
    "timeout": env_int("CTPORTAL_TASK_TIMEOUT", 6 * 3600),
    "retry": env_int("CTPORTAL_TASK_TIMEOUT", 6 * 3600) + 600,  # django-q2 needs retry > timeout
    "max_attempts": 1,
    "poll": 0.2,
    "catch_up": False,
    "sync": CTPORTAL_TASKS_INLINE,
    **({"redis": _REDIS_URL} if _REDIS_URL else {"orm": "default"}),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("CTPORTAL_LOG_LEVEL", "INFO")},
}
