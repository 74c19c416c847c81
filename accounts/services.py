from collections.abc import Iterable

from django.db import transaction

from dispatchdesk import workflow
from tickets.models import Ticket
from workorders.models import WorkOrder

from .choices import WORKER_ROLES, Role
from .models import Team, User, may_hold_work

NOT_A_WORKER = "Only active agents and supervisors can be team members."
TEAM_NAME_TAKEN = "A team with this name already exists."


def team_name_taken(name: str, *, team: Team | None = None) -> bool:
    """Whether another team has this name in any case: `IT` and `it` would be one queue to
    people, and imports name teams."""
    others = Team.objects.exclude(pk=team.pk) if team and team.pk else Team.objects.all()
    return others.filter(name__iexact=name).exists()


def user_change_problems(*, by: User, user: User | None, changes: dict) -> dict[str, list[str]]:
    """Why `by` may not give `user` (None: a new user) these `changes` of `role`, `teams` and
    `is_active`: messages per field, empty when nothing stops it. The API and the admin both ask."""
    role = changes.get("role", user.role if user else Role.REQUESTER)
    problems = {}
    if changes.get("teams") and role not in WORKER_ROLES:
        problems["teams"] = [NOT_A_WORKER]
    if user is not None and user.pk == by.pk:
        # An admin who demotes or deactivates themselves may lock everyone out.
        if "role" in changes and changes["role"] != user.role:
            problems["role"] = ["You cannot change your own role."]
        if changes.get("is_active") is False:
            problems["is_active"] = ["You cannot deactivate yourself."]
    return problems


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    full_name: str = "",
    role: str = Role.REQUESTER,
    teams: Iterable[Team] = (),
) -> User:
    """Create a user; a `None` password leaves the account without a usable password."""
    user = User.objects.create_user(email=email, password=password, full_name=full_name, role=role)
    if role in WORKER_ROLES:
        user.teams.set(teams)
    return user


@transaction.atomic
def user_update(
    *,
    user: User,
    by: User,
    password: str | None = None,
    teams: Iterable[Team] | None = None,
    **fields,
) -> User:
    """Change a user's profile, role, status or password.

    Only agents and supervisors belong to teams: a user who moves to another role leaves them,
    and work they can no longer hold goes back to its team (`release_work`).
    """
    for name, value in fields.items():
        setattr(user, name, value)
    if "email" in fields:
        user.email = User.objects.normalize_email(user.email)
    if password:
        user.set_password(password)
    user.save()
    if user.role not in WORKER_ROLES:
        user.teams.clear()
    elif teams is not None:
        user.teams.set(teams)
    release_work(user, by=by)
    return user


@transaction.atomic
def team_update(*, team: Team, by: User, members: Iterable[User] | None = None, **fields) -> Team:
    """Rename a team or change its members; work of those who leave goes back to the team."""
    for name, value in fields.items():
        setattr(team, name, value)
    team.save()
    if members is not None:
        members = list(members)
        left = list(team.members.exclude(pk__in=[member.pk for member in members]))
        team.members.set(members)
        for person in left:
            release_work(person, by=by)
    return team


def release_work(person: User, *, by: User) -> int:
    """Unassign `person` from the open tickets and work orders they may no longer hold: all of
    them once they are not an active agent or supervisor, else those of teams they have left.
    Each goes back to its team's queue with an `unassigned` event by `by`, as a supervisor's
    unassigning would; closed, cancelled and verified work keeps its assignee. The number
    released."""
    teams = set(person.teams.values_list("pk", flat=True))
    rule = {"is_active": person.is_active, "role": person.role, "team_ids": teams}
    keeps = {team for team in teams if may_hold_work(**rule, team_id=team)}
    released = 0
    for model in (Ticket, WorkOrder):
        held = model.objects.filter(assignee=person).exclude(team_id__in=keeps)
        for item in held.exclude(status__in=model.TERMINAL_STATUSES).order_by("pk"):
            workflow.assign(item, by=by, to=None)
            released += 1
    return released
