"""`manage.py seed_demo` loads valid, deterministic demo customers once."""

import pytest
from django.core.management import call_command

from claims.demo_data import demo_customers
from claims.models import Customer


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_loads_at_least_200_valid_customers():
    call_command("seed_demo")
    first = list(Customer.objects.values_list("email", "iban"))
    call_command("seed_demo")
    assert list(Customer.objects.values_list("email", "iban")) == first
    assert len(first) >= 200
    for customer in Customer.objects.all():
        customer.full_clean()


def test_demo_data_is_deterministic():
    assert list(demo_customers(20)) == list(demo_customers(20))
