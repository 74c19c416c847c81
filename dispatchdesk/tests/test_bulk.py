"""The machinery every import shares (dispatchdesk/bulk.py): files that cannot be imported at all,
progress, and checking in a helper thread while the rows are written."""

import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management.base import OutputWrapper
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts.tests.factories import AgentFactory, RequesterFactory, TeamFactory
from dispatchdesk.bulk import Progress, insert_rows
from dispatchdesk.models import Event
from dispatchdesk.tests.importing import run, write_csv
from tickets.imports import TICKET_COLUMNS, TicketImport
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

BASE_DIR = Path(__file__).resolve().parents[2]
HEADER = ",".join(TICKET_COLUMNS)
EXPECTED = f"The columns are: {', '.join(TICKET_COLUMNS)}."


def failure(tmp_path, name: str, content: bytes | None, *args) -> str:
    """The one line a file that cannot be imported gets; nothing else is printed."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    outcome = run("import_tickets", path, *args)
    assert not outcome.ok
    assert (outcome.out, outcome.errors) == ("", [])
    return outcome.failure.replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "missing.csv: no such file."),
        ("empty.csv", b"", "empty.csv: the file is empty."),
        ("blank.json", b" \n\n", "blank.json: the file is empty."),
        (
            "latin1.csv",
            f"{HEADER}\nT-1,Caf\xe9\n".encode("latin-1"),
            "latin1.csv: not UTF-8 text (line 2 has the byte 0xe9); save it as UTF-8.",
        ),
        # After a BOM, the byte was named 3 bytes early; lines ending in CR alone were all one.
        (
            "bom.csv",
            f"\ufeff{HEADER}\nT-1,ok\n".encode() + b"T-2,Caf\xe9\n",
            "bom.csv: not UTF-8 text (line 3 has the byte 0xe9); save it as UTF-8.",
        ),
        (
            "old-mac.csv",
            f"{HEADER}\rT-1,ok\rT-2,Caf\xe9\r".encode("latin-1"),
            "old-mac.csv: not UTF-8 text (line 3 has the byte 0xe9); save it as UTF-8.",
        ),
        (
            "users.csv",
            b"email,full_name,role,teams\nkim@example.com,Kim,agent,\n",
            "users.csv: wrong header: unknown columns email, full_name, role, teams; "
            f"no external_ref column. {EXPECTED}",
        ),
        (
            "twice.csv",
            b"external_ref,title,title\nT-1,a,b\n",
            f"twice.csv: wrong header: repeated column title. {EXPECTED}",
        ),
        (
            "quote.csv",
            b'external_ref,title\nT-1,"never closed\nT-2,x\n',
            "quote.csv: line 2: not valid CSV (the row that starts here has a quote never closed).",
        ),
        (
            "tickets.txt",
            b"external_ref\nT-1\n",
            "tickets.txt: cannot tell the format from the name; use --format csv or json.",
        ),
        (
            "broken.json",
            b'[{"external_ref": "T-1",}]',
            "broken.json: not valid JSON (Expecting property name enclosed in double quotes at "
            "line 1, column 25).",
        ),
        (
            "object.json",
            b'{"external_ref": "T-1"}',
            "object.json: expected a JSON list of objects.",
        ),
        (
            "digits.json",
            b'[{"external_ref": "T-1", "title": ' + b"9" * 5000 + b"}]",
            "digits.json: not valid JSON (a number of over 4,300 digits).",
        ),
        (
            "nan.json",
            b'[{"external_ref": "T-1", "title": NaN}]',
            "nan.json: not valid JSON (NaN is not JSON).",
        ),
        (
            "deep.json",
            b"[" * 100_000 + b"]" * 100_000,
            "deep.json: not valid JSON (nested too deeply).",
        ),
        (
            "keys.json",
            b'[{"external_ref": "T-1", "colour": "red"}]',
            f"keys.json: wrong keys: unknown column colour. {EXPECTED}",
        ),
    ],
)
def test_a_file_that_cannot_be_imported_gets_one_clear_line(tmp_path, name, content, message):
    assert failure(tmp_path, name, content) == message


def test_a_directory_is_not_a_file(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    assert failure(tmp_path, "folder.csv", None) == "folder.csv: is a directory, not a file."


@pytest.mark.django_db
def test_format_from_the_option_header_only_files_and_a_byte_order_mark(tmp_path):
    (tmp_path / "rows.txt").write_text("[]")
    outcome = run("import_tickets", tmp_path / "rows.txt", "--format", "json")
    assert outcome.ok and "0 rows" in outcome.out

    (tmp_path / "header.csv").write_text(HEADER + "\n")
    assert run("import_tickets", tmp_path / "header.csv").ok

    RequesterFactory(email="rita@example.com")
    (tmp_path / "bom.csv").write_bytes(
        "\ufeffexternal_ref,title,requester_email\nT-1,Café,rita@example.com\n".encode()
    )
    assert run("import_tickets", tmp_path / "bom.csv").ok
    assert Ticket.objects.get().title == "Café"


@pytest.mark.parametrize("batch_size", ["0", "10001", "many"])
def test_the_batch_size_is_checked(tmp_path, batch_size):
    outcome = run("import_tickets", tmp_path / "x.csv", "--batch-size", batch_size)
    assert "--batch-size: a whole number from 1 to 10,000" in outcome.failure


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "CommandError: missing.csv: no such file."),
        (
            b"\xff\xfe",
            "CommandError: missing.csv: not UTF-8 text (line 1 has the byte 0xff); "
            "save it as UTF-8.",
        ),
    ],
)
def test_the_command_line_shows_one_line_and_no_traceback(tmp_path, content, message):
    if content is not None:
        (tmp_path / "missing.csv").write_bytes(content)
    finished = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "import_tickets", "missing.csv"],
        cwd=tmp_path,
        env={"DJANGO_DEBUG": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert finished.stderr == message + "\n"
    assert finished.stdout == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_line_on_a_terminal_and_nothing_elsewhere():
    terminal, pipe = OutputWrapper(Terminal()), OutputWrapper(io.StringIO())
    for stream in (terminal, pipe):
        progress = Progress(stream, 2000, "tickets.csv")
        progress.update(1000)
        progress.update(2000)
        progress.close()
    assert terminal._out.getvalue().endswith("\rtickets.csv: 2,000 / 2,000 rows (100%)\r\033[K")
    assert pipe._out.getvalue() == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "said"),
    [
        (DatabaseError, "the database failed; nothing written: the server went away DETAIL: gone."),
        (
            IntegrityError,
            "the database refused a batch; nothing written: the server went away DETAIL: gone. "
            "Did something change the same rows meanwhile? Run the import again.",
        ),
    ],
    ids=["unavailable", "refused"],
)
def test_a_database_error_is_one_line_and_writes_nothing(tmp_path, monkeypatch, error, said):
    RequesterFactory(email="rita@example.com")
    path = write_csv(
        tmp_path / "t.csv",
        ["external_ref", "title", "requester_email"],
        [
            {"external_ref": f"T-{n}", "title": "x", "requester_email": "rita@example.com"}
            for n in range(5)
        ],
    )
    calls = []

    def lookup(self, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            raise error("the server went away\nDETAIL: gone")
        return original(self, batch)

    original = TicketImport.lookup
    monkeypatch.setattr(TicketImport, "lookup", lookup)

    outcome = run("import_tickets", path, "--batch-size", "2")

    assert outcome.failure == f"t.csv: {said}"
    assert not Ticket.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_checking_ahead_in_a_thread_gives_the_same_result(tmp_path, monkeypatch):
    """Outside a transaction, on PostgreSQL, batches are checked in a helper thread (with its
    own connection) while the previous ones are written."""
    if connection.vendor != "postgresql":
        pytest.skip("the helper thread is for PostgreSQL")
    team = TeamFactory(name="Support")
    RequesterFactory(email="rita@example.com")
    AgentFactory(email="alex@example.com", teams=[team])
    rows = [
        {
            "external_ref": f"T-{n}",
            "title": f"Ticket {n}",
            "team": "Support",
            "requester_email": "rita@example.com",
            "assignee_email": "alex@example.com" if n % 2 else "",
        }
        for n in range(300)
    ]
    threads = threading.active_count()
    bad = write_csv(
        tmp_path / "bad.csv",
        list(TICKET_COLUMNS),
        [*rows, {"external_ref": "X", "team": "Support"}],
    )
    outcome = run("import_tickets", bad, "--batch-size", "50")
    assert outcome.errors == [
        "line 302: title: This field is required.",
        "line 302: requester_email: This field is required.",
    ]
    assert not Ticket.objects.exists() and not Event.objects.exists()

    good = write_csv(tmp_path / "good.csv", list(TICKET_COLUMNS), rows)
    outcome = run("import_tickets", good, "--batch-size", "50")
    assert outcome.ok, outcome.errors
    assert Ticket.objects.count() == 300
    assert Ticket.objects.filter(assignee__email="alex@example.com").count() == 150
    assert Event.objects.filter(type="imported").count() == 300

    outcome = run("import_tickets", good, "--batch-size", "50")
    assert "300 skipped (unchanged)" in outcome.out

    def broken(self, batch):
        raise DatabaseError("lost")

    monkeypatch.setattr(TicketImport, "lookup", broken)
    outcome = run("import_tickets", good, "--batch-size", "50")
    assert outcome.failure == "good.csv: the database failed; nothing written: lost."
    assert threading.active_count() == threads  # every helper thread has finished


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
@pytest.mark.django_db
def test_a_row_the_database_refuses_during_copy_is_djangos_integrity_error():
    """What the import command catches and reports in one line (another import wrote the same
    external_ref meanwhile): psycopg's own error would end in a traceback."""
    existing = TicketFactory(external_ref="T-1")
    fields = {
        f.attname: getattr(existing, f.attname)
        for f in Ticket._meta.concrete_fields
        if not f.primary_key and not f.generated
    }

    with pytest.raises(IntegrityError, match="ticket_external_ref_unique"), transaction.atomic():
        insert_rows(Ticket, [fields])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "status", "reopened"),
    [
        ("tickets", "closed", "open"),
        ("tickets", "cancelled", "open"),
        ("workorders", "verified", "in_progress"),
        ("workorders", "cancelled", "open"),
    ],
)
def test_an_import_changes_finished_work_only_with_a_status_that_reopens_it(
    tmp_path, kind, status, reopened
):
    """A row rewrote a closed ticket's title and handed it to someone else, leaving it closed
    (counted as updated, no error), where the API and the admin keep finished work read-only."""
    from workorders.imports import WORK_ORDER_COLUMNS
    from workorders.models import WorkOrder
    from workorders.tests.factories import WorkOrderFactory

    support = TeamFactory(name="Support")
    alex = AgentFactory(email="alex@example.com", teams=[support])
    AgentFactory(email="bo@example.com", teams=[support])
    factory, model, columns = {
        "tickets": (TicketFactory, Ticket, TICKET_COLUMNS),
        "workorders": (WorkOrderFactory, WorkOrder, WORK_ORDER_COLUMNS),
    }[kind]
    done = factory(team=support, status=status, assignee=alex, external_ref="R-1", title="Old")
    row = {"external_ref": "R-1", "title": "Rewritten", "assignee_email": "bo@example.com"}
    noun = model._meta.verbose_name

    refused = run(f"import_{kind}", write_csv(tmp_path / "rows.csv", list(columns), [row]))

    assert not refused.ok
    assert (
        f"line 2: status: A {status} {noun} is read-only: its assignee, title can change only "
        "in a row that reopens it (another status)."
    ) in refused.errors
    done.refresh_from_db()
    assert (done.status, done.title, done.assignee_id) == (status, "Old", alex.pk)

    reopening = write_csv(tmp_path / "again.csv", list(columns), [row | {"status": reopened}])
    assert run(f"import_{kind}", reopening).ok
    done.refresh_from_db()
    assert (done.status, done.title, done.assignee.email) == (
        reopened,
        "Rewritten",
        "bo@example.com",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("before", "after"), [("closed", "cancelled"), ("cancelled", "closed")])
def test_an_import_moves_finished_tickets_between_finished_statuses(tmp_path, before, after):
    """The times the move stamps or clears (`closed_at`, `resolved_at`) were taken for edits
    of the row's, and the move refused."""
    from django.utils import timezone

    stamps = {"resolved_at": timezone.now(), "closed_at": timezone.now()}
    ticket = TicketFactory(
        status=before, external_ref="R-1", **(stamps if before == "closed" else {})
    )
    row = {"external_ref": "R-1", "status": after}

    outcome = run("import_tickets", write_csv(tmp_path / "rows.csv", list(TICKET_COLUMNS), [row]))

    assert outcome.ok, outcome.errors
    ticket.refresh_from_db()
    assert ticket.status == after
    assert (ticket.closed_at is not None) == (after == "closed")
