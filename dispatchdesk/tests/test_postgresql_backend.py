"""The PostgreSQL backend skips Django's connection health check only for a connection that
answered a moment ago (dispatchdesk/postgresql/base.py)."""

import psycopg
import pytest
from django.db import OperationalError, connection, connections

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
