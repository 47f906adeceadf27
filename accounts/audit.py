"""Recording of audit events; never given a secret, so none can reach the trail."""

from accounts.models import AuditEvent, Client, User


def _text(value: str, limit: int) -> str:
    """Caller-controlled text as the database can store it: no NUL (PostgreSQL refuses it)."""
    return value.replace("\x00", "\ufffd")[:limit]


def audit_record(
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
) -> AuditEvent:
    """Store one event. The presented client_id is cut short: it is caller-controlled text."""
    return AuditEvent.objects.create(
        action=action,
        client=client,
        client_identifier=_text(client.client_id if client else client_identifier, 100),
        user=user,
        requested_scope=_text(requested_scope, 500),
        granted_scope=_text(granted_scope, 500),
        error=_text(error, 40),
        reason=_text(reason, 200),
        source_ip=source_ip,
    )
