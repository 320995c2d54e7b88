"""One settings module, configured from the environment (12-factor).

With nothing set, the app runs embedded: SQLite under ./var and Celery tasks executed in
process. Set DATABASE_URL (postgres://...) and CELERY_BROKER_URL (redis://...) for the
production shape.
"""
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ELN_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# --- Security (README "Production settings") ---------------------------------------------------
# DJANGO_PRODUCTION=1 (docker-compose sets it) turns on everything a site served over HTTPS
# needs; each setting can still be changed on its own. Without it (the embedded demo, the test
# suite) the site works over plain http.
PRODUCTION = env_bool("DJANGO_PRODUCTION", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set: the production settings (DJANGO_PRODUCTION=1) do not start on a "
            "built-in key, which would let anyone who read it forge sessions. Set DJANGO_SECRET_KEY to a long "
            "random string, e.g. the output of: python -c \"import secrets; print(secrets.token_urlsafe(50))\"")
    SECRET_KEY = "insecure-embedded-default-change-me"  # the embedded demo and the tests only
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", str(365 * 24 * 3600 if PRODUCTION else 0)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", PRODUCTION)
# The header a trusted reverse proxy sets to the scheme the browser used (e.g. X-Forwarded-Proto);
# only behind a proxy that always sets it, else a client could claim https.
_proxy_header = os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https") if _proxy_header else None
# How many proxies append to X-Forwarded-For before the app: the login lockout and the throttles
# count the client's address, not the proxy's (0: the address the connection comes from).
ELN_NUM_PROXIES = int(os.environ.get("ELN_NUM_PROXIES", "0"))
# Preloading into browsers is a commitment of the whole domain each lab makes on its own
# (DJANGO_SECURE_HSTS_PRELOAD=1); the deploy check's reminder about it is left out.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD or not SECURE_HSTS_SECONDS else ["security.W021"]
# The content security policy of every page (eln.security.csp): scripts and styles only from the
# site's own static files, never inline. A response may set a stricter one (attachments).
ELN_CONTENT_SECURITY_POLICY = os.environ.get("ELN_CONTENT_SECURITY_POLICY", "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "object-src 'none'", "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
]))
# Logins (the login page and POST /api/v1/auth/token/): this many failures for one username or
# from one address within the window lock further attempts out until the window has passed.
ELN_LOGIN_FAILURES_LIMIT = int(os.environ.get("ELN_LOGIN_FAILURES_LIMIT", "10"))
ELN_LOGIN_FAILURES_WINDOW_MINUTES = int(os.environ.get("ELN_LOGIN_FAILURES_WINDOW_MINUTES", "15"))
# API tokens expire after this many days unless made with a shorter life.
ELN_API_TOKEN_DAYS = int(os.environ.get("ELN_API_TOKEN_DAYS", "90"))
AUTHENTICATION_BACKENDS = ["eln.security.backends.LockoutModelBackend"]
# The throttles count in the cache: one per process by default, shared by every web process
# with ELN_CACHE_URL (redis://…, docker-compose sets it).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["ELN_CACHE_URL"]}
          if os.environ.get("ELN_CACHE_URL") else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# ------------------------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "eln",
    "samples",
    "cells",
    "analysis",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "eln.security.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "eln.urls"
WSGI_APPLICATION = "eln.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "eln.context_processors.site",
            ],
        },
    },
]

if not os.environ.get("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded database lives here
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'eln.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("ELN_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("ELN_STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("ELN_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    # Local folder by default; S3-compatible storage is a matter of configuration (README).
    "default": {"BACKEND": os.environ.get("ELN_FILE_STORAGE", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
# The web pages' libraries come from npm (package.json, installed by the setup command into
# node_modules) and are served as the project's own static files under static/vendor/.
NODE_MODULES_DIR = Path(os.environ.get("ELN_NODE_MODULES", BASE_DIR / "node_modules"))
STATICFILES_DIRS = [
    ("vendor/htmx", NODE_MODULES_DIR / "htmx.org" / "dist"),
    ("vendor/uplot", NODE_MODULES_DIR / "uplot" / "dist"),
    ("vendor/cytoscape", NODE_MODULES_DIR / "cytoscape" / "dist"),
]

# Largest file attached to a notebook entry, in bytes.
ELN_NOTEBOOK_ATTACHMENT_MAX_BYTES = int(os.environ.get("ELN_NOTEBOOK_ATTACHMENT_MAX_BYTES", str(50 * 1024**2)))
# The address printed in the labels' QR codes (e.g. https://eln.lab.example); empty: the
# address the labels page was opened at.
ELN_SITE_URL = os.environ.get("ELN_SITE_URL", "")
# Largest raw cycler file accepted by the upload API, in bytes.
ELN_UPLOAD_MAX_BYTES = int(os.environ.get("ELN_UPLOAD_MAX_BYTES", str(2 * 1024**3)))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "eln.security.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Scoped rates: "login" is POST /api/v1/auth/token/ (per client address).
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("ELN_THROTTLE_LOGIN", "20/minute")},
    "NUM_PROXIES": ELN_NUM_PROXIES,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "eln.api.pagination.LabPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "eln.api.schema.LabAutoSchema",
    "EXCEPTION_HANDLER": "eln.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "closo-eln API",
    "DESCRIPTION": "Records of the lab's process chain, from precursor lot to cycled cell.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# Celery: with no broker configured, tasks run in process (embedded default).
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Ingestion: nothing stuck. A task is acknowledged once it has run (CELERY_TASK_ACKS_LATE), so a
# worker that dies mid-ingestion leaves its task in Redis, which gives it out again after the
# visibility timeout: keep that longer than the longest ingestion. Beat's sweep, every
# ELN_SWEEP_EVERY_SECONDS, queues again each dataset "queued", "running" or "waiting for the
# queue" that has shown no progress for ELN_STUCK_AFTER_SECONDS and that no worker holds.
ELN_BROKER_VISIBILITY_TIMEOUT_SECONDS = int(os.environ.get("ELN_BROKER_VISIBILITY_TIMEOUT_SECONDS", "3600"))
ELN_STUCK_AFTER_SECONDS = int(os.environ.get("ELN_STUCK_AFTER_SECONDS", "600"))
ELN_SWEEP_EVERY_SECONDS = int(os.environ.get("ELN_SWEEP_EVERY_SECONDS", "60"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": ELN_BROKER_VISIBILITY_TIMEOUT_SECONDS,
    "socket_connect_timeout": 5,  # an upload waits seconds, not minutes, for a broker that is away
}
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}

# Beat looks for running tests that sent no new data every ELN_WATCH_EVERY_SECONDS (the limit
# itself is each project's alert rule).
ELN_WATCH_EVERY_SECONDS = int(os.environ.get("ELN_WATCH_EVERY_SECONDS", "600"))
CELERY_BEAT_SCHEDULE = {
    "watch-silent-runs": {
        "task": "analysis.tasks.watch_silent_runs",
        "schedule": ELN_WATCH_EVERY_SECONDS,
        "options": {"expires": ELN_WATCH_EVERY_SECONDS},  # no pile of looks after an outage
    },
    "requeue-stuck-datasets": {
        "task": "analysis.tasks.requeue_stuck_datasets",
        "schedule": ELN_SWEEP_EVERY_SECONDS,
        "options": {"expires": ELN_SWEEP_EVERY_SECONDS},
    },
}

# Every project member logs in on the site's own page; the admin stays for staff.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# The web pages: the page of a record by its label's prefix (labels link to it wherever they
# are shown), the lineage selector, and the dashboard's panels in order (functions of user
# and project).
ELN_RECORD_PAGES = {
    "LOT": "samples:lot-detail",
    "EB": "samples:batch-detail",
    "IS": "samples:solution-detail",
    "ES": "samples:sheet-detail",
    "EL": "samples:electrode-detail",
    "IR": "samples:infiltration-detail",
    "AL": "samples:alloy-detail",
    "CELL": "cells:cell-detail",
    "PR": "cells:protocol-detail",
    "RUN": "cells:run-detail",
    "DS": "analysis:dataset-detail",
    "NB": "notebook:entry-detail",
}
ELN_LINEAGE = "cells.selectors.record_lineage"
ELN_DASHBOARD_PANELS = [
    "analysis.alerts.views.alerts_panel",
    "cells.views.running_tests_panel",
    "cells.views.failed_datasets_panel",
    "samples.views.low_stock_panel",
    "cells.views.recent_cells_panel",
    "samples.views.recent_lots_panel",
    "eln.notebook.views.recent_entries_panel",
]
# Sections other apps add to a record's page ({% record_sections record %}), in order:
# functions of (request, record) returning an eln.record_sections.Section or None.
ELN_RECORD_SECTIONS = [
    "analysis.plot_pages.plots_section",
    "analysis.electrode_pages.diagnosis_section",
    "analysis.alerts.views.alerts_section",
    "eln.notebook.views.entries_section",
    "eln.labels.label_section",
]

# A revert from the history would write a record around its service (its rules and its
# stock); history is read, changes go through the record's page.
SIMPLE_HISTORY_REVERT_DISABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ELN_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
