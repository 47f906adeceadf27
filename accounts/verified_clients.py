"""Clients this process has verified, kept for their next tokens and introspections.

A client_credentials token needs the client's row, its API key's and the policy revision: one
read per token, on PostgreSQL a round trip. Once a client has been verified from the database
and got its token (or, for a resource server, its introspection), those rows are kept here.
The client's next request is verified against them in Python, and the statement that does its
work checks, in the database, that nothing they were verified on has changed
(`unchanged_condition`): the client_id, the stored secret, the client's type, grant, state,
role, provider and resource-server flag, the presented API key (not revoked, not expired) and
the policy revision. A token's INSERT writes only if it holds; an introspection reads the
token with the statement that tests it (`rows_if_unchanged`). A change made by any process and
any kind of write (the admin, a management command, `QuerySet.update()`, SQL by hand) is seen
by that statement; the entry is dropped and the request is decided again from the database.

The limits come first (accounts.throttling): the kept rows are compared only once the
client's failure counters admit the attempt, so a limited attempt is refused before any
secret is checked, right or wrong. Only a success is decided from here. A request that the
kept rows would refuse then reserves its brute-force slot, like any other attempt, and is
decided from the database (tokensvc.client_authentication), so no refusal, and no audit
reason, ever rests on them; nor is a use recorded before the token is written. Only clients
whose secret is stored as a keyed hash are kept: comparing it costs microseconds, where a
secret stored by an older hasher (PBKDF2) would cost every attempt under the limit a slow
hash before its slot.
"""

from functools import lru_cache

from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from accounts.authentication import note_use
from accounts.credentials import keyed_hash
from accounts.hashers import is_keyed
from accounts.models import ApiKey, Client, Provider
from claims.models import PolicyRevision
from claims.selectors import policy_cached_revision
from tokensvc.direct_sql import database, datetime_param, fetch_all
from tokensvc.kept_rows import KeptRows
from tokensvc.rows import Statement, along_rows, along_sql

_BUILTIN = str(Provider.Kind.BUILTIN)

# 1,024: enough for every integration of a deployment; past it the oldest entry makes room.
_clients: KeptRows[str, Client] = KeptRows(limit=1024)


class StaleClient(Exception):
    """The kept rows of a client did not decide the request: decide it from the database."""


def client_keep(client: Client) -> None:
    """Keep a client that was just verified from the database (by `client_find` with its API
    key) and issued a client_credentials token, or answered an introspection."""
    if (
        getattr(client, "provider_kind", None) != Provider.Kind.BUILTIN
        or client.client_type != Client.CLIENT_CONFIDENTIAL
        or not is_keyed(client.client_secret)
        or client.authorization_grant_type != Client.GRANT_CLIENT_CREDENTIALS
        or getattr(client, "policy_revision", None) is None
        or (client.requires_api_key and getattr(getattr(client, "key_lookup", None), "key", None) is None)
    ):
        return
    # Rows read along with it (an introspected token's) belong to that request only.
    client.__dict__.pop("along", None)
    _clients.put(client.client_id, client)


def client_recall(client_id: str, api_key: str | None) -> Client | None:
    """The kept client with this client_id, if it was kept with this API key (the one its
    token's INSERT will check), and unless this process has since built a policy of another
    revision than the one it was read with (one of the two is out of date)."""
    client = _clients.get(client_id)
    if client is None:
        return None
    if client.requires_api_key and (not api_key or keyed_hash(api_key) != client.key_lookup.key_hash):
        return None
    built = policy_cached_revision()
    if built is not None and built != client.policy_revision:
        client_forget(client_id)
        return None
    return client


def note_kept_use(client: Client) -> None:
    """Record a use of a client its kept rows proved, once the database has confirmed them."""
    note_use(client, client.key_lookup.key if client.requires_api_key else None)


def client_forget(client_id: str) -> None:
    """Drop the kept rows of this client_id, if any."""
    _clients.drop(client_id)


def clients_forget_all() -> None:
    """Drop every kept client (tests start each from an empty process)."""
    _clients.clear()


@lru_cache(maxsize=2)
def _unchanged_sql(with_api_key: bool) -> str:
    # The same text for every client: built once per process, not once per request.
    sql = (
        f"EXISTS (SELECT 1 FROM {Client._meta.db_table} WHERE id = %s AND client_id = %s"  # noqa: S608
        " AND client_secret = %s"
        " AND client_type = %s AND authorization_grant_type = %s AND is_active = %s"
        " AND requires_api_key = %s AND role_id = %s AND provider_id = %s AND is_resource_server = %s)"
        f" AND EXISTS (SELECT 1 FROM {Provider._meta.db_table} WHERE id = %s AND kind = %s)"
        f" AND COALESCE((SELECT tag FROM {PolicyRevision._meta.db_table} WHERE id = 1), 0) = %s"
    )
    if with_api_key:
        sql += (
            f" AND EXISTS (SELECT 1 FROM {ApiKey._meta.db_table} WHERE key_hash = %s AND client_id = %s"  # noqa: S608
            " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > %s))"
        )
    return sql


def unchanged_condition(client: Client, db: BaseDatabaseWrapper | None = None) -> Statement:
    """SQL that holds while the database still has what `client` was verified on (see the
    module's docstring), for the statement that does the request's work to check.

    One lookup by key per row, each in a condition of its own: the same rows in one joined
    subquery cost SQLite six times as much.
    """
    params = [
        client.pk,
        client.client_id,
        client.client_secret,
        client.client_type,
        client.authorization_grant_type,
        True,
        client.requires_api_key,
        client.role_id,
        client.provider_id,
        client.is_resource_server,
        client.provider_id,
        _BUILTIN,
        client.policy_revision,
    ]
    if client.requires_api_key:
        params += [client.key_lookup.key_hash, client.pk, datetime_param(timezone.now(), db or database())]
    return Statement(_unchanged_sql(client.requires_api_key), params)


@lru_cache(maxsize=16)
def _checking_select(condition: str, along: str | None) -> str:
    select, join = along_sql(along) if along is not None else ("", "")
    return f"SELECT ({condition}) AS unchanged{select} FROM (SELECT 1) AS one{join}"  # noqa: S608


def rows_if_unchanged(client: Client, along: Statement | None) -> tuple[tuple, ...] | None:
    """The rows of the SELECT `along` (see tokensvc.rows.along_sql), read by the statement that
    checks `unchanged_condition(client)`; None when the condition does not hold. Without
    `along`, () if it holds."""
    db = database()
    condition = unchanged_condition(client, db)
    params = condition.params if along is None else [*condition.params, *along.params]
    rows = fetch_all(_checking_select(condition.sql, None if along is None else along.sql), params, db)
    if not rows[0][0]:
        return None
    return along_rows(rows, 1) if along is not None else ()
