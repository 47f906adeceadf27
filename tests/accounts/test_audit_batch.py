"""Events of reads are written in batches: later, together, never lost while the process lives."""

import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import audit, audit_batch
from accounts.audit import audit_statement
from accounts.audit_batch import AuditBatch
from accounts.models import AuditEvent
from tests.tokensvc.oauth_helpers import introspection

INTROSPECTED = AuditEvent.Action.TOKEN_INTROSPECTED


def event(identifier: str, **fields):
    return audit_statement(action=INTROSPECTED, client_identifier=identifier, **fields)


def identifiers() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("client_identifier", flat=True))


@pytest.fixture
def batch():
    """A batch whose thread stays asleep during the test: only flush() writes."""
    queued = AuditBatch(interval=3600)
    yield queued
    queued._rows.clear()  # nothing left for the exit-time flush of this process


@pytest.mark.django_db
def test_queued_events_are_written_together_in_order_by_flush(batch):
    for number in range(5):
        batch.add(event(f"rs-{number}"))
    assert identifiers() == []
    with CaptureQueriesContext(connection) as captured:
        assert batch.flush() == 5
    writes = [q["sql"] for q in captured.captured_queries if AuditEvent._meta.db_table in q["sql"]]
    assert len(writes) == 1, writes  # one COPY (PostgreSQL) or one executemany of the five rows
    if connection.vendor == "postgresql":
        assert writes[0].startswith(f"COPY {AuditEvent._meta.db_table} (occurred_at, action, ")
    else:
        assert writes[0].startswith("5 times: INSERT INTO")
    assert identifiers() == [f"rs-{number}" for number in range(5)]
    assert batch.flush() == 0


@pytest.mark.django_db
def test_every_column_is_stored_as_given(batch, make_client):
    client = make_client().client
    awkward = "tab\there, new\nline, return\r, back\\slash, quote ' \" , ü, \\N, \x00"
    fields = {
        "client": client,
        "requested_scope": awkward,
        "granted_scope": "customers:read",
        "error": "",
        "reason": awkward,
        "source_ip": "2001:db8::1",
        "provider_id": None,
    }
    before = timezone.now()
    batch.add(audit_statement(action=INTROSPECTED, **fields))
    batch.add(event("no client"))
    assert batch.flush() == 2
    stored, bare = AuditEvent.objects.order_by("id")
    assert stored.client_id == client.pk
    assert stored.client_identifier == client.client_id
    stored_text = awkward.replace("\x00", "\ufffd")  # PostgreSQL refuses NUL; every database gets the same
    assert (stored.requested_scope, stored.reason) == (stored_text, stored_text)
    assert stored.granted_scope == "customers:read"
    assert stored.source_ip == "2001:db8::1"
    assert stored.provider_id is None
    assert stored.user_id is None
    assert stored.action == INTROSPECTED
    assert before <= stored.occurred_at <= timezone.now()
    assert (bare.client_id, bare.client_identifier, bare.source_ip) == (None, "no client", None)


@pytest.mark.django_db
def test_an_event_keeps_the_time_of_its_request_not_of_the_flush(batch):
    before = timezone.now()
    batch.add(event("early"))
    time.sleep(0.05)
    batch.flush()
    stored = AuditEvent.objects.get(client_identifier="early").occurred_at
    assert before <= stored < before + timedelta(seconds=0.05)


@pytest.mark.django_db
def test_a_refused_batch_stays_queued_ahead_of_newer_events(batch, monkeypatch, caplog):
    batch.add(event("first"))

    class DatabaseAway:
        @staticmethod
        def atomic():
            raise OperationalError("database away")

    monkeypatch.setattr(audit_batch, "transaction", DatabaseAway)
    assert batch.flush() == 0
    assert "retried later" in caplog.text
    monkeypatch.undo()
    batch.add(event("second"))
    assert batch.flush() == 2
    assert identifiers() == ["first", "second"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_event_of_a_client_deleted_before_the_flush_is_written_without_the_reference(make_client):
    # The batch the service uses, whose thread stays asleep during the test.
    queued = AuditBatch(interval=3600, repair=audit._dangling_references_nulled)
    gone, kept = make_client().client, make_client().client
    queued.add(audit_statement(action=INTROSPECTED, client=gone))
    queued.add(audit_statement(action=INTROSPECTED, client=kept))
    gone_id = gone.client_id
    gone.delete()
    assert queued.flush() == 2
    assert queued.flush() == 0  # nothing left queued
    stored = {event.client_identifier: event.client_id for event in AuditEvent.objects.all()}
    assert stored == {gone_id: None, kept.client_id: kept.pk}


def test_a_batch_holds_the_rows_of_one_statement_only(batch):
    batch.add(event("one"))
    other = audit_statement(action=INTROSPECTED)._replace(sql="INSERT INTO elsewhere VALUES (%s)")
    with pytest.raises(ValueError, match="one statement"):
        batch.add(other)


def test_beyond_capacity_the_oldest_events_go(monkeypatch):
    monkeypatch.setattr(AuditBatch, "CAPACITY", 3)
    monkeypatch.setattr(AuditBatch, "MAX_ROWS", 100)
    small = AuditBatch(interval=3600)
    for number in range(5):
        small.add(event(f"e{number}"))
    kept = [row[3] for row in small._rows]  # client_identifier is the fourth column
    small._rows.clear()
    assert kept == ["e2", "e3", "e4"]


# Committed rows: the batch thread writes through a connection of its own.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_batch_thread_writes_introspection_events_within_the_interval(
    client, make_client, issue_token, settings
):
    settings.AUDIT_BATCH_SECONDS = 0.2
    token = issue_token("admin")
    server = make_client("manager", is_resource_server=True)
    assert introspection(client, server, token).json()["active"] is True
    written = AuditEvent.objects.filter(action=INTROSPECTED, client=server.client)
    deadline = time.monotonic() + 10
    while not written.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = written.get()
    assert "profile:read" in stored.granted_scope.split()
    assert stored.source_ip == "127.0.0.1"
    assert token not in repr(vars(stored))


@pytest.mark.django_db
def test_refused_introspections_are_written_before_the_response(client, make_client, issue_token, settings):
    settings.AUDIT_BATCH_SECONDS = 3600
    token = issue_token("admin")
    not_a_resource_server = make_client("manager")
    assert introspection(client, not_a_resource_server, token).status_code == 401
    refused = AuditEvent.objects.get(action=AuditEvent.Action.INTROSPECTION_REFUSED)
    assert refused.reason == "client is not a resource server"
    assert audit._batch(3600).flush() == 0
