from dispatchdesk.filters import ChoicesFilter, IdFilter, UtcDateTimeFilter, WorkItemFilterSet
from tickets.choices import Priority

from .choices import WorkOrderStatus
from .models import WorkOrder


class WorkOrderFilterSet(WorkItemFilterSet):
    status = ChoicesFilter(choices=WorkOrderStatus.choices)
    priority = ChoicesFilter(choices=Priority.choices)
    ticket = IdFilter(field_name="ticket_id")
    scheduled_after = UtcDateTimeFilter(field_name="scheduled_start", lookup_expr="gte")
    scheduled_before = UtcDateTimeFilter(field_name="scheduled_start", lookup_expr="lt")

    class Meta:
        model = WorkOrder
        fields = ["status", "priority", "team", "assignee", "ticket"]
