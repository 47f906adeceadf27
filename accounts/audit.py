"""Recording of audit events; never given a secret, so none can reach the trail."""

from functools import cache

from django.conf import settings
from django.utils import timezone

from accounts.audit_batch import AuditBatch
from accounts.models import AuditEvent, Client, Provider, User
from tokensvc.direct_sql import database, datetime_param
from tokensvc.rows import Statement, statement_run

_COLUMNS = (
    "occurred_at",
    "action",
    "client_id",
    "client_identifier",
    "user_id",
    "requested_scope",
    "granted_scope",
    "error",
    "reason",
    "source_ip",
    "provider_id",
)


@cache
def _insert_sql() -> str:
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    return f"INSERT INTO {AuditEvent._meta.db_table} ({', '.join(_COLUMNS)}) VALUES ({placeholders})"  # noqa: S608


def _text(value: str, limit: int) -> str:
    """Caller-controlled text as the database can store it: no NUL (PostgreSQL refuses it)."""
    return value.replace("\x00", "\ufffd")[:limit]


def audit_record(**event) -> None:
    """Store one event now, before the response (nothing is lost on a crash); the arguments
    are those of `audit_statement`."""
    statement_run(audit_statement(**event))


# The events' references, each SET_NULL when what it names is deleted.
_REFERENCES = {"client_id": Client, "user_id": User, "provider_id": Provider}


def _dangling_references_nulled(rows: list[list]) -> list[list]:
    """Queued events as they can still be written: a reference to a client, person or
    provider deleted since the event's request set to NULL, as the foreign key's SET_NULL did
    to the events already written (the client_identifier still says who it was)."""
    rows = [list(row) for row in rows]
    for column, model in _REFERENCES.items():
        index = _COLUMNS.index(column)
        named = {row[index] for row in rows if row[index] is not None}
        present = set(model.objects.filter(pk__in=named).values_list("pk", flat=True)) if named else set()
        for row in rows:
            if row[index] not in present:
                row[index] = None
    return rows


@cache
def _batch(interval: float) -> AuditBatch:
    return AuditBatch(interval, repair=_dangling_references_nulled)


def audit_record_later(statement: Statement) -> None:
    """Store the event of a read (an introspection) within AUDIT_BATCH_SECONDS, together with
    others (accounts.audit_batch); at once when that setting is 0."""
    if settings.AUDIT_BATCH_SECONDS:
        _batch(settings.AUDIT_BATCH_SECONDS).add(statement)
    else:
        statement_run(statement)


def audit_statement(
    *,
    action: AuditEvent.Action,
    client: Client | None = None,
    client_identifier: str = "",
    user: User | None = None,
    requested_scope: str = "",
    granted_scope: str = "",
    error: str = "",
    reason: str = "",
    source_ip: str | None = None,
    provider_id: int | None = None,
) -> Statement:
    """The INSERT of one event, to run alone or with the write it records. Caller-controlled
    text is cut short. A plain INSERT: this runs on every token, revocation and introspection
    request, where the ORM's model save cost more than the write itself."""
    db = database()
    values = (
        datetime_param(timezone.now(), db),
        str(action),
        client.pk if client else None,
        _text(client.client_id if client else client_identifier, 100),
        user.pk if user is not None and user.pk is not None else None,
        _text(requested_scope, 500),
        _text(granted_scope, 500),
        _text(error, 40),
        _text(reason, 200),
        db.ops.adapt_ipaddressfield_value(source_ip),
        provider_id,
    )
    return Statement(_insert_sql(), list(values))
