"""client_credentials for our own clients, issued without oauthlib's request machinery.

This is the token endpoint's busiest grant, and oauthlib's generic path (request object,
validator round trips, DOT's token bookkeeping for grants this one never has) cost more than
the work itself. The rules are the validator's own (tokensvc.oauth): one authentication method,
limits before verification, secret and API key, the role's scopes; the token is DOT's
AccessToken, stored hashed as DOT stores it. Requests with any other parameter (RFC 8707
`resource`, for one) still go through oauthlib.
"""

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from accounts import verified_clients
from accounts.authentication import PresentedCredentials
from accounts.models import AuditEvent, Client
from accounts.verified_clients import StaleClient
from claims.policy import granted_claims
from claims.selectors import policy_get
from tokensvc.attempts import current_attempt
from tokensvc.client_authentication import confidential_client
from tokensvc.errors import OAuthError, OAuthErrorCode
from tokensvc.scope_request import requested_grant
from tokensvc.token_store import access_token_issue

PARAMETERS = frozenset({"grant_type", "scope", "client_id", "client_secret"})


def handles(params: dict[str, str]) -> bool:
    """Whether the request's form holds nothing but what this grant reads."""
    return PARAMETERS.issuperset(params)


def issued_token(
    request: HttpRequest,
    params: dict[str, str],
    presented: PresentedCredentials,
    found: Client | None,
    *,
    kept: bool = False,
) -> dict:
    """The token response for one of our clients (`params`: the request's checked form), or
    OAuthError (nothing stored then). With `kept`, `found` comes from accounts.verified_clients
    (see `confidential_client`); a token issued on its word is written only if the database
    still holds what it was verified on, and StaleClient (nothing stored) otherwise, or if
    the request would fail on its word after it proved the client."""
    attempt = current_attempt()
    client = confidential_client(request, presented, found, kept=kept)
    from_kept = kept and client is found
    try:
        if client.authorization_grant_type != Client.GRANT_CLIENT_CREDENTIALS:
            raise OAuthError(
                OAuthErrorCode.UNAUTHORIZED_CLIENT,
                "This client may not use this grant type.",
                reason="client not registered for client_credentials",
            )
        # The revision was read with the client row: no query of its own.
        policy = policy_get(revision=getattr(client, "policy_revision", None))
        role = policy.role_names.get(client.role_id)
        grant = requested_grant(params, policy.role_scopes(role), role, policy)
    except OAuthError:
        if from_kept:
            raise StaleClient from None
        raise

    lifetime = oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS
    scope = " ".join(sorted(grant.scopes))
    raw = access_token_issue(
        request,
        attempt,
        action=AuditEvent.Action.TOKEN_ISSUED,
        application_id=client.pk,
        user_id=None,
        scope=scope,
        expires=timezone.now() + timedelta(seconds=lifetime),
        condition=verified_clients.unchanged_condition(client) if from_kept else None,
    )
    if raw is None:
        raise StaleClient
    if from_kept:
        verified_clients.note_kept_use(client)
    else:
        verified_clients.client_keep(client)
    return {
        "access_token": raw,
        "expires_in": lifetime,
        "token_type": "Bearer",
        "scope": scope,
        "granted_claims": granted_claims(grant),
    }
