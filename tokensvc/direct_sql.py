"""Hot-path statements, handed to the database driver's cursor itself when nothing observes
Django's cursor wrapper.

Django's wrapper around every cursor costs more than sqlite3 spends running a one-row SELECT,
and a tenth of a PostgreSQL round trip: the wrapper object, the execute-wrapper chain, the
thread and async checks, and on SQLite a cursor subclass that rewrites `%s` to `?` by regular
expression on every statement. A token request runs five statements on SQLite (BEGIN, a read,
two INSERTs, COMMIT), a customer read two.

The direct path keeps what matters: the connection health check before a request's first
statement, errors that come out as Django's exceptions (through `wrap_database_errors`, which
also marks the connection for the end-of-request check), a broken `atomic` block that refuses
further statements, the cursor Django's backend builds (on PostgreSQL: its server-side binding
and time zone), and on SQLite the backend's own `%s` rewrite, done once per SQL text. It steps
aside, and Django's cursor runs the statement, whenever something watches statements: query
logging (DEBUG, `CaptureQueriesContext`, `assertNumQueries`) or an execute wrapper
(`connection.execute_wrapper`).
"""

from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import SQLiteCursorWrapper

from tokensvc import wal_checkpoints


def database() -> BaseDatabaseWrapper:
    """This thread's connection to the database: what `django.db.connection` stands for, looked
    up once by the caller instead of on every attribute access through that proxy (each one a
    context-local lookup)."""
    return connections[DEFAULT_DB_ALIAS]


def datetime_param(value: datetime, db: BaseDatabaseWrapper) -> object:
    """An aware datetime as the backend stores it: what `db.ops.adapt_datetimefield_value`
    gives. On SQLite that is the naive time in the connection's zone as text; done here without
    the backend's generic checks (expressions, settings, naive values), which cost more than
    the conversion on the token path, where three are written per token."""
    if db.vendor == "sqlite" and value.tzinfo is not None and db.timezone is not None:
        return str(value.astimezone(db.timezone).replace(tzinfo=None))
    return db.ops.adapt_datetimefield_value(value)  # and what Django does with a naive one


@lru_cache(maxsize=512)
def _qmark(sql: str) -> str:
    # The backend's own rewrite (`%s` -> `?`, `%%` -> `%`), once per distinct SQL text: hot-path
    # SQL is a fixed set of strings.
    return SQLiteCursorWrapper.convert_query(None, sql)


def _is_direct(db: BaseDatabaseWrapper) -> bool:
    """Whether a statement may bypass Django's cursor wrapper; if so, the connection is ready."""
    if db.queries_logged or db.execute_wrappers:
        return False
    db.validate_no_broken_transaction()
    db.close_if_health_check_failed()
    if db.connection is None:
        db.ensure_connection()
    return True


@contextmanager
def _executed(db: BaseDatabaseWrapper, sql: str, params: Sequence) -> Iterator:
    """The driver's cursor, having run the statement (Django's cursor when statements are
    observed); closed afterwards, but for the one our PostgreSQL backend keeps per connection."""
    if not _is_direct(db):
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            yield cursor
        return
    with db.wrap_database_errors:
        if db.vendor == "sqlite":
            with closing(db.connection.execute(_qmark(sql), params)) as cursor:
                yield cursor
        elif hasattr(db, "direct_cursor"):  # our PostgreSQL backend keeps one (tokensvc.postgresql)
            cursor = db.direct_cursor()
            cursor.execute(sql, params)
            yield cursor
        else:
            with closing(db.create_cursor()) as cursor:
                cursor.execute(sql, params)
                yield cursor


def fetch_one(sql: str, params: Sequence, db: BaseDatabaseWrapper | None = None) -> tuple | None:
    """The first row of a SELECT (or of a statement with RETURNING), or None. On PostgreSQL
    the statement's other rows stay in the kept cursor until its next statement: for reads
    bounded by a key or a LIMIT."""
    with _executed(db or database(), sql, params) as cursor:
        return cursor.fetchone()


def fetch_all(sql: str, params: Sequence, db: BaseDatabaseWrapper | None = None) -> list[tuple]:
    """Every row. A write with RETURNING must be read to the end: SQLite commits it only then."""
    with _executed(db or database(), sql, params) as cursor:
        return cursor.fetchall()


def execute(sql: str, params: Sequence, db: BaseDatabaseWrapper | None = None) -> int:
    """Run a statement that returns no rows; the number of rows it wrote."""
    with _executed(db or database(), sql, params) as cursor:
        return cursor.rowcount


@contextmanager
def transaction_atomic(db: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    """`transaction.atomic()`, or on SQLite in autocommit mode a plain BEGIN ... COMMIT.

    Outside any `atomic` block that is all Django's `atomic` does there (BEGIN in the configured
    `transaction_mode`), without the bookkeeping that nested blocks need. Inside one, or while
    statements are observed, it is Django's `atomic` itself.
    """
    db = db or database()
    if db.vendor != "sqlite" or not _is_direct(db) or db.in_atomic_block or not db.get_autocommit():
        with transaction.atomic(using=db.alias):
            yield
        return
    sqlite = db.connection
    # Not while this process's checkpoint thread restarts the WAL: waiting here ends when it
    # does, SQLite's busy handler sleeps in steps of up to 25 ms.
    with wal_checkpoints.local_writes():
        with db.wrap_database_errors:
            sqlite.execute(f"BEGIN {db.transaction_mode or 'DEFERRED'}")
        try:
            yield
            with db.wrap_database_errors:
                sqlite.commit()
        except BaseException:
            # Also after a failed COMMIT: SQLite may leave the transaction open.
            with db.wrap_database_errors:
                sqlite.rollback()
            raise
