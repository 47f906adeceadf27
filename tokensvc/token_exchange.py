"""Token exchange (RFC 8693): an external provider's access token traded for one of ours.

A person signed in at the company's identity provider reaches the customer API under our
policy: the requesting client (ours, allowed to exchange) presents the person's access token
as `subject_token`; the provider's role mapping, or else the role of the token's client as
registered here, decides the role of the token we issue.
"""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from accounts.authentication import ClientRefused
from accounts.models import AuditEvent
from accounts.services import external_person_sync
from claims.policy import granted_claims
from claims.selectors import policy_get
from tokensvc.attempts import current_attempt
from tokensvc.client_authentication import confidential_client, request_credentials
from tokensvc.errors import INVALID_CLIENT_DESCRIPTION, OAuthError, OAuthErrorCode
from tokensvc.providers.access_tokens import ExternalIdentity, external_token_verify
from tokensvc.providers.errors import ProviderUnavailable, TokenRejected
from tokensvc.providers.holders import allowed_scopes, registered_client, role_id_of
from tokensvc.providers.registry import registry_get
from tokensvc.scope_request import requested_grant
from tokensvc.token_store import access_token_issue

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105  (a URN)
SUBJECT_TOKEN_TYPES = {ACCESS_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:jwt"}


def _invalid_request(description: str) -> OAuthError:
    return OAuthError(OAuthErrorCode.INVALID_REQUEST, description)


def _invalid_grant(reason: str) -> OAuthError:
    return OAuthError(
        OAuthErrorCode.INVALID_GRANT,
        "The subject token is invalid, expired, or not from a configured provider.",
        reason=reason,
    )


def _requesting_client(request: HttpRequest, params: dict[str, str]):
    """The client asking for the exchange: one of ours, with its secret and API key."""
    try:
        presented = request_credentials(request, params)
    except ClientRefused as refused:
        raise OAuthError(
            OAuthErrorCode.INVALID_CLIENT, INVALID_CLIENT_DESCRIPTION, status=401, reason=refused.reason
        ) from None
    client = confidential_client(request, presented)
    if not client.may_exchange_tokens:
        raise OAuthError(
            OAuthErrorCode.UNAUTHORIZED_CLIENT,
            "This client may not exchange tokens.",
            reason="client not allowed to exchange tokens",
        )
    return client


def _subject(params) -> ExternalIdentity:
    token, token_type = params.get("subject_token"), params.get("subject_token_type")
    if not token or not token_type:
        raise _invalid_request("subject_token and subject_token_type are required.")
    if token_type not in SUBJECT_TOKEN_TYPES:
        raise _invalid_request("subject_token_type must name an access token or a JWT.")
    if params.get("actor_token") or params.get("actor_token_type"):
        raise _invalid_request("Delegation (actor_token) is not supported.")
    if params.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise _invalid_request("Only access tokens are issued.")
    if len(token) > 8192 or not token.isascii() or not token.isprintable():
        raise _invalid_grant("malformed subject token")
    try:
        identity = external_token_verify(token, registry_get())
    except TokenRejected as rejected:
        raise _invalid_grant(rejected.reason) from None
    except ProviderUnavailable as error:
        current_attempt().action = AuditEvent.Action.PROVIDER_UNAVAILABLE
        raise OAuthError(
            OAuthErrorCode.TEMPORARILY_UNAVAILABLE,
            "The subject token's provider cannot be reached; retry later.",
            status=503,
            reason=error.reason,
        ) from None
    if identity is None:
        raise _invalid_grant("no configured provider knows the subject token")
    return identity


def exchanged_token(request: HttpRequest, params: dict[str, str]) -> dict:
    """Our token response for a valid exchange request (`params`: its checked form), or OAuthError."""
    attempt = current_attempt()
    client = _requesting_client(request, params)
    identity = _subject(params)
    attempt.provider_id = identity.provider.pk
    subject = identity.subject or identity.client_id
    if not subject:
        raise _invalid_grant("the subject token names no subject")

    policy = policy_get()
    role_id = role_id_of(identity, registered_client(identity))
    role = policy.role_names.get(role_id) if role_id is not None else None
    if role is None:
        raise _invalid_grant("neither a role mapping nor a registered client gives the subject a role")
    grant = requested_grant(params, allowed_scopes(identity, role, policy), role, policy)

    person = external_person_sync(provider_name=identity.provider.name, subject=subject, role_id=role_id)
    attempt.user = person
    if not person.is_active:
        raise _invalid_grant("the person is disabled")
    now = timezone.now()
    # Never outlives the token it was exchanged for.
    expires = min(now + timedelta(seconds=settings.ACCESS_TOKEN_LIFETIME), identity.expires)
    scope = " ".join(sorted(grant.scopes))
    raw = access_token_issue(
        request,
        attempt,
        action=AuditEvent.Action.TOKEN_EXCHANGED,
        application_id=client.pk,
        user_id=person.pk,
        scope=scope,
        expires=expires,
    )
    return {
        "access_token": raw,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": max(0, int((expires - now).total_seconds())),
        "scope": scope,
        "granted_claims": granted_claims(grant),
    }
