"""Importing and exporting work orders.

Columns: `external_ref, ticket_ref, team, title, description, priority, status, assignee_email,
scheduled_start, scheduled_end, due_at, location, estimated_minutes`; `ticket_ref` is the
`external_ref` of the ticket the work order carries out (import the tickets first). Rows are
matched by `external_ref`. A new work order takes its ticket's team unless another is given.
"""

from collections.abc import Iterator
from typing import Any

from django.contrib.contenttypes.models import ContentType

from accounts.models import Team
from dispatchdesk import bulk
from dispatchdesk.lookups import where_in
from dispatchdesk.models import EventType
from tickets.choices import Priority
from tickets.imports import WorkItemImport
from tickets.models import Ticket

from .choices import WorkOrderStatus
from .models import WorkOrder
from .serializers import MAX_ESTIMATED_MINUTES
from .services import ENDS_BEFORE_START

NORMAL, OPEN = Priority.NORMAL.value, WorkOrderStatus.OPEN.value
WORK_ORDER_COLUMNS = (
    "external_ref",
    "ticket_ref",
    "team",
    "title",
    "description",
    "priority",
    "status",
    "assignee_email",
    "scheduled_start",
    "scheduled_end",
    "due_at",
    "location",
    "estimated_minutes",
)


class WorkOrderImport(WorkItemImport):
    model = WorkOrder
    noun = "work orders"
    columns = {
        "external_ref": bulk.Text.of(WorkOrder, "external_ref"),
        "ticket_ref": bulk.Text.of(Ticket, "external_ref"),
        "team": bulk.Text.of(Team, "name"),
        "title": bulk.Text.of(WorkOrder, "title"),
        "description": bulk.Text(),
        "priority": bulk.Choice(Priority),
        "status": bulk.Choice(WorkOrderStatus),
        "assignee_email": bulk.Email(),
        "scheduled_start": bulk.DateTime(),
        "scheduled_end": bulk.DateTime(),
        "due_at": bulk.DateTime(none=bulk.NO_DATE),
        "location": bulk.Text.of(WorkOrder, "location"),
        "estimated_minutes": bulk.Integer(min_value=0, max_value=MAX_ESTIMATED_MINUTES),
    }
    plain_columns = (
        "title",
        "description",
        "priority",
        "status",
        "scheduled_start",
        "scheduled_end",
        "due_at",
        "location",
        "estimated_minutes",
    )
    tracked = (
        "external_ref",
        "ticket_id",
        "team_id",
        "title",
        "description",
        "priority",
        "status",
        "assignee_id",
        "scheduled_start",
        "scheduled_end",
        "due_at",
        "location",
        "estimated_minutes",
        "created_at",
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.ticket_content_type_id = ContentType.objects.get_for_model(Ticket).pk
        self.tickets: dict[str, int] = {}  # external_ref -> id
        self.ticket_teams: dict[int, int] = {}  # id -> team id

    def lookup(self, batch: list[dict[str, Any]]) -> None:
        super().lookup(batch)
        refs = {given["ticket_ref"] for given in batch if "ticket_ref" in given}
        refs -= self.tickets.keys()
        if refs:
            tickets = where_in(Ticket.objects.all(), "external_ref", refs)
            for ref, pk, team_id in tickets.values_list("external_ref", "id", "team_id"):
                self.tickets[ref], self.ticket_teams[pk] = pk, team_id

    def new_values(self, given: dict[str, Any]) -> dict[str, Any]:
        return {
            "external_ref": given["external_ref"],
            "ticket_id": None,
            "team_id": None,
            "title": "",
            "description": "",
            "priority": NORMAL,
            "status": OPEN,
            "assignee_id": None,
            "scheduled_start": None,
            "scheduled_end": None,
            "due_at": None,
            "location": "",
            "estimated_minutes": None,
            "completion_notes": "",
            "created_at": self.now,
        }

    def clean_references(self, given, current, after, errors) -> None:
        if "ticket_ref" not in given:
            return
        ref = given["ticket_ref"]
        ticket_id = self.tickets.get(ref)
        if ticket_id is None:
            errors.append(("ticket_ref", f'No ticket with the external_ref "{ref}".'))
        elif current is not None and current["ticket_id"] not in (None, ticket_id):
            errors.append(("ticket_ref", "This work order already belongs to another ticket."))
        else:
            after["ticket_id"] = ticket_id

    def default_team_id(self, after: dict[str, Any]) -> int | None:
        """The ticket's team, else the default team."""
        if after["ticket_id"] is not None:
            return self.ticket_teams[after["ticket_id"]]
        return self.directory.default_team_id

    def clean_more(self, current, after, errors) -> None:
        start, end = after["scheduled_start"], after["scheduled_end"]
        if start and end and end < start:
            errors.append(("scheduled_end", ENDS_BEFORE_START))

    def events(self, plan: bulk.Plan) -> list[dict[str, Any]]:
        """Besides `imported` on each work order, `work_order_linked` on each ticket that the
        import gave a work order (internal, as in the API)."""
        events = super().events(plan)
        linked = [change for change in plan.creates if change.values["ticket_id"] is not None]
        linked += [change for change in plan.updates if "ticket_id" in change.diff]
        for change in linked:
            data = {"work_order": change.pk, "title": change.values["title"]}
            event = self.event(plan, change.values["ticket_id"], data)
            event |= {
                "content_type_id": self.ticket_content_type_id,
                "type": EventType.WORK_ORDER_LINKED.value,
                "public": False,
            }
            events.append(event)
        return events


def work_order_export_rows() -> Iterator[tuple[dict[str, Any], bool]]:
    """Every work order as an import row, oldest first, with whether it belongs to a ticket
    (whose `external_ref`, the row's `ticket_ref`, may be empty)."""
    sources = {
        "external_ref": "external_ref",
        "ticket_ref": "ticket__external_ref",
        "team": "team__name",
        "title": "title",
        "description": "description",
        "priority": "priority",
        "status": "status",
        "assignee_email": "assignee__email",
        "scheduled_start": "scheduled_start",
        "scheduled_end": "scheduled_end",
        "due_at": "due_at",
        "location": "location",
        "estimated_minutes": "estimated_minutes",
    }
    work_orders = WorkOrder.objects.order_by("id").values_list(*sources.values(), "ticket_id")
    for *values, ticket_id in work_orders.iterator(chunk_size=2000):
        row = dict(zip(sources, values, strict=True))
        for column in ("scheduled_start", "scheduled_end"):
            row[column] = bulk.iso(row[column])
        row["due_at"] = bulk.due_date(row["due_at"])
        yield row, ticket_id is not None
