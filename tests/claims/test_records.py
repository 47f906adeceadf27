"""Between customer rows and nested records: the layout of the readable claims, and the record."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from claims.policy import Policy
from claims.records import layout_attributes, record_layout, record_of

POLICY = Policy(
    attributes={
        "profile.name": "name",
        "profile.email": "email",
        "banking.iban": "iban",
        "banking.credit_limit": "credit_limit",
        "address.city": "city",
    }
)
ROW = {
    "id": 7,
    "name": "Ada",
    "email": "ada@example.com",
    "iban": "DE89370400440532013000",
    "credit_limit": Decimal("1000.50"),
    "city": "London",
}


def test_layout_groups_claims_by_category_in_name_order_and_skips_claims_without_attribute():
    layout = record_layout({"profile.name", "banking.iban", "profile.email", "banking.pin"}, POLICY)
    assert layout == (
        ("banking", (("iban", "iban"),)),
        ("profile", (("email", "email"), ("name", "name"))),
    )
    assert layout_attributes(layout) == ["iban", "email", "name"]


def test_record_holds_the_laid_out_claims_with_money_as_text():
    layout = record_layout({"profile.name", "banking.credit_limit"}, POLICY)
    assert record_of(ROW, layout) == {"banking": {"credit_limit": "1000.50"}, "profile": {"name": "Ada"}}


def test_no_claim_no_record():
    assert record_of(ROW, record_layout(set(), POLICY)) == {}


@given(st.sets(st.sampled_from([*POLICY.attributes, "profile.unknown", "other.thing"])))
def test_a_record_holds_exactly_the_laid_out_claims_and_their_row_values(claims):
    record = record_of(ROW, record_layout(claims, POLICY))
    shown = {
        f"{category}.{name}": value for category, values in record.items() for name, value in values.items()
    }
    expected = claims & POLICY.attributes.keys()
    assert shown.keys() == expected
    for claim in expected:
        value = ROW[POLICY.attributes[claim]]
        assert shown[claim] == (str(value) if isinstance(value, Decimal) else value)
    assert all(values for values in record.values())  # no empty category
