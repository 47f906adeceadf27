"""The audit trail's indexes on the person and the provider hold only events that have one."""

import pytest
from django.db import connection

from accounts.models import AuditEvent, User

TABLE = AuditEvent._meta.db_table


def _index_definitions() -> dict[str, str]:
    """Every index of the audit table, by name: its CREATE statement as the database keeps it."""
    if connection.vendor == "sqlite":
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
    else:
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [TABLE])
        return {name: definition or "" for name, definition in cursor.fetchall()}


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return " ".join(str(row[-1]) for row in cursor.fetchall())


@pytest.mark.django_db
def test_only_events_with_a_person_or_a_provider_are_in_their_indexes():
    indexes = _index_definitions()
    for column, name in (("user_id", "audit_event_user"), ("provider_id", "audit_event_provider")):
        assert (
            indexes[name]
            .replace('"', "")
            .replace("(", "")
            .replace(")", "")
            .endswith(f"WHERE {column} IS NOT NULL")
        )
        # The migration replaced Django's index over every row of the column.
        assert [other for other, definition in indexes.items() if column in definition] == [name]


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan; PostgreSQL's depends on statistics"
)
@pytest.mark.django_db
def test_events_of_a_person_or_provider_are_found_by_their_partial_index():
    assert "USING INDEX audit_event_user" in _plan(AuditEvent.objects.filter(user_id=7))
    assert "USING INDEX audit_event_provider" in _plan(AuditEvent.objects.filter(provider_id=7))
    assert "USING INDEX audit_event_user" in _plan(AuditEvent.objects.filter(user_id__in=[7, 8]))


@pytest.mark.django_db
def test_deleting_a_person_keeps_their_events_without_them():
    person = User.objects.create(username="leaving")
    kept = AuditEvent.objects.create(action=AuditEvent.Action.TOKEN_ISSUED, user=person)
    anonymous = AuditEvent.objects.create(action=AuditEvent.Action.TOKEN_ISSUED)
    person.delete()
    kept.refresh_from_db()
    assert kept.user_id is None
    assert AuditEvent.objects.filter(pk__in=[kept.pk, anonymous.pk], user__isnull=True).count() == 2
