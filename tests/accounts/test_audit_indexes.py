"""The audit trail's indexes on the person and the provider hold only events that have one."""

import pytest
from django.db import connection

from accounts.models import AuditEvent, User

on_sqlite = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan and index definitions"
)


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


def _index_sql(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
        return cursor.fetchone()[0]


@on_sqlite
@pytest.mark.django_db
def test_events_of_a_person_or_provider_are_found_by_their_partial_index():
    assert _index_sql("audit_event_user").endswith('WHERE "user_id" IS NOT NULL')
    assert _index_sql("audit_event_provider").endswith('WHERE "provider_id" IS NOT NULL')
    assert "USING INDEX audit_event_user" in _plan(AuditEvent.objects.filter(user_id=7))
    assert "USING INDEX audit_event_provider" in _plan(AuditEvent.objects.filter(provider_id=7))


@pytest.mark.django_db
def test_deleting_a_person_keeps_their_events_without_them():
    person = User.objects.create(username="leaving")
    kept = AuditEvent.objects.create(action=AuditEvent.Action.TOKEN_ISSUED, user=person)
    anonymous = AuditEvent.objects.create(action=AuditEvent.Action.TOKEN_ISSUED)
    person.delete()
    kept.refresh_from_db()
    assert kept.user_id is None
    assert AuditEvent.objects.filter(pk__in=[kept.pk, anonymous.pk], user__isnull=True).count() == 2
