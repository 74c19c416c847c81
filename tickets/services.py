from datetime import datetime

from django.db import transaction
from rest_framework.exceptions import PermissionDenied, ValidationError

from accounts.models import Team, User
from dispatchdesk import workflow
from dispatchdesk.exceptions import Conflict
from dispatchdesk.history import record
from dispatchdesk.models import EventType
from dispatchdesk.workflow import default_due_at

from .choices import Priority, TicketStatus
from .models import Comment, Ticket

# What each kind of user may change with PATCH (assignee and status have their own endpoints).
REQUESTER_EDITABLE = frozenset({"title", "description"})
WORKER_EDITABLE = frozenset({"title", "description", "priority", "team", "requester", "due_at"})
REQUESTER_DEACTIVATED = "This user is deactivated: a ticket's requester must be active."


@transaction.atomic
def ticket_create(
    *,
    by: User,
    title: str,
    description: str = "",
    priority: str = Priority.NORMAL,
    team: Team | None = None,
    requester: User | None = None,
    due_at: datetime | None = None,
) -> Ticket:
    if by.is_requester and (requester not in (None, by) or due_at is not None):
        raise PermissionDenied("Requesters file tickets for themselves and cannot set a due date.")
    team = team or Team.objects.default()
    workflow.hold_team(team)
    ticket = Ticket(
        title=title,
        description=description,
        priority=priority,
        team=team,
        requester=requester or by,
        created_by=by,
        updated_by=by,
    )
    ticket.due_at = due_at or default_due_at(priority, ticket.created_at)
    ticket.save()
    record(
        ticket,
        by,
        EventType.CREATED,
        {"title": title, "priority": priority, "team": ticket.team_id, "status": ticket.status},
    )
    return ticket


@transaction.atomic
def ticket_update(
    *, ticket: Ticket, by: User, changes: dict, if_match: str | None = None
) -> Ticket:
    """Edit a ticket's fields; records `{"field": [old, new]}` for what really changed."""
    ticket = workflow.lock_for_edit(ticket, changes)
    workflow.ensure_editable(ticket, if_match)
    if by.is_requester and ticket.status != TicketStatus.NEW:
        raise Conflict("Requesters can edit a ticket only while it is new.")
    requester = changes.get("requester")
    if requester and requester.pk != ticket.requester_id and not requester.is_active:
        # The API takes a deactivated requester sent back as read (IdField); this ticket's was
        # changed since, so it would be a new one.
        raise ValidationError({"requester": [REQUESTER_DEACTIVATED]})
    editable = REQUESTER_EDITABLE if by.is_requester else WORKER_EDITABLE
    return workflow.apply_changes(ticket, by=by, changes=changes, editable=editable)


@transaction.atomic
def comment_add(*, ticket: Ticket, by: User, body: str, internal: bool = False) -> Comment:
    ticket = workflow.lock(ticket)
    if internal and by.is_requester:
        raise PermissionDenied("Requesters cannot write internal comments.")
    if ticket.is_terminal and not by.is_staff:
        raise Conflict(f"A {ticket.status} ticket takes no more comments.")
    comment = Comment.objects.create(ticket=ticket, author=by, body=body, internal=internal)
    record(
        ticket,
        by,
        EventType.COMMENT_ADDED,
        {"comment": comment.pk, "internal": internal},
        public=not internal,
    )
    return comment


@transaction.atomic
def ticket_delete(ticket: Ticket) -> None:
    """Delete a finished ticket that no work order names (admins clean up data in the Django
    admin; the API never deletes). Checked on the locked row: a ticket reopened, or given a work
    order, since the page offered to delete it is kept. Its history stays."""
    ticket = workflow.lock(ticket)
    if not ticket.is_terminal:
        status = ticket.get_status_display().lower()
        raise Conflict(f"This ticket is {status}: only a cancelled or closed one is deleted.")
    if ticket.work_orders.exists():
        raise Conflict("A ticket with work orders is kept with them: delete those first.")
    ticket.delete()
