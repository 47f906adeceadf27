"""The write path's validation: the serializers built once per process answer exactly as a
fresh ModelSerializer would, for good and bad values alike."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.validators import UniqueTogetherValidator, UniqueValidator

from claims import serializers as serializers_module
from claims.models import Customer
from claims.serializers import CustomerValuesSerializer, customer_values_checked, customer_values_rules

IBAN = "DE89370400440532013000"

CASES = [
    {"age": 42},
    {"age": None},
    {"age": 0},
    {"age": 150},
    {"age": 151},
    {"age": -1},
    {"age": "forty"},
    {"age": 4.5},
    {"email": "ada@example.com"},
    {"email": "not an address"},
    {"email": ""},
    {"name": ""},
    {"name": "x" * 201},
    {"name": None},
    {"name": ["a list"]},
    {"iban": IBAN},
    {"iban": "de89 3704 0044 0532 0130 00"},
    {"iban": "DE89370400440532013001"},
    {"iban": ""},
    {"country": "de"},
    {"country": "XX"},
    {"country": ""},
    {"country": "DEU"},
    {"credit_limit": "1000.50"},
    {"credit_limit": "12.345"},
    {"credit_limit": "-1"},
    {"credit_limit": "abc"},
    {"credit_limit": "1" * 15},
    {"annual_income": None},
    {"postal_code": "x" * 21},
    {"street": "1 Main Street", "city": "London", "age": 200, "iban": "nope"},
    {"bank_name": "\x00"},
]


def fresh(values: dict, *, partial: bool) -> tuple[bool, object]:
    serializer = CustomerValuesSerializer(data=values, partial=partial)
    if serializer.is_valid():
        return True, dict(serializer.validated_data)
    return False, serializers.ValidationError(serializer.errors).detail


def shared(values: dict, *, partial: bool) -> tuple[bool, object]:
    try:
        return True, customer_values_checked(values, partial=partial)
    except serializers.ValidationError as error:
        return False, error.detail


@pytest.mark.parametrize("partial", [True, False], ids=["update", "create"])
@pytest.mark.parametrize("values", CASES, ids=lambda v: repr(v)[:40])
def test_shared_rules_answer_as_a_fresh_serializer(values, partial):
    assert shared(values, partial=partial) == fresh(values, partial=partial)


# Values of every kind a JSON body can hold, good and bad for one field or another, under the
# customer's attributes and names it does not have.
written_values = st.dictionaries(
    st.sampled_from([*sorted(Customer.data_field_names()), "id", "version", "unknown"]),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**16), max_value=10**16),
        st.floats(allow_nan=False),
        st.sampled_from(["", "x" * 201, "de", "XX", "ada@example.com", IBAN, "12.345", "1000.50", "\x00"]),
        st.text(max_size=8),
    ),
    max_size=5,
)


@given(written_values, st.booleans())
def test_shared_rules_answer_as_a_fresh_serializer_for_any_values(values, partial):
    # An update is checked by rules holding only the fields it writes (and, past their limit,
    # by the rules of every field): they must answer as a fresh serializer does, errors included.
    assert shared(values, partial=partial) == fresh(values, partial=partial)


def test_past_their_limit_updates_are_checked_by_the_rules_of_every_field(monkeypatch):
    monkeypatch.setattr(serializers_module, "_update_rules", {})
    monkeypatch.setattr(serializers_module, "MAX_UPDATE_RULES", 2)
    for values in [{"age": 1}, {"age": 151}, {"city": "x" * 201}, {"iban": "nope", "age": -1}, {"age": 2}]:
        assert shared(values, partial=True) == fresh(values, partial=True)
    assert set(serializers_module._update_rules) == {frozenset({"age"}), frozenset({"city"})}


def test_every_field_keeps_its_rules_and_normalises_as_before():
    assert shared({"iban": "de89 3704 0044 0532 0130 00", "country": "gb"}, partial=True) == (
        True,
        {"iban": IBAN, "country": "GB"},
    )
    assert shared({"credit_limit": "10.5"}, partial=True) == (True, {"credit_limit": Decimal("10.5")})
    ok, errors = shared({"age": 151, "email": "x"}, partial=True)
    assert (ok, set(errors)) == (False, {"age", "email"})
    ok, errors = shared({}, partial=False)
    assert (ok, set(errors)) == (False, {"name", "email"})  # required on create only


def test_no_validator_depends_on_the_instance_being_written():
    """A unique field's validator compares with the instance under update, which a serializer
    shared by every request does not have: adding one must change how writes are validated."""
    rules = customer_values_rules(partial=True)
    validators = [v for field in rules.fields.values() for v in field.validators] + list(rules.validators)
    assert not [v for v in validators if isinstance(v, (UniqueValidator, UniqueTogetherValidator))]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("Ada@Example.COM", "Ada@example.com"),  # the local part is the owner's; the domain is not
        ("ob1+o@F.Xn--3BsT00M", "ob1+o@f.xn--3bst00m"),
        ("ada@bücher.de", "ada@xn--bcher-kva.de"),
    ],
)
def test_email_domains_are_stored_in_canonical_form(written, stored):
    ok, values = shared({"email": written}, partial=True)
    assert (ok, values) == (True, {"email": stored})


@pytest.mark.parametrize("written", ["ada@example.xn--zz", "ada@xn--a.com"])
def test_email_domains_that_are_no_idna_name_are_refused(written):
    """Django's own check lets these through; the documented `format: email` does not."""
    ok, errors = shared({"email": written}, partial=True)
    assert ok is False
    assert set(errors) == {"email"}
