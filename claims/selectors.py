"""Reads of the claim policy and the customer records."""

from django.db import connection
from django.db.models import Q, QuerySet

from claims.models import Claim, Customer, PolicyRevision, Scope
from claims.policy import Policy, ScopeRule

_cached: tuple[int, Policy] | None = None


_REVISION_SQL = f"SELECT tag FROM {PolicyRevision._meta.db_table} WHERE id = 1"  # noqa: S608  (no input)


def policy_revision() -> int:
    """The current revision tag (0 before any change).

    Read on every request, so it skips the ORM's query compilation: one indexed row.
    """
    with connection.cursor() as cursor:
        cursor.execute(_REVISION_SQL)
        row = cursor.fetchone()
    return row[0] if row else 0


def policy_build() -> Policy:
    """The policy as the database holds it now (four queries)."""
    from accounts.models import Role  # accounts depends on claims, not the other way round

    scopes = {
        scope.name: ScopeRule(
            access=scope.access,
            claims=frozenset(claim.qualified_name for claim in scope.claims.all()),
        )
        for scope in Scope.objects.prefetch_related("claims__category")
    }
    all_roles = list(Role.objects.prefetch_related("scopes"))
    roles = {role.name: frozenset(scope.name for scope in role.scopes.all()) for role in all_roles}
    attributes = {claim.qualified_name: claim.attribute for claim in Claim.objects.select_related("category")}
    role_names = {role.pk: role.name for role in all_roles}
    return Policy(scopes=scopes, roles=roles, attributes=attributes, role_names=role_names)


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


_CUSTOMER_SQL = f"SELECT * FROM {Customer._meta.db_table} WHERE id = %s"  # noqa: S608  (no input)


MAX_ID = 2**63 - 1


def customer_get(*, customer_id: int) -> Customer | None:
    """One customer, or None. A raw query: the API's detail read skips ORM query compilation,
    while `raw()` still applies the database's value converters (decimals, dates)."""
    if not 0 < customer_id <= MAX_ID:
        return None  # no such row, and SQLite cannot even bind a larger integer
    return next(iter(Customer.objects.raw(_CUSTOMER_SQL, [customer_id])), None)


def customer_list(*, search: str = "", search_attributes: list[str], order_by: list[str]) -> QuerySet:
    """Customers matching `search` in any of `search_attributes` (case-insensitive), ordered."""
    customers = Customer.objects.all()
    if search:
        condition = Q()
        for attribute in search_attributes:
            condition |= Q(**{f"{attribute}__icontains": search})
        # No searchable claim readable: nothing can match without leaking through the search.
        customers = customers.filter(condition) if search_attributes else customers.none()
    return customers.order_by(*order_by, "id")
