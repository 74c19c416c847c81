"""`manage.py import_tickets`: every row checked by the API's rules, all or nothing, idempotent."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Team, User
from accounts.services import team_update
from accounts.tests.factories import AgentFactory, RequesterFactory, SupervisorFactory, TeamFactory
from dispatchdesk import workflow
from dispatchdesk.models import Event, EventType
from dispatchdesk.tests.concurrency import Meanwhile
from dispatchdesk.tests.importing import run, write_csv, write_json
from tickets.imports import TICKET_COLUMNS, TicketImport
from tickets.models import Ticket
from tickets.services import ticket_update
from tickets.tests.factories import TicketFactory

pytestmark = pytest.mark.django_db

DATETIME_FORMAT = (
    "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)


@pytest.fixture
def people(db):
    support, elsewhere = TeamFactory(name="Support"), TeamFactory(name="Elsewhere")
    return {
        "support": support,
        "elsewhere": elsewhere,
        "requester": RequesterFactory(email="rita@example.com"),
        "agent": AgentFactory(email="alex@example.com", teams=[support]),
        "outsider": AgentFactory(email="olga@example.com", teams=[elsewhere]),
        "gone": RequesterFactory(email="gone@example.com", is_active=False),
        "gone_agent": AgentFactory(
            email="gone.agent@example.com", teams=[support], is_active=False
        ),
    }


def row(ref="T-1", **cells) -> dict:
    """A good row: a ticket of the Support team, requested by Rita."""
    return {
        "external_ref": ref,
        "title": f"Printer {ref} is jammed",
        "team": "Support",
        "requester_email": "rita@example.com",
    } | cells


def tickets_file(tmp_path, *rows, name="tickets.csv"):
    if name.endswith(".json"):
        return write_json(tmp_path / name, list(rows))
    return write_csv(tmp_path / name, list(TICKET_COLUMNS), list(rows))


def imported_events():
    return Event.objects.filter(type=EventType.IMPORTED)


@pytest.mark.parametrize("name", ["tickets.csv", "tickets.json"])
def test_new_tickets_take_every_column(people, tmp_path, name):
    description = 'Paper jam, again.\nTried "the usual", twice; no luck.'
    path = tickets_file(
        tmp_path,
        row(
            "LEGACY-7",
            title="Printer on floor 2",
            description=description,
            priority="urgent",
            status="in_progress",
            assignee_email="Alex@Example.com",
            due_at="2026-03-01T12:00:00+01:00",
            created_at="2026-02-27T08:30:00Z",
            resolution="",
        ),
        name=name,
    )

    outcome = run("import_tickets", path)

    assert outcome.ok, outcome.errors
    assert "1 created, 0 updated, 0 skipped (unchanged), 0 failed" in outcome.out
    ticket = Ticket.objects.get(external_ref="LEGACY-7")
    assert ticket.title == "Printer on floor 2"
    assert ticket.description == description
    assert (ticket.priority, ticket.status) == ("urgent", "in_progress")
    assert (ticket.team, ticket.requester) == (people["support"], people["requester"])
    assert ticket.assignee == people["agent"]
    assert ticket.due_at == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert ticket.created_at == datetime(2026, 2, 27, 8, 30, tzinfo=UTC)
    assert (ticket.created_by, ticket.updated_by) == (None, None)
    [event] = Event.objects.for_object(ticket)
    assert (event.type, event.actor, event.public) == (EventType.IMPORTED, None, True)
    assert event.data == {
        "created": True,
        "external_ref": "LEGACY-7",
        "status": "in_progress",
        "title": "Printer on floor 2",
        "priority": "urgent",
        "team": people["support"].pk,
        "assignee": people["agent"].pk,
    }


def test_empty_cells_take_the_same_defaults_as_the_api(people, tmp_path):
    path = tickets_file(
        tmp_path, {"external_ref": "T-1", "title": "No wifi", "requester_email": "rita@example.com"}
    )

    assert run("import_tickets", path).ok
    ticket = Ticket.objects.get(external_ref="T-1")
    assert (ticket.status, ticket.priority, ticket.team.name) == ("new", "normal", "General")
    assert (ticket.description, ticket.resolution, ticket.assignee) == ("", "", None)
    assert ticket.due_at == ticket.created_at + timedelta(hours=72)
    assert abs(ticket.created_at - datetime.now(UTC)) < timedelta(minutes=1)


BAD_CELLS = [
    ({"external_ref": ""}, "external_ref: This field is required."),
    (
        {"external_ref": "x" * 101},
        "external_ref: Ensure this field has no more than 100 characters.",
    ),
    ({"title": ""}, "title: This field is required."),
    ({"title": "x" * 201}, "title: Ensure this field has no more than 200 characters."),
    ({"title": "nul\x00byte"}, "title: Null characters are not allowed."),
    ({"priority": "asap"}, 'priority: "asap" is not a valid choice.'),
    ({"status": "done"}, 'status: "done" is not a valid choice.'),
    ({"team": "Nowhere"}, 'team: No team named "Nowhere".'),
    ({"requester_email": ""}, "requester_email: This field is required."),
    ({"requester_email": "not-an-email"}, "requester_email: Enter a valid email address."),
    (
        {"requester_email": "nobody@example.com"},
        'requester_email: No user with the email "nobody@example.com".',
    ),
    (
        {"requester_email": "gone@example.com"},
        "requester_email: gone@example.com is not an active user.",
    ),
    (
        {"assignee_email": "olga@example.com"},
        "assignee_email: olga@example.com is not an active agent or supervisor of team Support.",
    ),
    (
        {"assignee_email": "rita@example.com"},
        "assignee_email: rita@example.com is not an active agent or supervisor of team Support.",
    ),
    (
        {"assignee_email": "gone.agent@example.com"},
        "assignee_email: gone.agent@example.com is not an active agent or supervisor of team "
        "Support.",
    ),
    ({"due_at": "tomorrow"}, f"due_at: {DATETIME_FORMAT}"),
    ({"created_at": "2026-02-30T10:00"}, f"created_at: {DATETIME_FORMAT}"),
    # No date in UTC: PostgreSQL would store them and then fail to give them back.
    ({"due_at": "9999-12-31T23:00:00-05:00"}, "due_at: Datetime value out of range."),
    ({"created_at": "0001-01-01T00:00:00+05:00"}, "created_at: Datetime value out of range."),
]


@pytest.mark.parametrize(
    ("cells", "message"), BAD_CELLS, ids=[m.split(":")[0] for _, m in BAD_CELLS]
)
def test_each_kind_of_bad_row_is_reported_by_line_and_nothing_is_written(
    people, tmp_path, cells, message
):
    path = tickets_file(tmp_path, row("T-1"), row("T-2", **cells), row("T-3"))

    outcome = run("import_tickets", path)

    assert not outcome.ok
    assert outcome.errors == [f"line 3: {message}"]
    assert outcome.failure == "1 of 3 rows failed."
    assert "nothing written: 1 of 3 rows failed" in outcome.out
    assert not Ticket.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("zone", "moment"),
    [("America/New_York", "0001-01-01T00:00:00Z"), ("Asia/Tokyo", "9999-12-31T23:00:00Z")],
)
def test_a_time_with_no_date_where_it_is_shown_is_refused(people, tmp_path, settings, zone, moment):
    """It has a date in UTC but none in DJANGO_TIME_ZONE, where the API and the admin show it:
    loaded, it would make every list it is in fail."""
    settings.TIME_ZONE = zone
    path = tickets_file(tmp_path, row("T-1", due_at=moment))

    outcome = run("import_tickets", path)

    assert outcome.errors == ["line 2: due_at: Datetime value out of range."]
    assert not Ticket.objects.exists()


def test_a_default_due_date_with_no_date_where_it_is_shown_is_none(people, tmp_path, settings):
    """Created 9999-12-31 14:00 UTC, urgent: due at 18:00 UTC, which is in year 10000 in Tokyo."""
    settings.TIME_ZONE = "Asia/Tokyo"
    path = tickets_file(tmp_path, row(created_at="9999-12-31T14:00:00Z", priority="urgent"))

    assert run("import_tickets", path).ok
    assert Ticket.objects.get().due_at is None


def test_work_created_at_the_end_of_time_gets_no_default_due_date(people, tmp_path):
    path = tickets_file(tmp_path, row(created_at="9999-12-31T20:00:00Z"))

    outcome = run("import_tickets", path)

    assert outcome.ok, outcome.errors
    ticket = Ticket.objects.get()
    assert ticket.created_at == datetime(9999, 12, 31, 20, tzinfo=UTC)
    assert ticket.due_at is None


def test_a_new_row_without_a_team_goes_to_the_default_team_as_renamed(people, tmp_path):
    Team.objects.filter(pk=Team.objects.default().pk).update(name="Helpdesk")
    teams = set(Team.objects.values_list("name", flat=True))

    outcome = run("import_tickets", tickets_file(tmp_path, row("T-1", team="")))

    assert outcome.ok, outcome.errors
    assert Ticket.objects.get().team.name == "Helpdesk"
    assert set(Team.objects.values_list("name", flat=True)) == teams


@pytest.mark.parametrize("batch_size", ["1", "2000"])
def test_an_import_creates_no_default_team_where_there_is_none(people, tmp_path, batch_size):
    """With several batches the rows are checked on a connection of their own, outside the
    import's transaction: a team made there would stay, whatever the import's outcome. (Only
    someone working outside the admin, which refuses it, can delete the default team.)"""
    Team.objects.filter(is_default=True).delete()
    teams = set(Team.objects.values_list("name", flat=True))
    path = tickets_file(tmp_path, row("T-1", team=""), row("T-2", team="Support"))

    outcome = run("import_tickets", path, "--batch-size", batch_size)

    assert outcome.errors == [
        "line 2: team: This field is required: there is no default team to give the row to."
    ]
    assert set(Team.objects.values_list("name", flat=True)) == teams
    assert not Ticket.objects.exists()


def test_a_team_is_found_by_its_name_in_any_letter_case(people, tmp_path):
    path = tickets_file(tmp_path, row("T-1", team="SUPPORT", assignee_email="alex@example.com"))

    outcome = run("import_tickets", path)

    assert outcome.ok, outcome.errors
    assert Ticket.objects.get().team == people["support"]


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="PostgreSQL's constraint folds every letter: two such teams cannot exist there",
)
def test_a_name_two_teams_share_but_for_case_must_be_written_exactly(people, tmp_path):
    # SQLite's lower() folds ASCII letters only, so its constraint lets both be.
    night, other_night = TeamFactory(name="Équipe de nuit"), TeamFactory(name="équipe de nuit")
    path = tickets_file(
        tmp_path,
        row("T-1", team="ÉQUIPE DE NUIT"),
        row("T-2", team="équipe de nuit"),
        row("T-3", team="Équipe de nuit"),
    )

    outcome = run("import_tickets", path, "--skip-invalid")

    assert outcome.errors == [
        'line 2: team: Several teams are named "ÉQUIPE DE NUIT" but for letter case; write it'
        " exactly."
    ]
    teams = dict(Ticket.objects.values_list("external_ref", "team"))
    assert teams == {"T-2": other_night.pk, "T-3": night.pk}


@pytest.mark.parametrize("batch_size", ["1", "2000"])
def test_a_refused_import_says_what_the_good_rows_would_have_done(people, tmp_path, batch_size):
    assert run("import_tickets", tickets_file(tmp_path, row("T-0"), name="old.csv")).ok
    path = tickets_file(tmp_path, row("T-0"), row("T-2", priority="asap"), row("T-1"))

    outcome = run("import_tickets", path, "--batch-size", batch_size)

    assert not outcome.ok
    assert (
        "nothing written: 1 of 3 rows failed and the import is all or nothing (with "
        "--skip-invalid: 1 to create, 0 to update, 1 unchanged); checked 3 rows in "
    ) in outcome.out


def test_a_row_with_several_bad_cells_reports_each(people, tmp_path):
    path = tickets_file(tmp_path, row(priority="asap", status="done", due_at="soon"))

    outcome = run("import_tickets", path)

    assert outcome.errors == [
        'line 2: priority: "asap" is not a valid choice.',
        'line 2: status: "done" is not a valid choice.',
        f"line 2: due_at: {DATETIME_FORMAT}",
    ]


def test_errors_are_reported_in_file_order(people, tmp_path):
    path = tickets_file(tmp_path, row("T-1", team="Nowhere"), row("T-2", priority="asap"))

    outcome = run("import_tickets", path)

    assert outcome.errors == [
        'line 2: team: No team named "Nowhere".',
        'line 3: priority: "asap" is not a valid choice.',
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tickets.csv", "line 4: external_ref: Duplicate of line 2."),
        # json.dumps writes the whole list on one line: the items are told apart by number.
        ("tickets.json", "line 1, item 3: external_ref: Duplicate of line 1, item 1."),
    ],
)
@pytest.mark.parametrize("existing", [False, True], ids=["new", "matched"])
def test_a_key_twice_in_the_file_is_refused_the_second_time(
    people, tmp_path, name, message, existing
):
    if existing:
        assert run("import_tickets", tickets_file(tmp_path, row("T-1"), name="old.csv")).ok
    path = tickets_file(tmp_path, row("T-1"), row("T-2"), row("T-1", title="Again"), name=name)

    outcome = run("import_tickets", path)

    assert outcome.errors == [message]
    assert Ticket.objects.count() == int(existing)
    assert not Ticket.objects.filter(title="Again").exists()


def test_json_numbers_are_read_as_written(people, tmp_path):
    path = tmp_path / "tickets.json"
    untitled = {key: value for key, value in row("T-1").items() if key != "title"}
    text = json.dumps([untitled])[:-2] + ', "description": 1e400, "title": 1.10}]'

    path.write_text(text, encoding="utf-8")
    outcome = run("import_tickets", path)

    assert outcome.ok, outcome.errors
    assert (Ticket.objects.get().title, Ticket.objects.get().description) == ("1.10", "1e400")


def test_a_json_object_with_a_key_twice_is_refused_as_a_csv_column_twice_is(people, tmp_path):
    path = tmp_path / "tickets.json"
    path.write_text(json.dumps([row("T-1")])[:-2] + ', "title": "Second"}]', encoding="utf-8")

    outcome = run("import_tickets", path)

    assert outcome.failure.endswith(
        'tickets.json: not valid JSON (the key "title" twice in one object).'
    )
    assert not Ticket.objects.exists()


def test_lines_are_counted_as_an_editor_counts_them(people, tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text(
        "external_ref,title,description,requester_email,priority\n"  # line 1
        'T-1,Jam,"three\nline\ndescription",rita@example.com,\n'  # lines 2-4
        "\n"  # line 5: blank
        "T-2,Jam,,rita@example.com,asap\n"  # line 6
        "T-3,Jam,,rita@example.com,low,extra\n",  # line 7: one cell too many
        encoding="utf-8",
    )

    outcome = run("import_tickets", path)

    assert outcome.errors == [
        'line 6: priority: "asap" is not a valid choice.',
        "line 7: row: Expected 5 values, found 6.",
    ]


def test_json_reports_each_bad_item_at_the_line_where_it_starts(people, tmp_path):
    # One item a line, as the exports write it, then items spread over several lines.
    items = [row("T-1"), row("T-2", title=True), "not an object"]
    text = "[\n" + ",\n".join(json.dumps(item) for item in items) + ",\n"
    text += json.dumps(row("T-3", priority=["high"]), indent=2) + ",\r\n"
    text += json.dumps(row("T-4", status="done"), indent=2)
    text += "\n, " + json.dumps(row("T-5", priority="asap")) + "\n]\n"  # comma first
    path = tmp_path / "tickets.json"
    path.write_text(text, encoding="utf-8")

    outcome = run("import_tickets", path)

    assert outcome.errors == [
        "line 3: title: Not a valid string.",
        "line 4: row: Expected an object.",
        "line 5: priority: Not a valid string.",
        'line 14: status: "done" is not a valid choice.',
        'line 21: priority: "asap" is not a valid choice.',
    ]
    assert outcome.failure == "5 of 6 rows failed."


def test_a_row_changed_after_the_import_read_it_is_not_overwritten(people, tmp_path, monkeypatch):
    """Someone edits a ticket between the import's check and its write: the import would
    write back what it read (a batch writes every column any of its rows changes)."""
    assert run("import_tickets", tickets_file(tmp_path, row("T-1"), row("T-2"))).ok
    supervisor = SupervisorFactory()
    read = TicketImport.lookup

    def lookup_then_someone_edits(importer, batch):
        read(importer, batch)
        ticket = Ticket.objects.get(external_ref="T-2")
        ticket_update(ticket=ticket, by=supervisor, changes={"priority": "urgent"})

    monkeypatch.setattr(TicketImport, "lookup", lookup_then_someone_edits)
    path = tickets_file(tmp_path, row("T-1", priority="high"), row("T-2", title="Renamed"))

    outcome = run("import_tickets", path)

    assert not outcome.ok
    assert outcome.failure == (
        "tickets.csv: line 3: changed by someone else since the import read them; nothing "
        "written. Run the import again."
    )
    assert Ticket.objects.get(external_ref="T-1").priority == "normal"
    assert Ticket.objects.get(external_ref="T-2").title == "Printer T-2 is jammed"


@pytest.mark.parametrize("existing", [False, True], ids=["new ticket", "matched ticket"])
def test_an_assignee_taken_out_of_the_team_after_the_check_is_not_given_the_work(
    people, tmp_path, monkeypatch, existing
):
    """Alex leaves Support between the import's check of the rows and its write: the rows that
    give Alex Support's work would put it with someone outside the team."""
    if existing:
        assert run("import_tickets", tickets_file(tmp_path, row("T-2"))).ok
    supervisor = SupervisorFactory()
    read = TicketImport.lookup

    def lookup_then_alex_leaves(importer, batch):
        read(importer, batch)
        team_update(team=people["support"], by=supervisor, members=[])

    monkeypatch.setattr(TicketImport, "lookup", lookup_then_alex_leaves)
    path = tickets_file(
        tmp_path, row("T-1"), row("T-2", assignee_email="alex@example.com"), row("T-3")
    )

    outcome = run("import_tickets", path)

    assert outcome.failure == (
        "tickets.csv: line 3: changed by someone else since the import read them; nothing "
        "written. Run the import again."
    )
    assert not Ticket.objects.filter(assignee=people["agent"]).exists()


def test_skip_invalid_says_nothing_was_loaded_when_nothing_was(people, tmp_path):
    assert run("import_tickets", tickets_file(tmp_path, row("T-1"))).ok
    bad = row("T-2", priority="asap")

    all_bad = run("import_tickets", tickets_file(tmp_path, bad), "--skip-invalid")
    rest_unchanged = run(
        "import_tickets", tickets_file(tmp_path, row("T-1"), bad), "--skip-invalid"
    )

    assert all_bad.failure == "1 of 1 row failed."
    assert rest_unchanged.failure == "1 of 2 rows failed; the others were unchanged."


def test_all_or_nothing_leaves_the_database_untouched(people, tmp_path):
    assert run("import_tickets", tickets_file(tmp_path, row("T-0", title="Old title"))).ok
    events = list(Event.objects.values_list("id", flat=True))
    path = tickets_file(
        tmp_path, row("T-0", title="New title"), row("T-1"), row("T-2", team="Nowhere")
    )

    outcome = run("import_tickets", path, "--batch-size", "1")

    assert not outcome.ok
    assert list(Ticket.objects.values_list("external_ref", "title")) == [("T-0", "Old title")]
    assert list(Event.objects.values_list("id", flat=True)) == events


def test_skip_invalid_loads_exactly_the_good_rows(people, tmp_path):
    path = tickets_file(
        tmp_path,
        row("T-1"),
        row("T-2", priority="asap"),
        row("T-3"),
        row("T-4", team="Nowhere"),
        row("T-5"),
    )

    outcome = run("import_tickets", path, "--skip-invalid", "--batch-size", "2")

    assert not outcome.ok  # some rows failed: the exit status says so
    assert outcome.failure == "2 of 5 rows failed; the others were loaded."
    assert "3 created, 0 updated, 0 skipped (unchanged), 2 failed" in outcome.out
    assert outcome.errors == [
        'line 3: priority: "asap" is not a valid choice.',
        'line 5: team: No team named "Nowhere".',
    ]
    assert sorted(Ticket.objects.values_list("external_ref", flat=True)) == ["T-1", "T-3", "T-5"]
    assert imported_events().count() == 3


def test_dry_run_checks_everything_and_writes_nothing(people, tmp_path):
    good = tickets_file(tmp_path, row("T-1"), row("T-2"))
    outcome = run("import_tickets", good, "--dry-run")
    assert outcome.ok
    assert "dry run, nothing written" in outcome.out
    assert "2 to create, 0 to update" in outcome.out

    bad = tickets_file(tmp_path, row("T-1"), row("T-2", priority="asap"), name="bad.csv")
    outcome = run("import_tickets", bad, "--dry-run", "--skip-invalid")
    assert not outcome.ok
    assert outcome.errors == ['line 3: priority: "asap" is not a valid choice.']

    assert not Ticket.objects.exists()
    assert not Event.objects.exists()


def test_a_rerun_updates_and_never_duplicates(people, tmp_path):
    created = "2026-01-10T09:00:00Z"
    first = tickets_file(tmp_path, row("T-1", created_at=created), row("T-2", created_at=created))
    assert run("import_tickets", first).ok

    again = run("import_tickets", first)
    assert again.ok
    assert "0 created, 0 updated, 2 skipped (unchanged), 0 failed" in again.out
    assert Ticket.objects.count() == 2
    assert imported_events().count() == 2  # nothing changed: no new history

    changed = tickets_file(
        tmp_path,
        row("T-1", created_at=created, title="Printer fixed?", priority="high"),
        row("T-2", created_at=created),
        name="changed.csv",
    )
    outcome = run("import_tickets", changed)

    assert "0 created, 1 updated, 1 skipped (unchanged)" in outcome.out
    ticket = Ticket.objects.get(external_ref="T-1")
    assert (ticket.title, ticket.priority) == ("Printer fixed?", "high")
    # As in the API: a new priority without a due date brings that priority's due date.
    assert ticket.due_at == datetime(2026, 1, 11, 9, tzinfo=UTC)
    event = Event.objects.for_object(ticket).last()
    assert event.type == EventType.IMPORTED
    assert event.data == {
        "created": False,
        "external_ref": "T-1",
        "status": "new",
        "changes": {
            "title": ["Printer T-1 is jammed", "Printer fixed?"],
            "priority": ["normal", "high"],
            "due_at": ["2026-01-13T09:00:00Z", "2026-01-11T09:00:00Z"],
        },
    }


def test_an_import_places_tickets_in_any_status_and_keeps_the_timestamps_consistent(
    people, tmp_path
):
    assert run("import_tickets", tickets_file(tmp_path, row("T-1", status="closed"))).ok
    ticket = Ticket.objects.get()
    assert ticket.status == "closed"
    assert (ticket.resolved_at, ticket.closed_at) == (None, None)  # unknown for old tickets

    assert run("import_tickets", tickets_file(tmp_path, row("T-1", status="open"))).ok
    assert run("import_tickets", tickets_file(tmp_path, row("T-1", status="closed"))).ok
    ticket = Ticket.objects.get()
    assert ticket.resolved_at is not None and ticket.closed_at is not None

    assert run("import_tickets", tickets_file(tmp_path, row("T-1", status="open"))).ok
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.resolved_at, ticket.closed_at) == ("open", None, None)


def test_a_new_team_must_have_the_current_assignee(people, tmp_path):
    assigned = row("T-1", assignee_email="alex@example.com")
    assert run("import_tickets", tickets_file(tmp_path, assigned)).ok

    moved = tickets_file(tmp_path, {"external_ref": "T-1", "team": "Elsewhere"})
    outcome = run("import_tickets", moved)
    assert outcome.errors == [
        "line 2: team: The assignee alex@example.com is not a member of Elsewhere; give another."
    ]

    moved = tickets_file(
        tmp_path, {"external_ref": "T-1", "team": "Elsewhere", "assignee_email": "olga@example.com"}
    )
    assert run("import_tickets", moved).ok
    ticket = Ticket.objects.get()
    assert (ticket.team, ticket.assignee) == (people["elsewhere"], people["outsider"])


def test_rules_apply_to_what_a_row_changes(people, tmp_path):
    """A re-run of an old file does not fail because the assignee has left since."""
    path = tickets_file(tmp_path, row("T-1", assignee_email="alex@example.com"))
    assert run("import_tickets", path).ok
    people["agent"].is_active = False
    people["agent"].save()

    outcome = run("import_tickets", path)

    assert outcome.ok, outcome.errors
    assert "1 skipped (unchanged)" in outcome.out


def test_queries_grow_with_the_batches_not_the_rows(people, tmp_path):
    teams = [people["support"], people["elsewhere"], *TeamFactory.create_batch(3)]
    requesters = RequesterFactory.create_batch(20)
    agents = [AgentFactory(teams=[team]) for team in teams for _ in range(2)]
    rows = [
        row(
            f"T-{n}",
            team=teams[n % 5].name,
            requester_email=requesters[n % 20].email,
            assignee_email=agents[(n % 5) * 2 + n % 2].email,
            priority=["low", "normal", "high", "urgent"][n % 4],
        )
        for n in range(1000)
    ]
    path = tickets_file(tmp_path, *rows)

    counts = {}
    for batches in (4, 2):
        Ticket.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            assert run("import_tickets", path, "--batch-size", str(1000 // batches)).ok
        counts[batches] = len(queries)

    assert Ticket.objects.count() == 1000
    assert Team.objects.count() == 6  # the five teams and General
    # A handful per batch (lookups, inserts, history); SQLite splits each insert into
    # statements of at most 999 parameters, still far from a query per row.
    assert counts[4] <= 4 * 15 + 10, counts
    assert counts[2] < counts[4], counts


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and deadlocks: PostgreSQL only"
)
@pytest.mark.django_db(transaction=True)
def test_an_import_of_several_batches_and_an_assignment_at_once_do_not_deadlock(
    people, tmp_path, monkeypatch
):
    """Batch 1 locks T-1; the API then assigns Alex to T-1 (Alex locked, then T-1: it waits);
    batch 2 gives Alex a new ticket. Alex locked only then, the two waited on each other."""
    assert run("import_tickets", tickets_file(tmp_path, row("T-1"))).ok
    first = Ticket.objects.get(external_ref="T-1")
    supervisor = SupervisorFactory()
    assignment = Meanwhile(
        lambda: workflow.assign(Ticket.objects.get(pk=first.pk), by=supervisor, to=people["agent"])
    )
    write = TicketImport.write

    def write_the_second_batch_after_the_api_started(importer, plan):
        if plan.creates:  # the second batch
            assignment.start()  # the API locks what it can and waits
        write(importer, plan)

    monkeypatch.setattr(TicketImport, "write", write_the_second_batch_after_the_api_started)
    path = tickets_file(
        tmp_path, row("T-1", title="Renamed"), row("T-2", assignee_email="alex@example.com")
    )

    try:
        imported = run("import_tickets", path, "--batch-size", "1")
    finally:
        assignment.finish()

    assert imported.ok, (imported.failure, imported.errors)
    assert assignment.outcome == "done"
    assert Ticket.objects.get(external_ref="T-2").assignee == people["agent"]
    assert Ticket.objects.get(pk=first.pk).assignee == people["agent"]


def test_a_json_item_without_a_reference_but_with_a_team_is_reported_not_a_crash(people, tmp_path):
    given = [row("T-1"), {"title": "No reference", "team": "Support"}]
    path = tickets_file(tmp_path, *given, name="t.json")

    outcome = run("import_tickets", path)

    assert outcome.errors == ["line 1, item 2: external_ref: This field is required."]
    assert not Ticket.objects.exists()


def test_a_reference_with_a_nul_character_is_a_bad_row_not_a_database_failure(people, tmp_path):
    """The lock taken before writing sent the raw reference of a row that moves a ticket to
    another team to the database, which refused the whole import; the check had said why."""
    path = tickets_file(tmp_path, row("T-1\x00x", team="Elsewhere", title="Jam"), row("T-2"))

    outcome = run("import_tickets", path)

    assert outcome.errors == ["line 2: external_ref: Null characters are not allowed."]
    assert outcome.failure == "1 of 2 rows failed."
    assert not Ticket.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_stamped_when_it_is_checked_not_when_the_import_started(
    people, tmp_path, monkeypatch
):
    """Every event and `updated_at` of an import had the time the import began: a change made
    through the API while earlier batches were written, which the later batch then saw and
    kept, came before the import's event in history and after it in time."""
    assert run("import_tickets", tickets_file(tmp_path, row("T-1"), row("T-2"))).ok
    second = Ticket.objects.get(external_ref="T-2")
    prepare = TicketImport.prepare

    def an_api_edit_before_the_second_batch(importer, batch):
        if batch[0].values["external_ref"] == "T-2":
            ticket_update(
                ticket=Ticket.objects.get(pk=second.pk),
                by=SupervisorFactory(),
                changes={"priority": "high"},
            )
        return prepare(importer, batch)

    monkeypatch.setattr(TicketImport, "prepare", an_api_edit_before_the_second_batch)
    path = tickets_file(tmp_path, row("T-1", title="One"), row("T-2", title="Two"))

    outcome = run("import_tickets", path, "--batch-size", "1")

    assert outcome.ok, (outcome.failure, outcome.errors)
    *_, edit, imported = Event.objects.for_object(second)
    assert (edit.type, imported.type) == (EventType.FIELDS_CHANGED, EventType.IMPORTED)
    assert imported.at >= edit.at
    second.refresh_from_db()
    assert (second.priority, second.title) == ("high", "Two")
    assert second.updated_at >= edit.at


@pytest.mark.parametrize("still_holds_it", [True, False])
def test_a_closed_ticket_imported_as_open_keeps_its_assignee_only_if_they_may_hold_it(
    people, tmp_path, still_holds_it
):
    """As a reopen through the API: the import brought a deactivated assignee back."""
    agent = people["agent"]
    ticket = TicketFactory(
        team=people["support"], status="closed", assignee=agent, external_ref="T-1"
    )
    if not still_holds_it:
        User.objects.filter(pk=agent.pk).update(is_active=False)
    reopened = {"external_ref": "T-1", "status": "open"}

    outcome = run("import_tickets", tickets_file(tmp_path, reopened))

    assert outcome.ok, (outcome.failure, outcome.errors)
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.assignee_id == (agent.pk if still_holds_it else None)
    if not still_holds_it:
        changes = imported_events().get(object_id=ticket.pk).data["changes"]
        assert changes["assignee"] == [agent.pk, None]


@pytest.mark.parametrize("options", [[], ["--skip-invalid"], ["--dry-run"]])
def test_a_closed_ticket_imported_as_open_naming_its_deactivated_assignee_is_a_bad_row(
    people, tmp_path, options
):
    """An exported row with its status edited: the unchanged assignee was not checked, then
    found unfit when written, and the whole run failed as changed by someone else."""
    gone = people["gone_agent"]
    TicketFactory(team=people["support"], status="closed", assignee=gone, external_ref="T-1")
    row = {"external_ref": "T-1", "status": "open", "assignee_email": gone.email}

    outcome = run("import_tickets", tickets_file(tmp_path, row), *options)

    assert "changed by someone else" not in outcome.failure
    assert [line.split(":")[:2] for line in outcome.errors] == [["line 2", " assignee_email"]]
    assert Ticket.objects.get(external_ref="T-1").status == "closed"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's limit of query parameters")
@pytest.mark.parametrize("command", ["import_tickets", "import_users"])
def test_a_file_beyond_sqlites_limit_of_parameters_imports_batch_by_batch(tmp_path, command):
    """The people an all-or-nothing run locks first were looked up for the whole file at once,
    one parameter each: past SQLite's limit (32,766 by default; 999 here, to keep it small)
    the run failed, whatever `--batch-size` said."""
    import sqlite3

    connection.ensure_connection()
    connection.connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    RequesterFactory(email="rita@example.com")
    if command == "import_tickets":
        columns = ["external_ref", "title", "requester_email", "status"]
        rows = [
            {"external_ref": f"T-{i}", "title": "x", "requester_email": "rita@example.com"}
            | {"status": "open"}
            for i in range(1_200)
        ]
    else:
        columns = ["email", "full_name"]
        rows = [{"email": f"person{i}@example.com", "full_name": "P"} for i in range(1_200)]

    outcome = run(command, write_csv(tmp_path / "file.csv", columns, rows), "--batch-size", "400")

    assert outcome.ok, outcome.failure
    assert "1,200 created" in outcome.out
