"""ctportal settings: everything from the environment, with embedded defaults (see .env.example)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from ctportal.envvars import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("CTPORTAL_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("CTPORTAL_DEBUG", False)
# The embedded default key is for a local portal only; production sets CTPORTAL_SECRET_KEY.
SECRET_KEY = env_secret("CTPORTAL_SECRET_KEY", "ctportal-local-development-key-change-me-in-production")
# Encrypts secrets stored in linked services; derived from SECRET_KEY when not set.
FIELD_ENCRYPTION_KEY = env_secret("CTPORTAL_FIELD_ENCRYPTION_KEY", "") or None
ALLOWED_HOSTS = env_list("CTPORTAL_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CTPORTAL_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
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
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
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
LOGIN_REDIRECT_URL = "syncjobs:monitor"

# Run pipeline runs inside the request that triggers them (tests, one-off scripts), not on a worker.
CTPORTAL_TASKS_INLINE = env_bool("CTPORTAL_TASKS_INLINE", False)
# A running run whose worker has been silent this long is failed (a worker heartbeats every
# CTPORTAL_HEARTBEAT_SECONDS from a background thread, also through long statements).
CTPORTAL_STALLED_RUN_SECONDS = env_int("CTPORTAL_STALLED_RUN_SECONDS", 120)
CTPORTAL_HEARTBEAT_SECONDS = env_int("CTPORTAL_HEARTBEAT_SECONDS", 2)
# A queued run whose task left the broker without starting it is handed over again after this long,
# and failed if no worker started it this long after its trigger.
CTPORTAL_QUEUED_RUN_SECONDS = env_int("CTPORTAL_QUEUED_RUN_SECONDS", 300)
CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS = env_int("CTPORTAL_QUEUED_RUN_TIMEOUT_SECONDS", 86400)
# Minutes between change-tracking cleanups of PostgreSQL and SQLite sources (retention, as SQL Server's).
CTPORTAL_CHANGE_TRACKING_CLEANUP_MINUTES = env_int("CTPORTAL_CHANGE_TRACKING_CLEANUP_MINUTES", 30)

# Days of run history kept (0: forever); purged daily by the worker.
CTPORTAL_RUN_RETENTION_DAYS = env_int("CTPORTAL_RUN_RETENTION_DAYS", 0)

_REDIS_URL = env_secret("CTPORTAL_REDIS_URL", "")
Q_CLUSTER = {
    "name": "ctportal",
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
