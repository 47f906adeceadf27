"""Bearer-token authentication for the customer API (RFC 6750 §2.1: header only)."""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from claims.policy import Grant, Policy
from claims.selectors import policy_get
from tokensvc.errors import REALM
from tokensvc.selectors import BearerToken, bearer_token_find, bearer_token_grant

MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True)
class Caller:
    """Who calls (`request.auth`): the token and what it grants now.

    For client-credentials tokens `request.user` is anonymous: the caller is a client, and
    permissions are decided from this object, never from `request.user`.
    """

    token: BearerToken
    grant: Grant
    policy: Policy


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request) -> tuple[object, Caller] | None:
        scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        raw = raw.strip()
        if not raw or len(raw) > MAX_TOKEN_LENGTH or not raw.isascii() or not raw.isprintable() or " " in raw:
            raise exceptions.AuthenticationFailed("The access token is malformed.")
        token = bearer_token_find(raw)
        if token is None or not token.is_live():
            raise exceptions.AuthenticationFailed("The access token is invalid, expired or revoked.")
        policy = policy_get()
        caller = Caller(token=token, grant=bearer_token_grant(token, policy), policy=policy)
        # The caller is `request.auth`; a client-credentials token has no person behind it.
        return AnonymousUser(), caller

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'
