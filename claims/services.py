"""Writes of the claims app."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from claims.demo_data import demo_customers
from claims.models import Customer
from claims.selectors import customer_get, customer_total_forget
from claims.serializers import CustomerValuesSerializer


@transaction.atomic
def customers_seed_demo(*, count: int) -> int:
    """Create the demo customers that are missing (matched by e-mail); returns how many."""
    wanted = list(demo_customers(count))
    present = set(
        Customer.objects.filter(email__in=[c["email"] for c in wanted]).values_list("email", flat=True)
    )
    missing = [Customer(**c) for c in wanted if c["email"] not in present]
    for customer in missing:
        customer.full_clean()
    Customer.objects.bulk_create(missing, batch_size=500)
    return len(missing)


class VersionConflict(Exception):
    """The record is not at the version the writer expected (or is gone)."""


def _validated(values: dict[str, object], *, instance: Customer | None = None) -> dict[str, object]:
    """Values checked by the model's field rules; DRF's ValidationError keyed by attribute."""
    serializer = CustomerValuesSerializer(instance=instance, data=values, partial=instance is not None)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@transaction.atomic
def customer_create(*, values: dict[str, object]) -> Customer:
    """A new customer from validated-on-the-way {attribute: value}."""
    customer = Customer.objects.create(**_validated(values))
    transaction.on_commit(customer_total_forget)
    return customer


@transaction.atomic
def customer_update(
    *, customer: Customer, values: dict[str, object], expected_version: int | None
) -> Customer:
    """Write only the given attributes, bumping the version; VersionConflict when stale.

    The version check and the write are one UPDATE, so two writers holding the same version
    cannot both succeed, and untouched columns are never overwritten with stale values.
    """
    changes = _validated(values, instance=customer)
    condition = {"pk": customer.pk}
    if expected_version is not None:
        condition["version"] = expected_version
    updated = Customer.objects.filter(**condition).update(
        **changes, version=F("version") + 1, updated_at=timezone.now()
    )
    if not updated:
        raise VersionConflict
    return customer_get(customer_id=customer.pk)


@transaction.atomic
def customer_delete(*, customer: Customer, expected_version: int | None) -> None:
    condition = {"pk": customer.pk}
    if expected_version is not None:
        condition["version"] = expected_version
    deleted, _ = Customer.objects.filter(**condition).delete()
    if not deleted:
        raise VersionConflict
    transaction.on_commit(customer_total_forget)
