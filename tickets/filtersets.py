from dispatchdesk.filters import ChoicesFilter, PersonFilter, WorkItemFilterSet

from .choices import Priority, TicketStatus
from .models import Ticket


class TicketFilterSet(WorkItemFilterSet):
    status = ChoicesFilter(choices=TicketStatus.choices)
    priority = ChoicesFilter(choices=Priority.choices)
    requester = PersonFilter(help_text="A user id or `me`.")

    class Meta:
        model = Ticket
        fields = ["status", "priority", "team", "assignee", "requester"]
