"""Audit events: the indexes on the person and on the provider hold only events that have one.

Written as SQL rather than as Django's operations, so that neither database rebuilds the table
or stops writing to it: on SQLite `AlterField(db_index=False)` remakes the whole audit table
(twice), and on PostgreSQL a plain CREATE INDEX blocks the audit inserts, and with them every
token request, until the index is built. PostgreSQL builds the new indexes CONCURRENTLY, which
needs a migration outside a transaction. The state operations are what Django would have
written, so the models and the migrations agree.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "accounts_auditevent"
# Django's names for the indexes it gave the two foreign keys (the same on every database).
INDEXES = (
    ("user_id", "accounts_auditevent_user_id_94cf0a49", "audit_event_user"),
    ("provider_id", "accounts_auditevent_provider_id_42c5da05", "audit_event_provider"),
)


def _concurrently(schema_editor) -> str:
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def partial_indexes(apps, schema_editor):
    quote, concurrently = schema_editor.quote_name, _concurrently(schema_editor)
    for column, whole, partial in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX{concurrently} IF NOT EXISTS {quote(partial)} ON {quote(TABLE)} ({quote(column)})"
            f" WHERE {quote(column)} IS NOT NULL"
        )
        schema_editor.execute(f"DROP INDEX{concurrently} IF EXISTS {quote(whole)}")


def whole_indexes(apps, schema_editor):
    quote, concurrently = schema_editor.quote_name, _concurrently(schema_editor)
    for column, whole, partial in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX{concurrently} IF NOT EXISTS {quote(whole)} ON {quote(TABLE)} ({quote(column)})"
        )
        schema_editor.execute(f"DROP INDEX{concurrently} IF EXISTS {quote(partial)}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("accounts", "0008_officers_manage_providers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(partial_indexes, whole_indexes)],
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="provider",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="audit_events",
                        to="accounts.provider",
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(
                        condition=models.Q(("user__isnull", False)), fields=["user"], name="audit_event_user"
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(
                        condition=models.Q(("provider__isnull", False)),
                        fields=["provider"],
                        name="audit_event_provider",
                    ),
                ),
            ],
        ),
    ]
