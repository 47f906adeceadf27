"""The migrations seed exactly the policy of the mission tables."""

import pytest
from django.contrib.auth.models import Group

from claims.models import ClaimCategory
from claims.policy import granted_claims, token_grant
from claims.selectors import policy_get

PROFILE = ["age", "email", "name"]
ADDRESS = ["city", "country", "postal_code", "street"]
BANKING = ["annual_income", "bank_name", "credit_limit", "iban"]


@pytest.mark.django_db
def test_seeded_categories_and_claims():
    seeded = {c.name: sorted(c.claims.values_list("name", flat=True)) for c in ClaimCategory.objects.all()}
    assert seeded == {"profile": PROFILE, "address": ADDRESS, "banking": BANKING}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "scopes", "readable"),
    [
        ("viewer", ["basic:read"], {"profile": ["email", "name"]}),
        ("salesperson", ["profile:read"], {"profile": PROFILE}),
        ("editor", ["profile:read", "profile:write"], {"profile": PROFILE}),
        ("manager", ["address:read", "profile:read"], {"address": ADDRESS, "profile": PROFILE}),
        (
            "admin",
            [
                "address:read",
                "address:write",
                "banking:read",
                "banking:write",
                "basic:read",
                "profile:read",
                "profile:write",
            ],
            {"address": ADDRESS, "banking": BANKING, "profile": PROFILE},
        ),
    ],
)
def test_seeded_roles_hold_their_scopes_and_claims(role, scopes, readable):
    policy = policy_get()
    assert sorted(policy.role_scopes(role)) == scopes
    assert granted_claims(token_grant(scopes, role, policy)) == readable


@pytest.mark.django_db
def test_write_scopes_cover_their_whole_category():
    policy = policy_get()
    for category, claims in {"profile": PROFILE, "address": ADDRESS, "banking": BANKING}.items():
        rule = policy.scopes[f"{category}:write"]
        assert rule.access == "write"
        assert rule.claims == {f"{category}.{claim}" for claim in claims}


@pytest.mark.django_db
def test_security_officers_group_exists():
    assert Group.objects.filter(name="Security officers").exists()
