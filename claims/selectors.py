"""Reads of the claim policy and the customer records."""

from claims.models import Claim, PolicyRevision, Scope
from claims.policy import Policy, ScopeRule

_cached: tuple[int, Policy] | None = None


def policy_revision() -> int:
    """The current revision tag (0 before any change)."""
    return PolicyRevision.objects.filter(pk=1).values_list("tag", flat=True).first() or 0


def policy_build() -> Policy:
    """The policy as the database holds it now (three queries)."""
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


def policy_get() -> Policy:
    """The current policy: rebuilt only when the revision moved since this process built it."""
    global _cached
    revision = policy_revision()
    cached = _cached
    if cached is not None and cached[0] == revision:
        return cached[1]
    policy = policy_build()
    # Whichever thread stores last wins; a stale entry only costs one rebuild, since every
    # request compares the tag with the database.
    _cached = (revision, policy)
    return policy


def claim_names_by_attribute() -> dict[str, str]:
    """Customer attribute -> qualified claim name, for every claim row."""
    return {claim.attribute: claim.qualified_name for claim in Claim.objects.select_related("category")}
