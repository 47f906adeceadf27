"""Django's PostgreSQL backend, with a connection health check that costs no round trip, and
timestamps decoded by psycopg's C loader (see utc_timestamps).

With CONN_HEALTH_CHECKS, Django checks a reused connection before the first query of every
request, by sending `SELECT 1` and waiting for the answer: a round trip to the database on
every request, which on the token endpoint and the API was a fifth of all of them. The check
exists for connections the server has closed meanwhile (a restart, a failover, an idle or
administrative termination). In each of those the server tells the client, with an error
message or by closing the socket, and either makes the idle connection's socket readable; a
healthy idle connection receives nothing unasked (this service never LISTENs). So a poll of the
socket with no timeout answers the same question without a message to the server.

Anything unexpected counts as unusable, as Django's own check does: Django then closes the
connection and the request opens a new one. When the connection is not idle, Django's own
check runs.
"""

import datetime
import select

import psycopg
from django.db.backends.postgresql import base
from psycopg import pq

from tokensvc.postgresql.utc_timestamps import adapters_with_utc_timestamps, c_loader_available

_READY = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


class DatabaseWrapper(base.DatabaseWrapper):
    _direct_cursor = None

    def direct_cursor(self) -> psycopg.Cursor:
        """The driver's cursor for the hot-path statements of tokensvc.direct_sql: one per
        connection, kept and reused. A new psycopg cursor copies the connection's adapters, and
        with Django's cursor set-up that was a fifth of the client's CPU for a one-row read
        (90 -> 72 µs through direct_sql). The last statement's rows stay in it until the next
        one (hence bounded reads there); a thread's connection is its own, and so is this cursor."""
        cursor = self._direct_cursor
        if cursor is None or cursor.closed or cursor.connection is not self.connection:
            cursor = self._direct_cursor = self.create_cursor()
        return cursor

    def _drop_direct_cursor(self) -> None:
        cursor, self._direct_cursor = self._direct_cursor, None
        if cursor is not None:
            cursor.close()

    def _close(self):
        # Not kept past its connection: it would hold the closed connection and its last rows.
        self._drop_direct_cursor()
        return super()._close()

    def ensure_timezone(self) -> bool:
        # A cursor takes the connection's time zone when made: a new zone needs a new cursor.
        self._drop_direct_cursor()
        return super().ensure_timezone()

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        # Django sets the session's TimeZone to self.timezone_name when it connects.
        if self.timezone == datetime.UTC and self.timezone_name == "UTC" and c_loader_available():
            params["context"] = adapters_with_utc_timestamps(params["context"])
        return params

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        poller = select.poll()
        try:
            poller.register(connection.fileno(), _READY)
            # Something to read on an idle connection: an error, a notice or the end of the stream.
            return not poller.poll(0)
        except (OSError, ValueError, base.Database.Error):
            return False
