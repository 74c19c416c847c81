"""DispatchDesk settings, read from the environment (see docs/configuration.md)."""

import logging
import os
import re
import zoneinfo
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = (os.environ.get(name) or "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    # A typo must not turn a security setting (DJANGO_HTTPS) off without a word.
    raise ImproperlyConfigured(
        f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {value!r}."
    )


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_origins(name: str, *, wildcards: bool) -> list[str]:
    """Origins such as `https://desk.example.com`, as a browser sends them: a scheme, a host
    (lower case, ASCII) and a port only when it is not the scheme's own. With `wildcards` (CSRF),
    http or https, and the host may start with `*.`, which Django matches in any case; without
    (CORS), any scheme, as app shells send (`capacitor://localhost`), compared as written.
    Django's and corsheaders' checks would name the setting, not the variable, and run where
    checks run (`migrate`, not gunicorn); and some origins they let through never match."""
    origins = env_list(name)
    for origin in origins:
        if not origin_as_sent(origin, wildcards=wildcards):
            raise ImproperlyConfigured(
                f"{name} takes origins such as https://desk.example.com (a scheme, a host in "
                "lower case, a port only when not the scheme's own"
                f"{'; the host may start with *.' if wildcards else ''}), got {origin!r}."
            )
    return origins


def origin_as_sent(origin: str, *, wildcards: bool) -> bool:
    if wildcards and "://*." in origin:
        origin = origin.lower()  # Django lower-cases a pattern with a wildcard
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:  # a port that is no number, or beyond 65535; a broken IPv6 address
        return False
    host = parts.hostname or ""
    if wildcards and host.startswith("*."):
        host = host[2:]
    own_port = {"http": 80, "https": 443}.get(parts.scheme)
    any_scheme = not wildcards and re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme)
    return bool(
        (own_port or any_scheme)
        and host
        and "*" not in host
        and origin.isascii()
        and origin == origin.lower()
        and f"{parts.scheme}://{parts.netloc}" == origin
        and "@" not in parts.netloc
        and " " not in origin
        and not parts.netloc.endswith(":")
        and (port is None or (port not in (0, own_port) and parts.netloc.endswith(f":{port}")))
    )


def env_int(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    """An integer setting; `maximum` where a larger one would fail later, at a request (a
    lifetime beyond the dates Python has), rather than at the start."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bounds = f"of at least {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ImproperlyConfigured(f"{name} must be an integer {bounds}, got {value!r}.")
    return number


# Bounds of the lifetimes: far beyond any sensible value, well within the dates Python has.
MINUTES_A_YEAR, HOURS_A_YEAR, DAYS_IN_TEN_YEARS = 525_600, 8_760, 3_650


# DRF reads a rate as `count/period` and looks only at the period's first letter: `20/month`
# would be 20 a minute, and an unknown letter fails every request (500). The usual spellings of
# the four periods only (`5/s`, `100/min`, `1000/hours`...).
RATE = re.compile(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hr|hour|d|day)s?")


def env_rate(name: str, default: str) -> str | None:
    """A throttle rate such as `20/minute`; empty turns the throttle off (None)."""
    value = os.environ.get(name, default).strip()
    if not value:
        return None
    if not RATE.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name} must be a number of requests per second, minute, hour or day (such as "
            f"'20/minute' or '20/min'), or empty for no limit; got {value!r}."
        )
    return value


def env_float(name: str, default: float) -> float | None:
    """A positive number; `off` gives None (keep the server's own setting)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if value.lower() == "off":
        return None
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise ImproperlyConfigured(f"{name} must be a positive number or 'off', got {value!r}.")
    return number


def env_time_zone(name: str, default: str) -> str:
    """A time zone name of the IANA database, such as `Europe/Paris`."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # Django's own check names only the value; an empty one it lets through, and then
        # every request that shows a time fails (500).
        raise ImproperlyConfigured(
            f"{name} must be a time zone name such as 'UTC' or 'Europe/Paris', got {value!r}."
        ) from None
    return value


# Core
# Debug is off unless asked for: a deployment that forgets the variable stays safe.
DEBUG = env_bool("DJANGO_DEBUG", default=False)

DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-0123456789"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not SECRET_KEY and DEBUG:
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
elif not DEBUG and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure")
):
    # The same bar as Django's deploy check (security.W009), enforced at start-up.
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters, at least 5 "
        "of them different, not starting with 'django-insecure', when DJANGO_DEBUG is off. "
        "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_origins("DJANGO_CSRF_TRUSTED_ORIGINS", wildcards=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "django_fsm",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "dispatchdesk",
    "accounts",
    "tickets",
    "workorders",
]

MIDDLEWARE = [
    "dispatchdesk.health.ProbeMiddleware",  # first: probes skip the host check and the redirect
    "django.middleware.security.SecurityMiddleware",
    "dispatchdesk.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "dispatchdesk.urls"
WSGI_APPLICATION = "dispatchdesk.wsgi.application"

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
            ],
        },
    },
]

# Database
# SQLite is the zero-setup default; production runs PostgreSQL through DATABASE_URL.
if "DATABASE_URL" in os.environ and not os.environ["DATABASE_URL"].strip():
    # Set but empty is a mistake of the deployment, not a wish for SQLite.
    raise ImproperlyConfigured("DATABASE_URL is set but empty: give a URL, or unset it for SQLite.")
try:
    DATABASES = {
        "default": dj_database_url.config(
            default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
            conn_max_age=env_int("DJANGO_DB_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
except ValueError as error:
    # dj_database_url's errors (an unknown scheme, a port that is not a number) do not say where
    # the URL came from. Its messages never repeat the URL, and neither does this one: it may
    # hold a password.
    raise ImproperlyConfigured(
        f"DATABASE_URL cannot be used ({error}); give a URL such as "
        "postgres://user:password@host:5432/name, or unset it for SQLite."
    ) from None
database = DATABASES["default"]
if database["ENGINE"] not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
    # Another database Django knows (mysql://...) failed later, on a driver not installed.
    raise ImproperlyConfigured(
        "DATABASE_URL must name PostgreSQL (postgres://user:password@host:5432/name) or SQLite "
        "(sqlite:////path/db.sqlite3)."
    )
if database["ENGINE"] == "django.db.backends.sqlite3" and database["NAME"] in ("", ":memory:"):
    # `sqlite://db.sqlite3` (two slashes) or `sqlite://` is an in-memory database to
    # dj_database_url: migrated, then gone; every request would answer 503.
    raise ImproperlyConfigured(
        "DATABASE_URL names no SQLite file; write sqlite:////absolute/path/db.sqlite3 "
        "(three slashes, then the path), or unset it for db.sqlite3 here."
    )
if (
    database["ENGINE"] != "django.db.backends.sqlite3"
    and not database.get("NAME")
    and not database.get("OPTIONS", {}).get("service")  # named in pg_service.conf instead
):
    # Django would say so at the first query only, in every request (a 500), /readyz included.
    raise ImproperlyConfigured(
        "DATABASE_URL names no database; give a URL such as "
        "postgres://user:password@host:5432/name, or unset it for SQLite."
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with the health check skipped for a connection that just answered.
    DATABASES["default"]["ENGINE"] = "dispatchdesk.postgresql"
    # Fail fast instead of hanging when the database is unreachable.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "connect_timeout", env_int("DJANGO_DB_CONNECT_TIMEOUT", 5, minimum=1, maximum=3600)
    )
    # What the planner pays for reading a page out of order. PostgreSQL's default (4) prices a
    # spinning disk; 1.1 is the usual value for SSDs or data held in memory, and with it the
    # planner stops building a bitmap of every ticket of an agent's teams to combine with a
    # search or a filter (docs/benchmarks.md). Sent when connecting: no extra round trip.
    random_page_cost = env_float("DJANGO_DB_RANDOM_PAGE_COST", 1.1)
    if random_page_cost is not None:
        DATABASES["default"]["OPTIONS"].setdefault(
            "options", f"-c random_page_cost={random_page_cost}"
        )

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A transaction that reads, then writes (most of the services: they lock, check, write)
    # fails at once with "database is locked" when another writes meanwhile, in SQLite's default
    # mode: SQLite cannot let both go on. Taking the write lock at the start instead, the second
    # waits for the first (up to the `timeout` option, 5 s), as PostgreSQL's row locks wait.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("transaction_mode", "IMMEDIATE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Authentication
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        # Django's default names username, first_name and last_name: not this user model's.
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
LOGIN_URL = "rest_framework:login"
LOGIN_REDIRECT_URL = "/api/v1/"

# Internationalization
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_time_zone("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files (served by whitenoise)
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# In development whitenoise serves straight from the apps' static folders.
WHITENOISE_AUTOREFRESH = DEBUG

# Caches. `default` is the process's own memory: the per-user and per-IP request throttles count
# there, at no cost per request, and each worker counts for itself. `shared` is a table that every
# worker and server reads (created by a migration): login attempts count there, so that adding
# workers adds no guesses (accounts/throttling.py).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "dispatchdesk_cache",
    },
}

# REST framework
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["dispatchdesk.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "dispatchdesk.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["dispatchdesk.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "dispatchdesk.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "dispatchdesk.schema.AutoSchema",
    "EXCEPTION_HANDLER": "dispatchdesk.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Counters live in the cache (per process with the default local-memory cache).
    # An empty rate turns that throttle off (e.g. for load tests).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "login": env_rate("DJANGO_LOGIN_THROTTLE_RATE", "20/minute"),
        "anon": env_rate("DJANGO_ANON_THROTTLE_RATE", "120/minute"),
        "user": env_rate("DJANGO_USER_THROTTLE_RATE", "1200/minute"),
    },
    # Which address the per-IP throttles count: with 0 the connection's own, and `X-Forwarded-For`
    # is ignored (left unset, DRF would take the whole header, which any client can make up to
    # get a fresh budget each time). Behind N proxies, the N-th address from the right: the one
    # the outermost trusted proxy appended.
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", 0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        minutes=env_int("JWT_ACCESS_TOKEN_MINUTES", 15, minimum=1, maximum=MINUTES_A_YEAR)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        days=env_int("JWT_REFRESH_TOKEN_DAYS", 7, minimum=1, maximum=DAYS_IN_TEN_YEARS)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry a digest of the password hash: a new password ends every session at once.
    "CHECK_REVOKE_TOKEN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
# How long a worker keeps the user row it read for an access token (0: read it every request).
JWT_USER_CACHE_SECONDS = env_int("JWT_USER_CACHE_SECONDS", 5)

SPECTACULAR_SETTINGS = {
    "TITLE": "DispatchDesk API",
    "DESCRIPTION": (
        "Lightweight ticketing and work orders. Authenticate with `POST /api/v1/auth/token/` "
        "and send `Authorization: Bearer <access>`. Every error has the same shape: "
        "`{status, code, detail, fields}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "GET_LIB_DOC_EXCLUDES": "dispatchdesk.schema.classes_whose_docstrings_are_not_api_docs",
}

# Tickets and work orders
# Hours until new work is due, by priority, when no due date is given.
DUE_HOURS = {
    "urgent": env_int("DUE_HOURS_URGENT", 4, minimum=1, maximum=10 * HOURS_A_YEAR),
    "high": env_int("DUE_HOURS_HIGH", 24, minimum=1, maximum=10 * HOURS_A_YEAR),
    "normal": env_int("DUE_HOURS_NORMAL", 72, minimum=1, maximum=10 * HOURS_A_YEAR),
    "low": env_int("DUE_HOURS_LOW", 168, minimum=1, maximum=10 * HOURS_A_YEAR),
}
# How long a create's Idempotency-Key is remembered.
IDEMPOTENCY_KEY_HOURS = env_int("IDEMPOTENCY_KEY_HOURS", 24, minimum=1, maximum=HOURS_A_YEAR)

# Security
# With DEBUG off the app assumes TLS in front of it; DJANGO_HTTPS=0 is for plain-HTTP setups.
HTTPS = env_bool("DJANGO_HTTPS", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Requests with a larger body are refused with 413 before anything reads them.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024)

# Cross-origin requests: none unless origins are configured.
CORS_ALLOWED_ORIGINS = env_origins("DJANGO_CORS_ALLOWED_ORIGINS", wildcards=False)
CORS_URLS_REGEX = r"^/api/.*$"

# Logging: everything to standard error, where containers and gunicorn collect it.
LOG_LEVEL = os.environ.get("DJANGO_LOG_LEVEL", "INFO").strip().upper() or "INFO"
level_numbers = logging.getLevelNamesMapping()
if LOG_LEVEL not in level_numbers:
    # Every name that is accepted, from the same mapping, so that the message cannot drift.
    names = ", ".join(sorted(level_numbers, key=level_numbers.get))
    raise ImproperlyConfigured(
        f"DJANGO_LOG_LEVEL must be a level name of Python's logging ({names}; in any case), "
        f"got {LOG_LEVEL!r}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"without_traceback": {"()": "dispatchdesk.logfilters.WithoutTraceback"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "console_one_line": {"class": "logging.StreamHandler", "filters": ["without_traceback"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's defaults give its loggers handlers of their own (a console one when DEBUG is on)
    # and the level INFO: each record would be written twice, and DJANGO_LOG_LEVEL would not
    # reach them. They go through the root logger alone (runserver's `django.server` keeps its
    # own format).
    "loggers": {
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # Requests refused as suspicious (another host, a bad session): one line each.
        "django.security": {"handlers": ["console_one_line"], "propagate": False},
    },
}
