"""Audit events written in batches, for events that record a read rather than a change.

A resource server may introspect on every call it serves; an INSERT (and, outside a
transaction, a commit) per introspection would cost the endpoint an eighth of its time and, on
PostgreSQL, a round trip. Such events are queued in the process instead and written together,
every AUDIT_BATCH_SECONDS or sooner once MAX_ROWS wait, by a background thread, in one
transaction; also when the process exits normally (gunicorn's workers included). Each event
keeps the time of its request. What a crash can lose is at most that interval of read events;
every change and every refusal is still written before its response.
"""

import atexit
import logging
import threading
from collections import deque
from collections.abc import Callable

from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.backends.utils import CursorWrapper

from tokensvc.rows import Statement, one_row_insert_parts

log = logging.getLogger(__name__)


def _insert_rows(cursor: CursorWrapper, sql: str, rows: list[list]) -> None:
    """Every row of the one-row `INSERT INTO t (...) VALUES (...)` statement `sql`. On
    PostgreSQL as one COPY of the same columns: psycopg's executemany adapted and sent each row
    as a statement of its own: 16.5 µs of the worker's CPU per event, against 4.6 by COPY."""
    if connection.vendor != "postgresql":
        cursor.executemany(sql, rows)
        return
    head, _ = one_row_insert_parts(sql)
    with (
        connection.wrap_database_errors,
        cursor.copy(f"COPY {head.removeprefix('INSERT INTO ')} FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


class AuditBatch:
    """Queued rows of one INSERT statement, and the thread that writes them."""

    # Flushed early once this many wait; a database away for long loses the oldest beyond CAPACITY.
    MAX_ROWS = 500
    CAPACITY = 50_000

    def __init__(self, interval: float, repair: Callable[[list[list]], list[list]] | None = None):
        """`repair` gives queued rows as they can still be written when the database refuses
        them as they are (IntegrityError): a row may name something deleted since its request."""
        self.interval = interval
        self.repair = repair
        self._sql: str | None = None
        self._rows: deque[list] = deque(maxlen=self.CAPACITY)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._due = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, statement: Statement) -> None:
        with self._lock:
            if self._sql not in (None, statement.sql):
                raise ValueError("an audit batch holds the rows of one statement")
            self._sql = statement.sql
            if len(self._rows) == self.CAPACITY:
                log.error("audit batch full: the oldest queued event is dropped")
            self._rows.append(statement.params)
            waiting = len(self._rows)
            if self._thread is None:
                self._start()
        if waiting >= self.MAX_ROWS:
            self._due.set()

    def flush(self) -> int:
        """Write every queued row now, in one transaction; how many were written. Rows stay
        queued (and are retried) when the database refuses them."""
        with self._flush_lock:
            with self._lock:
                rows, sql = list(self._rows), self._sql
                self._rows.clear()
            if not rows:
                return 0
            try:
                try:
                    self._write(sql, rows)
                except IntegrityError:
                    if self.repair is None:
                        raise
                    rows = self.repair(rows)
                    self._write(sql, rows)
            except Exception:
                log.exception("audit batch of %d events not written; retried later", len(rows))
                with self._lock:
                    # Back in front of what came meanwhile; beyond CAPACITY the oldest go.
                    queued = deque(rows, maxlen=self.CAPACITY)
                    queued.extend(self._rows)
                    self._rows = queued
                return 0
            return len(rows)

    @staticmethod
    def _write(sql: str, rows: list[list]) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            _insert_rows(cursor, sql, rows)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-batch", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._due.wait(self.interval)
            self._due.clear()
            try:
                if self.flush():
                    # Kept or closed as a request's would be (CONN_MAX_AGE, health checks).
                    close_old_connections()
                else:
                    connection.close()  # idle: no database connection held for nothing
            except Exception:
                log.exception("audit batch: unexpected error; the thread goes on")
