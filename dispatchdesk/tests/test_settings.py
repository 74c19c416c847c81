import logging
import re

import pytest
from django.db import connection

from .conftest import SECRET_KEY, run_manage, run_python, settings_in_process


def test_debug_is_off_unless_asked_for():
    values = settings_in_process("DEBUG", DJANGO_SECRET_KEY=SECRET_KEY)

    assert values["DEBUG"] is False


@pytest.mark.parametrize(
    "secret_key",
    [None, "", "too-short", "django-insecure-" + "x" * 60, "a" * 60],
    ids=["missing", "empty", "short", "django-insecure", "one-character"],
)
def test_production_refuses_to_start_without_a_real_secret_key(secret_key):
    env = {"DJANGO_DEBUG": "0"}
    if secret_key is not None:
        env["DJANGO_SECRET_KEY"] = secret_key

    result = run_manage("check", **env)

    assert result.returncode != 0
    # Every rule named: a key copied from `startproject` is long enough, and was told only that.
    assert (
        "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters, at least 5 "
        "of them different, not starting with 'django-insecure'"
    ) in result.stderr


def test_deploy_check_is_clean_in_production(production_env):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **production_env)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_turns_on_tls_settings(production_env):
    values = settings_in_process(
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
        "ALLOWED_HOSTS",
        **production_env,
    )

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["ALLOWED_HOSTS"] == ["dispatch.example.com"]


def test_plain_http_production_turns_tls_settings_off(production_env):
    values = settings_in_process(
        "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", **production_env, DJANGO_HTTPS="0"
    )

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False


def test_sqlite_is_the_default_database():
    values = settings_in_process("DATABASES", DJANGO_DEBUG="1")

    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DATABASES"]["default"]["NAME"].endswith("db.sqlite3")


def test_sqlite_transactions_that_write_at_once_wait_for_each_other(tmp_path):
    """Two transactions that read, then write (as the services do: a ticket's team held, then
    the ticket written) failed one of them at once with "database is locked" on SQLite, which
    the API answers with a 503: two tickets filed at the same moment in development."""
    code = """
import threading, time
from django.db import OperationalError, connection, transaction

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE queue (n integer)")
connection.close()
errors, barrier = [], threading.Barrier(2)

def write(n):
    try:
        barrier.wait()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM queue")
            time.sleep(0.3)
            cursor.execute("INSERT INTO queue VALUES (%s)", [n])
    except OperationalError as exc:
        errors.append(str(exc))
    finally:
        connection.close()

threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM queue")
    print(errors, cursor.fetchone()[0])
"""
    result = run_python(code, DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "2"]


def test_database_url_selects_postgresql_with_persistent_checked_connections():
    values = settings_in_process(
        "DATABASES",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://app:pw@db.internal:6543/dispatch",
        DJANGO_DB_CONN_MAX_AGE="120",
    )

    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "dispatchdesk.postgresql"
    assert (database["HOST"], database["PORT"], database["NAME"]) == (
        "db.internal",
        6543,
        "dispatch",
    )
    assert database["CONN_MAX_AGE"] == 120
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"]["connect_timeout"] == 5
    assert database["OPTIONS"]["options"] == "-c random_page_cost=1.1"


@pytest.mark.parametrize(
    ("value", "options"),
    [("2", "-c random_page_cost=2.0"), (" 1.5 ", "-c random_page_cost=1.5"), ("off", None)],
)
def test_the_planners_random_page_cost_comes_from_the_environment(value, options):
    values = settings_in_process(
        "DATABASES",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://app:pw@db.internal:6543/dispatch",
        DJANGO_DB_RANDOM_PAGE_COST=value,
    )

    assert values["DATABASES"]["default"]["OPTIONS"].get("options") == options


def test_options_given_in_the_database_url_are_kept():
    values = settings_in_process(
        "DATABASES",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://app:pw@db.internal/dispatch?options=-c%20work_mem%3D8MB",
    )

    assert values["DATABASES"]["default"]["OPTIONS"]["options"] == "-c work_mem=8MB"


@pytest.mark.django_db
def test_postgresql_connections_plan_with_the_configured_random_page_cost():
    if connection.vendor != "postgresql":
        pytest.skip("a setting of PostgreSQL's planner, sent when connecting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        (value,) = cursor.fetchone()

    assert value == "1.1"


@pytest.mark.parametrize("value", ["fast", "0", "-1", "nan", "inf"])
def test_a_malformed_random_page_cost_is_a_clear_error(value):
    result = run_manage(
        "check",
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://app:pw@db.internal/dispatch",
        DJANGO_DB_RANDOM_PAGE_COST=value,
    )

    assert result.returncode != 0
    assert "DJANGO_DB_RANDOM_PAGE_COST must be a positive number or 'off'" in result.stderr


def test_jwt_lifetimes_and_throttle_come_from_the_environment():
    code = (
        "from django.conf import settings\n"
        "jwt = settings.SIMPLE_JWT\n"
        "print(jwt['ACCESS_TOKEN_LIFETIME'].seconds, jwt['REFRESH_TOKEN_LIFETIME'].days,"
        " settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['login'])"
    )

    result = run_python(
        code,
        DJANGO_DEBUG="1",
        JWT_ACCESS_TOKEN_MINUTES="5",
        JWT_REFRESH_TOKEN_DAYS="2",
        DJANGO_LOGIN_THROTTLE_RATE="7/minute",
    )

    assert result.stdout.split() == ["300", "2", "7/minute"]


def test_the_number_of_proxies_comes_from_the_environment():
    default = settings_in_process("REST_FRAMEWORK", DJANGO_DEBUG="1")
    behind_two = settings_in_process("REST_FRAMEWORK", DJANGO_DEBUG="1", DJANGO_NUM_PROXIES="2")

    assert default["REST_FRAMEWORK"]["NUM_PROXIES"] == 0
    assert behind_two["REST_FRAMEWORK"]["NUM_PROXIES"] == 2


def test_a_malformed_integer_setting_is_a_clear_error():
    result = run_manage("check", DJANGO_DEBUG="1", DJANGO_DB_CONN_MAX_AGE="soon")

    assert result.returncode != 0
    assert "DJANGO_DB_CONN_MAX_AGE must be an integer of at least 0, got 'soon'." in result.stderr


POSTGRESQL_URL = "postgres://app:pw@db.internal/dispatch"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # Each of these started, then failed every request, or silently did something else.
        (
            {"DJANGO_MAX_REQUEST_BYTES": "-1"},
            "DJANGO_MAX_REQUEST_BYTES must be an integer of at least 1024, got '-1'.",
        ),
        (
            {"JWT_ACCESS_TOKEN_MINUTES": "-5"},
            "JWT_ACCESS_TOKEN_MINUTES must be an integer from 1 to 525600, got '-5'.",
        ),
        (
            {"DJANGO_NUM_PROXIES": "-1"},
            "DJANGO_NUM_PROXIES must be an integer of at least 0, got '-1'.",
        ),
        (
            {"DATABASE_URL": POSTGRESQL_URL, "DJANGO_DB_CONNECT_TIMEOUT": "0"},
            "DJANGO_DB_CONNECT_TIMEOUT must be an integer from 1 to 3600, got '0'.",
        ),
        ({"DUE_HOURS_URGENT": "0"}, "DUE_HOURS_URGENT must be an integer from 1 to 87600"),
        # Beyond the dates Python has: every low-priority ticket silently got no due date.
        ({"DUE_HOURS_LOW": "100000000"}, "DUE_HOURS_LOW must be an integer from 1 to 87600"),
        # Two slashes, or none after them: a database in memory, migrated and gone (every
        # request a 503).
        ({"DATABASE_URL": "sqlite://db.sqlite3"}, "DATABASE_URL names no SQLite file"),
        ({"DATABASE_URL": "sqlite://"}, "DATABASE_URL names no SQLite file"),
        # A driver not installed: an error that named no variable.
        ({"DATABASE_URL": "mysql://app@db/desk"}, "DATABASE_URL must name PostgreSQL"),
        # Caught by Django's checks only where they run (not gunicorn), naming the setting.
        (
            {"DJANGO_CSRF_TRUSTED_ORIGINS": "desk.example.com"},
            "DJANGO_CSRF_TRUSTED_ORIGINS takes origins such as https://desk.example.com",
        ),
        (
            {"DJANGO_CORS_ALLOWED_ORIGINS": "https://app.example.com/path"},
            "DJANGO_CORS_ALLOWED_ORIGINS takes origins such as https://desk.example.com",
        ),
        # Origins that started and never matched a browser's.
        *(
            ({name: origin}, f"{name} takes origins such as https://desk.example.com")
            for name in ("DJANGO_CSRF_TRUSTED_ORIGINS", "DJANGO_CORS_ALLOWED_ORIGINS")
            for origin in (
                "https://user:pw@desk.example.com",
                "https://desk.example.com:abc",
                "https://a b",
                "https://desk.example.com?x=1",
                "https://desk.example.com#f",
                # What a browser never sends: capitals, its scheme's own port, a leading zero.
                "https://Desk.Example.com",
                "https://desk.example.com:443",
                "https://desk.example.com:08443",
                "https://x.*.example.com",
                "http://[::1",  # was a traceback naming no variable
            )
        ),
        # corsheaders compares origins as they are: a wildcard matches nothing there.
        (
            {"DJANGO_CORS_ALLOWED_ORIGINS": "https://*.example.com"},
            "DJANGO_CORS_ALLOWED_ORIGINS takes origins such as https://desk.example.com",
        ),
        # Larger lifetimes passed the start and failed every login or keyed create (a 500).
        ({"JWT_REFRESH_TOKEN_DAYS": "5000000"}, "JWT_REFRESH_TOKEN_DAYS must be an integer from"),
        (
            {"JWT_ACCESS_TOKEN_MINUTES": "10000000000000"},
            "JWT_ACCESS_TOKEN_MINUTES must be an integer from 1 to 525600",
        ),
        ({"IDEMPOTENCY_KEY_HOURS": "100000000"}, "IDEMPOTENCY_KEY_HOURS must be an integer from"),
        # No database name passed the start; every request, /readyz too, was then a 500.
        ({"DATABASE_URL": "postgres://app@db.internal:5432"}, "DATABASE_URL names no database"),
        ({"DJANGO_LOGIN_THROTTLE_RATE": "lots"}, "DJANGO_LOGIN_THROTTLE_RATE must be a number"),
        ({"DJANGO_USER_THROTTLE_RATE": "20/month"}, "DJANGO_USER_THROTTLE_RATE must be a number"),
        ({"DJANGO_USER_THROTTLE_RATE": "20/Minute"}, "DJANGO_USER_THROTTLE_RATE must be a number"),
        ({"DJANGO_ANON_THROTTLE_RATE": "0/minute"}, "DJANGO_ANON_THROTTLE_RATE must be a number"),
        ({"DJANGO_HTTPS": "enabled"}, "DJANGO_HTTPS must be 1 or 0"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is set but empty"),
        ({"DATABASE_URL": "foo"}, "DATABASE_URL cannot be used"),
        (
            {"DJANGO_TIME_ZONE": "Mars/Base"},
            "DJANGO_TIME_ZONE must be a time zone name such as 'UTC' or 'Europe/Paris', "
            "got 'Mars/Base'.",
        ),
        ({"DJANGO_LOG_LEVEL": "loud"}, "DJANGO_LOG_LEVEL must be a level name of Python's"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)
def test_a_setting_out_of_its_range_stops_the_start_with_a_clear_error(env, message):
    result = run_manage("check", DJANGO_DEBUG="1", **env)

    assert result.returncode != 0
    assert message in result.stderr


def test_a_database_url_it_cannot_read_is_named_without_repeating_its_password():
    result = run_manage(
        "check", DJANGO_DEBUG="1", DATABASE_URL="postgres://app:s3cret@db.internal:port/dispatch"
    )

    assert result.returncode != 0
    assert "DATABASE_URL cannot be used" in result.stderr
    assert "s3cret" not in result.stderr


def test_the_time_zone_is_utc_when_empty_and_read_without_surrounding_spaces():
    empty = settings_in_process("TIME_ZONE", DJANGO_DEBUG="1", DJANGO_TIME_ZONE="")
    spaced = settings_in_process("TIME_ZONE", DJANGO_DEBUG="1", DJANGO_TIME_ZONE=" Europe/Paris ")

    assert empty["TIME_ZONE"] == "UTC"
    assert spaced["TIME_ZONE"] == "Europe/Paris"


def test_the_log_level_error_lists_every_level_name_it_accepts():
    result = run_manage("check", DJANGO_DEBUG="1", DJANGO_LOG_LEVEL="loud")

    listed = re.search(r"Python's logging \(([A-Z, ]+);", result.stderr)
    assert listed, result.stderr
    assert set(listed.group(1).split(", ")) == set(logging.getLevelNamesMapping())


def test_settings_read_as_written_in_any_case_and_whole_words():
    values = settings_in_process(
        "LOGGING",
        "REST_FRAMEWORK",
        DJANGO_DEBUG="1",
        DJANGO_LOG_LEVEL="warn",
        DJANGO_LOGIN_THROTTLE_RATE="5/hour",
        DJANGO_ANON_THROTTLE_RATE="",
        DJANGO_USER_THROTTLE_RATE="100/min",
    )

    assert values["LOGGING"]["root"]["level"] == "WARN"
    rates = values["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"]
    assert (rates["login"], rates["anon"], rates["user"]) == ("5/hour", None, "100/min")


@pytest.mark.parametrize("debug", ["1", "0"])
def test_a_log_line_of_django_is_written_once(debug):
    # Django's own logging sends its loggers' records to a console handler of theirs when
    # DEBUG is on; ours, on the root logger, wrote each of them a second time.
    env = {"DJANGO_DEBUG": debug}
    if debug == "0":
        env |= {"DJANGO_SECRET_KEY": SECRET_KEY, "DJANGO_ALLOWED_HOSTS": "localhost"}
    code = (
        "import logging\n"
        "logging.getLogger('django.request').warning('Not Found: /nowhere')\n"
        "logging.getLogger('tickets').warning('ours')\n"
    )
    result = run_python(code, **env)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Not Found: /nowhere") == 1, result.stderr
    assert result.stderr.count("ours") == 1, result.stderr


def test_the_log_level_applies_to_django_own_loggers_too():
    code = "import logging\nlogging.getLogger('django.db.backends').debug('a query')\n"

    result = run_python(code, DJANGO_DEBUG="1", DJANGO_LOG_LEVEL="DEBUG")

    assert result.returncode == 0, result.stderr
    assert "a query" in result.stderr


def test_a_request_for_another_host_is_one_log_line_not_a_traceback():
    """Any scanner sends them: each wrote about 15 lines to the production log."""
    code = (
        "import logging\n"
        "from django.core.exceptions import DisallowedHost\n"
        "try:\n"
        "    raise DisallowedHost('Invalid HTTP_HOST header: scanner.invalid')\n"
        "except DisallowedHost as exc:\n"
        "    logging.getLogger('django.security.DisallowedHost').error(str(exc), exc_info=exc)\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError as exc:\n"
        "    logging.getLogger('django.request').error('Internal Server Error', exc_info=exc)\n"
    )
    env = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": SECRET_KEY, "DJANGO_ALLOWED_HOSTS": "x"}

    result = run_python(code, **env)

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("Invalid HTTP_HOST header: scanner.invalid") == 1
    # A real error keeps its traceback: that one is needed.
    assert result.stderr.count("Traceback") == 1
    assert "ZeroDivisionError" in result.stderr


def test_a_postgresql_service_name_is_a_database_named():
    """`postgres:///?service=…`: the connection is named in pg_service.conf, as libpq allows."""
    found = settings_in_process(
        "DATABASES", DJANGO_DEBUG="1", DATABASE_URL="postgres:///?service=desk"
    )

    assert found["DATABASES"]["default"]["OPTIONS"]["service"] == "desk"


@pytest.mark.parametrize(
    ("name", "origins"),
    [
        ("DJANGO_CSRF_TRUSTED_ORIGINS", "https://*.example.com,http://[::1]:8000,https://a.b:8443"),
        ("DJANGO_CORS_ALLOWED_ORIGINS", "https://app.example.com,http://localhost:3000"),
        # Django matches a wildcard in any case; app shells send schemes of their own.
        ("DJANGO_CSRF_TRUSTED_ORIGINS", "https://*.Example.com"),
        ("DJANGO_CORS_ALLOWED_ORIGINS", "capacitor://localhost,chrome-extension://abcdef"),
    ],
)
def test_origins_a_browser_sends_start(name, origins):
    result = run_manage("check", DJANGO_DEBUG="1", **{name: origins})

    assert result.returncode == 0, result.stderr
