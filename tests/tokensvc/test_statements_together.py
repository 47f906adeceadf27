"""Writes that must happen together: a token and the audit event of its issue, all or nothing.

`statements_run_together` makes them one statement on PostgreSQL (every write but the last in a
WITH clause) and shares one transaction elsewhere. These tests are transactional, as production
is: inside a test's transaction a failure would be rolled back by the test anyway, and prove
nothing.
"""

from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from accounts.audit import audit_statement
from accounts.models import AuditEvent
from tokensvc.rows import Statement, statements_run_together
from tokensvc.selectors import token_checksum
from tokensvc.token_store import access_token_statement

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

AccessToken = get_access_token_model()


def event(identifier: str) -> Statement:
    return audit_statement(action=AuditEvent.Action.TOKEN_ISSUED, client_identifier=identifier)


def failing(identifier: str) -> Statement:
    """An event INSERT that the database refuses when it runs: `action` NULL, which the column
    forbids (nothing in Python checks it first)."""
    statement = event(identifier)
    params = list(statement.params)
    params[params.index(AuditEvent.Action.TOKEN_ISSUED.value)] = None
    return Statement(statement.sql, params)


def token_row(application_id: int, raw: str) -> Statement:
    return access_token_statement(
        stored_token="",
        checksum=token_checksum(raw),
        application_id=application_id,
        user_id=None,
        scope="profile:read",
        expires=timezone.now() + timedelta(hours=1),
    )


@pytest.mark.parametrize("failing_at", ["last", "first"])
def test_when_one_write_fails_none_is_stored(failing_at):
    good, bad = event("stored-only-with-the-other"), failing("refused-by-the-database")
    statements = [good, bad] if failing_at == "last" else [bad, good]
    with pytest.raises(IntegrityError) as raised:
        statements_run_together(statements)
    assert isinstance(raised.value, DatabaseError)
    assert not AuditEvent.objects.filter(client_identifier="stored-only-with-the-other").exists()
    assert not AuditEvent.objects.exists()
    # Nothing is left half done on the connection either: the next write works and commits.
    statements_run_together([event("after the failure")])
    assert list(AuditEvent.objects.values_list("client_identifier", flat=True)) == ["after the failure"]


def test_a_token_is_not_stored_without_its_audit_event(make_client):
    application = make_client("admin").client
    with pytest.raises(IntegrityError):
        statements_run_together([token_row(application.pk, "never-issued"), failing("crm")])
    assert not AccessToken.objects.filter(token_checksum=token_checksum("never-issued")).exists()
    assert not AuditEvent.objects.exists()


def test_valid_writes_all_land(make_client):
    application = make_client("admin").client
    with CaptureQueriesContext(connection) as captured:
        statements_run_together([token_row(application.pk, "issued"), event("crm"), event("crm again")])
    sent = [query["sql"] for query in captured.captured_queries]
    if connection.vendor == "postgresql":
        assert len(sent) == 1, sent  # one statement, atomic by itself
        assert sent[0].startswith("WITH ")
    stored = AccessToken.objects.get(token_checksum=token_checksum("issued"))
    assert (stored.application_id, stored.scope) == (application.pk, "profile:read")
    assert sorted(AuditEvent.objects.values_list("client_identifier", flat=True)) == ["crm", "crm again"]


def test_the_token_insert_names_every_column_of_dots_table():
    """An upgrade of django-oauth-toolkit that adds a column must not go unnoticed here."""
    from tokensvc.token_store import COLUMNS

    table = {field.column for field in AccessToken._meta.concrete_fields if not field.primary_key}
    assert set(COLUMNS) == table
    assert len(COLUMNS) == len(table)


def test_a_token_written_by_hand_reads_back_as_dot_writes_one(make_client):
    application = make_client("admin").client
    expires = timezone.now() + timedelta(hours=1)
    statements_run_together([token_row(application.pk, "by-hand"), event("crm")])
    by_hand = AccessToken.objects.get(token_checksum=token_checksum("by-hand"))
    by_dot = AccessToken.objects.create(
        application=application, token="x", scope="profile:read", expires=expires, user=None
    )
    for field in AccessToken._meta.concrete_fields:
        if field.name in ("id", "token", "token_checksum", "expires", "created", "updated"):
            continue
        assert getattr(by_hand, field.attname) == getattr(by_dot, field.attname), field.name
    assert by_hand.resource == []
    assert by_hand.created == by_hand.updated
    assert abs(by_hand.created - timezone.now()) < timedelta(seconds=30)
    assert by_hand.is_valid()
