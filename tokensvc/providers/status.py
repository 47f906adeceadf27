"""What officers see of a provider's health: last error, keys, metadata; written as it happens."""

from django.utils import timezone

from accounts.models import Provider


def provider_note(provider_pk: int, **fields) -> None:
    # update(): status writes must not move the policy revision (no signal), and must not
    # overwrite an officer's concurrent edit of the configuration.
    Provider.objects.filter(pk=provider_pk).update(**fields)


def provider_note_error(provider_pk: int, reason: str) -> None:
    provider_note(provider_pk, last_error=reason[:300], last_error_at=timezone.now())
