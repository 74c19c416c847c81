"""`where_in`: a queryset filtered on many values of one column, sent as one array.

`filter(name__in=values)` makes one SQL parameter of each value, which Django compiles and psycopg
sends one by one: a millisecond for the few hundred ids of a search, more for the thousands of
references in an import's batch. On PostgreSQL `column = ANY(%s)` takes them as one array.
"""

from collections.abc import Iterable

from django.db import connections
from django.db.models import BooleanField, F, Func, QuerySet


class InArray(Func):
    """`column = ANY(%s)` (PostgreSQL)."""

    output_field = BooleanField()

    def __init__(self, name: str, values: list):
        super().__init__(F(name))
        self.values = values

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return f"{column} = ANY(%s)", (*params, self.values)


def where_in(queryset: QuerySet, name: str, values: Iterable) -> QuerySet:
    """The rows of `queryset` whose `name` is one of `values`."""
    values = list(values)
    if connections[queryset.db].vendor != "postgresql":
        return queryset.filter(**{f"{name}__in": values})
    return queryset.filter(InArray(name, values))
