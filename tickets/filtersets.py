import django_filters

from dispatchdesk.filters import PersonFilter, WorkItemFilterSet

from .choices import Priority, TicketStatus
from .models import Ticket


class TicketFilterSet(WorkItemFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=TicketStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    requester = PersonFilter(help_text="A user id or `me`.")

    class Meta:
        model = Ticket
        fields = ["status", "priority", "team", "assignee", "requester"]
