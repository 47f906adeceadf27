"""Validation of the policy names and of the customer record's values."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from claims.models import Claim, ClaimCategory, Customer, Scope

VALID = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "age": 36,
    "street": "1 Main Street",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
    "iban": "DE89370400440532013000",
    "bank_name": "Commerzbank",
    "credit_limit": Decimal("1000.00"),
    "annual_income": Decimal("52000.00"),
}


@pytest.mark.django_db
def test_a_valid_customer_passes_validation():
    Customer(**VALID).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("age", 151),
        ("age", -1),
        ("iban", "DE89370400440532013001"),  # checksum off by one
        ("iban", "XX00123"),
        ("country", "XX"),
        ("credit_limit", Decimal("-1")),
        ("annual_income", Decimal("1.001")),
        ("name", ""),
        ("email", ""),
    ],
)
def test_invalid_customer_values_are_refused(field, value):
    with pytest.raises(ValidationError) as caught:
        Customer(**{**VALID, field: value}).full_clean()
    assert field in caught.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["DE", "de", "DEU"])
def test_country_is_stored_as_iso_alpha_2(given):
    customer = Customer.objects.create(**{**VALID, "country": given})
    customer.refresh_from_db()
    assert customer.country.code == "DE"


@pytest.mark.django_db
def test_iban_error_never_echoes_the_value():
    with pytest.raises(ValidationError) as caught:
        Customer(**{**VALID, "iban": "DE89370400440532013001"}).full_clean()
    assert "DE8937" not in str(caught.value)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["audit:read", "audit:write", "x1_y:read"])
def test_scope_names_of_the_documented_shape_are_accepted(name):
    Scope(name=name).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["profile", "profile:admin", "Profile:read", "profile read", ":read", "a:read "]
)
def test_scope_names_of_another_shape_are_refused(name):
    with pytest.raises(ValidationError):
        Scope(name=name).full_clean()


@pytest.mark.django_db
def test_scope_access_follows_its_name():
    assert Scope(name="profile:write").access == "write"
    assert Scope(name="profile:read").access == "read"


@pytest.mark.django_db
def test_duplicate_scope_names_are_refused():
    with pytest.raises(ValidationError):
        Scope(name="profile:read").full_clean()


@pytest.mark.django_db
def test_a_claim_name_is_unique_within_its_category_only():
    profile = ClaimCategory.objects.get(name="profile")
    with pytest.raises(IntegrityError):
        Claim.objects.create(category=profile, name="email", attribute="email2")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Profile", "pro-file", "1profile", "", "a" * 41])
def test_category_names_are_identifiers(name):
    with pytest.raises(ValidationError):
        ClaimCategory(name=name).full_clean()
