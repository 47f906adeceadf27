"""Hot-path statements on SQLite, handed to the sqlite3 connection itself when nothing observes
Django's cursor.

A statement through Django's cursor wrapper costs about four times what sqlite3 spends running a
one-row SELECT: a wrapper cursor and a sqlite3 cursor subclass per statement, the `%s` to `?`
rewrite by regular expression, the execute-wrapper chain, and the thread checks. A token request
runs five of them (BEGIN, a read, two INSERTs, COMMIT), a customer read two.

The direct path keeps what matters: errors come out as Django's exceptions (through
`wrap_database_errors`, which also marks the connection for the end-of-request check), a broken
`atomic` block still refuses further statements, and the `%s` rewrite is the backend's own, done
once per SQL text. It steps aside, and Django's cursor runs the statement, whenever something
watches statements: query logging (DEBUG, `CaptureQueriesContext`, `assertNumQueries`) or an
execute wrapper (`connection.execute_wrapper`). On other databases Django's cursor always runs.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from sqlite3 import Connection as SQLiteConnection

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import SQLiteCursorWrapper


def database() -> BaseDatabaseWrapper:
    """This thread's connection to the database: what `django.db.connection` stands for, looked
    up once by the caller instead of on every attribute access through that proxy (each one a
    context-local lookup)."""
    return connections[DEFAULT_DB_ALIAS]


@lru_cache(maxsize=512)
def _qmark(sql: str) -> str:
    # The backend's own rewrite (`%s` -> `?`, `%%` -> `%`), once per distinct SQL text: hot-path
    # SQL is a fixed set of strings.
    return SQLiteCursorWrapper.convert_query(None, sql)


def _direct(db: BaseDatabaseWrapper) -> SQLiteConnection | None:
    """The sqlite3 connection when a statement may bypass Django's cursor, else None."""
    if db.vendor != "sqlite" or db.queries_logged or db.execute_wrappers:
        return None
    db.validate_no_broken_transaction()
    if db.connection is None:
        db.ensure_connection()
    return db.connection


def fetch_one(sql: str, params: Sequence, db: BaseDatabaseWrapper | None = None) -> tuple | None:
    """The first row of a SELECT (or of a statement with RETURNING), or None."""
    db = db or database()
    direct = _direct(db)
    if direct is None:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    with db.wrap_database_errors:
        return direct.execute(_qmark(sql), params).fetchone()


def fetch_all(sql: str, params: Sequence, db: BaseDatabaseWrapper | None = None) -> list[tuple]:
    """Every row. A write with RETURNING must be read to the end: SQLite commits it only then."""
    db = db or database()
    direct = _direct(db)
    if direct is None:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    with db.wrap_database_errors:
        return direct.execute(_qmark(sql), params).fetchall()


def execute(sql: str, params: Sequence, db: BaseDatabaseWrapper | None = None) -> None:
    """Run a statement that returns nothing."""
    db = db or database()
    direct = _direct(db)
    if direct is None:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
        return
    with db.wrap_database_errors:
        direct.execute(_qmark(sql), params)


@contextmanager
def transaction_atomic(db: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    """`transaction.atomic()`, or on SQLite in autocommit mode a plain BEGIN ... COMMIT.

    Outside any `atomic` block that is all Django's `atomic` does there (BEGIN in the configured
    `transaction_mode`), without the bookkeeping that nested blocks need. Inside one, or while
    statements are observed, it is Django's `atomic` itself.
    """
    db = db or database()
    direct = _direct(db)
    if direct is None or db.in_atomic_block or not db.get_autocommit():
        with transaction.atomic(using=db.alias):
            yield
        return
    with db.wrap_database_errors:
        direct.execute(f"BEGIN {db.transaction_mode or 'DEFERRED'}")
    try:
        yield
        with db.wrap_database_errors:
            direct.commit()
    except BaseException:
        # Also after a failed COMMIT: SQLite may leave the transaction open.
        with db.wrap_database_errors:
            direct.rollback()
        raise
