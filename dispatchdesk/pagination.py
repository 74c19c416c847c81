"""Page-number pagination that stays fast at millions of rows.

Lists answer `count`, `next`, `previous` and `results` as DRF's page-number pagination does, but
never count a large result to its last row:

- One query finds at most 1,001 matching rows, in no particular order, and gives their ids in
  the list's order. With no more than 1,000, `count` is exact, and a page reads its own rows by
  their ids: the plan stays right for a very selective filter (a rare search word) whatever the
  planner guessed, and a page reads 50 rows, not all that were found.
- With more, `count` is PostgreSQL's estimate (EXPLAIN, nothing is run; at least 1,001) and the
  page is read in index order. Other databases (SQLite in development) count exactly.
- Lists of tickets and work orders, which grow to millions, ask for the estimate first: when
  the planner expects more than 3,000 rows, `count` is that estimate and the ids are not
  fetched at all (finding 1,001 rows that match an expensive filter is not free). Three times
  the exact limit is margin enough because those lists name the user's teams as values, which
  PostgreSQL estimates from its statistics (see tickets.models.worker_sees).

- A view may hand over something that finds the ids in the list's order faster than the list's
  own query (`ordered_ids`: the ticket list's one-term search, tickets.word_search): it gives
  its own estimate, first, then finds at most 1,001 ids in place of the probe, or beyond them
  the ids of the page asked for.

So a `count` above 1,000 may be an estimate, one of 1,000 or less is exact. `next` is exact
either way: a page reads one row more than it shows. The lists that stay small (an object's
comments and history, users, teams) count exactly beyond 1,000 too (`ExactCountPaginator`).
The admin's change lists estimate.

When the view names what the list's SQL depends on (`compiled_key`: a list without filters), the
SQL of the estimate and of a page read in order is compiled once for that key and page
(dispatchdesk.compiled).
"""

import json
import re
from functools import partial
from math import ceil

from django.core.exceptions import EmptyResultSet
from django.core.paginator import EmptyPage, Page, PageNotAnInteger
from django.core.paginator import Paginator as DjangoPaginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework import pagination

from .compiled import CompiledQuery, compiled
from .lookups import where_in

# The largest OFFSET and LIMIT PostgreSQL and SQLite take (signed 64-bit integers).
MAX_OFFSET = 2**63 - 1
# What an ORDER BY of plain columns holds besides them.
ORDER_WORDS = re.compile(r"\b(?:ASC|DESC|NULLS|FIRST|LAST)\b|[,\s]")
# The query parameters of paging, which change the page but not which rows are listed.
PAGING_PARAMETERS = frozenset({"page", "page_size"})


def planner_estimate(sql: str, params, using: str) -> int:
    """The number of rows PostgreSQL expects the query to return (EXPLAIN: nothing is run)."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class LookaheadPage(Page):
    """A page that knows whether another follows without relying on the count."""

    def __init__(self, object_list, number, paginator, has_next: bool):
        super().__init__(object_list, number, paginator)
        self._has_next = has_next

    def has_next(self) -> bool:
        return self._has_next


class CappedCountPaginator(DjangoPaginator):
    """Django's paginator with an exact count up to `exact_count_limit`, estimated beyond
    (counted, when `estimates` is off)."""

    exact_count_limit = 1000
    estimates = True

    def __init__(
        self,
        object_list,
        per_page,
        *args,
        unfiltered=None,
        compiled_key=None,
        ordered_ids=None,
        **kwargs,
    ):
        super().__init__(object_list, per_page, *args, **kwargs)
        # What finds the rows' ids in the list's order faster than `object_list` does, when the
        # caller has one (tickets.word_search): `first(n)` the first n ids, `estimate()`.
        self.ordered_ids = ordered_ids
        # The rows before the request's filters (visibility applied): a page of rows already
        # found by id is read from these, without running the filters (a search) once more.
        self.unfiltered = unfiltered
        # Names everything the SQL of `object_list` depends on, when the caller knows it.
        self.compiled_key = compiled_key if isinstance(object_list, QuerySet) else None

    # With `estimate_first`, above this many expected rows the estimate is taken as it is.
    estimate_first = False
    trust_estimate_above = 3_000

    @cached_property
    def _ids(self) -> QuerySet:
        """The ids of the rows, in no order: what the estimate and the probe look at."""
        return self.object_list.order_by().prefetch_related(None).values_list("pk", flat=True)

    @cached_property
    def _postgresql(self) -> bool:
        rows = self.object_list
        return isinstance(rows, QuerySet) and connections[rows.db].vendor == "postgresql"

    @cached_property
    def _ids_sql(self) -> tuple[str, tuple, str]:
        """The SQL of the rows' ids in no order, its parameters, and the list's ORDER BY: both
        from the ids compiled once in order (compiling a filtered query is not free)."""

        def compile():
            ordered = self.object_list.values_list("pk", flat=True)
            sql, params = ordered.query.sql_with_params()
            # Django puts the list's ORDER BY last; without one, a subquery's could be the last.
            head, _, order = sql.rpartition(" ORDER BY ") if ordered.ordered else ("", "", "")
            if not head or "%s" in order:  # no order, or one with parameters of its own
                return (*self._ids.query.sql_with_params(), "")
            return head, params, order

        return self._compiled("ids", compile)

    @cached_property
    def _matches_nothing(self) -> bool:
        """Whether the rows' query can match no row: `.none()`, or a condition Django knows no
        row meets (`pk__in=[]`, an id beyond the column's range), which has no SQL at all."""
        if self.object_list.query.is_empty():
            return True
        if not self._postgresql:
            return False  # no SQL of ours is compiled: the ORM reads such a query as no rows
        try:
            self._ids_sql  # noqa: B018 - compiled here (and kept): the count reads it next
        except EmptyResultSet:
            return True
        return False

    @property
    def _sql(self) -> tuple[str, tuple]:
        return self._ids_sql[:2]

    def _compiled(self, part: str, compile):
        if self.compiled_key is None:
            return compile()
        return compiled((*self.compiled_key, part), compile)

    def _probe_sql(self) -> tuple[str, tuple, bool]:
        """SQL for one array: the ids of at most `exact_count_limit + 1` rows, found in any order
        (so that the planner never walks an index in order for rows that may not be there); and
        whether the array is sorted as the list is. It is when the list's ORDER BY names columns
        of its own table only, which the probe then reads along (the admin may sort by a related
        table's column: those ids come unsorted)."""
        rows = self.object_list
        sql, params, order = self._ids_sql
        limit = self.exact_count_limit + 1
        ops = connections[rows.db].ops
        table = ops.quote_name(rows.model._meta.db_table)
        pk = ops.quote_name(rows.model._meta.pk.column)
        own_column = re.compile(rf'{re.escape(table)}\."[^"]+"')
        named = own_column.findall(order)
        if not order or ORDER_WORDS.sub("", own_column.sub("", order)):
            return (
                f"SELECT array_agg(probe.id) FROM ({sql} LIMIT {limit}) AS probe(id)",
                params,
                False,
            )
        # The ids' SELECT list is their column alone: it becomes the columns ORDER BY names.
        columns = ", ".join(dict.fromkeys([f"{table}.{pk}", *named]))
        found = f"SELECT {columns} FROM {sql.split(' FROM ', 1)[1]} LIMIT {limit}"
        # Sorted only when they are few enough to be counted: a long list (the filtered one of
        # the benchmark, say) would sort a thousand rows that are not used.
        sorted_ids = f"SELECT array_agg({table}.{pk} ORDER BY {order}) FROM found AS {table}"
        few = f"NOT EXISTS (SELECT FROM found OFFSET {self.exact_count_limit})"
        sql = (
            f"WITH found AS MATERIALIZED ({found}) SELECT CASE WHEN {few} THEN ({sorted_ids})"
            f" ELSE (SELECT array_agg({pk}) FROM found) END"
        )
        return sql, params, True

    @cached_property
    def _probe_query(self) -> tuple[str, tuple, bool]:
        return self._compiled("probe", self._probe_sql)

    @property
    def _sorted(self) -> bool:
        """Whether the probe's ids are in the list's order: on other databases they are read in
        it, and an empty probe ran no SQL."""
        if self.ordered_ids is not None:
            return True
        return not (self._postgresql and self._probe) or self._probe_query[2]

    @cached_property
    def _estimate(self) -> int | None:
        if self.ordered_ids is not None:
            return self.ordered_ids.estimate()
        if not self.estimates or not self._postgresql or self._matches_nothing:
            return None
        return planner_estimate(*self._sql, self.object_list.db)

    @cached_property
    def _probe(self) -> list | None:
        """The ids of all the rows, in the list's order, when there are at most
        `exact_count_limit`, else None."""
        if not isinstance(self.object_list, QuerySet):
            return None
        if self.ordered_ids is None and self._matches_nothing:
            return []  # there is no SQL to run (compiling the list's, to find out, is not free)
        estimate = self._estimate if self.estimate_first else None
        if estimate is not None and estimate > self.trust_estimate_above:
            return None
        limit = self.exact_count_limit + 1
        if self.ordered_ids is not None:
            ids = self.ordered_ids.first(limit)
            return ids if len(ids) < limit else None
        if self._postgresql:
            # One row holding an array: far cheaper to read than a thousand rows.
            sql, params, _ = self._probe_query
            with connections[self.object_list.db].cursor() as cursor:
                cursor.execute(sql, params)
                ids = cursor.fetchone()[0] or []
        else:
            ids = list(self.object_list.values_list("pk", flat=True)[:limit])
        return ids if len(ids) < limit else None

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return len(rows)
        if self._probe is not None:
            return len(self._probe)
        if self._estimate is None:
            return rows.count()
        return max(self._estimate, self.exact_count_limit + 1)

    def validate_number(self, number) -> int:
        """A whole number from 1 up; whether the page has rows is for `page()` to find out."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page + 1 > MAX_OFFSET:
            # No table holds that many rows, and no database takes such an OFFSET.
            raise EmptyPage(self.error_messages["no_results"])
        rows = self.object_list
        if self.ordered_ids is not None and self._probe is None:
            # Beyond the exact count: the page's ids, and one more to tell if another follows.
            ids = self.ordered_ids.first(bottom + self.per_page + 1)[bottom:]
            has_next = len(ids) > self.per_page
            found = list(self._by_ids(rows, ids[: self.per_page]))
        elif isinstance(rows, QuerySet) and self._probe is not None:
            # The rows found, read again by id from the rows before the filters when they are at
            # hand (a search need not run again); sorted ids: only the page's own.
            ids = self._probe[bottom : bottom + self.per_page] if self._sorted else self._probe
            rows = self._by_ids(rows, ids)
            found = list(rows if self._sorted else rows[bottom : bottom + self.per_page])
            has_next = bottom + self.per_page < len(self._probe)  # the count is exact
        else:
            found = self._read(lambda: rows[bottom : bottom + self.per_page + 1], bottom)
            has_next = len(found) > self.per_page
            found = found[: self.per_page]
        if not found and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        return LookaheadPage(found, number, self, has_next)

    def _by_ids(self, rows: QuerySet, ids: list) -> QuerySet:
        """The rows of these ids, in the list's order, read from the rows before the filters
        when they are at hand (a search need not run again)."""
        ordering = rows.query.order_by  # empty: the model's, which both share
        base = rows if self.unfiltered is None else self.unfiltered
        if not ids:
            return base.none()  # no SQL to run
        rows = where_in(base, "pk", ids)
        return rows.order_by(*ordering) if ordering else rows

    def _read(self, window, bottom: int) -> list:
        """The rows of the slice `window()` that starts at `bottom`."""
        if self.compiled_key is None:
            return list(window())
        part = ("page", bottom, self.per_page)
        return compiled((*self.compiled_key, *part), lambda: CompiledQuery(window())).run()

    @property
    def num_pages(self) -> int:
        return max(1, ceil(self.count / self.per_page))


class EstimateFirstPaginator(CappedCountPaginator):
    estimate_first = True


class ExactCountPaginator(CappedCountPaginator):
    """Counts beyond the limit too. For lists that stay small (one ticket's comments or
    history, users, teams): the planner estimates a filtered list from the whole table's
    statistics, so a requester's count of public comments would grow with the internal ones."""

    estimates = False


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M`; sizes above the cap are served at the cap, not refused.
    `count` is exact."""

    django_paginator_class = ExactCountPaginator
    page_size_query_param = "page_size"
    max_page_size = 200


class LargeListPagination(PageNumberPagination):
    """For viewsets whose main list grows to millions of rows (tickets, work orders): that
    list's `count` is exact up to 1,000 rows and may be an estimate beyond (see the module
    docstring); their other lists (an object's comments, history) count exactly."""

    def paginate_queryset(self, queryset, request, view=None):
        if getattr(view, "action", None) == "list":
            key = view.sql_key()
            self.django_paginator_class = partial(
                EstimateFirstPaginator,
                unfiltered=getattr(view, "unfiltered_queryset", None),
                compiled_key=None if key is None else (*key, "list"),
                ordered_ids=view.ordered_ids(queryset),
            )
        return super().paginate_queryset(queryset, request, view)
