"""Model rows read and written by hand-written SQL, without the ORM's per-query compilation.

On the token endpoint and the API, reading a client, an API key or a customer is a single
indexed row; `raw()` spent three times the query's own cost resolving columns and looking up
value converters on every call. Here both are worked out once per database vendor, and the
values are converted exactly as the ORM converts them.
"""

from functools import cache

from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState
from django.utils import timezone


class RowReader:
    """Reads instances of `model` selected by `where` (SQL with %s placeholders). `joins` and
    `extra` add computed columns (name -> SQL expression), set as attributes of the instance."""

    def __init__(
        self, model: type[Model], where: str, *, joins: str = "", extra: dict[str, str] | None = None
    ):
        self.model = model
        self.where = where
        self.joins = joins
        self.extra = extra or {}

    @cache  # noqa: B019  (readers are module-level singletons: one entry per reader and vendor)
    def _plan(self, vendor: str) -> tuple[str, str, tuple]:
        quote = connection.ops.quote_name
        fields = self.model._meta.concrete_fields
        table = self.model._meta.db_table
        columns = ", ".join(quote(field.column) for field in fields)
        # Qualified in the SELECT, where a join could make a name ambiguous.
        selected = [f"{quote(table)}.{quote(field.column)}" for field in fields]
        selected += [f"{expression} AS {quote(name)}" for name, expression in self.extra.items()]
        sql = f"SELECT {', '.join(selected)} FROM {quote(table)} {self.joins} WHERE {self.where}"  # noqa: S608
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, column, tuple(found)))
        return columns, sql, tuple(converters)

    def columns(self) -> str:
        """The model's columns, in the order `from_row` reads them (for SQL written elsewhere)."""
        return self._plan(connection.vendor)[0]

    def from_row(self, row: tuple | list) -> Model:
        """An instance from a row of `columns()` (then any `extra` values), converted as the ORM does."""
        _, _, converters = self._plan(connection.vendor)
        width = len(self.model._meta.concrete_fields)
        values = list(row[:width])
        for index, column, functions in converters:
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        instance = self._instance(values)
        for name, value in zip(self.extra, row[width:], strict=True):
            setattr(instance, name, value)
        return instance

    def _instance(self, values: list) -> Model:
        # What Model.from_db() builds, without running __init__ over every field (and its
        # pre_init/post_init signals): on the token endpoint that was a tenth of the request.
        instance = self.model.__new__(self.model)
        instance.__dict__.update(zip(self._attnames(), values, strict=True))
        instance._state = ModelState()
        instance._state.adding = False
        instance._state.db = connection.alias
        return instance

    @cache  # noqa: B019  (as _plan)
    def _attnames(self) -> tuple[str, ...]:
        return tuple(field.attname for field in self.model._meta.concrete_fields)

    def one(self, params: list) -> Model | None:
        """The first row matching `where`, or None."""
        with connection.cursor() as cursor:
            cursor.execute(self._plan(connection.vendor)[1], params)
            row = cursor.fetchone()
        return None if row is None else self.from_row(row)


@cache
def _insert_plan(model: type[Model], vendor: str) -> tuple[str, tuple]:
    fields = tuple(field for field in model._meta.concrete_fields if not field.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})", fields  # noqa: S608


def row_insert(model: type[Model], values: dict[str, object]) -> None:
    """INSERT one row of `model` from `values` by attname (`application_id`, not `application`).

    Fields not given take their default, and `auto_now`/`auto_now_add` fields the current
    time, as save() would give them; each value is prepared for the database as save() prepares
    it. No model instance, no signals, no compiled query, no transaction of its own: for rows
    on the hot path that nobody listens to. The primary key is not read back.
    """
    sql, fields = _insert_plan(model, connection.vendor)
    now = timezone.now()
    row = []
    for field in fields:
        if field.attname in values:
            value = values[field.attname]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        row.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, row)
