"""The `scope` parameter of a token request, checked against what the holder may have."""

from claims.policy import Grant, Policy, token_grant
from tokensvc.errors import OAuthError, OAuthErrorCode


def requested_grant(
    params: dict[str, str], allowed: frozenset[str], role: str | None, policy: Policy
) -> Grant:
    """The grant for the scopes the request's form names (all allowed ones when none is);
    `invalid_scope` when a requested scope is not allowed or nothing would be granted."""
    requested = frozenset(params.get("scope", "").split())
    if requested - allowed:
        raise OAuthError(
            OAuthErrorCode.INVALID_SCOPE,
            "The requested scope is unknown or not allowed for this role.",
            reason=f"scopes outside role {role!r}: {' '.join(sorted(requested - allowed))}",
        )
    grant = token_grant(requested or allowed, role, policy)
    if not grant.scopes:
        raise OAuthError(
            OAuthErrorCode.INVALID_SCOPE, "The role holds no scope.", reason=f"role {role!r} holds no scope"
        )
    return grant
