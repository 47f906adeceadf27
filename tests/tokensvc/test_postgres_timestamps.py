"""Timestamps read from PostgreSQL by psycopg's C loader (tokensvc/postgresql/utc_timestamps.py):
the same values Django's own loader gives, through the ORM, the hot path and named cursors."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import DataError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent
from tokensvc.direct_sql import fetch_one
from tokensvc.postgresql.utc_timestamps import UtcTimestamptzLoader, c_loader_available

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only: SQLite returns timestamps as text"
    ),
    pytest.mark.skipif(
        connection.vendor == "postgresql" and not c_loader_available(),
        reason="psycopg without its C build (psycopg_binary): Django's loader is kept",
    ),
    pytest.mark.django_db,
]

TIMESTAMPTZ = 1184


def read(value: datetime | str) -> datetime:
    return fetch_one("SELECT %s::timestamptz", [value])[0]


def test_the_connection_reads_timestamps_with_the_c_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ, 0)
    assert loader is UtcTimestamptzLoader
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        # Rows are decoded by the C loader's own method, not by Python code calling it.
        used = cursor.cursor._tx.get_loader(TIMESTAMPTZ, 0)
        assert isinstance(used.load.__self__, psycopg.adapters.get_loader(TIMESTAMPTZ, 0))


@settings(max_examples=60, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/St_Johns")]),
        allow_imaginary=False,
    )
)
def test_any_instant_comes_back_equal_and_in_utc(value):
    found = read(value)
    # In UTC first: Python never finds an aware time in a repeated hour (DST's end) equal to
    # one in another zone (PEP 495).
    assert found == value.astimezone(UTC)
    assert found.tzinfo is UTC
    assert found.utcoffset() == timedelta(0)


def test_model_fields_named_cursors_and_transactions_read_aware_utc_values():
    written = datetime(2026, 12, 4, 1, 2, 3, 456789, tzinfo=UTC)
    event = AuditEvent.objects.create(action=AuditEvent.Action.TOKEN_ISSUED, client_identifier="ts")
    AuditEvent.objects.filter(pk=event.pk).update(occurred_at=written)
    assert AuditEvent.objects.get(pk=event.pk).occurred_at == written
    with transaction.atomic():
        # A named (server-side) cursor: Django's create_cursor checks the loader's zone.
        (streamed,) = AuditEvent.objects.filter(pk=event.pk).iterator(chunk_size=1)
    assert streamed.occurred_at == written
    assert streamed.occurred_at.tzinfo is UTC
    with transaction.atomic():
        named = connection.create_cursor(name="timestamps")
        named.execute("SELECT now()")
        named.fetchall()
        assert type(named._tx.get_loader(TIMESTAMPTZ, 0)) is UtcTimestamptzLoader
        named.close()


def test_a_value_out_of_python_range_is_a_database_error_as_before():
    with pytest.raises(DataError):
        read("infinity")
