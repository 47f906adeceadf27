"""What one request to an OAuth endpoint did, gathered for its single audit event.

oauthlib calls our validator deep inside its own request handling, with no way to hand data
back to the view; a context variable carries the outcome (which client, which scopes, why it
was refused) from the validator to the view, which records it once per request.
"""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest

from accounts.audit import audit_record_later, audit_statement
from accounts.models import AuditEvent, Client, User
from tokensvc.rows import Statement, statement_run


@dataclass
class Attempt:
    client: Client | None = None
    client_identifier: str = ""
    user: User | None = None
    requested_scope: str = ""
    granted_scope: str = ""
    reason: str = ""
    # The external provider involved, if any, and an action that says more than the view's
    # default (e.g. refused by the provider rather than by us).
    provider_id: int | None = None
    action: AuditEvent.Action | None = None
    # The client the view already looked up for this request, so the validator need not.
    found_client: Client | None = None
    # Set once the event is stored; a grant may store it itself, in its own transaction.
    recorded: bool = False

    def copy(self) -> "Attempt":
        # Every field as it is, without __init__: dataclasses.replace() re-ran the fields'
        # machinery, a cost of every token and introspection decided from kept rows.
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    def restore(self, earlier: "Attempt") -> None:
        """Back to what `earlier` (a `copy()`) held: a try that decided nothing leaves no trace."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, getattr(earlier, field.name))

    def refuse(self, reason: str, client: Client | None = None) -> None:
        """Note why the request fails; the first reason is the one that counts."""
        self.reason = self.reason or reason
        self.client = self.client or client


_current: ContextVar[Attempt | None] = ContextVar("oauth_attempt", default=None)


def current_attempt() -> Attempt:
    """The attempt of the request being handled (a throwaway one outside a view)."""
    return _current.get() or Attempt()


def source_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@contextmanager
def attempt_context() -> Iterator[Attempt]:
    attempt = Attempt()
    token = _current.set(attempt)
    try:
        yield attempt
    finally:
        _current.reset(token)


def attempt_record(
    attempt: Attempt, request: HttpRequest, *, action: AuditEvent.Action, error: str = "", later: bool = False
) -> None:
    """Store the attempt's audit event now, or, for a request that only read (`later`), with
    the next batch of such events."""
    statement = attempt_statement(attempt, request, action=action, error=error)
    if later:
        audit_record_later(statement)
    else:
        statement_run(statement)
    attempt.recorded = True


def attempt_statement(
    attempt: Attempt, request: HttpRequest, *, action: AuditEvent.Action, error: str = ""
) -> Statement:
    """The INSERT of the attempt's audit event, for a write that must commit with it."""
    return audit_statement(
        action=attempt.action or action,
        client=attempt.client,
        client_identifier=attempt.client_identifier,
        user=attempt.user,
        requested_scope=attempt.requested_scope,
        granted_scope=attempt.granted_scope,
        error=error,
        reason=attempt.reason,
        source_ip=source_ip(request),
        provider_id=attempt.provider_id,
    )
