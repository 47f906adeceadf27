"""A provider's signing keys (JWKS): fetched once, kept for a while, refreshed on a new key id.

A new `kid` usually means the provider rotated its keys, so an unknown one triggers a fetch;
but at most one per PROVIDER_JWKS_MIN_REFRESH_SECONDS per provider and process, so tokens
with made-up key ids cannot turn this service into a load generator against the provider.
"""

import threading
import time
from dataclasses import dataclass, field

import jwt
from django.conf import settings
from django.utils import timezone

from tokensvc.providers.errors import ProviderUnavailable, TokenRejected
from tokensvc.providers.outbound import call
from tokensvc.providers.registry import ProviderConfig
from tokensvc.providers.status import provider_note, provider_note_error

# The key type (and curve) each accepted algorithm must be verified with: a key is never
# used with an algorithm of another family (no RSA key as an HMAC secret, no curve swap).
KEY_TYPE = {
    **{alg: ("RSA", None) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519"),
}


@dataclass
class KeySet:
    jwks_uri: str
    keys: list[dict] = field(default_factory=list)
    fetched_at: float = 0.0  # monotonic; 0 when never fetched successfully
    attempted_at: float = 0.0


_sets: dict[int, KeySet] = {}
# One lock per provider, so that a slow provider holds up only the checks of its own tokens.
_locks: dict[int, threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock_of(provider_pk: int) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault(provider_pk, threading.Lock())


def _download(jwks_uri: str) -> list[dict]:
    answer = call("GET", jwks_uri)
    document = answer.json_object
    if answer.status != 200 or document is None or not isinstance(document.get("keys"), list):
        raise ProviderUnavailable(f"keys at {jwks_uri[:100]}: answered {answer.status}, no key set")
    return [key for key in document["keys"] if isinstance(key, dict)]


def _refresh(provider: ProviderConfig, key_set: KeySet) -> None:
    key_set.attempted_at = time.monotonic()
    try:
        key_set.keys = _download(provider.jwks_uri)
    except ProviderUnavailable as error:
        provider_note_error(provider.pk, error.reason)
        raise
    key_set.fetched_at = key_set.attempted_at
    kids = sorted(str(key.get("kid")) for key in key_set.keys if key.get("kid"))
    provider_note(provider.pk, jwks_key_ids=kids, jwks_fetched_at=timezone.now())


def _matching(keys: list[dict], kid: str | None, alg: str) -> list[jwt.PyJWK]:
    kty, crv = KEY_TYPE[alg]
    found = []
    for key in keys:
        if kid is not None and key.get("kid") != kid:
            continue
        if key.get("kty") != kty or (crv and key.get("crv") != crv):
            continue
        if key.get("use", "sig") != "sig" or key.get("alg", alg) != alg:
            continue
        try:
            found.append(jwt.PyJWK(key, algorithm=alg))
        except jwt.PyJWKError:
            continue
    return found


def verification_keys(provider: ProviderConfig, kid: str | None, alg: str) -> list[jwt.PyJWK]:
    """The provider's keys that may verify a token signed with `alg` under `kid`."""
    if not provider.jwks_uri:
        raise ProviderUnavailable(f"provider {provider.name} publishes no keys (jwks_uri)")
    with _lock_of(provider.pk):
        key_set = _sets.get(provider.pk)
        if key_set is None or key_set.jwks_uri != provider.jwks_uri:
            key_set = _sets[provider.pk] = KeySet(jwks_uri=provider.jwks_uri)
        now = time.monotonic()
        may_refresh = now - key_set.attempted_at >= settings.PROVIDER_JWKS_MIN_REFRESH_SECONDS
        stale = now - key_set.fetched_at >= settings.PROVIDER_JWKS_MAX_AGE_SECONDS
        if (not key_set.fetched_at or stale) and may_refresh:
            try:
                _refresh(provider, key_set)
            except ProviderUnavailable:
                if not key_set.fetched_at:
                    raise
                # Keys we already hold stay good while the provider is briefly unreachable.
        keys = _matching(key_set.keys, kid, alg)
        if not keys and may_refresh and key_set.attempted_at < now:
            # An unknown key id: the provider may have rotated its keys since the last fetch.
            _refresh(provider, key_set)
            keys = _matching(key_set.keys, kid, alg)
        if not key_set.fetched_at:
            raise ProviderUnavailable(f"provider {provider.name}: no key set fetched yet")
    if not keys:
        raise TokenRejected(f"no {alg} key {kid!r} in the key set of provider {provider.name}")
    return keys


def forget_keys() -> None:
    """Drop every cached key set (tests, and after an officer refreshes a provider)."""
    with _locks_lock:
        _sets.clear()
