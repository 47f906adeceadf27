"""One model row by a hand-written WHERE, without the ORM's per-query compilation.

On the token endpoint and the API, reading a client, an API key or a customer is a single
indexed row; `raw()` spent three times the query's own cost resolving columns and looking up
value converters on every call. Here both are worked out once per database vendor, and the
values are converted exactly as the ORM converts them.
"""

from functools import cache

from django.db import connection
from django.db.models import Model


class RowReader:
    """Reads instances of `model` selected by `where` (SQL over the model's own columns, with
    %s placeholders); `extra` adds computed columns, set as attributes of the instance."""

    def __init__(
        self, model: type[Model], where: str, *, joins: str = "", extra: dict[str, str] | None = None
    ):
        self.model = model
        self.where = where
        self.joins = joins
        self.extra = extra or {}

    @cache  # noqa: B019  (readers are module-level singletons, one entry per vendor)
    def _plan(self, vendor: str) -> tuple[str, tuple, int]:
        quote = connection.ops.quote_name
        fields = self.model._meta.concrete_fields
        table = self.model._meta.db_table
        columns = [f"{quote(table)}.{quote(field.column)}" for field in fields]
        columns += [f"{expression} AS {quote(name)}" for name, expression in self.extra.items()]
        sql = f"SELECT {', '.join(columns)} FROM {quote(table)} {self.joins} WHERE {self.where}"  # noqa: S608
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, column, tuple(found)))
        return sql, tuple(converters), len(fields)

    def one(self, params: list) -> Model | None:
        sql, converters, width = self._plan(connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row[:width])
        for index, column, functions in converters:
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        instance = self.model.from_db(connection.alias, None, values)
        for name, value in zip(self.extra, row[width:], strict=True):
            setattr(instance, name, value)
        return instance
