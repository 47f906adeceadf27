"""Storing an access token we issue ourselves, outside oauthlib (our client_credentials path and
token exchange): DOT's AccessToken row, written as DOT would write it, together with the audit
event of its issue."""

from datetime import datetime
from functools import cache
from types import SimpleNamespace

from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from accounts.models import AuditEvent
from tokensvc.attempts import Attempt, attempt_statement
from tokensvc.direct_sql import database, datetime_param
from tokensvc.oauth import new_token
from tokensvc.rows import Statement, statements_run_if, statements_run_together
from tokensvc.selectors import token_checksum

AccessToken = get_access_token_model()

# Every column of DOT's access-token table but the id (a test checks that none is missing, so an
# upgrade of DOT that adds one fails it).
COLUMNS = (
    "token",
    "token_checksum",
    "application_id",
    "user_id",
    "scope",
    "expires",
    "created",
    "updated",
    "source_refresh_token_id",
    "id_token_id",
    "resource",
)


@cache
def _insert(vendor: str) -> tuple[str, object]:
    """The INSERT, and the stored form of an unrestricted `resource` (RFC 8707: no indicator)."""
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(AccessToken._meta.db_table)} ({', '.join(map(quote, COLUMNS))})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    )
    return sql, AccessToken._meta.get_field("resource").get_db_prep_save([], connection)


def access_token_statement(
    *,
    stored_token: str,
    checksum: str,
    application_id: int,
    user_id: int | None,
    scope: str,
    expires: datetime,
) -> Statement:
    """The INSERT of one access-token row as DOT's save() would write it (no refresh or ID
    token, no resource restriction), to run with the write it belongs to. By hand: the
    generic field-by-field preparation cost more than the rest of issuing a token."""
    db = database()
    sql, unrestricted = _insert(db.vendor)
    now = datetime_param(timezone.now(), db)
    values = {
        "token": stored_token,
        "token_checksum": checksum,
        "application_id": application_id,
        "user_id": user_id,
        "scope": scope,
        "expires": datetime_param(expires, db),
        "created": now,
        "updated": now,
        "source_refresh_token_id": None,
        "id_token_id": None,
        "resource": unrestricted,
    }
    return Statement(sql, [values[column] for column in COLUMNS])


def access_token_issue(
    request: HttpRequest,
    attempt: Attempt,
    *,
    action: AuditEvent.Action,
    application_id: int,
    user_id: int | None,
    scope: str,
    expires: datetime,
    condition: Statement | None = None,
) -> str | None:
    """A new access token for `scope`, stored with the audit event of `attempt`, which records
    that scope as granted: both are written or neither is. Returns the token's value, which
    exists only in the caller's hands; None when `condition` (SQL) did not hold as the rows
    were to be written, and nothing was.

    DOT's storage rule (RFC 9700: only the checksum is kept, unless plain storage is configured)
    is applied to a bare holder, so the row is one plain INSERT: no signal listens on tokens.
    """
    raw = new_token()
    stored = SimpleNamespace()
    set_token_value(stored, raw)
    token_row = access_token_statement(
        stored_token=stored.token,
        checksum=token_checksum(raw),
        application_id=application_id,
        user_id=user_id,
        scope=scope,
        expires=expires,
    )
    attempt.granted_scope = scope
    rows = [token_row, attempt_statement(attempt, request, action=action)]
    if condition is None:
        statements_run_together(rows)
    elif not statements_run_if(condition, rows):
        return None
    attempt.recorded = True
    return raw
