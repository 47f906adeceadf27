"""Reads of issued tokens and of what they grant under the policy as it is now."""

import hashlib

from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from claims.policy import Grant, Policy, token_grant
from claims.selectors import policy_get

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def token_checksum(raw: str) -> str:
    """How DOT finds a token: its SHA-256, since the token itself is not stored (RFC 9700)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def holder_role(client, user) -> str | None:
    """Whose role decides: the signed-in person's (authorization-code flow), else the client's."""
    if user is not None and getattr(user, "pk", None) is not None:
        return user.role.name if user.role_id else None
    return client.role.name if client is not None else None


def access_token_find(raw: str):
    """The stored access token for a raw token value, with its client, user and roles."""
    return (
        AccessToken.objects.select_related("application__role", "user__role")
        .filter(token_checksum=token_checksum(raw))
        .first()
    )


def refresh_token_find(raw: str):
    """The live (not revoked) refresh token for a raw value, or None."""
    return (
        RefreshToken.objects.select_related("application__role", "user__role", "access_token")
        .filter(token_checksum=token_checksum(raw), revoked__isnull=True)
        .first()
    )


def access_token_is_live(token) -> bool:
    """Not expired, and neither its client nor its person has been disabled."""
    if token.is_expired():
        return False
    if token.application is None or not token.application.is_active:
        return False
    return token.user is None or token.user.is_active


def access_token_grant(token, policy: Policy | None = None) -> Grant:
    """What the token grants now: its scopes still held by its holder's role, mapped through
    the claims each scope covers now."""
    policy = policy or policy_get()
    return token_grant(token.scope.split(), holder_role(token.application, token.user), policy)


def refresh_token_is_live(token) -> bool:
    """Not revoked, its client active, and its access token not past the refresh lifetime."""
    from oauth2_provider.models import refresh_token_expire_timedelta

    if token.revoked is not None or token.application is None or not token.application.is_active:
        return False
    if token.access_token is None:
        return False
    lifetime = refresh_token_expire_timedelta()
    return not (lifetime and token.access_token.expires + lifetime <= timezone.now())
