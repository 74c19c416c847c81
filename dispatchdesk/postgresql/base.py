"""Django's PostgreSQL backend, with the connection health check skipped for a connection that
answered a moment ago, and time stamps read by psycopg's own (compiled) loader.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request, so
that a persistent connection the server dropped is replaced rather than failing the request.
On a busy worker that is a round trip per request (a tenth of a ticket detail's time), spent on
a connection that answered the previous request milliseconds earlier. This backend skips the
check when the connection's last request ended without a database error less than
`RECENT_SECONDS` ago; an idle connection is checked as before. Should the server drop the
connection inside that second, the request answers 503 like any database outage, and Django
closes the connection when the request ends (the next one connects afresh).

Django reads every `timestamptz` value through its own loader, a subclass of psycopg's
pure-Python one, so that each value is labelled with the connection's time zone; psycopg's
compiled loader is never used. Parsing the five time stamps of a ticket in Python costs about a
sixth of a ticket list's time. With time zones on and the connection in UTC (Django's default,
which it sets on every connection), psycopg's own loader gives the same values, labelled
`datetime.timezone.utc` as Django's are; so each cursor of such a connection reads time stamps
through psycopg's loader, which psycopg swaps for its compiled one when it has it. Any other
time zone setup keeps Django's loader.
"""

from datetime import UTC
from time import monotonic as clock

from django.db.backends.postgresql import base
from psycopg.types.datetime import TimestamptzLoader

RECENT_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    # When the last request that used this connection ended with it working.
    answered_at = float("-inf")

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if self.timezone is UTC and self.connection.info.timezone is UTC:
            # A copy-on-write of the cursor's loaders: a dictionary copy, not a new map.
            cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        return cursor

    def close_if_health_check_failed(self):
        if self.connection is not None and clock() - self.answered_at < RECENT_SECONDS:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self):
        # Called when a request starts and when it ends; `health_check_done` tells whether
        # this request used the connection (it is reset below), `errors_occurred` whether that
        # went wrong.
        used_without_error = (
            self.connection is not None and self.health_check_done and not self.errors_occurred
        )
        super().close_if_unusable_or_obsolete()
        if self.connection is not None and used_without_error:
            self.answered_at = clock()
