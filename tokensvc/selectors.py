"""Reads of issued tokens and of what they grant under the policy as it is now."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from claims.policy import Grant, Policy, token_grant
from claims.selectors import policy_get
from tokensvc.direct_sql import fetch_all, fetch_one
from tokensvc.rows import Statement, along_rows, along_sql

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def token_checksum(raw: str) -> str:
    """How DOT finds a token: its SHA-256, since the token itself is not stored (RFC 9700)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def holder_role(client, user, policy: Policy) -> str | None:
    """Whose role decides: the signed-in person's (authorization-code flow), else the client's.

    Named through the cached policy, so no role row is read per request.
    """
    if user is not None and getattr(user, "pk", None) is not None:
        return policy.role_names.get(user.role_id)
    return policy.role_names.get(client.role_id) if client is not None else None


@dataclass(frozen=True)
class BearerToken:
    """An access token as the API and introspection need it: one row, read on every call."""

    pk: int
    scope: str
    expires: datetime
    created: datetime
    client_id: str
    client_is_active: bool
    client_role: str
    user_pk: int | None
    user_is_active: bool | None
    user_role: str | None
    # The policy revision, read by the same statement as the token (see `bearer_token_grant`).
    policy_revision: int | None = None
    # The rows of a read run along with the lookup (`bearer_token_find(along=...)`); None when
    # none was. Kept out of repr: they may be customer data, and a token's repr may be logged.
    along: tuple[tuple, ...] | None = field(default=None, repr=False, compare=False)

    @property
    def role(self) -> str | None:
        """Whose role decides: the person's for their tokens, else the client's."""
        return self.user_role if self.user_pk is not None else self.client_role

    def is_live(self) -> bool:
        """Not expired, and neither its client nor its person disabled."""
        if self.expires <= timezone.now() or not self.client_is_active:
            return False
        return self.user_pk is None or bool(self.user_is_active)


# What the lookup selects, in the order `bearer_token_from_rows` reads it; a read along with it
# comes after these.
_TOKEN_SELECTED = (
    *("t.id", "t.scope", "t.expires", "t.created"),
    *("c.client_id", "c.is_active", "cr.name"),
    *("u.id", "u.is_active", "ur.name"),
    "COALESCE((SELECT tag FROM {revision} WHERE id = 1), 0)",
)
_TOKEN_COLUMNS = len(_TOKEN_SELECTED)


@lru_cache(maxsize=64)
def _bearer_token_sql(along: str | None = None) -> str:
    from accounts.models import Client, Role, User
    from claims.models import PolicyRevision

    token, client, role, user = (m._meta.db_table for m in (AccessToken, Client, Role, User))
    selected = ", ".join(_TOKEN_SELECTED).format(revision=PolicyRevision._meta.db_table)
    along_columns, along_join = along_sql(along) if along is not None else ("", "")
    return (
        f"SELECT {selected}{along_columns}"  # noqa: S608
        f" FROM {token} t JOIN {client} c ON c.id = t.application_id"
        f" JOIN {role} cr ON cr.id = c.role_id"
        f" LEFT JOIN {user} u ON u.id = t.user_id LEFT JOIN {role} ur ON ur.id = u.role_id{along_join}"
        " WHERE t.token_checksum = %s"
    )


def _aware(value) -> datetime:
    # SQLite hands back text; PostgreSQL an aware datetime.
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def bearer_token_find(raw: str, *, along: Statement | None = None) -> BearerToken | None:
    """The access token for a raw value, with its client, person and their roles, or None.

    One hand-written query instead of the ORM's: this runs on every API call and every
    introspection, where compiling a four-join ORM query cost more than executing it. The
    policy revision comes along (`policy_revision`), so finding what the token grants needs
    no second round trip.

    `along` is a SELECT run by the same statement (`tokensvc.rows.along_sql`): its rows come
    back as the token's `along`, whatever the token turns out to grant. Nothing may be done
    with them before the token has been checked; they spare a caller that will need them a
    round trip of its own.
    """
    checksum = token_checksum(raw)
    if along is None:
        found = fetch_one(_bearer_token_sql(), [checksum])
        return bearer_token_from_rows([found] if found is not None else [])
    # The subquery's placeholders come first in the SQL, the checksum's last.
    rows = fetch_all(_bearer_token_sql(along.sql), [*along.params, checksum])
    return bearer_token_from_rows(rows, with_along=True)


def bearer_token_statement(raw: str) -> Statement:
    """The SELECT `bearer_token_find` runs, to run along with another; its rows go to
    `bearer_token_from_rows`."""
    return Statement(_bearer_token_sql(), [token_checksum(raw)])


def bearer_token_from_rows(rows: Sequence[tuple], *, with_along: bool = False) -> BearerToken | None:
    """The token a `bearer_token_statement` found, or None; `with_along`: the rows of a read
    run along with it (`along_sql`) become the token's `along`."""
    if not rows:
        return None
    (
        pk,
        scope,
        expires,
        created,
        client_id,
        client_active,
        client_role,
        user_pk,
        user_active,
        user_role,
        revision,
    ) = rows[0][:_TOKEN_COLUMNS]
    return BearerToken(
        pk=pk,
        scope=scope,
        expires=_aware(expires),
        created=_aware(created),
        client_id=client_id,
        client_is_active=bool(client_active),
        client_role=client_role,
        user_pk=user_pk,
        user_is_active=None if user_active is None else bool(user_active),
        user_role=user_role,
        policy_revision=revision,
        along=along_rows(rows, _TOKEN_COLUMNS) if with_along else None,
    )


def bearer_token_policy(token: BearerToken) -> Policy:
    """The policy as it was when the token was read: the revision came with the token's row,
    so this costs no query of its own while the cached policy is current."""
    return policy_get(revision=token.policy_revision)


def bearer_token_grant(token: BearerToken, policy: Policy | None = None) -> Grant:
    """What the token grants now: its scopes still held by its holder's role, mapped through
    the claims each scope covers now."""
    return token_grant(token.scope.split(), token.role, policy or bearer_token_policy(token))


def refresh_token_find(raw: str):
    """The live (not revoked) refresh token for a raw value, or None."""
    return (
        RefreshToken.objects.select_related("application__role", "user__role", "access_token")
        .filter(token_checksum=token_checksum(raw), revoked__isnull=True)
        .first()
    )


def refresh_token_is_live(token) -> bool:
    """Not revoked, its client active, and its access token not past the refresh lifetime."""
    from oauth2_provider.models import refresh_token_expire_timedelta

    if token.revoked is not None or token.application is None or not token.application.is_active:
        return False
    if token.access_token is None:
        return False
    lifetime = refresh_token_expire_timedelta()
    return not (lifetime and token.access_token.expires + lifetime <= timezone.now())
