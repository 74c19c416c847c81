from datetime import date

from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError

from accounts.models import Team, User
from dispatchdesk import workflow
from dispatchdesk.etags import ensure_unchanged
from dispatchdesk.exceptions import Conflict
from dispatchdesk.history import record
from dispatchdesk.models import EventType
from tickets.choices import Priority
from tickets.models import Ticket

from .choices import WorkOrderStatus
from .models import MAX_MINUTES_PER_ENTRY, ChecklistItem, TimeEntry, WorkOrder

EDITABLE = frozenset(
    {
        "title",
        "description",
        "priority",
        "team",
        "ticket",
        "due_at",
        "scheduled_start",
        "scheduled_end",
        "location",
        "estimated_minutes",
    }
)


ENDS_BEFORE_START = "Must not be before the start."


def ensure_schedule(work_order: WorkOrder, changes: dict) -> None:
    """The schedule that `changes` leave ends no earlier than it starts, and a scheduled work
    order keeps a start (the `schedule` transition needs one; nothing takes it back to open).
    Checked on the locked row: one read before a change made meanwhile would break the
    database's own check."""
    start = changes.get("scheduled_start", work_order.scheduled_start)
    end = changes.get("scheduled_end", work_order.scheduled_end)
    if (
        start is None
        and "scheduled_start" in changes
        and work_order.status == WorkOrderStatus.SCHEDULED
    ):
        raise ValidationError(
            {"scheduled_start": ["A scheduled work order keeps a start: give another time."]}
        )
    if start and end and end < start:
        raise ValidationError({"scheduled_end": [ENDS_BEFORE_START]})


def ensure_own_team(by: User, team: Team) -> None:
    if by.is_staff or by.teams.filter(pk=team.pk).exists():
        return
    if not Team.objects.filter(pk=team.pk).exists():  # which ended the agent's membership too
        raise ValidationError({"team": [workflow.TEAM_DELETED]})
    raise PermissionDenied(f"Agents work with work orders of their own teams; not {team}.")


def lock_ticket_for_work(ticket: Ticket) -> Ticket:
    """`ticket` locked, to be given a work order; one deleted since the request named it is
    refused on `ticket`, as a team deleted meanwhile is on `team`."""
    try:
        return workflow.lock(ticket)
    except Http404:
        raise ValidationError({"ticket": ["This ticket has been deleted."]}) from None


def ensure_open_for_work(ticket: Ticket) -> None:
    """Only a ticket still being worked takes new work orders."""
    if ticket.status not in Ticket.OPEN_FOR_WORK:
        raise Conflict(f"A {ticket.status} ticket takes no new work orders.")


def link_to_ticket(work_order: WorkOrder, ticket: Ticket, by: User) -> None:
    """Record the link on the ticket, locked by `lock_ticket_for_work`."""
    data = {"work_order": work_order.pk, "title": work_order.title}
    record(ticket, by, EventType.WORK_ORDER_LINKED, data, public=False)


@transaction.atomic
def work_order_create(
    *,
    by: User,
    title: str,
    ticket: Ticket | None = None,
    team: Team | None = None,
    priority: str = Priority.NORMAL,
    due_at=None,
    **fields,
) -> WorkOrder:
    """A work order for a ticket takes the ticket's team unless another is given: the team
    the ticket is in when it is locked (it may have moved since the request read it)."""
    if by.is_requester:
        raise PermissionDenied("Requesters do not create work orders.")
    if ticket is not None:
        ticket = lock_ticket_for_work(ticket)
    team = team or (ticket.team if ticket else Team.objects.default())
    ensure_own_team(by, team)
    ensure_schedule(WorkOrder(), fields)
    workflow.hold_team(team)  # the last lock, as a change takes it (workflow.apply_changes)
    if ticket is not None:  # its state after the role and the inputs
        ensure_open_for_work(ticket)
    work_order = WorkOrder(
        title=title,
        ticket=ticket,
        team=team,
        priority=priority,
        created_by=by,
        updated_by=by,
        **fields,
    )
    work_order.due_at = due_at or workflow.default_due_at(priority, work_order.created_at)
    work_order.save()
    created = {
        "title": title,
        "priority": priority,
        "team": team.pk,
        "ticket": ticket and ticket.pk,
    }
    record(work_order, by, EventType.CREATED, created)
    if ticket is not None:
        link_to_ticket(work_order, ticket, by)
    return work_order


@transaction.atomic
def work_order_delete(work_order: WorkOrder, *, by: User) -> None:
    """Delete a finished work order (admins clean up data in the Django admin; the API never
    deletes). Its ticket's history says so: it named the work order when it was linked."""
    work_order = workflow.lock(work_order)
    if not work_order.is_terminal:
        raise Conflict(f"A {work_order.status} work order is cancelled, not deleted.")
    if work_order.ticket_id is not None:
        data = {"work_order": work_order.pk, "title": work_order.title}
        record(work_order.ticket, by, EventType.WORK_ORDER_DELETED, data, public=False)
    work_order.delete()


@transaction.atomic
def work_order_update(
    *, work_order: WorkOrder, by: User, changes: dict, if_match: str | None = None
) -> WorkOrder:
    work_order = workflow.lock_for_edit(work_order, changes)
    workflow.ensure_editable(work_order, if_match)
    if "team" in changes:
        ensure_own_team(by, changes["team"])
    ticket = changes.get("ticket")
    if "ticket" in changes and ticket is None and work_order.ticket_id is not None:
        # Unlinking would hide the work from the ticket's resolve guard and its history.
        raise Conflict("A linked work order stays with its ticket: it cannot be unlinked.")
    links = ticket is not None and ticket.pk != work_order.ticket_id
    if links and work_order.ticket_id is not None:
        raise Conflict("This work order already belongs to another ticket.")
    ensure_schedule(work_order, changes)
    if links:  # the work order locked first, then its new ticket, as every path locks them
        changes["ticket"] = lock_ticket_for_work(ticket)
        moved_to = changes.get("team")
        if moved_to is not None and moved_to.pk != work_order.team_id:
            workflow.hold_team(moved_to)  # a team deleted meanwhile: its 400 first, as on create
        ensure_open_for_work(changes["ticket"])
    work_order = workflow.apply_changes(work_order, by=by, changes=changes, editable=EDITABLE)
    if links:  # after the edits: the ticket's history names the work order as it now is
        link_to_ticket(work_order, changes["ticket"], by)
    return work_order


def ensure_minutes(minutes: int) -> None:
    """The API's bound on one time entry, kept for every caller (admin, imports)."""
    if not 1 <= minutes <= MAX_MINUTES_PER_ENTRY:
        raise ValidationError(
            {"minutes": [f"Ensure this value is between 1 and {MAX_MINUTES_PER_ENTRY}."]}
        )


def lock_for_work(work_order: WorkOrder, *, finished_ok: bool = True) -> WorkOrder:
    """Lock a work order that still takes work: not verified or cancelled, and with
    `finished_ok=False` not completed either (rework reopens it)."""
    work_order = workflow.lock(work_order)
    if work_order.is_terminal or (
        not finished_ok and work_order.status == WorkOrderStatus.COMPLETED
    ):
        raise Conflict(f"A {work_order.status} work order is read-only.")
    return work_order


def ensure_doing_the_work(work_order: WorkOrder, by: User, what: str) -> None:
    if not workflow.assignee_or_supervisor(work_order, by):
        raise PermissionDenied(f"Only the assignee or a supervisor may {what}.")


@transaction.atomic
def checklist_add(
    *,
    work_order: WorkOrder,
    by: User,
    text: str,
    position: int | None = None,
    done: bool = False,
) -> ChecklistItem:
    """Add an item at the end, or at index `position` (the items from there on move down);
    `done` ticks it at once, as the assignee or a supervisor may."""
    work_order = lock_for_work(work_order, finished_ok=False)
    last = work_order.checklist.aggregate(last=Max("position"))["last"]
    item = ChecklistItem.objects.create(
        work_order=work_order, text=text, position=0 if last is None else last + 1
    )
    if position is not None:
        move(item, position)
        item.refresh_from_db()
    # The item's id and place, as a tick or a move names them (identical texts are possible).
    data = {"checklist": [None, text], "item": item.pk, "position": item.position}
    record(work_order, by, EventType.FIELDS_CHANGED, data)
    if done:
        item = checklist_update(item=item, by=by, done=True)
    return item


def move(item: ChecklistItem, position: int) -> list[int]:
    """Put `item` at index `position` of its list and renumber the list; the new order."""
    items = [other for other in item.work_order.checklist.all() if other.pk != item.pk]
    items.insert(min(position, len(items)), item)
    moved = []
    for index, each in enumerate(items):
        if each.position != index:
            each.position = index
            moved.append(each)
    ChecklistItem.objects.bulk_update(moved, ["position"])  # one UPDATE, however many
    return [each.pk for each in items]


@transaction.atomic
def checklist_update(
    *,
    item: ChecklistItem,
    by: User,
    done: bool | None = None,
    text: str | None = None,
    position: int | None = None,
    if_unchanged: dict | None = None,
) -> ChecklistItem:
    """Tick or untick (the assignee or a supervisor), reword or move a checklist item.

    A completed work order's checklist stays as it was completed, until a rework. With
    `if_unchanged` ({field: value as the caller read it}) a stale read is refused (412).
    """
    work_order = lock_for_work(item.work_order, finished_ok=False)
    item = ChecklistItem.objects.get(pk=item.pk)
    ensure_unchanged(item, if_unchanged)
    if done is not None:
        ensure_doing_the_work(work_order, by, "tick checklist items")
    if done is not None and done != item.done:
        item.done, item.done_by, item.done_at = (
            done,
            (by if done else None),
            (timezone.now() if done else None),
        )
        item.save(update_fields=["done", "done_by", "done_at"])
        data = {"item": item.pk, "text": item.text, "done": done}
        record(work_order, by, EventType.CHECKLIST_TICKED, data)
    if text is not None and text != item.text:
        data = {"checklist": [item.text, text], "item": item.pk}
        record(work_order, by, EventType.FIELDS_CHANGED, data)
        item.text = text
        item.save(update_fields=["text"])
    if position is not None:
        before = list(work_order.checklist.values_list("pk", flat=True))
        after = move(item, position)
        if after != before:
            record(work_order, by, EventType.FIELDS_CHANGED, {"checklist_order": [before, after]})
        item.refresh_from_db()
    return item


@transaction.atomic
def time_entry_add(
    *, work_order: WorkOrder, by: User, minutes: int, note: str = "", date: date | None = None
) -> TimeEntry:
    ensure_minutes(minutes)
    work_order = lock_for_work(work_order)
    ensure_doing_the_work(work_order, by, "log time on this work order")
    entry = TimeEntry.objects.create(
        work_order=work_order,
        user=by,
        minutes=minutes,
        note=note,
        date=date or timezone.localdate(),
    )
    workflow.touch(work_order, by=by)
    record(work_order, by, EventType.TIME_LOGGED, {"entry": entry.pk, "minutes": minutes})
    return entry


@transaction.atomic
def time_entry_update(
    *, entry: TimeEntry, by: User, if_unchanged: dict | None = None, **changes
) -> TimeEntry:
    """A supervisor changes a time entry, or its author while the work order is theirs (as
    they logged it). With `if_unchanged` ({field: value as the caller read it}) a stale read is
    refused (412)."""
    if "minutes" in changes:
        ensure_minutes(changes["minutes"])
    work_order = lock_for_work(entry.work_order)
    entry = TimeEntry.objects.get(pk=entry.pk)
    ensure_unchanged(entry, if_unchanged)
    if entry.user_id != by.pk and not by.is_staff:
        raise PermissionDenied("Only its author or a supervisor may change a time entry.")
    ensure_doing_the_work(work_order, by, "change the time logged on this work order")
    previous = entry.minutes
    diff = {
        field: [workflow.as_history_value(getattr(entry, field)), workflow.as_history_value(new)]
        for field, new in changes.items()
        if getattr(entry, field) != new
    }
    if not diff:
        return entry
    for field in diff:
        setattr(entry, field, changes[field])
    entry.save(update_fields=list(diff))
    if "minutes" in diff:
        workflow.touch(work_order, by=by)
    data = {"entry": entry.pk, "minutes": entry.minutes, "previous_minutes": previous}
    record(work_order, by, EventType.TIME_LOGGED, {**data, "changes": diff})
    return entry
