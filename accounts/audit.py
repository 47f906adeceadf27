"""Recording of audit events; never given a secret, so none can reach the trail."""

from accounts.models import AuditEvent, Client, User


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
        client_identifier=(client.client_id if client else client_identifier)[:100],
        user=user,
        requested_scope=requested_scope[:500],
        granted_scope=granted_scope[:500],
        error=error[:40],
        reason=reason[:200],
        source_ip=source_ip,
    )
