"""Client authentication: one method per request, the secret, and the API key.

Used by the token, revocation and introspection endpoints alike. Every failure raises
ClientRefused with a reason for the audit trail; callers answer the same `invalid_client`
whatever the reason, so a caller never learns which of the three credentials was wrong.
"""

import base64
import binascii
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import unquote_plus

from django.utils import timezone

from accounts.credentials import keyed_hash
from accounts.hashers import secret_matches
from accounts.models import ApiKey, Client, Provider
from claims.models import PolicyRevision
from tokensvc.rows import RowReader, Statement

# A stored value that no secret matches, verified against when the client is unknown so that
# an unknown client_id costs the same work as a wrong secret.
_NO_CLIENT_SECRET = "keyed_sha256$none$" + "0" * 64


# The X-API-Key header every client sends its API key in, as the WSGI environ (request.META)
# names it. Read there directly: `request.headers` builds a dict of every header on first use.
API_KEY_META = "HTTP_X_API_KEY"


class ClientRefused(Exception):
    """Client authentication failed; `reason` is for officers, never for the caller."""

    def __init__(self, reason: str, client: Client | None = None):
        super().__init__(reason)
        self.reason = reason
        self.client = client


@dataclass(frozen=True)
class PresentedCredentials:
    """What a request offered as client authentication."""

    client_id: str
    client_secret: str | None = field(repr=False)
    method: str  # "client_secret_basic", "client_secret_post" or "none"


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """client_id and secret from an `Authorization: Basic` header (RFC 6749 §2.3.1)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ClientRefused("malformed Basic credentials") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise ClientRefused("malformed Basic credentials")
    return unquote_plus(client_id), unquote_plus(secret)


def credentials_presented(
    *, authorization: str | None, body_client_id: str | None, body_secret: str | None
) -> PresentedCredentials:
    """The one authentication method a request used; two at once is refused (RFC 6749 §2.3)."""
    basic = basic_credentials(authorization)
    if basic is not None:
        if body_secret is not None:
            raise ClientRefused("two authentication methods in one request")
        if body_client_id is not None and body_client_id != basic[0]:
            raise ClientRefused("client_id in the body differs from the Basic credentials")
        return PresentedCredentials(basic[0], basic[1], "client_secret_basic")
    if not body_client_id:
        raise ClientRefused("no client credentials")
    method = "client_secret_post" if body_secret is not None else "none"
    return PresentedCredentials(body_client_id, body_secret, method)


# The token endpoint reads these rows on every request. The provider's kind comes along with
# the client (`client.provider_kind`), since the endpoint branches on it, and so does the policy
# revision (`client.policy_revision`), which spares the policy check a query of its own. Only
# the columns that authenticating and issuing read are selected: the others (redirect URIs,
# names, timestamps) would cost converting on every request, and are loaded if ever used.
_CLIENT_FIELDS = (
    "client_id",
    "client_type",
    "authorization_grant_type",
    "client_secret",
    "role_id",
    "is_active",
    "is_resource_server",
    "requires_api_key",
    "last_used_at",
    "provider_id",
    "may_exchange_tokens",
)
_KEY_FIELDS = ("client_id", "key_hash", "expires_at", "revoked_at", "last_used_at")
_CLIENT_JOINS = f"JOIN {Provider._meta.db_table} p ON p.id = {Client._meta.db_table}.provider_id"
_CLIENT_EXTRA = {
    "provider_kind": "p.kind",
    "policy_revision": f"COALESCE((SELECT tag FROM {PolicyRevision._meta.db_table} WHERE id = 1), 0)",  # noqa: S608
}
_CLIENT = RowReader(
    Client,
    f"{Client._meta.db_table}.client_id = %s",  # qualified: a read run along has a client_id too
    joins=_CLIENT_JOINS,
    extra=_CLIENT_EXTRA,
    only=_CLIENT_FIELDS,
)
# With an API key presented, the client's key of that hash comes in the same statement
# (`client.presented_key`, None when it has none): one round trip for both.
_CLIENT_WITH_KEY = RowReader(
    Client,
    f"{Client._meta.db_table}.client_id = %s",
    joins=f"{_CLIENT_JOINS} LEFT JOIN {ApiKey._meta.db_table} k"
    f" ON k.client_id = {Client._meta.db_table}.id AND k.key_hash = %s",
    extra=_CLIENT_EXTRA,
    joined={"presented_key": (ApiKey, "k", _KEY_FIELDS)},
    only=_CLIENT_FIELDS,
)
_API_KEY = RowReader(ApiKey, "client_id = %s AND key_hash = %s", only=_KEY_FIELDS)


@dataclass(frozen=True)
class _KeyLookup:
    """The API key a client row was read with: its keyed hash, and the row found (or None)."""

    key_hash: str
    key: ApiKey | None


def client_find(
    client_id: str, *, api_key: str | None = None, along: Statement | None = None
) -> Client | None:
    """The client with this client_id, or None (NUL bytes and absurd lengths included).

    With `api_key`, the client's key matching it is read by the same statement, for
    `api_key_check` to use; nothing is decided about it here. `along` is a SELECT to run in
    the same statement too (`tokensvc.rows.along_sql`); its rows are the client's `along`.
    """
    if "\x00" in client_id or len(client_id) > 100:
        return None
    if not api_key:
        return _CLIENT.one([client_id], along=along)
    key_hash = keyed_hash(api_key)
    client = _CLIENT_WITH_KEY.one([key_hash, client_id], along=along)  # the JOIN's placeholder comes first
    if client is not None:
        client.key_lookup = _KeyLookup(key_hash, client.presented_key)
    return client


def is_external(client: Client) -> bool:
    """Whether an external provider, not this service, checks the client's secret."""
    kind = getattr(client, "provider_kind", None) or client.provider.kind
    return kind != Provider.Kind.BUILTIN


# Last use is shown to officers to the minute; writing it on every request would add a write
# to the hot path for nothing.
LAST_USE_RESOLUTION = timedelta(minutes=1)


def _note_last_use(obj: Client | ApiKey) -> None:
    now = timezone.now()
    if obj.last_used_at is None or now - obj.last_used_at >= LAST_USE_RESOLUTION:
        type(obj).objects.filter(pk=obj.pk).update(last_used_at=now)
        obj.last_used_at = now


def note_use(client: Client, key: ApiKey | None) -> None:
    """Record a successful authentication on the client and its key (to the minute)."""
    _note_last_use(client)
    if key is not None:
        _note_last_use(key)


def api_key_check(client: Client, api_key: str | None) -> ApiKey | None:
    """The client's usable key matching `api_key` (None when it needs none), or ClientRefused."""
    if not client.requires_api_key:
        return None
    if not api_key:
        raise ClientRefused("API key missing", client)
    # Looked up by keyed hash: without the server's key nobody can aim at a stored hash, and a
    # key of another client simply matches no row here.
    key_hash = keyed_hash(api_key)
    lookup = getattr(client, "key_lookup", None)
    if lookup is not None and lookup.key_hash == key_hash:
        key = lookup.key  # read with the client row
    else:
        key = _API_KEY.one([client.pk, key_hash])
    if key is None:
        raise ClientRefused("API key unknown or of another client", client)
    if key.revoked_at is not None:
        raise ClientRefused("API key revoked", client)
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise ClientRefused("API key expired", client)
    return key


def client_verify(
    presented: PresentedCredentials,
    *,
    api_key: str | None,
    found: Client | None = None,
    along: Statement | None = None,
    record_use: bool = True,
) -> Client:
    """The client these credentials prove, or ClientRefused.

    Confidential clients must prove their secret; public clients (browser apps using PKCE)
    have none and must not send one. `found` is the client already looked up for this
    client_id, if any, to spare a second query. Otherwise `along` is a read for the lookup to
    run in the same statement (`client_find`). Without `record_use`, the caller records the
    use (`note_use`) itself, if and when it is one.
    """
    client = found if found is not None and found.client_id == presented.client_id else None
    client = client or client_find(presented.client_id, api_key=api_key, along=along)
    if client is None:
        secret_matches(presented.client_secret or "", _NO_CLIENT_SECRET)
        raise ClientRefused("unknown client_id")
    if is_external(client):
        # Its secret lives at its provider; only the token endpoint forwards it there. The
        # dummy check keeps this refusal as slow as a wrong secret.
        secret_matches(presented.client_secret or "", _NO_CLIENT_SECRET)
        raise ClientRefused("the client belongs to an external provider", client)
    if client.client_type == Client.CLIENT_CONFIDENTIAL:
        if presented.client_secret is None:
            raise ClientRefused("confidential client sent no secret", client)
        if not secret_matches(presented.client_secret, client.client_secret):
            raise ClientRefused("wrong client secret", client)
    elif presented.client_secret is not None:
        raise ClientRefused("public client sent a secret", client)
    if not client.is_active:
        raise ClientRefused("client disabled", client)
    key = api_key_check(client, api_key)
    if record_use:
        note_use(client, key)
    return client
