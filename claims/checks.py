"""System check: the claim rows and the customer record's fields must name each other."""

from django.core import checks
from django.db import DatabaseError

from claims.models import Customer


@checks.register("claims")
def check_claims_match_customer_fields(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every claim names a customer field and every customer data field has a claim.

    A claim without a field would grant a value that does not exist; a field without a claim
    could never be read or written through the API. Both are configuration mistakes that must
    stop `manage.py check` (and so every deploy), not surface as a 500 later.
    """
    from claims.selectors import claim_names_by_attribute

    try:
        claimed = claim_names_by_attribute()
    except DatabaseError:
        # Before the first `migrate` there are no claim rows to compare yet.
        return []
    fields = Customer.data_field_names()
    errors = [
        checks.Error(
            f"Claim '{claim}' names the customer attribute '{attribute}', which does not exist.",
            hint="Fix the claim's attribute in the admin, or add the field to claims.models.Customer.",
            obj=claim,
            id="claims.E001",
        )
        for attribute, claim in sorted(claimed.items())
        if attribute not in fields
    ]
    errors += [
        checks.Error(
            f"The customer attribute '{attribute}' has no claim, so no scope can ever grant it.",
            hint="Add a claim for it in the admin or in a data migration.",
            obj=f"Customer.{attribute}",
            id="claims.E002",
        )
        for attribute in sorted(fields - claimed.keys())
    ]
    return errors
