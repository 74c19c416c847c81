"""The PostgreSQL backend skips Django's connection health check only for a connection that
answered a moment ago (dispatchdesk/postgresql/base.py)."""

import datetime

import psycopg
import pytest
from django.db import OperationalError, connection, connections
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.test import override_settings
from psycopg._cmodule import _psycopg as psycopg_c
from psycopg.postgres import types
from psycopg.pq import Format

from dispatchdesk.postgresql import base as backend

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="a backend for PostgreSQL connections"
    ),
    pytest.mark.django_db(transaction=True),  # the connection is dropped from outside
]


@pytest.fixture
def clock(fake_clock):
    return fake_clock(backend)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def drop_from_the_server(pid: int) -> None:
    """What a server restart or an idle timeout does to a connection."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def a_request_ends_then_the_next_starts():
    connection.close_if_unusable_or_obsolete()
    connection.close_if_unusable_or_obsolete()


def test_the_backend_is_in_use():
    assert isinstance(connections["default"], backend.DatabaseWrapper)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True


def test_an_idle_connection_is_checked_and_replaced(clock):
    pid = backend_pid()
    a_request_ends_then_the_next_starts()
    drop_from_the_server(pid)

    clock.now += backend.RECENT_SECONDS
    assert backend_pid() != pid  # replaced before the request's first query, which works


def test_a_connection_that_just_answered_is_not_checked(clock):
    pid = backend_pid()
    a_request_ends_then_the_next_starts()
    drop_from_the_server(pid)

    clock.now += backend.RECENT_SECONDS / 2
    # No health check: the request's query meets the dropped connection (the API answers 503).
    with pytest.raises(OperationalError):
        backend_pid()
    # When that request ends, Django finds the connection broken and closes it.
    a_request_ends_then_the_next_starts()
    assert backend_pid() != pid


TIMES = [
    "2026-11-26 10:41:23.123456+00",
    "2026-11-26 10:41:23+00",
    "2026-03-29 01:30:00.5+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def read_times(cursor) -> list:
    cursor.execute(
        "SELECT t::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, n) ORDER BY n",
        [TIMES],
    )
    return [row[0] for row in cursor.fetchall()]


def timestamptz_loader(cursor):
    return cursor.cursor.adapters.get_loader(types["timestamptz"].oid, Format.TEXT)


def test_time_stamps_are_read_by_psycopgs_own_loader():
    with connection.cursor() as cursor:
        loader = timestamptz_loader(cursor)
        times = read_times(cursor)
    assert loader.__name__ == "TimestamptzLoader"
    if psycopg_c is not None:
        assert loader is psycopg_c.TimestamptzLoader  # the compiled one
    # What Django's own loader gives, value for value and time zone for time zone.
    with connection.cursor() as cursor:
        register_tzloader(connection.timezone, cursor.cursor)
        assert timestamptz_loader(cursor).__name__ == "SpecificTzLoader"
        assert read_times(cursor) == times
    assert [t.tzinfo for t in times] == [datetime.UTC] * len(TIMES)
    assert times[0] == datetime.datetime(2026, 11, 26, 10, 41, 23, 123456, datetime.UTC)


@override_settings(USE_TZ=False)
def test_without_time_zones_djangos_loader_makes_naive_times():
    with connection.cursor() as cursor:
        assert timestamptz_loader(cursor).__name__ == "SpecificTzLoader"
        times = read_times(cursor)
    assert times[0] == datetime.datetime(2026, 11, 26, 10, 41, 23, 123456)
