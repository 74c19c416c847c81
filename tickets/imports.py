"""Importing and exporting tickets, and what work-order imports share with them.

Ticket columns: `external_ref, title, description, priority, status, team, requester_email,
assignee_email, due_at, created_at, resolution`. Rows are matched by `external_ref`; an empty
cell is "not given": a new ticket takes the default (as in the API), a matched one keeps its
value; `due_at` may be `none`, no due date. An import may place a ticket in any status; each
created or changed ticket gets one `imported` history event.
"""

from collections.abc import Iterator
from typing import Any, ClassVar

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q

from accounts.imports import Directory
from accounts.models import Team, User
from accounts.services import lock_people
from dispatchdesk import bulk
from dispatchdesk.lookups import where_in
from dispatchdesk.models import EventType
from dispatchdesk.workflow import default_due_at

from .choices import Priority, TicketStatus
from .models import Ticket

NORMAL, NEW = Priority.NORMAL.value, TicketStatus.NEW.value
RESOLVED, CLOSED = TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value
# A new row without a team goes to the default team; an import never creates one (the
# default team is only missing where someone deleted it outside the admin, which refuses).
NO_DEFAULT_TEAM = "This field is required: there is no default team to give the row to."

TICKET_COLUMNS = (
    "external_ref",
    "title",
    "description",
    "priority",
    "status",
    "team",
    "requester_email",
    "assignee_email",
    "due_at",
    "created_at",
    "resolution",
)


class WorkItemImport(bulk.Importer):
    """Rows of tickets or work orders: matched by external_ref, placed in a team, maybe assigned.

    Subclasses list the model fields they `track` (read for matched rows and compared) and the
    `email_columns` whose people a batch looks up, and give `new_values` for a new row.
    """

    tracked: ClassVar[tuple[str, ...]]
    email_columns: ClassVar[tuple[str, ...]] = ("assignee_email",)
    # Columns whose typed value is stored as is, in the model field of the same name.
    plain_columns: ClassVar[tuple[str, ...]]
    stamps = ("updated_at", "updated_by_id")
    version_field = "updated_at"
    # Fields a change of status writes by itself (when the work was resolved, closed).
    status_stamps: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.by_id = self.by.pk if self.by else None
        self.directory = Directory()
        self.found: dict[str, dict[str, Any]] = {}
        self.content_type_id = ContentType.objects.get_for_model(self.model).pk

    def lookup(self, batch: list[dict[str, Any]]) -> None:
        refs = [given["external_ref"] for given in batch]
        matched = where_in(self.model.objects.all(), "external_ref", refs)
        rows = matched.values("id", "updated_at", *self.tracked)
        self.found = {row["external_ref"]: row for row in rows}
        # A new team needs the current assignee to be in it, and finished work brought back
        # an assignee who may still hold it, so those assignees are looked up.
        moved = [
            self.found[given["external_ref"]]["assignee_id"]
            for given in batch
            if ("team" in given or "status" in given) and "assignee_email" not in given
            if given["external_ref"] in self.found
        ]
        emails = [g[column] for g in batch for column in self.email_columns if column in g]
        self.directory.load(emails=emails, ids=[pk for pk in moved if pk is not None])

    def new_values(self, given: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def clean(self, given: dict[str, Any], errors: list, *, where: str) -> bulk.Change | None:
        current = self.found.get(given["external_ref"])
        after = self.new_values(given) if current is None else dict(current)
        if current is None and "title" not in given:
            errors.append(("title", bulk.REQUIRED))
        for column in self.plain_columns:
            if column in given:
                after[column] = given[column]
        self.clean_references(given, current, after, errors)
        self.place(given, current, after, errors)
        if "due_at" not in given and (current is None or after["priority"] != current["priority"]):
            # As in the API: the priority's due date, counted from creation.
            after["due_at"] = default_due_at(after["priority"], after["created_at"])
        self.clean_more(current, after, errors)
        if errors:
            return None
        if current is None:
            after |= {"created_by_id": self.by_id, "updated_by_id": self.by_id}
            after["updated_at"] = self.now
            return bulk.Change(where, after)
        changes = bulk.diff(current, after)
        if not changes:
            return None
        if self.edits_finished_work(current, after, changes, errors):
            return None
        after |= {"updated_by_id": self.by_id, "updated_at": self.now}
        version = current["updated_at"]
        return bulk.Change(where, after, pk=current["id"], diff=changes, version=version)

    def edits_finished_work(self, current, after, changes, errors) -> bool:
        """Whether the row changes more than the status of finished work it leaves finished,
        which is read-only as in the API: a row may place any status, and one that reopens the
        work may change the rest with it."""
        finished = self.model.TERMINAL_STATUSES
        given = set(changes) - {"status", *self.status_stamps}
        edited = sorted(bulk.history_name(self.model, name) for name in given)
        if not (edited and current["status"] in finished and after["status"] in finished):
            return False
        noun = self.model._meta.verbose_name
        errors.append(
            (
                "status",
                f"A {current['status']} {noun} is read-only: its {', '.join(edited)} can change "
                "only in a row that reopens it (another status).",
            )
        )
        return True

    def clean_references(self, given, current, after, errors) -> None:
        """References other than the team and the assignee (requester, ticket)."""

    def clean_more(self, current, after, errors) -> None:
        """Rules across fields, once every value is known."""

    def default_team_id(self, after: dict[str, Any]) -> int | None:
        return self.directory.default_team_id

    def place(self, given, current, after, errors) -> None:
        """The team and the assignee: an assignee must be an active worker of the team."""
        directory = self.directory
        if "team" in given:
            team_id = directory.team(given["team"], errors)
            if team_id is None:
                return
            after["team_id"] = team_id
        elif current is None:
            after["team_id"] = self.default_team_id(after)
            if after["team_id"] is None:
                errors.append(("team", NO_DEFAULT_TEAM))
                return
        if "assignee_email" in given:
            person = directory.person(given["assignee_email"], errors, "assignee_email")
            if person is None:
                return
            after["assignee_id"] = person.id
        reopened = current is not None and self.reopens(current["status"], after)
        if reopened and "assignee_email" not in given:
            # Finished work keeps its assignee; brought back, it goes to the queue if they may
            # no longer hold it, as a reopen through the API does.
            person = directory.by_id[after["assignee_id"]]
            if directory.assignee_problem(person, after["team_id"]):
                after["assignee_id"] = None
        placed = (after["team_id"], after["assignee_id"])
        if after["assignee_id"] is None or (
            not reopened
            and current is not None
            and placed == (current["team_id"], current["assignee_id"])
        ):
            return  # rules apply to what a row changes: an unchanged row is never refused
        if "assignee_email" in given:
            person = directory.by_email[given["assignee_email"]]
            problem = directory.assignee_problem(person, after["team_id"])
            if problem:
                errors.append(("assignee_email", problem))
        else:
            person = directory.by_id[after["assignee_id"]]
            if directory.assignee_problem(person, after["team_id"]):
                team = directory.teams.names[after["team_id"]]
                errors.append(
                    ("team", f"The assignee {person} is not a member of {team}; give another.")
                )

    def reopens(self, status_before: str | None, after: dict[str, Any]) -> bool:
        """Whether a row brings finished work (closed, cancelled, verified) back, assigned."""
        terminal = self.model.TERMINAL_STATUSES
        return (
            after["assignee_id"] is not None
            and status_before in terminal
            and after["status"] not in terminal
        )

    def lock_ahead(self, rows: list[bulk.Row]) -> None:
        """Everyone the file may give work to: the people it names as assignees, and those who
        hold the work it moves to another team. Locked batch by batch (`write`), they would be
        locked after earlier batches' rows, while the API locks people before their work
        (workflow.assign, accounts.services.team_update): the two could deadlock."""
        named = where_in(User.objects.all(), "email", self.given_values(rows, "assignee_email"))
        # Rows that keep the assignee but move the work to another team, or set a status (which
        # may bring finished work back): the people who hold that work now.
        moving = [
            row
            for row in rows
            if (row.values.get("team", "").strip() or row.values.get("status", "").strip())
            and not row.values.get("assignee_email", "").strip()
        ]
        moved = self.given_values(moving, "external_ref")  # valid ones: the others are reported
        holders = where_in(self.model.objects.all(), "external_ref", moved).values("assignee_id")
        lock_people(User.objects.filter(Q(pk__in=named.values("pk")) | Q(pk__in=holders)))
        # And the teams it puts work in, against their deletion, for the whole run: a team
        # deleted between two batches would fail the second.
        team_names = self.given_values(rows, "team")
        Team.objects.held(pk for pk in map(self.directory.teams.id_of, team_names) if pk)

    def write(self, plan: bulk.Plan) -> None:
        self.ensure_assignees_may_hold(plan)
        placed = [*plan.creates, *(change for change in plan.updates if "team_id" in change.diff)]
        super().write(plan)
        # The teams last, as the API holds them after the work it locks; the foreign keys are
        # checked at the commit, so a team deleted before this still fails the batch here.
        self.directory.teams.hold(placed, lambda change: {change.values["team_id"]}, "team")

    def ensure_assignees_may_hold(self, plan: bulk.Plan) -> None:
        """Raise ChangedMeanwhile when someone the plan gives work to left its team or stopped
        being an active worker after the batch was checked (the people are read once an import)."""
        placed = [
            change
            for change in [*plan.creates, *plan.updates]
            if change.values["assignee_id"] is not None
            if change.pk is None
            or change.diff.keys() & {"team_id", "assignee_id"}
            or self.reopens(change.diff.get("status", [None])[0], change.values)
        ]
        if not placed:
            return
        directory = self.directory
        directory.lock(change.values["assignee_id"] for change in placed)
        stale = [
            change.where
            for change in placed
            if directory.assignee_problem(
                directory.by_id[change.values["assignee_id"]], change.values["team_id"]
            )
        ]
        if stale:
            raise bulk.ChangedMeanwhile(stale)

    def event(self, plan: bulk.Plan, pk: int, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "content_type_id": self.content_type_id,
            "object_id": pk,
            "at": plan.at,
            "actor_id": self.by_id,
            "type": EventType.IMPORTED.value,
            "data": data,
            "public": True,
        }

    def events(self, plan: bulk.Plan) -> list[dict[str, Any]]:
        """One `imported` event per created or changed row: its status, and what it was given
        (as the API's `created` event says, with the assignee) or what changed."""
        events = []
        for change in plan.creates:
            values = change.values
            data = {"created": True, "external_ref": values["external_ref"]}
            data |= {"status": values["status"], "title": values["title"]}
            data |= {"priority": values["priority"], "team": values["team_id"]}
            data["assignee"] = values["assignee_id"]
            events.append(self.event(plan, change.pk, data))
        for change in plan.updates:
            data = {"created": False, "external_ref": change.values["external_ref"]}
            data["status"] = change.values["status"]
            data["changes"] = {
                bulk.history_name(self.model, name): pair for name, pair in change.diff.items()
            }
            events.append(self.event(plan, change.pk, data))
        return events


class TicketImport(WorkItemImport):
    model = Ticket
    noun = "tickets"
    status_stamps = frozenset({"resolved_at", "closed_at"})
    columns = {
        "external_ref": bulk.Text.of(Ticket, "external_ref"),
        "title": bulk.Text.of(Ticket, "title"),
        "description": bulk.Text(),
        "priority": bulk.Choice(Priority),
        "status": bulk.Choice(TicketStatus),
        "team": bulk.Text.of(Team, "name"),
        "requester_email": bulk.Email(),
        "assignee_email": bulk.Email(),
        "due_at": bulk.DateTime(none=bulk.NO_DATE),
        "created_at": bulk.DateTime(),
        "resolution": bulk.Text(),
    }
    plain_columns = (
        "title",
        "description",
        "priority",
        "status",
        "due_at",
        "created_at",
        "resolution",
    )
    email_columns = ("requester_email", "assignee_email")
    tracked = (
        "external_ref",
        "title",
        "description",
        "priority",
        "status",
        "team_id",
        "requester_id",
        "assignee_id",
        "due_at",
        "created_at",
        "resolution",
        "resolved_at",
        "closed_at",
    )

    def new_values(self, given: dict[str, Any]) -> dict[str, Any]:
        return {
            "external_ref": given["external_ref"],
            "title": "",
            "description": "",
            "priority": NORMAL,
            "status": NEW,
            "team_id": None,
            "requester_id": None,
            "assignee_id": None,
            "due_at": None,
            "created_at": self.now,
            "resolution": "",
            # Unknown for a ticket that arrives already resolved or closed.
            "resolved_at": None,
            "closed_at": None,
        }

    def clean_references(self, given, current, after, errors) -> None:
        if "requester_email" not in given:
            if current is None:
                errors.append(("requester_email", bulk.REQUIRED))
            return
        person = self.directory.person(given["requester_email"], errors, "requester_email")
        if person is None:
            return
        if not person.is_active and (current is None or current["requester_id"] != person.id):
            errors.append(("requester_email", f"{person} is not an active user."))
        after["requester_id"] = person.id

    def clean_more(self, current, after, errors) -> None:
        # A matched ticket moved into resolved or closed by the import is so from now on.
        if current is None or after["status"] == current["status"]:
            return
        if after["status"] in {RESOLVED, CLOSED}:
            after["resolved_at"] = after["resolved_at"] or self.now
            closed = after["status"] == CLOSED
            after["closed_at"] = (after["closed_at"] or self.now) if closed else None
        else:
            after["resolved_at"] = after["closed_at"] = None


def ticket_export_rows() -> Iterator[dict[str, Any]]:
    """Every ticket as an import row, oldest first."""
    sources = {
        "external_ref": "external_ref",
        "title": "title",
        "description": "description",
        "priority": "priority",
        "status": "status",
        "team": "team__name",
        "requester_email": "requester__email",
        "assignee_email": "assignee__email",
        "due_at": "due_at",
        "created_at": "created_at",
        "resolution": "resolution",
    }
    tickets = Ticket.objects.order_by("id").values_list(*sources.values())
    for values in tickets.iterator(chunk_size=2000):
        row = dict(zip(sources, values, strict=True))
        row["due_at"], row["created_at"] = bulk.due_date(row["due_at"]), bulk.iso(row["created_at"])
        yield row
