from datetime import datetime

from django.db import transaction
from rest_framework.exceptions import PermissionDenied, ValidationError

from accounts.models import Team, User
from dispatchdesk import workflow
from dispatchdesk.etags import ensure_if_match
from dispatchdesk.exceptions import Conflict
from dispatchdesk.history import record
from dispatchdesk.models import EventType

from .choices import Priority, TicketStatus
from .models import Comment, Ticket, default_due_at

# What each kind of user may change with PATCH (assignee and status have their own endpoints).
REQUESTER_EDITABLE = frozenset({"title", "description"})
WORKER_EDITABLE = frozenset({"title", "description", "priority", "team", "requester", "due_at"})


def forbid_fields(by: User, given, allowed) -> None:
    refused = sorted(set(given) - allowed)
    if refused:
        raise PermissionDenied(f"The {by.role} role may not set: {', '.join(refused)}.")


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
    ticket = Ticket(
        title=title,
        description=description,
        priority=priority,
        team=team or Team.objects.default(),
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


def as_history_value(value):
    return value.pk if hasattr(value, "pk") else value


@transaction.atomic
def ticket_update(
    *, ticket: Ticket, by: User, changes: dict, if_match: str | None = None
) -> Ticket:
    """Edit a ticket's fields; records `{"field": [old, new]}` for what really changed."""
    ticket = workflow.lock(ticket)
    ensure_if_match(ticket, if_match)
    if ticket.is_terminal:
        raise Conflict(f"A {ticket.status} ticket is read-only; a supervisor can reopen it.")
    if by.is_requester:
        forbid_fields(by, changes, REQUESTER_EDITABLE)
        if ticket.status != TicketStatus.NEW:
            raise Conflict("Requesters can edit a ticket only while it is new.")
    else:
        forbid_fields(by, changes, WORKER_EDITABLE)

    if "priority" in changes and "due_at" not in changes:
        # A new priority brings the due date of that priority, unless one is given.
        changes["due_at"] = default_due_at(changes["priority"], ticket.created_at)
    team = changes.get("team")
    if team and ticket.assignee_id and not team.members.filter(pk=ticket.assignee_id).exists():
        raise ValidationError(
            {"team": [f"The assignee is not a member of {team}; unassign the ticket first."]}
        )

    diff = {}
    for field, new in changes.items():
        old = getattr(ticket, field)
        if as_history_value(old) != as_history_value(new):
            diff[field] = [as_history_value(old), as_history_value(new)]
            setattr(ticket, field, new)
    if diff:
        ticket.updated_by = by
        ticket.save(update_fields=[*diff, "updated_by", "updated_at"])
        record(ticket, by, EventType.FIELDS_CHANGED, diff)
    return ticket


def ticket_fire(*, ticket: Ticket, by: User, name: str, inputs: dict[str, str]) -> Ticket:
    return workflow.fire(ticket, name=name, by=by, inputs=inputs)


def ticket_assign(*, ticket: Ticket, by: User, to: User | None) -> Ticket:
    return workflow.assign(ticket, by=by, to=to)


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
