from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from dispatchdesk import workflow
from dispatchdesk.etags import ensure_if_match
from tickets.models import Ticket
from workorders.models import WorkOrder

from .choices import WORKER_ROLES, Role
from .models import TEAM_NAME_TAKEN, Team, User

NOT_A_WORKER = "Only active agents and supervisors can be team members."
EMAIL_TAKEN = "A user with this email already exists."
LAST_ADMIN = "The last active admin stays one: make someone else an admin first."


@contextmanager
def claiming(field: str, message: str, taken: Callable[[], bool]):
    """Write a unique value that was checked free: a request that checked it at the same moment
    may have written it since, and the database then refuses this block's write. That is the
    check's own error on `field` (a 400 through the API), not a 500. Other refusals pass on."""
    try:
        with transaction.atomic():  # a savepoint: the request's transaction stays usable
            yield
    except IntegrityError:
        if not taken():
            raise
        raise ValidationError({field: [message]}) from None


def team_name_taken(name: str, *, team: Team | None = None) -> bool:
    """Whether another team has this name in any case: `IT` and `it` would be one queue to
    people, and imports name teams."""
    others = Team.objects.exclude(pk=team.pk) if team and team.pk else Team.objects.all()
    # Folded as the database's constraint folds it (Team.Meta): `iexact` upper-cases, and the
    # two disagree on a few letters (the Kelvin sign `K` is `k` lower-cased, itself upper-cased).
    return others.alias(folded=Lower("name")).filter(folded=Lower(Value(name))).exists()


def user_change_problems(*, by: User, user: User | None, changes: dict) -> dict[str, list[str]]:
    """Why `by` may not give `user` (None: a new user) these `changes` of `role`, `teams` and
    `is_active`: messages per field, empty when nothing stops it. The API and the admin both ask."""
    role = changes.get("role", user.role if user else Role.REQUESTER)
    active = changes.get("is_active", user.is_active if user else True)
    problems = {}
    if changes.get("teams") and role not in WORKER_ROLES:
        problems["teams"] = [NOT_A_WORKER]
    elif changes.get("teams") and not active:
        # As a team's own members list has it (ensure_may_join): someone deactivated stays in
        # the teams they had, and joins no other.
        had = set(user.teams.values_list("pk", flat=True)) if user and user.pk else set()
        if {team.pk for team in changes["teams"]} - had:
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
    is_active: bool = True,
) -> User:
    """Create a user; a `None` password leaves the account without a usable password."""
    email = User.objects.normalize_email(email)
    with claiming("email", EMAIL_TAKEN, User.objects.filter(email=email).exists):
        user = User.objects.create_user(
            email=email, password=password, full_name=full_name, role=role, is_active=is_active
        )
    if role in WORKER_ROLES:
        teams = list(teams)
        hold_teams(teams)
        user.teams.set(teams)
    return user


# The key of the advisory locks that keep a token refresh and a deactivation of one person
# apart (any int4, the same in every process of this project).
SESSIONS_LOCK = 41_702


def hold_sessions(user_id: int) -> None:
    """Until the transaction ends, no refresh of `user_id`'s tokens and no deactivation of them
    goes on beside this one. Each takes it before anything else, so neither waits for the other
    while it holds a row the other needs: a deactivation then ends the token a refresh made, or
    the refresh finds the account inactive. A lock of its own, not the user's row, which imports
    and assignments hold for longer. (PostgreSQL; SQLite writes one transaction at a time.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            key = [SESSIONS_LOCK, user_id % 2**31]  # two int4 keys
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", key)


@transaction.atomic
def user_update(
    *,
    user: User,
    by: User,
    password: str | None = None,
    teams: Iterable[Team] | None = None,
    if_match: str | None = None,
    **fields,
) -> User:
    """Change a user's profile, role, status or password.

    Only agents and supervisors belong to teams: a user who moves to another role leaves them,
    and work they can no longer hold goes back to its team (`release_work`). With `if_match`
    (the ETag the caller read), a user changed since is refused (412).
    """
    if fields.get("is_active") is False:
        hold_sessions(user.pk)  # first: see there
    for name, value in fields.items():
        setattr(user, name, value)
    ensure_an_admin_remains(user)
    # The change is made to the user as they are now: their row read again, locked after the
    # admins (ensure_an_admin_remains). Someone else's change since (a demotion, a new
    # password) is then neither written back nor ignored by the rules below, and a team's change
    # of members, which locks the people who join or leave (team_update), waits for this one.
    user = get_object_or_404(User.objects.select_for_update(no_key=True), pk=user.pk)
    ensure_if_match(user, if_match)
    changes = {name: fields[name] for name in ("role", "is_active") if name in fields}
    if teams is not None:
        teams = list(teams)
        if set(teams) != set(user.teams.all()):  # the admin's page sends the teams they have
            changes["teams"] = teams
    problems = user_change_problems(by=by, user=user, changes=changes)
    if problems:
        raise ValidationError(problems)
    for name, value in fields.items():
        setattr(user, name, value)
    if "email" in fields:
        user.email = User.objects.normalize_email(user.email)
    if password:
        user.set_password(password)
    # The email is written last. It is a unique column, so writing it locks the user's row
    # FOR UPDATE, which holds back the foreign-key checks of anything naming them: their own
    # comment on a ticket `release_work` is about to wait for would wait for this in turn.
    rest = [name for name in fields if name != "email"] + (["password"] if password else [])
    if rest:
        user.save(update_fields=rest)
    if user.role not in WORKER_ROLES:
        user.teams.clear()
    elif teams is not None:
        hold_teams(teams)
        user.teams.set(teams)
    release_work([user], by=by)
    if not user.is_active:
        end_sessions(user)
    if "email" in fields:
        others = User.objects.exclude(pk=user.pk).filter(email=user.email)
        with claiming("email", EMAIL_TAKEN, others.exists):
            user.save(update_fields=["email"])
    return user


def hold_teams(teams: list[Team]) -> None:
    """Keep `teams` from being deleted until the transaction ends, and refuse on `teams` one
    deleted since the request named it: the memberships' foreign key would fail the commit."""
    ids = {team.pk for team in teams}
    if Team.objects.held(ids) != ids:
        raise ValidationError({"teams": ["A team named here has been deleted."]})


def ensure_an_admin_remains(user: User) -> None:
    """Refuse a change (not yet saved) that would leave no active admin: nobody could manage
    users any more. Admins cannot demote themselves, so only two admins demoting each other at
    the same moment get here; the active admins are locked first, and the second waits and then
    sees the first's change."""
    if user.pk is None or (user.role == Role.ADMIN and user.is_active):
        return
    if not User.objects.filter(pk=user.pk, role=Role.ADMIN, is_active=True).exists():
        return  # not an admin before this change either: nothing to lock
    if lock_active_admins() == {user.pk}:
        field = "role" if user.is_active else "is_active"
        raise ValidationError({field: [LAST_ADMIN]})


def lock_people(people) -> set[int]:
    """Lock the users of the queryset `people` until the transaction ends, by id (the order in
    which every request takes them); their ids. `no_key`: see workflow.assign, a plain FOR
    UPDATE would hold back the foreign-key checks of writes naming them."""
    return set(people.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))


def lock_active_admins() -> set[int]:
    """The active admins, locked (lock_people): what the last-admin rule counts on."""
    return lock_people(User.objects.filter(role=Role.ADMIN, is_active=True))


def end_sessions(user: User) -> None:
    """End the sessions `user` has, so that a deactivated account stays logged out when it is
    activated again: their refresh tokens are blacklisted, and their browser sessions (the admin,
    the browsable API) no longer match the account (User._get_session_auth_hash). (A new password
    ends both through the password hash they carry.)"""
    user.sessions_ended_at = timezone.now()
    User.objects.filter(pk=user.pk).update(sessions_ended_at=user.sessions_ended_at)
    # Locked first, by id, as a logout or a refresh locks the token it ends: a logout between
    # this insert and its commit waited for it while holding the token's row, which this
    # transaction's commit needs (the blacklist's foreign key).
    held = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    held = list(held.select_for_update(of=("self",)).order_by("pk"))
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in held], ignore_conflicts=True
    )


def ensure_may_join(members: Iterable[User], *, current: Iterable[int] = ()) -> None:
    """Only active agents and supervisors join a team. Someone deactivated stays a member until
    taken out (`current`: the ids of the members now), so the list a client read and sends back
    with a change is valid."""
    kept = set(current)
    refused = [m.pk for m in members if m.pk not in kept and not (m.is_active and m.is_worker)]
    if refused:
        ids = ", ".join(map(str, refused))
        raise ValidationError({"members": [f"{NOT_A_WORKER} Not one: {ids}."]})


@transaction.atomic
def team_create(*, name: str, members: Iterable[User] = ()) -> Team:
    members = list(members)
    ensure_may_join(members)
    with claiming("name", TEAM_NAME_TAKEN, lambda: team_name_taken(name)):
        team = Team.objects.create(name=name)
    team.members.set(members)
    return team


@transaction.atomic
def team_update(
    *,
    team: Team,
    by: User,
    members: Iterable[User] | None = None,
    if_match: str | None = None,
    **fields,
) -> Team:
    """Rename a team or change its members; work of those who leave goes back to the team.
    With `if_match` (the ETag the caller read), a team changed since is refused (412)."""
    # `no_key`: a plain FOR UPDATE would hold back every insert that names the team (a ticket
    # filed in it, a membership added from the user's side) until this change commits.
    locked = get_object_or_404(Team.objects.select_for_update(no_key=True), pk=team.pk)
    if members is not None:
        wanted = [member.pk for member in members]
        now = lock_members_and(locked, wanted)
        # As they are behind the locks: someone demoted or deactivated meanwhile joins no team.
        members = list(User.objects.filter(pk__in=wanted))
        ensure_may_join(members, current=now)
    ensure_if_match(locked, if_match)
    for name, value in fields.items():
        setattr(team, name, value)
    if fields:
        with claiming("name", TEAM_NAME_TAKEN, lambda: team_name_taken(team.name, team=team)):
            team.save(update_fields=list(fields))
    if members is not None:
        left = list(User.objects.filter(pk__in=now - {member.pk for member in members}))
        team.members.set(members)
        release_work(left, by=by)
    return team


def lock_members_and(team: Team, joining: list[int]) -> set[int]:
    """Lock the members of `team` and those `joining` it, by id; the ids of its members, read
    behind the locks. Work assigned to someone leaving meanwhile (workflow.assign locks the
    person first) is then given back or refused there, never left with someone outside the team;
    and a change of their teams from the user's side (user_update locks them) waits or is seen."""
    members = team.members.values_list("pk", flat=True)
    locked = lock_people(User.objects.filter(pk__in={*members, *joining}))
    now = set(members.all())  # a query again: as they are behind the locks
    lock_people(User.objects.filter(pk__in=now - locked))  # joined meanwhile (rare)
    return now


def memberships(user_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """{user id: ids of their teams}, in one query."""
    teams = defaultdict(set)
    rows = User.teams.through.objects.filter(user_id__in=list(user_ids))
    for user_id, team_id in rows.values_list("user_id", "team_id"):
        teams[user_id].add(team_id)
    return {user_id: frozenset(team_ids) for user_id, team_ids in teams.items()}


def release_work(people: Iterable[User], *, by: User | None) -> int:
    """Unassign each of `people` (as they are now) from the open tickets and work orders they may
    no longer hold: all of them once they are not an active agent or supervisor, else those of
    teams they have left. Each goes back to its team's queue with an `unassigned` event by `by`
    (None: the system, in an import); closed, cancelled and verified work keeps its assignee.
    One query a kind of work finds what is held, whatever the number of people. The number
    released."""
    people = {person.pk: person for person in people}
    if not people:
        return 0
    teams = memberships(people)
    # The assignment rule (models.may_hold_work) as a condition: all of their work once they
    # are not an active agent or supervisor, else the work of teams not theirs. People are
    # grouped by the teams they may hold work of, so the condition stays short for thousands.
    by_teams = defaultdict(list)
    for person_id, person in people.items():
        worker = person.is_active and person.role in WORKER_ROLES
        by_teams[teams.get(person_id, frozenset()) if worker else frozenset()].append(person_id)
    lost = Q()
    for team_ids, person_ids in by_teams.items():
        lost |= Q(assignee_id__in=person_ids) & ~Q(team_id__in=team_ids)

    released = 0
    # Rows are locked in the order every request takes (workflow.lock): work orders before
    # tickets, each kind by id, else this and a change of one of the work orders can wait for
    # each other. Unassigning changes no status, so no work order's ticket is locked with it.
    # PostgreSQL checks the condition again on a row changed while it waited for the lock.
    for model in (WorkOrder, Ticket):
        open_work = model.objects.exclude(status__in=model.TERMINAL_STATUSES).filter(lost)
        for item in open_work.select_for_update(of=("self",)).order_by("pk"):
            workflow.set_assignee(item, by=by, to=None)
            released += 1
    return released
