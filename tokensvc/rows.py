"""Model rows read by hand-written SQL, without the ORM's per-query compilation, and writes run
together.

On the token endpoint and the API, reading a client, an API key or a customer is a single
indexed row; `raw()` spent three times the query's own cost resolving columns and looking up
value converters on every call. Here both are worked out once per database vendor, and the
values are converted exactly as the ORM converts them.
"""

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.base import ModelState

from tokensvc.direct_sql import database, execute, fetch_all, fetch_one, transaction_atomic


class Statement(NamedTuple):
    """One SQL statement and its parameters, to run now or together with others."""

    sql: str
    params: list


@dataclass(frozen=True)
class _Columns:
    """How one model's columns are selected (under a table name or alias) and converted back."""

    selected: tuple[str, ...]
    converters: tuple  # (index, column, (converter, ...)), as the ORM applies them
    attnames: tuple[str, ...]
    pk_index: int


@cache
def _model_columns(
    model: type[Model], alias: str, vendor: str, only: tuple[str, ...] | None = None
) -> _Columns:
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    if only is not None:
        fields = [field for field in fields if field.primary_key or field.attname in only]
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(alias)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, tuple(found)))
    return _Columns(
        selected=tuple(f"{quote(alias)}.{quote(field.column)}" for field in fields),
        converters=tuple(converters),
        attnames=tuple(field.attname for field in fields),
        pk_index=fields.index(model._meta.pk),
    )


def _instance(model: type[Model], columns: _Columns, values: list, db: BaseDatabaseWrapper) -> Model:
    # What Model.from_db() builds, without running __init__ over every field (and its
    # pre_init/post_init signals): on the token endpoint that was a tenth of the request.
    for index, column, functions in columns.converters:
        for convert in functions:
            values[index] = convert(values[index], column, db)
    instance = model.__new__(model)
    instance.__dict__.update(zip(columns.attnames, values, strict=True))
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = db.alias
    return instance


class RowReader:
    """Reads instances of `model` selected by `where` (SQL with %s placeholders).

    `only` limits the columns read to these fields (attnames) and the primary key, as
    `QuerySet.only()` does: every value column costs the database driver and the converters
    on each read, and a field left out is still there, loaded by a query when first used.
    `joins` adds tables: `extra` computed columns from them (name -> SQL expression), `joined`
    rows of other models (name -> (model, alias of its table in `joins`, `only` or None)), each
    set as an attribute of the instance; a joined row without a primary key (an outer join that
    found nothing) becomes None. Parameters are given in the order their placeholders appear in
    the SQL: those of `joins` before those of `where`.
    """

    def __init__(
        self,
        model: type[Model],
        where: str,
        *,
        joins: str = "",
        extra: dict[str, str] | None = None,
        joined: dict[str, tuple[type[Model], str, tuple[str, ...] | None]] | None = None,
        only: tuple[str, ...] | None = None,
    ):
        self.model = model
        self.only = only
        self.where = where
        self.joins = joins
        self.extra = extra or {}
        self.joined = joined or {}

    @cache  # noqa: B019  (readers are module-level singletons: one entry per reader and vendor)
    def _selected(self, vendor: str) -> tuple[str, ...]:
        quote = connection.ops.quote_name
        selected = list(_model_columns(self.model, self.model._meta.db_table, vendor, self.only).selected)
        for model, alias, only in self.joined.values():
            selected += _model_columns(model, alias, vendor, only).selected
        selected += [f"{expression} AS {quote(name)}" for name, expression in self.extra.items()]
        return tuple(selected)

    @lru_cache(maxsize=64)  # noqa: B019  (as _selected; one entry per read run along, too)
    def _sql(self, vendor: str, along: str | None = None) -> str:
        table = connection.ops.quote_name(self.model._meta.db_table)
        columns, join = along_sql(along) if along is not None else ("", "")
        selected = ", ".join(self._selected(vendor))
        return f"SELECT {selected}{columns} FROM {table} {self.joins}{join} WHERE {self.where}"  # noqa: S608

    def columns(self) -> str:
        """The model's columns, in the order `from_row` reads them (for SQL written elsewhere)."""
        return self._columns(connection.vendor)

    @cache  # noqa: B019  (as _sql)
    def _columns(self, vendor: str) -> str:
        quote = connection.ops.quote_name
        fields = _model_columns(self.model, self.model._meta.db_table, vendor, self.only).attnames
        return ", ".join(quote(self.model._meta.get_field(name).column) for name in fields)

    def from_row(self, row: tuple | list, db: BaseDatabaseWrapper | None = None) -> Model:
        """An instance from a row of `columns()` (then any joined rows and `extra` values),
        converted as the ORM does."""
        db = db or database()
        vendor = db.vendor
        main = _model_columns(self.model, self.model._meta.db_table, vendor, self.only)
        start = len(main.attnames)
        instance = _instance(self.model, main, list(row[:start]), db)
        for name, (model, alias, only) in self.joined.items():
            columns = _model_columns(model, alias, vendor, only)
            values = list(row[start : start + len(columns.attnames)])
            start += len(columns.attnames)
            found = values[columns.pk_index] is not None
            setattr(instance, name, _instance(model, columns, values, db) if found else None)
        for name, value in zip(self.extra, row[start:], strict=True):
            setattr(instance, name, value)
        return instance

    def one(self, params: list, *, along: Statement | None = None) -> Model | None:
        """The first row matching `where`, or None.

        `along` is a SELECT to run in the same statement (see `along_sql`): its rows become the
        instance's `along` attribute.
        """
        db = database()
        if along is None:
            row = fetch_one(self._sql(db.vendor), params, db)
            return None if row is None else self.from_row(row, db)
        # In the SQL, the subquery's placeholders come after those of `joins`, before `where`'s
        # (the selected columns hold none: `extra` is SQL without parameters).
        split = self.joins.count("%s")
        params = [*params[:split], *along.params, *params[split:]]
        rows = fetch_all(self._sql(db.vendor, along.sql), params, db)
        if not rows:
            return None
        width = len(self._selected(db.vendor))
        instance = self.from_row(rows[0][:width], db)
        instance.along = along_rows(rows, width)
        return instance

    def statement(self, params: list) -> Statement:
        """The SELECT that `one` runs, to run elsewhere (its rows go to `from_row`)."""
        return Statement(self._sql(database().vendor), params)


def along_sql(along: str) -> tuple[str, str]:
    """What a SELECT adds to its column list and to its joins (before WHERE) to run the SELECT
    `along` in the same statement: on PostgreSQL one round trip instead of two.

    The subquery joins every row the SELECT finds, found or not itself: where it finds nothing
    its columns are NULL (see `along_rows`). The two reads must not depend on each other, and
    the SELECT must find at most one row (a lookup by a unique key), or each of the subquery's
    rows would come back once per row it found.
    """
    return ", along.*", f" LEFT JOIN ({along}) along ON 1 = 1"


def along_rows(rows: list[tuple], width: int) -> tuple[tuple, ...]:
    """The rows of a read run along (`along_sql`) from the rows of the SELECT it ran in, whose
    own columns are the first `width`. The read's first column must never be NULL in a row it
    finds (a primary key, say): when it is, the read found nothing."""
    if not rows or rows[0][width] is None:
        return ()
    return tuple(row[width:] for row in rows)


def statement_run(statement: Statement) -> None:
    execute(statement.sql, statement.params)


def statements_run_together(statements: list[Statement]) -> None:
    """Run independent writes that return nothing so that all of them happen or none does.

    On PostgreSQL they are one statement: every write but the last in a WITH clause, which
    PostgreSQL runs to completion whether or not anything refers to it. All of them then see
    the same snapshot, so none may depend on what another writes (two rows of different
    tables, say, not a row and an update of it). A single statement is atomic by itself, so
    there is no BEGIN and no COMMIT to wait for: one round trip instead of one per write plus
    two. Elsewhere (SQLite, in-process) they share one transaction.
    """
    db = database()
    if db.vendor == "postgresql" and len(statements) > 1:
        *first, last = statements
        ctes = ", ".join(f"w{index} AS ({statement.sql})" for index, statement in enumerate(first))
        params = [param for statement in statements for param in statement.params]
        execute(f"WITH {ctes} {last.sql}", params, db)
        return
    with transaction_atomic(db):
        for statement in statements:
            execute(statement.sql, statement.params, db)


def one_row_insert_parts(sql: str) -> tuple[str, str]:
    """`INSERT INTO t (...)` and the values' list of a one-row `INSERT INTO t (...) VALUES (...)`;
    ValueError for any other statement."""
    head, values, rest = sql.partition(" VALUES (")
    if not values or not head.startswith("INSERT INTO ") or not rest.endswith(")") or "VALUES (" in rest:
        raise ValueError(f"not a one-row INSERT ... VALUES: {sql}")
    return head, rest[:-1]


def _insert_where(statement: Statement, condition: str) -> str:
    """A one-row `INSERT INTO t (...) VALUES (...)` made to insert only where `condition` (SQL)
    holds: `INSERT INTO t (...) SELECT ... WHERE condition`."""
    head, values = one_row_insert_parts(statement.sql)
    return f"{head} SELECT {values} WHERE {condition}"


def statements_run_if(condition: Statement, statements: list[Statement]) -> bool:
    """Run one-row INSERTs as `statements_run_together` does, provided the SQL condition
    `condition` holds in the database as they are written; whether they were.

    The condition is checked by the statement that writes the first row (the others are written
    only if it was), so nothing can change what it checked in between: on PostgreSQL within
    that one statement's snapshot, on SQLite under the write lock the transaction holds.
    """
    db = database()
    first, *rest = statements
    guarded = Statement(_insert_where(first, condition.sql), [*first.params, *condition.params])
    if db.vendor == "postgresql":
        if not rest:
            return execute(guarded.sql, guarded.params, db) > 0
        written = "EXISTS (SELECT 1 FROM w0)"
        ctes = [f"w0 AS ({guarded.sql} RETURNING 1)"]
        ctes += [f"w{index} AS ({_insert_where(s, written)})" for index, s in enumerate(rest[:-1], 1)]
        params = [param for statement in (guarded, *rest) for param in statement.params]
        sql = f"WITH {', '.join(ctes)} {_insert_where(rest[-1], written)}"
        return execute(sql, params, db) > 0
    with transaction_atomic(db):
        if not execute(guarded.sql, guarded.params, db):
            return False
        for statement in rest:
            execute(statement.sql, statement.params, db)
    return True
