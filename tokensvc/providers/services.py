"""Changes to a provider's record: its endpoints and keys from its metadata, its sealed secret.

Configuration and endpoints are written with `save()`, which moves the policy revision so that
every process rebuilds its provider registry; what is status only (when it was fetched, which
key ids it published, the last error) is written with `update()`, which does not.
"""

from datetime import datetime

from django.utils import timezone

from accounts.models import Provider
from tokensvc.providers.discovery import Metadata, metadata_fetch
from tokensvc.providers.errors import ProviderUnavailable
from tokensvc.providers.outbound import call
from tokensvc.providers.secret_box import seal
from tokensvc.providers.status import provider_note, provider_note_error

# The fields that the registry reads from the metadata (the hot paths call these endpoints).
ENDPOINT_FIELDS = ("token_endpoint", "jwks_uri", "introspection_endpoint", "token_endpoint_auth_methods")


def jwks_key_ids_fetch(jwks_uri: str) -> list[str]:
    """The key ids published at `jwks_uri`, sorted; ProviderUnavailable when there is no key set."""
    answer = call("GET", jwks_uri)
    document = answer.json_object
    if answer.status != 200 or document is None or not isinstance(document.get("keys"), list):
        raise ProviderUnavailable(f"keys at {jwks_uri[:100]}: answered {answer.status}, no key set")
    return sorted(str(key["kid"]) for key in document["keys"] if isinstance(key, dict) and key.get("kid"))


def provider_metadata_apply(
    provider: Provider, metadata: Metadata, *, fetched_at: datetime | None = None
) -> bool:
    """Copy the endpoints of `metadata` onto `provider` (in memory, not saved) and stamp when
    they were read; True when any endpoint differs from what the provider held."""
    found = {
        "token_endpoint": metadata.token_endpoint,
        "jwks_uri": metadata.jwks_uri,
        "introspection_endpoint": metadata.introspection_endpoint,
        "token_endpoint_auth_methods": list(metadata.token_endpoint_auth_methods),
    }
    changed = any(getattr(provider, name) != value for name, value in found.items())
    for name, value in found.items():
        setattr(provider, name, value)
    provider.metadata_fetched_at = fetched_at or timezone.now()
    return changed


def provider_refresh(provider: Provider) -> Metadata:
    """Read the provider's metadata and key set again and record what was found.

    New endpoints are saved (every process then rebuilds its registry and calls them); the
    fetch times and key ids are status only. On ProviderUnavailable the error is recorded on
    the provider and raised again; nothing else changes.
    """
    if provider.is_builtin:
        raise ValueError("the built-in provider has no metadata to fetch")
    try:
        metadata = metadata_fetch(provider.issuer)
        key_ids = jwks_key_ids_fetch(metadata.jwks_uri) if metadata.jwks_uri else []
    except ProviderUnavailable as error:
        provider_note_error(provider.pk, error.reason)
        provider.last_error, provider.last_error_at = error.reason[:300], timezone.now()
        raise
    now = timezone.now()
    if provider_metadata_apply(provider, metadata, fetched_at=now):
        provider.save(update_fields=[*ENDPOINT_FIELDS, "metadata_fetched_at"])
    else:
        provider_note(provider.pk, metadata_fetched_at=now)
    provider_note(provider.pk, jwks_key_ids=key_ids, jwks_fetched_at=now)
    provider.jwks_key_ids, provider.jwks_fetched_at = key_ids, now
    return metadata


def provider_secret_set(provider: Provider, secret: str) -> None:
    """Store the client secret we present at the provider's introspection endpoint, sealed
    (Fernet, key from the environment); an empty secret forgets the stored one. Saved, so every
    process's registry picks it up."""
    provider.introspection_secret_encrypted = seal(secret) if secret else ""
    provider.save(update_fields=["introspection_secret_encrypted"])
