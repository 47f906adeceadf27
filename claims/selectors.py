"""Reads of the claim policy and the customer records."""

from claims.models import Claim, Scope
from claims.policy import Policy, ScopeRule


def policy_get() -> Policy:
    """The current policy, built from the database."""
    from accounts.models import Role  # accounts depends on claims, not the other way round

    scopes = {
        scope.name: ScopeRule(
            access=scope.access,
            claims=frozenset(claim.qualified_name for claim in scope.claims.all()),
        )
        for scope in Scope.objects.prefetch_related("claims__category")
    }
    roles = {
        role.name: frozenset(scope.name for scope in role.scopes.all())
        for role in Role.objects.prefetch_related("scopes")
    }
    return Policy(scopes=scopes, roles=roles)


def claim_names_by_attribute() -> dict[str, str]:
    """Customer attribute -> qualified claim name, for every claim row."""
    return {claim.attribute: claim.qualified_name for claim in Claim.objects.select_related("category")}
