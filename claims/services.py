"""Writes of the claims app."""

from functools import lru_cache

from django.db import connection, transaction
from django.utils import timezone

from claims.demo_data import demo_customers
from claims.models import Customer
from claims.selectors import customer_columns, customer_from_row, customer_get, customer_total_forget
from claims.serializers import customer_values_checked
from tokensvc.direct_sql import database, datetime_param, fetch_all
from tokensvc.rows import Statement

UPDATED_AT = Customer._meta.get_field("updated_at")


@transaction.atomic
def customers_seed_demo(*, count: int) -> int:
    """Create the demo customers that are missing (matched by e-mail); returns how many."""
    wanted = list(demo_customers(count))
    present = set(
        Customer.objects.filter(email__in=[c["email"] for c in wanted]).values_list("email", flat=True)
    )
    missing = [Customer(**c) for c in wanted if c["email"] not in present]
    for customer in missing:
        customer.full_clean()
    Customer.objects.bulk_create(missing, batch_size=500)
    return len(missing)


class VersionConflict(Exception):
    """The record is not at the version the writer expected (or is gone)."""


@transaction.atomic
def customer_create(*, values: dict[str, object]) -> Customer:
    """A new customer from validated-on-the-way {attribute: value}."""
    customer = Customer.objects.create(**customer_values_checked(values, partial=False))
    transaction.on_commit(customer_total_forget)
    return customer


@lru_cache(maxsize=256)
def _update_sql(names: tuple[str, ...], *, versioned: bool, vendor: str, condition: str | None) -> str:
    """The UPDATE of `names` (field names), once per set of fields written: a PATCH writes one
    of few such sets, and building the text cost as much as the values' preparation. The
    database's vendor is part of the key because the quoting is the connection's."""
    quote = connection.ops.quote_name
    assignments = [f"{quote(Customer._meta.get_field(name).column)} = %s" for name in names]
    assignments += [f"{quote('version')} = {quote('version')} + 1", f"{quote(UPDATED_AT.column)} = %s"]
    table = quote(Customer._meta.db_table)
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {quote('id')} = %s"  # noqa: S608  (names from the model)
    if versioned:
        sql += f" AND {quote('version')} = %s"
    return f"{sql} AND ({condition})" if condition is not None else sql


def _update_statement(
    changes: dict[str, object], *, customer_id: int, expected_version: int | None, condition: Statement | None
):
    """The one UPDATE that checks the version (and `condition`), writes the changes, bumps the
    version and returns the row as written.

    Written by hand because the ORM's `update()` spent four times longer building it than the
    database spent running it, and cannot return the row; each value still goes through its
    field's `get_db_prep_save`, exactly as the ORM would send it.
    """
    db = database()
    names = tuple(changes)
    sql = _update_sql(
        names,
        versioned=expected_version is not None,
        vendor=db.vendor,
        condition=None if condition is None else condition.sql,
    )
    params = [Customer._meta.get_field(name).get_db_prep_save(changes[name], db) for name in names]
    params += [datetime_param(timezone.now(), db), customer_id]
    if expected_version is not None:
        params.append(expected_version)
    if condition is not None:
        params += condition.params
    return sql, params


def _returning_supported() -> bool:
    # PostgreSQL, and SQLite from 3.35 (the flag Django sets for INSERT ... RETURNING).
    return connection.features.can_return_columns_from_insert


def customer_update(
    *,
    customer_id: int,
    values: dict[str, object],
    expected_version: int | None,
    condition: Statement | None = None,
) -> Customer:
    """Write only the given attributes, bumping the version; VersionConflict when stale or gone,
    or when the SQL `condition` (if any) does not hold as the row is written.

    The version check and the write are one UPDATE, so two writers holding the same version
    cannot both succeed, and untouched columns are never overwritten with stale values. The
    values are checked before anything is written. Where the database can return the row from
    the UPDATE, that single statement is the whole write (atomic on its own, committed before
    the response); elsewhere the UPDATE and a read of the row share one transaction.
    """
    changes = customer_values_checked(values, partial=True)
    sql, params = _update_statement(
        changes, customer_id=customer_id, expected_version=expected_version, condition=condition
    )
    if _returning_supported():
        rows = fetch_all(f"{sql} RETURNING {customer_columns()}", params)
        if not rows:
            raise VersionConflict
        return customer_from_row(rows[0])
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            updated = cursor.rowcount
        if not updated:
            raise VersionConflict
        return customer_get(customer_id=customer_id)


@transaction.atomic
def customer_delete(*, customer: Customer, expected_version: int | None) -> None:
    condition = {"pk": customer.pk}
    if expected_version is not None:
        condition["version"] = expected_version
    deleted, _ = Customer.objects.filter(**condition).delete()
    if not deleted:
        raise VersionConflict
    transaction.on_commit(customer_total_forget)
