"""Who holds an external token under our policy, and what it grants: the same engine as for
our own tokens (claims.policy.token_grant), with the live policy."""

from dataclasses import dataclass
from datetime import datetime

from accounts.authentication import client_find
from accounts.models import Client, ForwardedToken
from claims.policy import Grant, Policy, token_grant
from tokensvc.providers.access_tokens import ExternalIdentity
from tokensvc.providers.errors import TokenRejected
from tokensvc.providers.roles import mapped_role_id


@dataclass(frozen=True)
class ExternalToken:
    """An external access token as the API sees it (`Caller.token`)."""

    provider: str
    client_id: str
    subject: str | None
    role: str | None
    scope: str  # the scopes it may carry before the policy's role check
    expires: datetime


def role_id_of(identity: ExternalIdentity, client: Client | None) -> int | None:
    """The provider's role mapping when the token carries a mapped value, else the client's role."""
    provider = identity.provider
    role_id = mapped_role_id(identity.claims, provider.role_claim, provider.role_mapping)
    if role_id is None and client is not None:
        role_id = client.role_id
    return role_id


def role_of(identity: ExternalIdentity, client: Client | None, policy: Policy) -> str | None:
    role_id = role_id_of(identity, client)
    return policy.role_names.get(role_id) if role_id is not None else None


def registered_client(identity: ExternalIdentity) -> Client | None:
    """Our record of the token's client, bound to the token's provider and active; else None."""
    client = client_find(identity.client_id) if identity.client_id else None
    if client is None or client.provider_id != identity.provider.pk or not client.is_active:
        return None
    return client


def identity_client(identity: ExternalIdentity) -> Client:
    """Our record of the token's client; TokenRejected when there is none (or it is disabled)."""
    client = registered_client(identity)
    if client is None:
        raise TokenRejected(
            f"client {str(identity.client_id)[:100]!r} of provider {identity.provider.name}"
            " is not registered, or is disabled"
        )
    return client


def _forwarded_scope(identity: ExternalIdentity) -> str | None:
    """The scope our token endpoint granted when it handed this token out, if it did."""
    row = (
        ForwardedToken.objects.filter(token_checksum=identity.checksum)
        .values_list("scope", "revoked")
        .first()
    )
    if row is None:
        return None
    scope, revoked = row
    if revoked is not None:
        raise TokenRejected("the token was revoked here")
    return scope


def _within_token(identity: ExternalIdentity, scopes: frozenset[str]) -> frozenset[str]:
    """No more than the token's own scopes, when the provider speaks our scope names."""
    if identity.provider.scopes_from_token:
        return scopes & (identity.scopes or frozenset())
    return scopes


def allowed_scopes(identity: ExternalIdentity, role: str | None, policy: Policy) -> frozenset[str]:
    """The scopes a token of this identity may be granted: its role's, within the token's own."""
    return _within_token(identity, policy.role_scopes(role))


def carried_scopes(identity: ExternalIdentity, role: str | None, policy: Policy) -> frozenset[str]:
    """The scopes an external token carries for us: what our token endpoint granted for it, or
    else the role's; within the token's own either way."""
    forwarded = _forwarded_scope(identity)
    if forwarded is None:
        return allowed_scopes(identity, role, policy)
    return _within_token(identity, frozenset(forwarded.split()))


def external_access(identity: ExternalIdentity, policy: Policy) -> tuple[ExternalToken, Grant]:
    """The API's view of a verified external token: its holder and its grant under `policy`."""
    client = identity_client(identity)
    role = role_of(identity, client, policy)
    scopes = carried_scopes(identity, role, policy)
    token = ExternalToken(
        provider=identity.provider.name,
        client_id=client.client_id,
        subject=identity.subject,
        role=role,
        scope=" ".join(sorted(scopes)),
        expires=identity.expires,
    )
    return token, token_grant(scopes, role, policy)
