"""Verification of an external provider's access token: a JWT against its keys, or an opaque
token at its introspection endpoint (RFC 7662). Who holds it and what it grants is decided
elsewhere (tokensvc.providers.holders); this only says whether the provider vouches for it.
"""

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from django.conf import settings
from django.core.cache import cache

from accounts.models import Provider
from tokensvc.providers.errors import ProviderUnavailable, TokenRejected
from tokensvc.providers.jwks import KEY_TYPE, verification_keys
from tokensvc.providers.outbound import call
from tokensvc.providers.registry import ProviderConfig, Registry
from tokensvc.providers.secret_box import SecretUnreadable, unseal
from tokensvc.providers.status import provider_note_error
from tokensvc.selectors import token_checksum

# Header types of JWTs that are not access tokens (ID tokens carry none in the header, and
# fail the audience check instead).
ACCESS_TOKEN_TYPES = {None, "JWT", "jwt", "at+jwt", "application/at+jwt"}
# Where providers put the client a token was issued to: RFC 9068, OpenID Connect, Okta, Entra v1.
CLIENT_ID_CLAIMS = ("client_id", "azp", "cid", "appid")


@dataclass(frozen=True)
class ExternalIdentity:
    """What a provider vouches for: the token's client, subject, own scopes and claims."""

    provider: ProviderConfig
    checksum: str
    client_id: str | None
    subject: str | None
    scopes: frozenset[str] | None  # None when the token names no scope
    claims: Mapping[str, object]
    expires: datetime


def looks_like_jwt(raw: str) -> bool:
    """Our own tokens are URL-safe base64 without dots; a JWS compact token has exactly two."""
    return raw.count(".") == 2


def _scopes(claims: Mapping) -> frozenset[str] | None:
    value = claims.get("scope")
    if not isinstance(value, str | list):
        value = claims.get("scp")  # Okta, Entra
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return None


def _identity(provider: ProviderConfig, raw: str, claims: Mapping) -> ExternalIdentity:
    client_id = next((claims[c] for c in CLIENT_ID_CLAIMS if isinstance(claims.get(c), str)), None)
    subject = claims.get("sub")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise TokenRejected("the token has no expiry")
    return ExternalIdentity(
        provider=provider,
        checksum=token_checksum(raw),
        client_id=client_id,
        subject=subject if isinstance(subject, str) else None,
        scopes=_scopes(claims),
        claims=claims,
        expires=datetime.fromtimestamp(exp, tz=UTC),
    )


def jwt_verify(raw: str, registry: Registry) -> ExternalIdentity:
    """A JWT access token of a configured provider, verified; TokenRejected otherwise."""
    try:
        header = jwt.get_unverified_header(raw)
        unverified = jwt.decode(raw, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise TokenRejected("not a well-formed JWT") from None
    issuer = unverified.get("iss")
    provider = registry.by_issuer.get(issuer) if isinstance(issuer, str) else None
    if provider is None:
        raise TokenRejected(f"issuer {str(issuer)[:100]!r} is not a configured provider")
    if provider.validation == Provider.Validation.INTROSPECTION:
        identity = _introspected(provider, raw)
        if identity is None:
            raise TokenRejected(f"provider {provider.name} says the token is not active")
        return identity
    alg = header.get("alg")
    # Only the provider's asymmetric algorithms: never 'none', never HS* with a public key.
    if alg not in KEY_TYPE or alg not in provider.algorithms:
        raise TokenRejected(f"algorithm {str(alg)[:20]!r} is not accepted for provider {provider.name}")
    if header.get("typ") not in ACCESS_TOKEN_TYPES:
        raise TokenRejected(f"a JWT of type {str(header.get('typ'))[:40]!r} is not an access token")
    if not provider.audience:
        raise TokenRejected(f"provider {provider.name} has no audience configured")
    kid = header.get("kid")
    try:
        keys = verification_keys(provider, kid if isinstance(kid, str) else None, alg)
    except ProviderUnavailable as error:
        error.provider_pk = provider.pk
        raise
    for key in keys:
        try:
            claims = jwt.decode(
                raw,
                key=key.key,
                algorithms=[alg],
                audience=provider.audience,
                issuer=provider.issuer,
                leeway=settings.PROVIDER_CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError as error:
            raise TokenRejected(f"provider {provider.name}: {type(error).__name__}") from None
        return _identity(provider, raw, claims)
    raise TokenRejected(f"provider {provider.name}: signature does not verify")


# What an introspection answer is reduced to before it is cached.
_KEPT_CLAIMS = {"active", "client_id", "sub", "scope", "exp", "iat", "iss", "aud", "token_type", "username"}


def _introspection_answer(provider: ProviderConfig, raw: str) -> dict:
    try:
        secret = unseal(provider.introspection_secret_sealed) if provider.introspection_secret_sealed else ""
    except SecretUnreadable as error:
        raise ProviderUnavailable(f"provider {provider.name}: {error}") from None
    answer = call(
        "POST",
        provider.introspection_endpoint,
        data={"token": raw, "token_type_hint": "access_token"},
        auth=(provider.introspection_client_id, secret),
    )
    document = answer.json_object
    if answer.status != 200 or document is None or not isinstance(document.get("active"), bool):
        raise ProviderUnavailable(f"introspection at {provider.name}: answered {answer.status}, not RFC 7662")
    kept = {k: v for k, v in document.items() if k in _KEPT_CLAIMS or k == provider.role_claim.split(".")[0]}
    return kept if document["active"] else {"active": False}


def _introspected(provider: ProviderConfig, raw: str) -> ExternalIdentity | None:
    """The identity the provider's introspection vouches for, or None when it is not active.

    Answers are cached briefly (never past the token's expiry), shared by every node through
    the cache, so a busy client does not cost one introspection call per API request.
    """
    if not provider.introspection_endpoint:
        raise ProviderUnavailable(f"provider {provider.name} has no introspection endpoint")
    key = f"introspection:{provider.pk}:{token_checksum(raw)}"
    try:
        answer = cache.get(key)
    except Exception:
        answer = None
    if answer is None:
        try:
            answer = _introspection_answer(provider, raw)
        except ProviderUnavailable as error:
            provider_note_error(provider.pk, error.reason)
            error.provider_pk = provider.pk
            raise
        lifetime = settings.PROVIDER_INTROSPECTION_CACHE_SECONDS
        if isinstance(answer.get("exp"), int):
            lifetime = min(lifetime, answer["exp"] - int(datetime.now(UTC).timestamp()))
        if lifetime > 0:
            # Without a cache the next request simply asks the provider again.
            with suppress(Exception):
                cache.set(key, answer, lifetime)
    if not answer.get("active"):
        return None
    if answer.get("iss") not in (None, provider.issuer):
        raise TokenRejected(f"introspection at {provider.name} names another issuer")
    if answer.get("token_type") in ("refresh_token", "urn:ietf:params:oauth:token-type:refresh_token"):
        raise TokenRejected("a refresh token is not an access token")
    audience = answer.get("aud")
    if provider.audience and audience is not None:
        audiences = audience if isinstance(audience, list) else [audience]
        if provider.audience not in audiences:
            raise TokenRejected(f"introspection at {provider.name}: the token is for another audience")
    identity = _identity(provider, raw, answer)
    if identity.expires <= datetime.now(UTC):
        raise TokenRejected("the token has expired")
    return identity


def opaque_verify(raw: str, registry: Registry) -> ExternalIdentity | None:
    """An opaque token vouched for by one of the introspecting providers, or None."""
    for provider in registry.introspecting:
        identity = _introspected(provider, raw)
        if identity is not None:
            return identity
    return None


def external_token_verify(raw: str, registry: Registry) -> ExternalIdentity | None:
    """What a configured provider vouches for this token, None when no provider knows it;
    TokenRejected when its provider disowns it."""
    if looks_like_jwt(raw):
        return jwt_verify(raw, registry)
    return opaque_verify(raw, registry)
