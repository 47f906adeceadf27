"""Storing an access token we issue ourselves, outside oauthlib (our client_credentials path and
token exchange): DOT's AccessToken row, written as DOT would write it, together with the audit
event of its issue."""

from datetime import datetime
from types import SimpleNamespace

from django.http import HttpRequest
from oauth2_provider.models import get_access_token_model, set_token_value

from accounts.models import AuditEvent
from tokensvc.attempts import Attempt, attempt_statement
from tokensvc.oauth import new_token
from tokensvc.rows import row_insert, statements_run_together
from tokensvc.selectors import token_checksum

AccessToken = get_access_token_model()


def access_token_issue(
    request: HttpRequest,
    attempt: Attempt,
    *,
    action: AuditEvent.Action,
    application_id: int,
    user_id: int | None,
    scope: str,
    expires: datetime,
) -> str:
    """A new access token for `scope`, stored with the audit event of `attempt`, which records
    that scope as granted: both are written or neither is. Returns the token's value, which
    exists only in the caller's hands.

    DOT's storage rule (RFC 9700: only the checksum is kept, unless plain storage is configured)
    is applied to a bare holder, so the row is one plain INSERT: no signal listens on tokens.
    """
    raw = new_token()
    stored = SimpleNamespace()
    set_token_value(stored, raw)
    token_row = row_insert(
        AccessToken,
        {
            "token": stored.token,
            "token_checksum": token_checksum(raw),
            "application_id": application_id,
            "user_id": user_id,
            "scope": scope,
            "expires": expires,
        },
    )
    attempt.granted_scope = scope
    statements_run_together([token_row, attempt_statement(attempt, request, action=action)])
    attempt.recorded = True
    return raw
