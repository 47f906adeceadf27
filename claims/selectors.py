"""Reads of the claim policy and the customer records."""

import functools
from contextlib import suppress

from django.core.cache import cache
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


MAX_ID = 2**63 - 1


@functools.cache
def _customer_reader(vendor: str) -> tuple[str, tuple]:
    """The detail query and, per column, the converters the ORM would apply (for `vendor`).

    Worked out once: `raw()` resolved the columns and looked up the converters on every call,
    which cost three times what the query itself did.
    """
    fields = Customer._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(Customer._meta.db_table)
    sql = f"SELECT {columns} FROM {table} WHERE {connection.ops.quote_name('id')} = %s"  # noqa: S608
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(Customer._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, tuple(found)))
    return sql, tuple(converters)


def customer_get(*, customer_id: int) -> Customer | None:
    """One customer, or None: one query on the primary key, values converted as the ORM does."""
    if not 0 < customer_id <= MAX_ID:
        return None  # no such row, and SQLite cannot even bind a larger integer
    sql, converters = _customer_reader(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [customer_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, column, functions in converters:
        for convert in functions:
            values[index] = convert(values[index], column, connection)
    return Customer.from_db(connection.alias, None, values)


CUSTOMER_TOTAL_KEY = "customers:total"
CUSTOMER_TOTAL_SECONDS = 5


def customer_total() -> int:
    """How many customers there are, remembered for a few seconds.

    Counting a large table costs more than the rest of a list page (55 ms at a million rows);
    creating or deleting a customer forgets the number at once (on every node when the cache
    is Redis), so only changes made outside the API can show up to 5 s late. Without a
    working cache it simply counts.
    """
    try:
        total = cache.get(CUSTOMER_TOTAL_KEY)
    except Exception:
        return Customer.objects.count()
    if total is None:
        total = Customer.objects.count()
        with suppress(Exception):
            cache.set(CUSTOMER_TOTAL_KEY, total, CUSTOMER_TOTAL_SECONDS)
    return total


def customer_total_forget() -> None:
    with suppress(Exception):
        cache.delete(CUSTOMER_TOTAL_KEY)


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
