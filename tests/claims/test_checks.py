"""`manage.py check` catches claims and customer fields that drift apart."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from claims.checks import check_claims_match_customer_fields
from claims.models import Claim


@pytest.mark.django_db
def test_the_seeded_claims_match_the_customer_record():
    assert check_claims_match_customer_fields() == []
    call_command("check")


@pytest.mark.django_db
def test_a_claim_naming_a_missing_attribute_fails_the_check():
    Claim.objects.filter(attribute="iban").update(attribute="iban_number")
    ids = sorted(error.id for error in check_claims_match_customer_fields())
    # The claim points nowhere, and the real field is left without a claim.
    assert ids == ["claims.E001", "claims.E002"]
    with pytest.raises(SystemCheckError, match="iban_number"):
        call_command("check")


@pytest.mark.django_db
def test_a_customer_field_without_a_claim_fails_the_check():
    Claim.objects.filter(attribute="age").delete()
    errors = check_claims_match_customer_fields()
    assert [(e.id, e.obj) for e in errors] == [("claims.E002", "Customer.age")]
