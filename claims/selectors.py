"""Reads of the claim policy and the customer records."""

import functools
from contextlib import suppress
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, OrderBy, Q, QuerySet

from claims.models import Claim, Customer, PolicyRevision, Scope
from claims.policy import Policy, ScopeRule
from tokensvc.direct_sql import fetch_all, fetch_one
from tokensvc.rows import RowReader, Statement

_cached: tuple[int, Policy] | None = None


_REVISION_SQL = f"SELECT tag FROM {PolicyRevision._meta.db_table} WHERE id = 1"  # noqa: S608  (no input)


def policy_revision() -> int:
    """The current revision tag (0 before any change).

    Read on every request, so it skips the ORM's query compilation: one indexed row.
    """
    row = fetch_one(_REVISION_SQL, ())
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


def policy_cached_revision() -> int | None:
    """The revision of the policy this process built last (None before the first)."""
    cached = _cached
    return None if cached is None else cached[0]


def policy_get(*, revision: int | None = None) -> Policy:
    """The current policy: rebuilt only when the revision moved since this process built it.

    `revision` is a tag the caller has just read in the same statement as its own row (the
    bearer-token lookup does), which saves reading it again.
    """
    global _cached
    revision = policy_revision() if revision is None else revision
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


_CUSTOMER = RowReader(Customer, "id = %s")


def customer_columns() -> str:
    """Every column of a customer row, in the order `customer_from_row` reads them."""
    return _CUSTOMER.columns()


def customer_from_row(row: tuple) -> Customer:
    """A customer from a row of `customer_columns()`, its values converted as the ORM does."""
    return _CUSTOMER.from_row(row)


def customer_get(*, customer_id: int) -> Customer | None:
    """One customer, or None: one query on the primary key."""
    if not 0 < customer_id <= MAX_ID:
        return None  # no such row, and SQLite cannot even bind a larger integer
    return _CUSTOMER.one([customer_id])


def customer_get_statement(*, customer_id: int) -> Statement | None:
    """The SELECT `customer_get` runs, to run along with another (None: there is no such row),
    and its rows read by `customer_from_rows`."""
    return _CUSTOMER.statement([customer_id]) if 0 < customer_id <= MAX_ID else None


def customer_from_rows(rows: tuple[tuple, ...]) -> Customer | None:
    """The customer a `customer_get_statement` found, or None."""
    return _CUSTOMER.from_row(rows[0]) if rows else None


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


def _matching(search: str, search_attributes: list[str]) -> QuerySet:
    """Customers matching `search` in any of `search_attributes` (case-insensitive)."""
    customers = Customer.objects.all()
    if search:
        condition = Q()
        for attribute in search_attributes:
            condition |= Q(**{f"{attribute}__icontains": search})
        # No searchable claim readable: nothing can match without leaking through the search.
        customers = customers.filter(condition) if search_attributes else customers.none()
    return customers


def customer_count(*, search: str = "", search_attributes: list[str]) -> int:
    """How many customers match: the cached total without a search, a COUNT(*) with one."""
    return _matching(search, search_attributes).count() if search else customer_total()


SortKey = tuple[str, bool]  # (attribute, descending)


def _sort_expressions(keys: list[SortKey], *, reverse: bool) -> list[OrderBy]:
    """ORDER BY for `keys`, NULLs placed the same on every database: first when ascending, last
    when descending (so the reverse order is the exact mirror, which paging backwards needs)."""
    expressions = []
    for attribute, descending in keys:
        nullable = Customer._meta.get_field(attribute).null
        if descending != reverse:
            expressions.append(F(attribute).desc(nulls_last=True) if nullable else F(attribute).desc())
        else:
            expressions.append(F(attribute).asc(nulls_first=True) if nullable else F(attribute).asc())
    return expressions


def _beyond(keys: list[SortKey], values: tuple, *, reverse: bool) -> Q:
    """Rows strictly after the position `values` in the order of `keys` (before it: reversed).

    The usual keyset condition (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ..., spelled out per key
    because a NULL compares as nothing: ascending, NULLs come first; descending, last.
    """
    condition: Q | None = None
    equal = Q()
    for (attribute, descending), value in zip(keys, values, strict=True):
        descending = descending != reverse
        if value is None:
            further = None if descending else Q(**{f"{attribute}__isnull": False})
            same = Q(**{f"{attribute}__isnull": True})
        else:
            further = Q(**{f"{attribute}__{'lt' if descending else 'gt'}": value})
            if descending and Customer._meta.get_field(attribute).null:
                further |= Q(**{f"{attribute}__isnull": True})
            same = Q(**{attribute: value})
        if further is not None:
            condition = equal & further if condition is None else condition | (equal & further)
        equal &= same
    return condition if condition is not None else Q(pk__in=[])


def customer_sort_values(*, customer_id: int, keys: list[SortKey]) -> tuple | None:
    """The values a customer has for `keys` (its place in that order), or None when it is gone."""
    attributes = [attribute for attribute, _ in keys]
    if attributes == ["id"]:
        return (customer_id,)  # the id is its own place: no query
    return Customer.objects.filter(pk=customer_id).values_list(*attributes).first()


@dataclass(frozen=True)
class _Plan:
    """A compiled page query: its SQL, and what turns each row into {column: value}."""

    sql: str
    params: tuple
    names: tuple[str, ...]
    converters: tuple  # (index, (converter, ...), expression), as the ORM applies them


def _plan(customers: QuerySet) -> _Plan | None:
    """The ORM's own SQL and value converters for a `values()` query; None when it can match
    nothing (the ORM then sends no query either)."""
    compiler = customers.query.get_compiler(using=customers.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None
    selected = [expression for expression, _, _ in compiler.select[: compiler.col_count]]
    converters = tuple(
        (index, tuple(functions), expression)
        for index, (functions, expression) in compiler.get_converters(selected).items()
    )
    return _Plan(sql, tuple(params), tuple(customers.query.values_select), converters)


def _page_query(
    customers: QuerySet, keys: list[SortKey], columns: list[str], *, reverse: bool, offset: int, limit: int
) -> QuerySet:
    ordered = customers.order_by(*_sort_expressions(keys, reverse=reverse))
    return ordered.values("id", *columns)[offset : offset + limit]


def _converted(row: tuple, converters: tuple) -> list:
    """A row's values through the ORM's converters (`_Plan.converters`)."""
    values = list(row)
    for index, functions, expression in converters:
        value = values[index]
        for convert in functions:
            value = convert(value, expression, connection)
        values[index] = value
    return values


@functools.lru_cache(maxsize=256)
def _first_page_plan(vendor: str, keys: tuple[SortKey, ...], columns: tuple[str, ...], limit: int) -> _Plan:
    """The plan of a first page without search: the same SQL for every caller with the same
    readable claims, order and page size, so it is compiled once (per process)."""
    return _plan(
        _page_query(Customer.objects.all(), list(keys), list(columns), reverse=False, offset=0, limit=limit)
    )


def customer_page(
    *,
    search: str = "",
    search_attributes: list[str],
    keys: list[SortKey],
    columns: list[str],
    after: tuple | None = None,
    before: tuple | None = None,
    offset: int = 0,
    limit: int,
) -> list[dict]:
    """Up to `limit` customers as {column: value}, in the order of `keys` (whose last is the id).

    `after` / `before` are a position (the values of `keys` of a row): the page starts right
    after it, or ends right before it; either way the database seeks on the order instead of
    skipping rows, so a page costs the same however deep it is. `offset` skips rows (page
    numbers); it costs more the larger it is. Rows come back in the order of `keys`.

    The ORM builds the SQL, but the rows are read with a plain cursor and the ORM's converters:
    its `values()` iteration cost more than the query, and compiling the most frequent page
    (the first, without search) once per process saves as much again.
    """
    backwards = before is not None
    if not search and after is None and not backwards and not offset:
        plan = _first_page_plan(connection.vendor, tuple(keys), tuple(columns), limit)
    else:
        customers = _matching(search, search_attributes)
        if after is not None:
            customers = customers.filter(_beyond(keys, after, reverse=False))
        if backwards:
            customers = customers.filter(_beyond(keys, before, reverse=True))
        plan = _plan(_page_query(customers, keys, columns, reverse=backwards, offset=offset, limit=limit))
    if plan is None:
        return []
    fetched = fetch_all(plan.sql, plan.params)
    if plan.converters:  # none on PostgreSQL, where the driver hands back the stored types
        fetched = [_converted(row, plan.converters) for row in fetched]
    rows = [dict(zip(plan.names, row, strict=True)) for row in fetched]
    if backwards:
        rows.reverse()
    return rows
