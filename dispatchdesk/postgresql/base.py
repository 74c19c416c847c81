"""Django's PostgreSQL backend, with the connection health check skipped for a connection that
answered a moment ago.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request, so
that a persistent connection the server dropped is replaced rather than failing the request.
On a busy worker that is a round trip per request (a tenth of a ticket detail's time), spent on
a connection that answered the previous request milliseconds earlier. This backend skips the
check when the connection's last request ended without a database error less than
`RECENT_SECONDS` ago; an idle connection is checked as before. Should the server drop the
connection inside that second, the request answers 503 like any database outage, and Django
closes the connection when the request ends (the next one connects afresh).
"""

from time import monotonic as clock

from django.db.backends.postgresql import base

RECENT_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    # When the last request that used this connection ended with it working.
    answered_at = float("-inf")

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
