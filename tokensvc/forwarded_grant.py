"""client_credentials for a client of an external provider: our checks, then the provider's.

The API key, the client's state and the brute-force limit are ours; the secret is checked by
the provider that issued it, which answers with its own access token. The token is verified as
the API will verify it, so the scope and claims we answer are the ones the API grants.
"""

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from accounts.authentication import (
    API_KEY_META,
    ClientRefused,
    PresentedCredentials,
    api_key_check,
    note_use,
)
from accounts.models import AuditEvent, Client, ForwardedToken
from accounts.throttling import authentication_slot
from claims.policy import granted_claims
from claims.selectors import policy_get
from tokensvc.attempts import current_attempt, source_ip
from tokensvc.errors import INVALID_CLIENT_DESCRIPTION, OAuthError, OAuthErrorCode
from tokensvc.providers.access_tokens import external_token_verify
from tokensvc.providers.errors import ProviderRefused, ProviderUnavailable, TokenRejected
from tokensvc.providers.forwarding import token_request
from tokensvc.providers.holders import allowed_scopes, role_of
from tokensvc.providers.registry import registry_get
from tokensvc.providers.status import provider_note_error
from tokensvc.scope_request import requested_grant

UNAVAILABLE_DESCRIPTION = "The client's credential provider cannot be reached; retry later."


def _refused(reason: str) -> OAuthError:
    return OAuthError(OAuthErrorCode.INVALID_CLIENT, INVALID_CLIENT_DESCRIPTION, status=401, reason=reason)


def _unavailable(provider_pk: int, reason: str) -> OAuthError:
    current_attempt().action = AuditEvent.Action.PROVIDER_UNAVAILABLE
    provider_note_error(provider_pk, reason)
    return OAuthError(
        OAuthErrorCode.TEMPORARILY_UNAVAILABLE, UNAVAILABLE_DESCRIPTION, status=503, reason=reason
    )


def forwarded_token(
    request: HttpRequest, params: dict[str, str], presented: PresentedCredentials, client: Client
) -> dict:
    """The token response for an external provider's client (`params`: the request's checked
    form), or OAuthError."""
    attempt = current_attempt()
    attempt.client_identifier, attempt.client = presented.client_id, client
    registry = registry_get()
    provider = registry.by_pk.get(client.provider_id)
    attempt.provider_id = client.provider_id
    # Raises TooManyFailures before anything is checked or forwarded; the view answers 429.
    slot = authentication_slot(client_id=presented.client_id, source_ip=source_ip(request))
    if presented.client_secret is None:
        raise _refused("no client secret")
    if not client.is_active:
        raise _refused("client disabled")
    if provider is None or not provider.is_active:
        raise _refused("the client's provider is disabled")
    try:
        key = api_key_check(client, request.META.get(API_KEY_META))
    except ClientRefused as refused:
        raise _refused(refused.reason) from None

    try:
        issued = token_request(provider, presented.client_id, presented.client_secret)
        identity = external_token_verify(issued.access_token, registry)
    except ProviderRefused as refused:
        attempt.action = AuditEvent.Action.PROVIDER_REFUSED
        raise _refused(refused.reason) from None
    except ProviderUnavailable as error:
        raise _unavailable(provider.pk, error.reason) from None
    except TokenRejected as rejected:
        # The provider issued a token this API would refuse: its configuration (audience,
        # algorithms, keys) does not match ours. Nothing the client can fix.
        raise _unavailable(provider.pk, f"issued token fails verification: {rejected.reason}") from None
    if identity is None or identity.client_id != client.client_id:
        raise _unavailable(provider.pk, "issued token is not this client's")
    slot.release()
    note_use(client, key)

    policy = policy_get()
    role = role_of(identity, client, policy)
    grant = requested_grant(params, allowed_scopes(identity, role, policy), role, policy)

    now = timezone.now()
    expires = identity.expires
    if issued.expires_in is not None:
        expires = min(expires, now + timedelta(seconds=issued.expires_in))
    scope = " ".join(sorted(grant.scopes))
    # Some providers hand out the same token again while it is valid: the latest grant counts.
    ForwardedToken.objects.update_or_create(
        token_checksum=identity.checksum,
        defaults={"provider_id": provider.pk, "client": client, "scope": scope, "expires": expires},
    )
    attempt.granted_scope = scope
    attempt.reason = f"issued by provider {provider.name}"
    return {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": max(0, int((expires - now).total_seconds())),
        "scope": scope,
        "granted_claims": granted_claims(grant),
    }
