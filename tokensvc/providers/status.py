"""What officers see of a provider's health: last error, keys, metadata; written as it happens."""

from django.core.cache import cache
from django.utils import timezone

from accounts.models import Provider


def provider_note(provider_pk: int, **fields) -> None:
    # update(): status writes must not move the policy revision (no signal), and must not
    # overwrite an officer's concurrent edit of the configuration.
    Provider.objects.filter(pk=provider_pk).update(**fields)


ERROR_NOTE_INTERVAL_SECONDS = 10


def provider_note_error(provider_pk: int, reason: str) -> None:
    """Record the provider's last error; during an outage at most once per interval (per cache),
    not once per failing request."""
    try:
        due = cache.add(f"provider:error-noted:{provider_pk}", 1, ERROR_NOTE_INTERVAL_SECONDS)
    except Exception:
        due = True
    if due:
        provider_note(provider_pk, last_error=reason[:300], last_error_at=timezone.now())
