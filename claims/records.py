"""Between a customer row and the nested record the API speaks: {category: {claim: value}}.

Which attribute holds which claim is policy data (`Policy.attributes`), so an officer who
moves a claim to another category changes the API's shape without a deploy.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from claims.policy import Policy, Record

# Where each laid-out claim comes from, by category, in output order:
# ((category, ((claim, attribute), ...)), ...)
Layout = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def record_layout(claims: Iterable[str], policy: Policy) -> Layout:
    """Where each of `claims` comes from, in output order: what the rows of a response are built from."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for claim in sorted(claims):
        attribute = policy.attributes.get(claim)
        if attribute is not None:
            category, _, name = claim.partition(".")
            grouped.setdefault(category, []).append((name, attribute))
    return tuple((category, tuple(fields)) for category, fields in grouped.items())


def layout_attributes(layout: Layout) -> list[str]:
    """The row attributes a layout reads."""
    return [attribute for _, fields in layout for _, attribute in fields]


def record_of(row: Mapping[str, object], layout: Layout) -> dict[str, dict[str, object]]:
    """The nested record holding the laid-out claims of a row ({attribute: stored value}).

    Money travels as a string: a JSON number would round it in most clients. (An exact class
    test inside one comprehension per category: this runs for every value of every row of a
    list page.)
    """
    return {
        category: {
            name: str(value) if (value := row[attribute]).__class__ is Decimal else value
            for name, attribute in fields
        }
        for category, fields in layout
    }


def stored_values(customer: object) -> Mapping[str, object]:
    """A model instance's stored values, as `.values()` gives them: the country as its code,
    without building the descriptor's Country object for every read."""
    return vars(customer)


@dataclass(frozen=True)
class PayloadProblems:
    """What is wrong with a write payload's shape, claim by claim."""

    errors: dict[str, list[str]]

    def __bool__(self) -> bool:
        return bool(self.errors)


def payload_problems(payload: object, policy: Policy) -> PayloadProblems:
    """Shape errors of a nested write payload: not an object, unknown categories or claims."""
    if not isinstance(payload, Mapping):
        return PayloadProblems({"non_field_errors": ["The body must be a JSON object of categories."]})
    categories = {claim.partition(".")[0] for claim in policy.attributes}
    errors: dict[str, list[str]] = {}
    for category, values in payload.items():
        if category == "id":
            errors["id"] = ["The id cannot be written."]
        elif category not in categories:
            errors[str(category)[:60]] = ["Unknown category."]
        elif not isinstance(values, Mapping):
            errors[category] = ["A category must be a JSON object of claims."]
        else:
            for name in values:
                if f"{category}.{name}" not in policy.attributes:
                    errors[f"{category}.{str(name)[:60]}"] = ["Unknown claim."]
    return PayloadProblems(errors)


def attributes_of(payload: Record, policy: Policy) -> dict[str, object]:
    """A well-formed nested payload as {attribute: value} for the model."""
    return {
        policy.attributes[f"{category}.{name}"]: value
        for category, values in payload.items()
        for name, value in values.items()
    }


def claim_of_attribute(policy: Policy) -> dict[str, str]:
    """attribute -> 'category.claim', to report model errors in the API's terms."""
    return {attribute: claim for claim, attribute in policy.attributes.items()}
