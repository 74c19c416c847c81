"""State machines shared by tickets and work orders: who may fire what, and firing it safely.

A transition is declared once on its model with django-fsm-2's `@transition`, using the rules
below: `permission=` one of the *who* rules, `conditions=` guards made with `@guard`, and
`custom=needs("note")` for the inputs it requires. `fire()` is the only way a status changes:
the API, the admin and the import commands all go through it.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.fields import DateTimeField

from accounts.models import Team, User, cannot_hold_work

from .datetimes import has_a_date
from .etags import ensure_if_match
from .exceptions import Conflict
from .history import pk_or_none, record
from .models import EventType

TEAM_DELETED = "This team has been deleted."


def as_shown(moment: datetime) -> str:
    """A time as the API writes it: ISO 8601 in the current time zone, UTC as `Z`."""
    return DateTimeField().to_representation(moment)


def default_due_at(priority: str, start: datetime | None = None) -> datetime | None:
    """When work of this priority is due, from settings.DUE_HOURS (hours per priority); None when
    that has no date, in UTC or where it is shown (work imported as created on 9999-12-31)."""
    try:
        due = (start or timezone.now()) + timedelta(hours=settings.DUE_HOURS[priority])
    except OverflowError:
        return None
    return due if has_a_date(due) else None


# Who may fire a transition: callables (instance, user) -> bool with a `who` description.
def who(description: str):
    def decorate(rule: Callable) -> Callable:
        rule.who = description
        return rule

    return decorate


@who("a supervisor")
def supervisor(obj, user) -> bool:
    return user.is_staff


@who("an agent or a supervisor")
def worker(obj, user) -> bool:
    return not user.is_requester


@who("the assignee or a supervisor")
def assignee_or_supervisor(obj, user) -> bool:
    return user.is_staff or (obj.assignee_id is not None and obj.assignee_id == user.pk)


@who("the requester or a supervisor")
def requester_or_supervisor(obj, user) -> bool:
    return user.is_staff or obj.requester_id == user.pk


@who("the requester, the assignee or a supervisor")
def requester_assignee_or_supervisor(obj, user) -> bool:
    return requester_or_supervisor(obj, user) or assignee_or_supervisor(obj, user)


# Guards: conditions on the object's state, each saying what is missing when it fails.
def guard(unmet: str | Callable, label: str | None = None):
    """Mark a condition with the message to give when it does not hold (text, or a callable
    of the object and the user asking, for a message naming what is missing that they may
    know of) and a label for the docs."""

    def decorate(condition: Callable) -> Callable:
        condition.unmet = unmet
        condition.label = label or unmet
        return condition

    return decorate


@guard("it has no assignee")
def has_assignee(obj) -> bool:
    return obj.assignee_id is not None


def needs(*inputs: str) -> dict:
    """`custom=` for a transition that requires these inputs (400 when missing or blank)."""
    return {"needs": list(inputs)}


def transitions_from_current_state(obj, name: str | None = None):
    for transition in obj.get_all_status_transitions():
        if transition.source == obj.status and (name is None or transition.name == name):
            yield transition


def unmet_guards(obj, transition, user) -> list[str]:
    messages = []
    for condition in transition.conditions:
        if not condition(obj):
            unmet = getattr(condition, "unmet", condition.__name__)
            messages.append(unmet(obj, user) if callable(unmet) else unmet)
    return messages


def available_transitions(obj, user) -> list[dict]:
    """What `user` may fire now: state, role and guards all satisfied. The guards' messages,
    which may take queries of their own (naming the active work orders), are not made."""
    return [
        offered(t)
        for t in transitions_from_current_state(obj)
        if t.has_perm(obj, user) and all(condition(obj) for condition in t.conditions)
    ]


def transition_choices(obj, user) -> tuple[list[dict], list[dict]]:
    """What `user` may fire now, and what they could fire from here but for guards, each with
    what is missing (`unmet`)."""
    available, blocked = [], []
    for t in transitions_from_current_state(obj):
        if not t.has_perm(obj, user):
            continue
        unmet = unmet_guards(obj, t, user)
        if unmet:
            blocked.append({"name": t.name, "target": t.target, "unmet": unmet})
        else:
            available.append(offered(t))
    return available, blocked


def offered(transition) -> dict:
    needs = transition.custom.get("needs", [])
    return {"name": transition.name, "target": transition.target, "needs": needs}


class AssigneeNotLocked(Exception):
    """Found behind its lock, the work needs its assignee locked first (`lock_with_assignee`)."""


def lock_with_assignee(obj, *, needed: Callable[[Any], bool]):
    """`obj` locked (`lock`) and, when `needed(obj)` is true of it as it is then, its assignee
    locked before it, as `assign` locks people: (the object, the assignee or None).

    For a decision about the assignee that must hold until the change commits: whether they
    may hold the work a reopen brings back (`fire`), or work moved to a team they are leaving
    (`apply_changes`). Work that turns out behind its lock to need another person locked (it was
    finished, or reassigned, since it was read) is locked again, its assignee first: both locks
    are taken in a savepoint, whose rollback releases them."""
    while True:
        try:
            with transaction.atomic():
                # Both locks in the savepoint: a person locked for work since reassigned is
                # let go with it, so that nobody holds two people out of id order.
                holder = lock_person(obj.assignee_id) if needs_holder(obj, None, needed) else None
                locked = lock(obj)
                if needs_holder(locked, holder, needed):
                    raise AssigneeNotLocked(locked)
        except AssigneeNotLocked as found:
            obj = found.args[0]
            continue
        return locked, holder


def needs_holder(obj, holder, needed: Callable[[Any], bool]) -> bool:
    """Whether `needed(obj)` and `obj`'s assignee is not `holder` (locked, or None)."""
    assignee = obj.assignee_id
    return assignee is not None and assignee != pk_or_none(holder) and needed(obj)


def is_finished(obj) -> bool:
    return obj.is_terminal


def lock_for_edit(obj, changes: dict):
    """`obj` locked for `apply_changes`: moved to another team, its assignee locked first, so
    that their being a member of it (checked there) holds until the move commits, against a
    change of the team's members (accounts.services.team_update locks who leaves)."""
    team = changes.get("team")
    if team is None or team.pk == obj.team_id:  # sent back as read: no move to pay for
        return lock(obj)
    return lock_with_assignee(obj, needed=lambda _: True)[0]


def hold_team(team: Team) -> None:
    """Keep `team`, which work is being put in, from being deleted until the transaction ends,
    and refuse on `team` one deleted (in the admin) since the request named it: the work's
    foreign key would fail the commit. A team's deletion is refused while it is held."""
    if not Team.objects.held([team.pk]):
        raise ValidationError({"team": [TEAM_DELETED]})


def lock(obj):
    """Re-read `obj` with its row locked until the end of the transaction.

    Rows its guards depend on are locked next (`lock_related`), always in the order work order
    before ticket, so that a guard's answer holds until the change commits.
    """
    # Deleted (in the admin) since the request found it: gone, as a new request would find.
    obj = get_object_or_404(type(obj).objects.select_for_update(of=("self",)), pk=obj.pk)
    if hasattr(obj, "lock_related"):
        obj.lock_related()
    return obj


@transaction.atomic
def fire(obj, *, name: str, by, inputs: dict[str, str] | None = None, public: bool = True):
    """Fire transition `name` on `obj` as `by`, record it, and return the locked, saved object.

    Refusals, in this order: unknown name or bad inputs (400), not from the current state (409),
    not this user (403), missing inputs (400), unmet guards (409).
    """
    inputs = {key: value for key, value in (inputs or {}).items() if value is not None}
    transitions = list(obj.get_all_status_transitions())
    known = {transition.name for transition in transitions}
    if name not in known:
        raise ValidationError(
            {"name": [f"Unknown transition; one of: {', '.join(sorted(known))}."]}
        )

    # Only a transition out of a finished state (a reopen) decides about the assignee.
    terminal = obj.TERMINAL_STATUSES
    if any(t.name == name and t.source in terminal for t in transitions):
        obj, holder = lock_with_assignee(obj, needed=is_finished)
    else:
        obj, holder = lock(obj), None
    kind = obj._meta.verbose_name
    transition = next(transitions_from_current_state(obj, name), None)
    if transition is None:
        raise Conflict(f"Cannot {name} a {kind} whose status is {obj.status}.")
    if not transition.has_perm(obj, by):
        rule = getattr(transition.permission, "who", "someone else")
        raise PermissionDenied(f"Only {rule} may {name} this {kind}.")

    required = transition.custom.get("needs", [])
    errors = {
        field: [f"This field is not used by {name}."]
        for field in inputs
        if field != "note" and field not in required
    }
    errors |= {
        field: [f"This field is required to {name}."]
        for field in required
        if not str(inputs.get(field, "")).strip()
    }
    if errors:
        raise ValidationError(errors)

    unmet = unmet_guards(obj, transition, by)
    if unmet:
        raise Conflict(f"Cannot {name} this {kind}: {'; '.join(unmet)}.")

    source = obj.status
    before = fields_of(obj)
    getattr(obj, name)(**inputs)
    obj.updated_by = by
    obj.save()
    data = {"transition": name, "from": source, "to": obj.status, "note": "", **inputs}
    # What the transition overwrote as well (a reopen clears the resolution; a new schedule
    # replaces the old one): `{"field": [old, new]}`, as a fields_changed event has it.
    changes = {
        field: [as_history_value(old), as_history_value(new)]
        for (field, old), new in zip(before.items(), fields_of(obj).values(), strict=True)
        if old != new
    }
    if changes:
        data["changes"] = changes
    record(obj, by, EventType.STATUS_CHANGED, data, public=public)
    returned = holder is not None and obj.assignee_id == holder.pk and not obj.is_terminal
    if returned and not holder.may_hold_work_of(obj.team_id):
        obj = set_assignee(obj, by=by, to=None, public=public)
    return obj


# Written by every save, or the status itself: not what a transition's event lists as changed.
NOT_CHANGES = frozenset({"status", "updated_at", "updated_by"})


def fields_of(obj) -> dict:
    """The values of `obj`'s own fields (not its relations), by name."""
    return {
        field.name: getattr(obj, field.name)
        for field in obj._meta.concrete_fields
        if not field.is_relation and field.name not in NOT_CHANGES
    }


def ensure_editable(obj, if_match: str | None) -> None:
    """A locked object may be edited: its ETag still matches and it is not terminal."""
    ensure_if_match(obj, if_match)
    if obj.is_terminal:
        raise Conflict(
            f"A {obj.status} {obj._meta.verbose_name} is read-only; a supervisor can reopen it."
            if obj.status == "closed"
            else f"A {obj.status} {obj._meta.verbose_name} is read-only."
        )


def as_history_value(value):
    return value.pk if hasattr(value, "pk") else value


def current_value(obj, field: str):
    """`obj`'s value of `field` as history records it: a relation by its id, the object it
    names not read."""
    return getattr(obj, obj._meta.get_field(field).attname)


def changes_field(obj, field: str, changes: dict) -> bool:
    return current_value(obj, field) != as_history_value(changes[field])


def apply_changes(obj, *, by, changes: dict, editable: frozenset[str]):
    """Write field edits to a locked object and record `{"field": [old, new]}` of real changes.

    A new priority brings that priority's due date unless one is given (the same priority sent
    again, as a client sends back what it read, keeps the due date); the team can only change to
    one the assignee belongs to.
    """
    # A field sent back as read is no change, so only a new value needs the role's leave.
    refused = sorted(
        field for field in set(changes) - editable if changes_field(obj, field, changes)
    )
    if refused:
        raise PermissionDenied(f"The {by.role} role may not change: {', '.join(refused)}.")
    if changes.get("priority", obj.priority) != obj.priority and "due_at" not in changes:
        changes["due_at"] = default_due_at(changes["priority"], obj.created_at)
    team = changes.get("team")
    moves = team is not None and team.pk != obj.team_id
    if moves:  # the last lock a change takes: every path takes its work's first
        hold_team(team)
    if moves and obj.assignee_id and not team.members.filter(pk=obj.assignee_id).exists():
        raise ValidationError(
            {"team": [f"The assignee is not a member of {team}; unassign first."]}
        )

    diff = {}
    for field, new in changes.items():
        if changes_field(obj, field, changes):
            diff[field] = [current_value(obj, field), as_history_value(new)]
            setattr(obj, field, new)
    if diff:
        obj.updated_by = by
        obj.save(update_fields=[*diff, "updated_by", "updated_at"])
        record(obj, by, EventType.FIELDS_CHANGED, diff)
    return obj


def touch(obj, *, by) -> None:
    """Mark `obj` (locked) as changed by `by` when what it shows changed without one of its own
    fields (time logged changes a work order's `actual_minutes`): its `updated_at` and so its
    ETag move, and an `If-Match` read before the change is stale."""
    obj.updated_by = by
    obj.save(update_fields=["updated_by", "updated_at"])


@transaction.atomic
def assign(obj, *, by, to, public: bool = True):
    """Set or clear the assignee of a ticket or work order, with the design's rules."""
    if to is not None:
        to = lock_person(to.pk)
    obj = lock(obj)
    kind = obj._meta.verbose_name
    if obj.is_terminal:
        raise Conflict(f"A {obj.status} {kind} cannot be assigned.")
    if by.is_staff:
        if to is not None and not to.may_hold_work_of(obj.team_id):
            raise ValidationError({"assignee": [cannot_hold_work(to, obj.team)]})
    else:
        # `to`, not `by`: the user as they are now, who may have been deactivated meanwhile.
        takes_it = obj.assignee_id is None and to == by and to.may_hold_work_of(obj.team_id)
        has_it = to == by and obj.assignee_id == by.pk  # a retried take: nothing to change
        drops_it = to is None and obj.assignee_id == by.pk
        if not (by.is_worker and (takes_it or has_it or drops_it)):
            raise only_take_or_drop(obj)

    return set_assignee(obj, by=by, to=to, public=public)


def lock_person(pk: int) -> User:
    """Someone to give work to, read again with their row locked (before the work's): someone
    being taken out of a team or deactivated, whose row is locked while their work is given
    back, is then seen as they are afterwards. `no_key`: a plain FOR UPDATE would also hold back
    the key-share lock that a foreign key to this user takes at commit (an event's actor), and
    two requests would deadlock."""
    try:
        return User.objects.select_for_update(no_key=True).get(pk=pk)
    except User.DoesNotExist:
        # Deleted (in the admin) since the request named them.
        raise ValidationError({"assignee": ["This user no longer exists."]}) from None


def only_take_or_drop(obj) -> PermissionDenied:
    """What someone who is not staff hears when they assign anything but taking or dropping."""
    return PermissionDenied(
        "You may only take unassigned work of your own teams or unassign yourself; "
        f"a supervisor assigns this {obj._meta.verbose_name}."
    )


def set_assignee(obj, *, by, to, public: bool = True):
    """Record `to` (or nobody) as the assignee of `obj`, locked and already checked: `assign`'s
    last step, and what giving back work does (`by` None: the system, in an import)."""
    previous = obj.assignee
    if pk_or_none(previous) == pk_or_none(to):
        return obj
    obj.assignee = to
    obj.updated_by = by
    obj.save(update_fields=["assignee", "updated_by", "updated_at"])
    event_type = EventType.UNASSIGNED if to is None else EventType.ASSIGNED
    record(obj, by, event_type, {"from": pk_or_none(previous), "to": pk_or_none(to)}, public=public)
    return obj


def lifecycle_markdown(model) -> str:
    """A Mermaid diagram and a table of `model`'s lifecycle, generated from its transitions."""
    statuses = [value for value, _ in model._meta.get_field("status").choices]
    transitions = sorted(
        model().get_all_status_transitions(),
        key=lambda t: (statuses.index(t.source), t.name),
    )
    initial = model._meta.get_field("status").default
    lines = ["```mermaid", "stateDiagram-v2", f"    [*] --> {initial}"]
    for t in transitions:
        needs_text = f" [{', '.join(t.custom['needs'])}]" if t.custom.get("needs") else ""
        lines.append(f"    {t.source} --> {t.target}: {t.name}{needs_text}")
    lines += [f"    {status} --> [*]" for status in sorted(model.TERMINAL_STATUSES)]
    lines += [
        "```",
        "",
        "| transition | from | to | who | needs | guards |",
        "|---|---|---|---|---|---|",
    ]
    for t in transitions:
        guards = ", ".join(guard.label for guard in t.conditions)
        needs_text = ", ".join(f"`{n}`" for n in t.custom.get("needs", []))
        lines.append(
            f"| `{t.name}` | {t.source} | {t.target} | {t.permission.who} | {needs_text} | "
            f"{'not when ' + guards if guards else ''} |"
        )
    title = f"# {model._meta.verbose_name.capitalize()} lifecycle"
    note = (
        f"Generated from `{model._meta.label}` by `python manage.py lifecycle_diagrams`; "
        "a test fails when it and the code disagree."
    )
    return "\n".join([title, "", note, "", *lines, ""])
