"""Importing users, and finding the teams and people that imported rows name.

Columns: `email, full_name, role, teams` (team names separated by `;`). Rows are matched by
email; a new user gets no usable password until an admin sets one.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password

from dispatchdesk import bulk
from dispatchdesk.lookups import where_in

from .choices import WORKER_ROLES, Role
from .models import Team, User, cannot_hold_work, may_hold_work
from .services import (
    LAST_ADMIN,
    NOT_A_WORKER,
    lock_active_admins,
    lock_people,
    memberships,
    release_work,
    user_change_problems,
)

TEAM_NAME_LENGTH = Team._meta.get_field("name").max_length


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    email: str
    role: str
    is_active: bool
    team_ids: frozenset[int]

    def __str__(self) -> str:
        return self.email


class TeamNames:
    """Every team, read once, found by its exact name or else by its name in another letter
    case: names are unique in any case (the Team model's constraint), so `it support` can only
    mean "IT Support", unless two teams on SQLite, whose lower() folds ASCII letters only, share a
    name but for the case of other letters (`Équipe`, `équipe`): an error then, not a guess."""

    def __init__(self):
        named = list(Team.objects.values_list("name", "id"))
        self.default_id = Team.objects.filter(is_default=True).values_list("id", flat=True).first()
        self.exact = dict(named)
        self.names = {pk: name for name, pk in named}
        self.folded: dict[str, list[int]] = {}
        for name, pk in named:
            self.folded.setdefault(name.lower(), []).append(pk)

    def id_of(self, name: str) -> int | None:
        if name in self.exact:
            return self.exact[name]
        found = self.folded.get(name.lower(), [])
        return found[0] if len(found) == 1 else None

    def hold(self, changes: list[bulk.Change], teams_of: Callable, column: str) -> None:
        """Hold the teams (`teams_of` a change: their ids) that `changes` put people or work in,
        against their deletion (Team.objects.held), and raise ChangedMeanwhile naming any
        deleted since the import read them: the rows' foreign keys would fail the commit."""
        named = {pk for change in changes for pk in teams_of(change)}
        gone = named - Team.objects.held(named)
        if gone:
            names = ", ".join(sorted(f'"{self.names[pk]}"' for pk in gone))
            raise bulk.ChangedMeanwhile(
                [change.where for change in changes if gone & set(teams_of(change))],
                f"{column}: deleted by someone else since the import read them: {names}",
            )

    def problem(self, name: str) -> str:
        """Why `id_of(name)` found no team."""
        if len(self.folded.get(name.lower(), [])) > 1:
            return f'Several teams are named "{name}" but for letter case; write it exactly.'
        return f'No team named "{name}".'


class Directory:
    """Teams by name and people by email (or id), looked up in bulk for a whole import.

    Teams are read once; each batch reads the people it names that are not known yet, in two
    queries (the users, then the teams of the agents and supervisors among them).
    """

    def __init__(self):
        self.teams = TeamNames()
        self.by_email: dict[str, Person | None] = {}
        self.by_id: dict[int, Person] = {}

    @property
    def default_team_id(self) -> int | None:
        # An import creates no team, not even a default one that is missing (which
        # Team.objects.default() would make): the rows are checked outside its transaction.
        return self.teams.default_id

    def load(self, *, emails: Iterable[str] = (), ids: Iterable[int] = ()) -> None:
        emails = {email for email in emails if email not in self.by_email}
        ids = {pk for pk in ids if pk not in self.by_id}
        if emails:
            self.add(where_in(User.objects.all(), "email", emails))
            for email in emails:
                self.by_email.setdefault(email, None)
        if ids:
            self.add(User.objects.filter(pk__in=ids))

    def lock(self, ids: Iterable[int]) -> None:
        """Lock these people until the transaction ends and read them again: someone taken out
        of a team or deactivated since (whose row is locked while their work is given back) is
        then seen as they are afterwards. Before the work they are given, as workflow.assign."""
        people = User.objects.select_for_update(no_key=True).order_by("pk")
        self.add(where_in(people, "pk", sorted(set(ids))))

    def add(self, users) -> None:
        found = list(users.values_list("id", "email", "role", "is_active"))
        teams = memberships(pk for pk, _, role, _ in found if role in WORKER_ROLES)
        for pk, email, role, is_active in found:
            person = Person(pk, email, role, is_active, teams.get(pk, frozenset()))
            self.by_email[email] = self.by_id[pk] = person

    def team(self, name: str, errors: list, column: str = "team") -> int | None:
        pk = self.teams.id_of(name)
        if pk is None:
            errors.append((column, self.teams.problem(name)))
        return pk

    def person(self, email: str, errors: list, column: str) -> Person | None:
        person = self.by_email.get(email)
        if person is None:
            errors.append((column, f'No user with the email "{email}".'))
        return person

    def assignee_problem(self, person: Person, team_id: int) -> str | None:
        """The assignment rule of the API (accounts.models.may_hold_work), or what breaks it."""
        if may_hold_work(
            is_active=person.is_active, role=person.role, team_ids=person.team_ids, team_id=team_id
        ):
            return None
        return cannot_hold_work(person, self.teams.names.get(team_id, team_id))


class UserImport(bulk.Importer):
    model = User
    noun = "users"
    key = "email"
    columns = {
        "email": bulk.Email(),
        "full_name": bulk.Text.of(User, "full_name"),
        "role": bulk.Choice(Role),
        "teams": bulk.Names(TEAM_NAME_LENGTH),
    }
    list_columns = frozenset({"teams"})

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.teams = TeamNames()
        self.found: dict[str, dict[str, Any]] = {}
        # The last active admin stays one (accounts.services.ensure_an_admin_remains).
        admins = User.objects.filter(role=Role.ADMIN, is_active=True)
        self.admins_kept = set(admins.values_list("pk", flat=True))

    def lookup(self, batch: list[dict[str, Any]]) -> None:
        users = where_in(User.objects.all(), "email", [given["email"] for given in batch])
        found = list(users.values("id", "email", "full_name", "role", "is_active"))
        teams = memberships(user["id"] for user in found)
        self.found = {
            user["email"]: {**user, "teams": teams.get(user["id"], frozenset())} for user in found
        }

    def clean(self, given: dict[str, Any], errors: list, *, where: str) -> bulk.Change | None:
        current = self.found.get(given["email"])
        if current is None:
            after = {"email": given["email"], "full_name": "", "role": Role.REQUESTER.value}
            after["teams"] = frozenset()
        else:
            after = dict(current)
        for column in ("full_name", "role"):
            if column in given:
                after[column] = given[column]
        if "teams" in given:
            team_ids = set()
            for name in given["teams"]:
                pk = self.teams.id_of(name)
                if pk is None:
                    errors.append(("teams", self.teams.problem(name)))
                else:
                    team_ids.add(pk)
            if team_ids and after["role"] not in WORKER_ROLES:
                errors.append(("teams", NOT_A_WORKER))
            elif current is not None and not current["is_active"] and team_ids - current["teams"]:
                # As through the API: someone deactivated keeps their teams and joins no other.
                errors.append(("teams", NOT_A_WORKER))
            after["teams"] = frozenset(team_ids)
        elif after["role"] not in WORKER_ROLES:
            after["teams"] = frozenset()  # as in the API: other roles leave their teams
        if current is not None and self.by is not None:
            # The API's rules for whoever imports (the admin site's import): not their own role.
            user = User(pk=current["id"], role=current["role"])
            changes = {"role": after["role"]}
            for column, messages in user_change_problems(
                by=self.by, user=user, changes=changes
            ).items():
                errors.extend((column, message) for message in messages)
        if current is not None and current["role"] == Role.ADMIN != after["role"]:
            if self.admins_kept == {current["id"]}:
                errors.append(("role", LAST_ADMIN))
            else:
                self.admins_kept.discard(current["id"])
        if errors:
            return None
        if current is None:
            return bulk.Change(where, after)
        changes = bulk.diff(current, after)
        if not changes:
            return None
        return bulk.Change(
            where, after, pk=current["id"], diff=changes, version=version_of(current)
        )

    def write(self, plan: bulk.Plan) -> None:
        self.ensure_unchanged_since_read(plan.updates)
        new_users = [
            User(
                email=change.values["email"],
                full_name=change.values["full_name"],
                role=change.values["role"],
                password=make_password(None),  # no usable password until an admin sets one
            )
            for change in plan.creates
        ]
        User.objects.bulk_create(new_users)
        for change, user in zip(plan.creates, new_users, strict=True):
            change.pk = user.pk
        changed = [change for change in plan.updates if change.diff.keys() - {"teams"}]
        User.objects.bulk_update(
            [
                User(pk=change.pk, full_name=change.values["full_name"], role=change.values["role"])
                for change in changed
            ],
            ["full_name", "role"],
        )
        moved = [change for change in plan.updates if "teams" in change.diff]
        # The teams held first, as accounts.services.user_update holds them: a team deleted
        # meanwhile is a batch changed meanwhile, and a deletion is refused while we hold it.
        joining = [change for change in [*plan.creates, *moved] if change.values["teams"]]
        self.teams.hold(joining, lambda change: change.values["teams"], "teams")
        Membership = User.teams.through
        Membership.objects.filter(user_id__in=[change.pk for change in moved]).delete()
        Membership.objects.bulk_create(
            Membership(user_id=change.pk, team_id=team_id)
            for change in [*plan.creates, *moved]
            for team_id in sorted(change.values["teams"])
        )
        # As through the API: work someone can no longer hold goes back to its team's queue.
        regrouped = [change.pk for change in plan.updates if change.diff.keys() & {"role", "teams"}]
        if regrouped:
            release_work(User.objects.filter(pk__in=regrouped), by=self.by)

    def lock_ahead(self, rows: list[bulk.Row]) -> None:
        """The users the file names, and first the active admins when it names one (a row may
        demote them), in the order ensure_unchanged_since_read and the API's last-admin rule
        lock them. Locked batch by batch, they would be locked after the work earlier batches
        gave back (release_work), while the API locks people before their work."""
        named = where_in(User.objects.all(), "email", self.given_values(rows, "email"))
        if named.filter(role=Role.ADMIN, is_active=True).exists():
            lock_active_admins()
        lock_people(named)
        # And the teams it puts people in, against their deletion, for the whole run: a team
        # deleted between two batches would fail the second.
        team_names = {name for names in self.given_values(rows, "teams") for name in names}
        Team.objects.held({pk for pk in map(self.teams.id_of, team_names) if pk is not None})

    def ensure_unchanged_since_read(self, updates: list[bulk.Change]) -> None:
        """Lock the users to update (as a team's change locks who leaves it) and raise
        ChangedMeanwhile when any of them changed after the batch was checked, or when the
        admins that the last-admin rule counted on were demoted or deactivated meanwhile."""
        demoting = [change for change in updates if is_demoted_admin(change)]
        # The admins locked before the users, as accounts.services.ensure_an_admin_remains does.
        if demoting and not lock_active_admins() - {change.pk for change in demoting}:
            raise bulk.ChangedMeanwhile([change.where for change in demoting])
        people = where_in(
            User.objects.select_for_update(no_key=True), "pk", [c.pk for c in updates]
        )
        read = people.order_by("pk").values("id", "full_name", "role", "is_active")
        now = {user["id"]: user for user in read}
        for pk, team_ids in memberships(now).items():
            now[pk]["teams"] = team_ids
        stale = [
            change.where
            for change in updates
            if change.pk not in now or version_of(now[change.pk]) != change.version
        ]
        if stale:
            raise bulk.ChangedMeanwhile(stale)


def version_of(user: dict[str, Any]) -> tuple:
    """What an import reads of a user and must find unchanged when it writes (users have no time
    stamp of their changes to compare, as tickets have: `bulk.Importer.version_field`)."""
    return user["full_name"], user["role"], user["is_active"], user.get("teams", frozenset())


def is_demoted_admin(change: bulk.Change) -> bool:
    return change.version[1] == Role.ADMIN != change.values["role"]
