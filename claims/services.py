"""Writes of the claims app."""

from django.db import transaction

from claims.demo_data import demo_customers
from claims.models import Customer


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
