"""Hot-path statements: straight to the driver's cursor unless something watches statements,
with Django's errors and transaction rules either way."""

import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    IntegrityError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from accounts.audit import audit_statement
from accounts.models import AuditEvent
from tests.tokensvc.held_locks import held_by_another_thread
from tokensvc import wal_checkpoints
from tokensvc.direct_sql import datetime_param, execute, fetch_all, fetch_one, transaction_atomic

on_sqlite = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="SQLite only: a transaction there is a plain BEGIN ... COMMIT, elsewhere Django's atomic",
)

COUNT_EVENTS = f"SELECT COUNT(*) FROM {AuditEvent._meta.db_table} WHERE client_identifier = %s"  # noqa: S608
ADD_EVENT = audit_statement(action=AuditEvent.Action.TOKEN_ISSUED, client_identifier="").sql


def add_event(identifier: str) -> None:
    statement = audit_statement(action=AuditEvent.Action.TOKEN_ISSUED, client_identifier=identifier)
    execute(statement.sql, statement.params)


def add_refused_event() -> None:
    """An event INSERT that the database refuses: `action` NULL, which the column forbids."""
    statement = audit_statement(action=AuditEvent.Action.TOKEN_ISSUED, client_identifier="refused")
    params = [None if value == AuditEvent.Action.TOKEN_ISSUED.value else value for value in statement.params]
    execute(statement.sql, params)


def add_in_a_transaction_that_fails(identifier: str) -> None:
    with transaction_atomic():
        add_event(identifier)
        add_refused_event()


def events(identifier: str) -> int:
    return fetch_one(COUNT_EVENTS, [identifier])[0]


@pytest.mark.django_db
def test_placeholders_and_literal_percent_signs_mean_what_they_mean_to_django():
    assert fetch_one("SELECT 'a%%b', %s, %s", [1, "two"]) == ("a%b", 1, "two")
    assert fetch_all("SELECT %s UNION ALL SELECT %s ORDER BY 1", [2, 1]) == [(1,), (2,)]
    assert fetch_one("SELECT 1 WHERE 1 = %s", [0]) is None


@pytest.mark.django_db
def test_unobserved_statements_skip_djangos_cursor_wrapper(monkeypatch):
    def no_wrapper(*args, **kwargs):
        raise AssertionError("Django's cursor wrapper was used")

    monkeypatch.setattr(connection, "cursor", no_wrapper)
    add_event("direct")
    assert events("direct") == 1


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL only: its backend keeps a driver cursor per connection (SQLite has no cursor set-up)",
)


@on_postgresql
@pytest.mark.django_db
def test_a_connection_runs_its_direct_statements_on_one_cursor(monkeypatch):
    fetch_one("SELECT 1", [])
    kept = connection.direct_cursor()
    created = []
    original = connection.create_cursor
    monkeypatch.setattr(connection, "create_cursor", lambda *a, **k: created.append(1) or original(*a, **k))
    add_event("one cursor")
    assert fetch_all("SELECT %s UNION ALL SELECT %s ORDER BY 1", [2, 1]) == [(1,), (2,)]
    assert fetch_one("SELECT %s", ["last"]) == ("last",)
    assert events("one cursor") == 1
    assert created == []
    assert connection.direct_cursor() is kept


@on_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_new_connection_gets_a_cursor_of_its_own():
    fetch_one("SELECT 1", [])
    old_cursor, old_connection = connection.direct_cursor(), connection.connection
    connection.close()
    assert fetch_one("SELECT %s", [7]) == (7,)
    assert connection.connection is not old_connection
    assert connection.direct_cursor() is not old_cursor
    assert connection.direct_cursor().connection is connection.connection


@on_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_kept_cursor_serves_the_next_statement_after_a_refused_one():
    fetch_one("SELECT 1", [])
    kept = connection.direct_cursor()
    with pytest.raises(IntegrityError):
        add_refused_event()
    add_event("after refusal")
    assert events("after refusal") == 1
    assert connection.direct_cursor() is kept


@on_postgresql
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_closing_the_connection_closes_its_cursor():
    fetch_one("SELECT %s", [1])
    kept = connection.direct_cursor()
    connection.close()
    assert kept.closed
    assert connection._direct_cursor is None  # nor is the closed connection held through it


@pytest.mark.django_db
def test_observed_statements_are_counted_as_django_counts_them():
    with CaptureQueriesContext(connection) as captured:
        add_event("counted")
        assert events("counted") == 1
    sent = [query["sql"] for query in captured.captured_queries]
    assert len(sent) == 2, sent
    assert sent[0].startswith("INSERT INTO")
    assert "'counted'" in sent[0]


@pytest.mark.django_db
def test_execute_wrappers_see_every_statement():
    seen = []

    def watch(run, sql, params, many, context):
        seen.append(sql)
        return run(sql, params, many, context)

    with connection.execute_wrapper(watch):
        add_event("watched")
    assert seen == [ADD_EVENT]


@pytest.mark.django_db
def test_database_errors_are_djangos_exceptions():
    with pytest.raises(DatabaseError):  # OperationalError on SQLite, ProgrammingError on PostgreSQL
        fetch_one("SELECT * FROM no_such_table", [])
    with pytest.raises(DatabaseError):
        execute("INSERT INTO no_such_table VALUES (%s)", [1])


@pytest.mark.django_db
def test_a_broken_atomic_block_refuses_further_statements():
    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic(savepoint=False):
            add_refused_event()
        with pytest.raises(TransactionManagementError):
            fetch_one("SELECT 1", [])
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_transaction_commits_all_or_nothing():
    with transaction_atomic():
        add_event("together")
        add_event("together")
    with pytest.raises(IntegrityError):
        add_in_a_transaction_that_fails("never")
    assert (events("together"), events("never")) == (2, 0)
    assert connection.get_autocommit()
    # The connection is left in autocommit mode: a statement after the failure stands alone.
    add_event("after")
    assert events("after") == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_inside_an_atomic_block_a_transaction_is_a_savepoint():
    with transaction.atomic():
        add_event("outer")
        with pytest.raises(IntegrityError):
            add_in_a_transaction_that_fails("inner")
        add_event("outer")
    assert (events("outer"), events("inner")) == (2, 0)


@on_sqlite
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_failed_commit_leaves_no_transaction_open():
    class CommitFails:
        """The sqlite3 connection, except that COMMIT fails as with a full disk."""

        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def commit(self):
            import sqlite3

            raise sqlite3.OperationalError("database or disk is full")

    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    real = db.connection
    db.connection = CommitFails(real)
    try:
        with pytest.raises(OperationalError), transaction_atomic(db):
            add_event("lost")
    finally:
        db.connection = real
    assert real.in_transaction is False
    assert events("lost") == 0


@on_sqlite
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_transaction_waits_while_the_checkpoint_thread_restarts_the_wal():
    with held_by_another_thread(wal_checkpoints.local_writes) as restart_over:
        threading.Timer(0.3, restart_over.set).start()
        started = time.monotonic()
        with transaction_atomic():
            assert restart_over.is_set()  # not begun before
            add_event("after the restart")
    assert time.monotonic() - started >= 0.25
    assert events("after the restart") == 1


aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/St_Johns"), ZoneInfo("Asia/Kathmandu")]
    ),
)


# Elsewhere datetime_param hands the value to the backend's own adaptation: nothing to compare.
sqlite_adaptation = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite only: elsewhere it is the backend's own adaptation"
)


@sqlite_adaptation
@given(value=aware_datetimes)
def test_a_datetime_parameter_is_what_the_backend_would_store(value):
    assert datetime_param(value, connection) == connection.ops.adapt_datetimefield_value(value)


@sqlite_adaptation
def test_a_naive_datetime_is_left_to_the_backend():
    naive = datetime(2026, 12, 3, 17, 0, 0)
    assert datetime_param(naive, connection) == connection.ops.adapt_datetimefield_value(naive)


@sqlite_adaptation
@given(value=aware_datetimes)
def test_a_datetime_parameter_follows_the_connections_time_zone(value):
    # A database configured with a TIME_ZONE of its own stores local times in that zone.
    db = connections[DEFAULT_DB_ALIAS]
    configured = db.settings_dict["TIME_ZONE"]
    db.settings_dict["TIME_ZONE"] = "Asia/Tokyo"
    db.__dict__.pop("timezone", None)  # Django's cached_property, read from the setting above
    try:
        stored = datetime_param(value, db)
        assert stored == db.ops.adapt_datetimefield_value(value)
        assert stored == str(value.astimezone(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None))
    finally:
        db.settings_dict["TIME_ZONE"] = configured
        db.__dict__.pop("timezone", None)
