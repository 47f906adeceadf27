"""Bearer-token authentication for the customer API (RFC 6750 §2.1: header only).

Our own tokens are found by checksum; an external provider's are verified by it (a JWT against
its keys, an opaque token at its introspection endpoint). Either way the grant comes from the
same policy engine, with the policy as it is now.
"""

from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.audit import audit_record
from accounts.models import AuditEvent
from claims.exceptions import ProviderUnavailableError
from claims.policy import Grant, Policy
from claims.selectors import policy_get
from tokensvc import kept_tokens
from tokensvc.attempts import source_ip
from tokensvc.errors import REALM
from tokensvc.providers.access_tokens import external_token_verify, looks_like_jwt
from tokensvc.providers.errors import ProviderUnavailable, TokenRejected
from tokensvc.providers.holders import ExternalToken, external_access
from tokensvc.providers.registry import registry_get
from tokensvc.rows import Statement
from tokensvc.selectors import (
    BearerToken,
    bearer_token_find,
    bearer_token_grant,
    bearer_token_policy,
    token_checksum,
)

# JWTs from external providers run to a few kilobytes (Entra's with group lists, for example).
MAX_TOKEN_LENGTH = 8192
INVALID = "The access token is invalid, expired or revoked."


@dataclass(frozen=True)
class Caller:
    """Who calls (`request.auth`): the token and what it grants now.

    For client-credentials tokens `request.user` is anonymous: the caller is a client, and
    permissions are decided from this object, never from `request.user`.
    """

    token: BearerToken | ExternalToken
    grant: Grant
    policy: Policy
    # The rows of the view's `read_along_with_token` statement, read with the token; None when
    # it was not (no such statement, or a token of an external provider). Out of repr, as the
    # token's.
    along: tuple[tuple, ...] | None = field(default=None, repr=False, compare=False)
    # Set when the token's row was kept from an earlier request (tokensvc.kept_tokens), not
    # read for this one: the SQL that the statement acting for this caller must check. None
    # when the token was read from the database for this request.
    unconfirmed: Statement | None = field(default=None, repr=False, compare=False)


def _outage_record(request, error: ProviderUnavailable) -> None:
    audit_record(
        action=AuditEvent.Action.PROVIDER_UNAVAILABLE,
        provider_id=error.provider_pk,
        reason=f"API call refused: {error.reason}",
        source_ip=source_ip(request),
    )


def _external_caller(request, raw: str) -> Caller | None:
    """The caller for a token an external provider vouches for; None if none knows it."""
    try:
        identity = external_token_verify(raw, registry_get())
        if identity is None:
            return None
        policy = policy_get()
        token, grant = external_access(identity, policy)
    except TokenRejected:
        raise exceptions.AuthenticationFailed(INVALID) from None
    except ProviderUnavailable as error:
        _outage_record(request, error)
        raise ProviderUnavailableError() from None
    return Caller(token=token, grant=grant, policy=policy)


def _view_context(request: Request) -> dict:
    """The view handling the request and its URL kwargs, as DRF hands them to parsers."""
    return getattr(request, "parser_context", None) or {}


def _read_along(request: Request) -> Statement | None:
    """The read the view asks to run along with the token lookup, for this request.

    A view that will read one row whatever the token grants (a customer by id, say) names it
    in `read_along_with_token(request, **url_kwargs)`: on PostgreSQL that saves a round trip.
    The view gets the rows in `request.auth.along` once the token and the permissions have
    been checked, and reads for itself when they are None.
    """
    context = _view_context(request)
    read = getattr(context.get("view"), "read_along_with_token", None)
    return read(request, **context.get("kwargs", {})) if read is not None else None


def _view_decides_on_kept_token(request: Request) -> bool:
    """Whether the view decides this request on a kept token row (tokensvc.kept_tokens).

    A view that checks the kept row in the statement that does its work says so in
    `decides_on_kept_token(request)`; its handler gets a Caller with `unconfirmed` set, and
    decides the request again with `caller_from_database` whenever that statement refuses.
    """
    decides = getattr(_view_context(request).get("view"), "decides_on_kept_token", None)
    return decides is not None and decides(request)


def _kept_caller(checksum: str) -> Caller | None:
    token = kept_tokens.token_recall(checksum)
    if token is None:
        return None
    policy = bearer_token_policy(token)
    return Caller(
        token=token,
        grant=bearer_token_grant(token, policy),
        policy=policy,
        unconfirmed=kept_tokens.unchanged_condition(checksum, token),
    )


def caller_from_database(request: Request) -> Caller:
    """The caller of a request whose kept token row did not decide it (see `Caller.unconfirmed`),
    from the token's row as the database holds it now: AuthenticationFailed (a 401) if it is
    no longer valid. It becomes `request.auth`, and is kept in place of the old row if valid."""
    user, caller = BearerTokenAuthentication().authenticated(request, keep=True, recall=False)
    request.user, request.auth = user, caller
    return caller


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request) -> tuple[object, Caller] | None:
        kept = _view_decides_on_kept_token(request)
        return self.authenticated(request, keep=kept, recall=kept)

    def authenticated(self, request, *, keep: bool, recall: bool) -> tuple[object, Caller] | None:
        """`keep`: a token row read now is kept for the next request (only where the view checks
        it: see `_view_decides_on_kept_token`); `recall`, with it: a row kept by an earlier
        request may decide this one."""
        scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        raw = raw.strip()
        if not raw or len(raw) > MAX_TOKEN_LENGTH or not raw.isascii() or not raw.isprintable() or " " in raw:
            raise exceptions.AuthenticationFailed("The access token is malformed.")
        if looks_like_jwt(raw):
            token = None
        elif keep:
            checksum = token_checksum(raw)
            kept = _kept_caller(checksum) if recall else None
            if kept is not None:
                return AnonymousUser(), kept
            # Read now; whatever was kept for it, by this request or meanwhile by another
            # thread, gives way to this row, or goes if the token is gone.
            token = bearer_token_find(raw)
            if token is None:
                kept_tokens.token_forget(checksum)
            else:
                kept_tokens.token_keep(checksum, token)
        else:
            token = bearer_token_find(raw, along=_read_along(request))
        if token is None:
            caller = _external_caller(request, raw)
            if caller is None:
                raise exceptions.AuthenticationFailed(INVALID)
        elif not token.is_live():
            raise exceptions.AuthenticationFailed(INVALID)
        else:
            # The revision came with the token's row: no query of its own while it is current.
            policy = bearer_token_policy(token)
            grant = bearer_token_grant(token, policy)
            caller = Caller(token=token, grant=grant, policy=policy, along=token.along)
        # The caller is `request.auth`; a client-credentials token has no person behind it.
        return AnonymousUser(), caller

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'
