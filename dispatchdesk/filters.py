"""Filters that tickets and work orders share."""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend

from .datetimes import OUT_OF_RANGE, has_a_date
from .search import search

MAX_ID = 2**63 - 1  # the largest primary key the database can hold


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the request sends no parameter but paging.

    Building a filterset validates a form of every filter (deep copies included): a few
    milliseconds that a plain list or a single object does not need, as no filter would apply.
    """

    passive_params = frozenset({"page", "page_size", "format"})

    def filter_queryset(self, request, queryset, view):
        if set(request.query_params).issubset(self.passive_params):
            return queryset
        return super().filter_queryset(request, queryset, view)


class IdFilter(django_filters.NumberFilter):
    """An object id: a whole number that fits the database, else 400 (never a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class ChoicesFilter(django_filters.MultipleChoiceFilter):
    """Any of the values (repeat the parameter): one `IN (...)` on the column, which an index
    serves, and no DISTINCT (nothing here joins a to-many relation)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": sorted(set(value))})


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, turned into UTC here: a time that UTC cannot hold (year 1 at +05:00)
    or an offset no database accepts (+23:46) is a 400, not a database error."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        if not has_a_date(parsed):
            raise ValidationError(OUT_OF_RANGE, code="invalid")
        return parsed.astimezone(UTC)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class PersonFilter(django_filters.CharFilter):
    """A user id, `me`, or (when `allow_none`) `none` for no one."""

    def __init__(self, *args, allow_none: bool = False, **kwargs):
        self.allow_none = allow_none
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        if value == "me":
            return qs.filter(**{self.field_name: self.parent.request.user})
        if value == "none" and self.allow_none:
            return qs.filter(**{f"{self.field_name}__isnull": True})
        if not (value.isascii() and value.isdigit() and int(value) <= MAX_ID):
            choices = "a user id, me or none" if self.allow_none else "a user id or me"
            raise ValidationError({self.field_name: [f"Send {choices}."]})
        return qs.filter(**{f"{self.field_name}_id": int(value)})


class StableOrderingFilter(django_filters.OrderingFilter):
    """The chosen order, rows without a value (no due date) last, ties broken by id so that
    pages never overlap or skip rows; the same on SQLite and PostgreSQL."""

    def filter(self, qs, value):
        if not value:
            return qs
        if "" in value:  # `priority,` or `,`: the form takes an empty entry as no choice
            raise ValidationError({"ordering": ["Name a field in each comma-separated entry."]})
        fields = [self.get_ordering_value(param) for param in value]
        ordering = []
        for field in fields:
            name = field.lstrip("-")
            if qs.model._meta.get_field(name).null:
                expression = F(name).desc if field.startswith("-") else F(name).asc
                ordering.append(expression(nulls_last=True))
            else:
                ordering.append(field)
        return qs.order_by(*ordering, "-id" if fields[-1].startswith("-") else "id")


class WorkItemFilterSet(django_filters.FilterSet):
    """Status, priority, team, assignee, dates, overdue, search and ordering."""

    team = IdFilter(field_name="team_id")
    assignee = PersonFilter(allow_none=True, help_text="A user id, `me` or `none`.")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    due_before = UtcDateTimeFilter(field_name="due_at", lookup_expr="lt")
    overdue = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_overdue",
        help_text="true: past due and not closed or cancelled; false: the others.",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        help_text="Title or description. One term: contains it as typed (`rinte` finds "
        "printer). Several: words in any of their forms, in any order (`printers fire`).",
    )
    ordering = StableOrderingFilter(
        fields=(
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
            ("priority_rank", "priority"),
            ("due_at", "due_at"),
        ),
        help_text="created_at, updated_at, priority, due_at; prefix - for descending.",
    )

    # The form that validates the parameters, built once per filterset class rather than at
    # every request (none of these filters' fields depends on the request).
    _form_classes: dict = {}

    def get_form_class(self):
        form_class = WorkItemFilterSet._form_classes.get(type(self))
        if form_class is None:
            form_class = WorkItemFilterSet._form_classes[type(self)] = super().get_form_class()
        return form_class

    def filter_overdue(self, queryset, name, value):
        return queryset.overdue() if value == "true" else queryset.not_overdue()

    def filter_search(self, queryset, name, value):
        return search(queryset, value)
