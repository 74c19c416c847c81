import django_filters

from dispatchdesk.filters import IdFilter, WorkItemFilterSet
from tickets.choices import Priority

from .choices import WorkOrderStatus
from .models import WorkOrder


class WorkOrderFilterSet(WorkItemFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=WorkOrderStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    ticket = IdFilter(field_name="ticket_id")
    scheduled_after = django_filters.IsoDateTimeFilter(
        field_name="scheduled_start", lookup_expr="gte"
    )
    scheduled_before = django_filters.IsoDateTimeFilter(
        field_name="scheduled_start", lookup_expr="lt"
    )

    class Meta:
        model = WorkOrder
        fields = ["status", "priority", "team", "assignee", "ticket"]
