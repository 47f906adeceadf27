"""Access tokens this process has read, kept for the writes made with them next.

A PATCH must know what its token grants before it can tell which claims it may write, so the
token's row was read by a statement of its own before the UPDATE: on PostgreSQL one round trip
more than a read, which gets the token and the customer together. Once a token has been read
from the database for a write, its row is kept here. The token's next write is decided on that
row in Python, and the UPDATE itself checks, in the database, that nothing the decision rests
on has changed (`unchanged_condition`): the token (its id, scope, and not expired), its client
(active, its role) and the policy revision. If that does not hold, nothing is written, the
entry is dropped, and the request is decided again from the database. A change made by any
process and any kind of write (the admin, revocation, `QuerySet.update()`, SQL by hand) is
seen by that statement: nothing has to announce it.

As with kept clients (accounts.verified_clients), only a success comes from a kept row: any
refusal (no such customer, an invalid body, a stale version) is decided again from the
database, so that a revoked token is a 401 whatever else is wrong with the request. Only
client tokens (client_credentials: no person behind them) are kept, by their checksum, the
form DOT stores; never their value.
"""

from dataclasses import replace
from functools import lru_cache

from django.utils import timezone

from claims.selectors import policy_cached_revision
from tokensvc.direct_sql import database, datetime_param
from tokensvc.kept_rows import KeptRows
from tokensvc.rows import Statement
from tokensvc.selectors import AccessToken, BearerToken

# Past 4,096 the oldest entry makes room: a token's next write then reads its row again.
_tokens: KeptRows[str, BearerToken] = KeptRows(limit=4096)


def token_keep(checksum: str, token: BearerToken) -> None:
    """Keep a live client token just read from the database, for its next writes, in place of
    any row kept for it before; a token that is not one to keep drops that row."""
    if token.user_pk is not None or token.policy_revision is None or not token.is_live():
        token_forget(checksum)
        return
    if token.along is not None:
        token = replace(token, along=None)  # a read's rows belong to that request alone
    _tokens.put(checksum, token)


def token_recall(checksum: str) -> BearerToken | None:
    """The kept token with this checksum, unless it has expired since, or this process has
    built a policy of another revision than the one it was read with (one of them is out of
    date): then it is dropped."""
    token = _tokens.get(checksum)
    if token is None:
        return None
    if not token.is_live() or policy_cached_revision() not in (None, token.policy_revision):
        _tokens.drop(checksum, only=token)
        return None
    return token


def token_forget(checksum: str) -> None:
    """Drop the row kept for this checksum, if any."""
    _tokens.drop(checksum)


def tokens_forget_all() -> None:
    """Drop every kept token (tests start each from an empty process)."""
    _tokens.clear()


@lru_cache(maxsize=2)
def _unchanged_sql(vendor: str) -> str:
    # The same text for every token: built once per process (and database), not per request.
    # One joined subquery, the lookup's own joins, each by key: it stands in for the lookup
    # statement it repeats, and a PATCH cost SQLite less with it (350 -> 333 µs in-process).
    from accounts.models import Client, Role
    from claims.models import PolicyRevision

    quote = database().ops.quote_name
    token, client, role, revision = (
        quote(model._meta.db_table) for model in (AccessToken, Client, Role, PolicyRevision)
    )
    return (
        f"EXISTS (SELECT 1 FROM {token} t JOIN {client} c ON c.id = t.application_id"  # noqa: S608
        f" JOIN {role} r ON r.id = c.role_id"
        " WHERE t.token_checksum = %s AND t.id = %s AND t.scope = %s AND t.expires > %s"
        " AND t.user_id IS NULL AND c.client_id = %s AND c.is_active = %s AND r.name = %s)"
        f" AND COALESCE((SELECT tag FROM {revision} WHERE id = 1), 0) = %s"
    )


def unchanged_condition(checksum: str, token: BearerToken) -> Statement:
    """SQL that holds while the database still has what the kept `token` was read with (see
    the module's docstring), for the statement that writes on its word to check."""
    db = database()
    return Statement(
        _unchanged_sql(db.vendor),
        [
            checksum,
            token.pk,
            token.scope,
            datetime_param(timezone.now(), db),
            token.client_id,
            True,
            token.client_role,
            token.policy_revision,
        ],
    )
