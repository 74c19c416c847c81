"""Querysets whose SQL Django compiles once and runs again, rows read as the ORM reads them.

Every request builds the viewset's queryset (the user's visibility, the annotations) and has
Django compile it to SQL, which takes about as long as PostgreSQL takes to run it
(docs/benchmarks.md). Yet two requests of the same user for the same thing run the same SQL: a
page of the ticket list without filters, say, or a ticket differing only in its primary key. So
the SQL is compiled once per key, a tuple that names everything it depends on (the viewset, the
user's id, role and teams, the page), and run again; the rows go through the compiler's own
conversions into model instances, as iterating the queryset gives them.
"""

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable

# A primary key no row has, so as to find where the real one goes among the SQL's parameters.
PLACEHOLDER = -7_020_051_123_456_789
# Compiled queries kept per thread (each holds the compiler, which belongs to the thread's
# connection); more than this many within a process's life and the set starts afresh.
MAX_KEPT = 1_000

_kept = threading.local()
T = TypeVar("T")


class CompiledQuery:
    """`list(queryset)` with the SQL compiled once: for querysets of model instances that
    neither follow relations (`select_related`) nor prefetch."""

    def __init__(self, queryset: QuerySet):
        if queryset._iterable_class is not ModelIterable or queryset._prefetch_related_lookups:
            raise ValueError("only querysets of model instances, without prefetching")
        self.model, self.db = queryset.model, queryset.db
        self.compiler = queryset.query.get_compiler(using=self.db)
        try:
            self.sql, params = self.compiler.as_sql()
        except EmptyResultSet:  # `.none()`, or a filter nothing can match
            self.sql, self.params = None, []
            return
        self.params = list(params)
        info = self.compiler.klass_info
        if info.get("related_klass_infos"):
            raise ValueError("querysets that follow relations are not supported")
        first, last = info["select_fields"][0], info["select_fields"][-1] + 1
        self.fields = slice(first, last)
        self.attnames = [column[0].target.attname for column in self.compiler.select[first:last]]
        self.annotations = list(self.compiler.annotation_col_map.items())

    def run(self, params: list | None = None) -> list[Model]:
        """The instances, with `params` in place of the compiled ones when given."""
        if self.sql is None:
            return []
        with connections[self.db].cursor() as cursor:
            cursor.execute(self.sql, self.params if params is None else params)
            rows = cursor.fetchall()
        return [self._instance(row) for row in self.compiler.results_iter(results=[rows])]

    def _instance(self, row) -> Model:
        obj = self.model.from_db(self.db, self.attnames, row[self.fields])
        for name, position in self.annotations:
            setattr(obj, name, row[position])
        return obj


class CompiledGet(CompiledQuery):
    """`queryset.get(pk=...)` with the SQL compiled once, for any primary key."""

    def __init__(self, queryset: QuerySet):
        pk = queryset.model._meta.pk
        self.pk_range = connections[queryset.db].ops.integer_field_range(pk.get_internal_type())
        super().__init__(queryset.filter(pk=PLACEHOLDER).order_by())
        if self.sql is None:
            return  # `.none()`: no object at all
        places = [i for i, value in enumerate(self.params) if value == PLACEHOLDER]
        if len(places) != 1:
            raise ValueError("the primary key is not one parameter of the query's SQL")
        (self.place,) = places

    def get(self, pk) -> Model | None:
        """The object, or None when no row matches (or `pk` cannot be a key at all)."""
        try:
            pk = self.model._meta.pk.to_python(pk)
        except ValidationError:
            return None
        low, high = self.pk_range
        if not isinstance(pk, int) or not low <= pk <= high:
            return None  # not a key of this table, as the ORM finds out without asking
        if self.sql is None:
            return None
        params = list(self.params)
        params[self.place] = pk
        found = self.run(params)
        return found[0] if found else None


def compiled(key: Hashable, compile: Callable[[], T]) -> T:
    """What `compile()` gives, made the first time this thread asks for `key`: the key must
    name everything the SQL depends on (the user it is for, say)."""
    kept = getattr(_kept, "queries", None)
    if kept is None or len(kept) >= MAX_KEPT:
        kept = _kept.queries = {}
    found = kept.get(key)
    if found is None:
        found = kept[key] = compile()
    return found
