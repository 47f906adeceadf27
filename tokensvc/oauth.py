"""django-oauth-toolkit glue: the grants the token endpoint runs, our OAuth2 validator and the
role-based scopes backend.

DOT and oauthlib run the protocol and store the tokens; these classes decide which grants exist
(`OAuthServer`), who the client is (one authentication method, secret, API key), which scopes
it may have (its role's, or the user's role in the authorization-code flow), and what the token
response carries.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2 import Server
from oauthlib.oauth2.rfc6749 import errors

from accounts.authentication import (
    API_KEY_META,
    ClientRefused,
    api_key_check,
    client_find,
    client_verify,
    credentials_presented,
)
from accounts.throttling import authentication_slot
from claims.models import Scope
from claims.policy import granted_claims, refused_scopes, token_grant
from claims.selectors import policy_get
from tokensvc.attempts import current_attempt
from tokensvc.selectors import holder_role


def new_token(request=None) -> str:
    """Access and refresh tokens: 256 bits from the CSPRNG (oauthlib's default has ~178)."""
    return secrets.token_urlsafe(32)


class RoleScopes(BaseScopes):
    """Scopes come from the database; a token may only carry scopes of its holder's role.

    DOT's default backend offers every scope in settings to every client; here the available
    and the default scopes are both those of the role (all scopes only for discovery).
    """

    def get_all_scopes(self) -> dict[str, str]:
        return dict(Scope.objects.values_list("name", "description"))

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        policy = policy_get()
        if application is None:
            return sorted(policy.scopes)
        return sorted(policy.role_scopes(holder_role(application, getattr(request, "user", None), policy)))

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None:
            return []
        return self.get_available_scopes(application, request, *args, **kwargs)


class OAuthServer(Server):
    """oauthlib's server without the grants this service does not offer at its token endpoint.

    oauthlib's resource-owner password grant checks the person's password before it asks
    whether the client may use the grant (RFC 6749 §4.3.2 leaves the order open), so with the
    grant refused by policy (COMPLIANT_BCP_RFC9700_PASSWORD_GRANT) a right password still got
    `unauthorized_client` and a wrong one `invalid_grant`: a password oracle outside the
    sign-in page's lockout, paying for a slow password hash per guess. The device-code grant
    (RFC 8628) needs a device authorization endpoint this service does not have. So oauthlib
    keeps only the grants the metadata publishes (OAUTH2_GRANT_TYPES_SUPPORTED; token exchange
    there is ours, not oauthlib's), never those two even if listed, and answers any other with
    `unsupported_grant_type` before it looks at a credential. Likewise the authorization
    endpoint keeps only the published response types (OAUTH2_RESPONSE_TYPES_SUPPORTED: `code`),
    so an implicit request is `unsupported_response_type`, not a refusal of the client."""

    NEVER_OFFERED = frozenset({"password", "urn:ietf:params:oauth:grant-type:device_code"})

    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        grants = set(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED) - self.NEVER_OFFERED
        self._grant_types = {name: grant for name, grant in self._grant_types.items() if name in grants}
        responses = set(oauth2_settings.OAUTH2_RESPONSE_TYPES_SUPPORTED)
        self._response_types = {
            name: grant for name, grant in self._response_types.items() if name in responses
        }
        # oauthlib falls back to these two for anything it does not know.
        if "authorization_code" not in self._grant_types or "code" not in self._response_types:
            raise ImproperlyConfigured("OAUTH2_PROVIDER must list authorization_code and code as supported.")


class Validator(OAuth2Validator):
    """DOT's validator with our client authentication, scope rules and token response."""

    def validate_user(self, username, password, client, request, *args, **kwargs) -> bool:
        # No grant of this service takes a person's password (see OAuthServer): people sign in
        # on the sign-in page, behind its lockout. Never a password check here.
        return False

    def _load_application(self, client_id, request):
        client = request.client
        if client is None or client.client_id != client_id or not client.is_usable(request):
            client = client_find(client_id or "")
        request.client = client if client is not None and client.is_usable(request) else None
        return request.client

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        # oauthlib's `request.headers` is DOT's copy of request.META, plus "Authorization".
        attempt = current_attempt()
        try:
            presented = credentials_presented(
                authorization=request.headers.get("Authorization"),
                body_client_id=request.client_id,
                body_secret=getattr(request, "client_secret", None),
            )
            attempt.client_identifier = presented.client_id
            if presented.method == "none":
                raise ClientRefused("no client secret")
            # Raises TooManyFailures before any verification; the view answers 429.
            slot = authentication_slot(
                client_id=presented.client_id, source_ip=request.headers.get("REMOTE_ADDR")
            )
            client = client_verify(
                presented, api_key=request.headers.get(API_KEY_META), found=attempt.found_client
            )
        except ClientRefused as refused:
            attempt.refuse(refused.reason, refused.client)
            return False
        slot.release()
        request.client = attempt.client = client
        request.client_id = client.client_id
        return True

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        """A public client (browser app with PKCE): no secret, but the API key rule still holds."""
        attempt = current_attempt()
        attempt.client_identifier = client_id or ""
        client = self._load_application(client_id, request)
        try:
            if client is None:
                raise ClientRefused("unknown or disabled client_id")
            if client.client_type == client.CLIENT_CONFIDENTIAL:
                raise ClientRefused("confidential client sent no secret", client)
            if client.requires_api_key:
                # The key is then its one secret: guesses count against the limits, as a
                # confidential client's do (TooManyFailures: the view's 429).
                slot = authentication_slot(
                    client_id=client.client_id, source_ip=request.headers.get("REMOTE_ADDR")
                )
                api_key_check(client, request.headers.get(API_KEY_META))
                slot.release()
        except ClientRefused as refused:
            attempt.refuse(refused.reason, refused.client)
            return False
        attempt.client = client
        return True

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        attempt = current_attempt()
        attempt.requested_scope = " ".join(scopes)
        policy = policy_get()
        role = holder_role(client, getattr(request, "user", None), policy)
        refused = refused_scopes(scopes, role, policy)
        if refused:
            attempt.refuse(f"scopes outside role {role!r}: {' '.join(sorted(refused))}")
            return False
        if not scopes:
            attempt.refuse(f"role {role!r} holds no scope")
            return False
        return True

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        """DOT's checks, then the holder's: a disabled person or an emptied role ends the chain."""
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            current_attempt().refuse("refresh token unknown, expired, revoked or of another client")
            return False
        if self._family_outlived(request.refresh_token_instance):
            current_attempt().refuse("the refresh token family is older than REFRESH_TOKEN_LIFETIME")
            return False
        user = request.user
        if user is not None and not user.is_active:
            current_attempt().refuse("the person is disabled")
            return False
        if not self.get_original_scopes(refresh_token, request).split():
            current_attempt().refuse("the holder's role no longer holds any scope of this token")
            return False
        return True

    @staticmethod
    def _lock_if_unused(refresh_token) -> bool:
        """Lock the refresh token's row for this transaction; False if it is revoked by now."""
        live = (
            type(refresh_token).objects.select_for_update().filter(pk=refresh_token.pk, revoked__isnull=True)
        )
        return bool(list(live.values_list("pk", flat=True)))

    @staticmethod
    def _family_outlived(refresh_token) -> bool:
        """Rotation keeps a session alive one refresh at a time; the family as a whole still ends
        REFRESH_TOKEN_LIFETIME after the sign-in that started it (DOT's own expiry slides)."""
        started = refresh_token.created
        if refresh_token.token_family:
            family = type(refresh_token).objects.filter(token_family=refresh_token.token_family)
            started = family.aggregate(first=Min("created"))["first"] or started
        return started + timedelta(seconds=settings.REFRESH_TOKEN_LIFETIME) <= timezone.now()

    def get_original_scopes(self, refresh_token, request, *args, **kwargs) -> str:
        """The refreshed token's scopes that the holder's role still holds now.

        A refresh never revives a scope the role has lost; asking for it explicitly is
        `invalid_scope`, since it is no longer within the original grant.
        """
        original = super().get_original_scopes(refresh_token, request, *args, **kwargs)
        policy = policy_get()
        allowed = policy.role_scopes(holder_role(request.client, request.user, policy))
        return " ".join(scope for scope in str(original or "").split() if scope in allowed)

    def save_bearer_token(self, token, request, *args, **kwargs):
        refresh = getattr(request, "refresh_token_instance", None)
        if refresh is None:
            super().save_bearer_token(token, request, *args, **kwargs)
        else:
            with transaction.atomic():
                if not self._lock_if_unused(refresh):
                    # Another request used this refresh token first (or its family was revoked
                    # meanwhile): this use is a replay. Checked under the row lock, so of N
                    # concurrent refreshes exactly one gets through.
                    current_attempt().refuse("refresh token already used")
                    raise errors.InvalidGrantError(request=request)
                super().save_bearer_token(token, request, *args, **kwargs)
        if not token.get("access_token"):
            # DOT's grace path would hand back the first use's tokens, which hashed storage
            # cannot give back (blank); the lock above makes this unreachable, kept as a guard.
            current_attempt().refuse("refresh token used concurrently")
            raise errors.InvalidGrantError(request=request)
        policy = policy_get()
        grant = token_grant(token["scope"].split(), holder_role(request.client, request.user, policy), policy)
        # oauthlib serialises this dict after saving it: the response gains the claims.
        token["granted_claims"] = granted_claims(grant)
        attempt = current_attempt()
        attempt.client, attempt.user, attempt.granted_scope = request.client, request.user, token["scope"]
