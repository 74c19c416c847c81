"""One object by primary key, through SQL that Django compiled once for the same query.

Every request on one ticket or work order (the detail, and each action on it) builds the
viewset's queryset (the user's visibility, the annotations) and has Django compile it to SQL,
which takes about as long as PostgreSQL takes to run it (docs/benchmarks.md). Two such requests
of the same user differ only in the primary key, so the SQL is compiled once and run again with
the other key, and the rows go through the compiler's own conversions into a model instance, as
`QuerySet.get()` gives it.
"""

import threading
from collections.abc import Callable, Hashable

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connections
from django.db.models import Model, QuerySet

# A primary key no row has, so as to find where the real one goes among the SQL's parameters.
PLACEHOLDER = -7_020_051_123_456_789
# Compiled queries kept per thread (each holds the compiler, which belongs to the thread's
# connection); more than this many users within a process's life and the set starts afresh.
MAX_KEPT = 1_000

_kept = threading.local()


class CompiledGet:
    """`queryset.get(pk=...)` with the SQL compiled once."""

    def __init__(self, queryset: QuerySet):
        self.model, self.db = queryset.model, queryset.db
        pk = self.model._meta.pk
        self.pk_range = connections[self.db].ops.integer_field_range(pk.get_internal_type())
        query = queryset.filter(pk=PLACEHOLDER).order_by().query
        self.compiler = query.get_compiler(using=self.db)
        try:
            self.sql, params = self.compiler.as_sql()
        except EmptyResultSet:  # `.none()`: no object at all
            self.sql = None
            return
        self.params = list(params)
        places = [i for i, value in enumerate(self.params) if value == PLACEHOLDER]
        if len(places) != 1:
            raise ValueError("the primary key is not one parameter of the query's SQL")
        self.place = places[0]
        info = self.compiler.klass_info
        first, last = info["select_fields"][0], info["select_fields"][-1] + 1
        self.fields = slice(first, last)
        self.attnames = [column[0].target.attname for column in self.compiler.select[first:last]]
        self.annotations = list(self.compiler.annotation_col_map.items())

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
        with connections[self.db].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if not rows:
            return None
        (row,) = self.compiler.results_iter(results=[rows])
        obj = self.model.from_db(self.db, self.attnames, row[self.fields])
        for name, position in self.annotations:
            setattr(obj, name, row[position])
        return obj


def compiled_get(key: Hashable, queryset: Callable[[], QuerySet]) -> CompiledGet:
    """The CompiledGet of `queryset()`, made the first time this thread asks for `key`: the key
    must name everything the queryset's SQL depends on (the user it is for, say)."""
    kept = getattr(_kept, "queries", None)
    if kept is None or len(kept) >= MAX_KEPT:
        kept = _kept.queries = {}
    compiled = kept.get(key)
    if compiled is None:
        compiled = kept[key] = CompiledGet(queryset())
    return compiled
