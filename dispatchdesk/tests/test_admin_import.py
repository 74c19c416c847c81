"""The admin's import page: upload, see what the file would do, confirm.

Real sessions (`client.force_login`), real multipart uploads; then the database and the history
are checked, because the page must do exactly what `manage.py import_*` does.
"""

import csv
import io
import json
import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from accounts.models import User
from accounts.tests.factories import (
    AdminFactory,
    AgentFactory,
    RequesterFactory,
    SupervisorFactory,
    TeamFactory,
)
from dispatchdesk.models import Event, EventType
from tickets.imports import TICKET_COLUMNS
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory
from workorders.models import WorkOrder

pytestmark = pytest.mark.django_db

TICKETS = "/admin/tickets/ticket/"
TICKET_IMPORT = f"{TICKETS}import/"
USER_IMPORT = "/admin/accounts/user/import/"
WORK_ORDER_IMPORT = "/admin/workorders/workorder/import/"


@pytest.fixture
def world(db):
    support = TeamFactory(name="Support")
    return {
        "support": support,
        "requester": RequesterFactory(email="rita@example.com"),
        "agent": AgentFactory(email="alex@example.com", teams=[support]),
        "supervisor": SupervisorFactory(teams=[support]),
        "admin": AdminFactory(),
    }


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        return client

    return login


def ticket_row(ref: str, **changes) -> dict:
    row = dict.fromkeys(TICKET_COLUMNS, "")
    row.update(
        external_ref=ref,
        title=f"Ticket {ref}",
        team="Support",
        requester_email="rita@example.com",
        assignee_email="alex@example.com",
        status="open",
    )
    return {**row, **changes}


def csv_file(rows: list[dict], name="tickets.csv", columns=TICKET_COLUMNS) -> SimpleUploadedFile:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile(name, out.getvalue().encode("utf-8"), content_type="text/csv")


CHECKED_FILE = re.compile(r'<input type="hidden" name="checked" value="([0-9a-f]*)">')


def upload(client, url, file, **fields):
    """Check a file; the page's confirmation names it, as the browser's page would send it."""
    response = client.post(url, {"file": file, **fields})
    found = CHECKED_FILE.search(response.content.decode())
    client.checked_file = found.group(1) if found else ""
    return response


def confirm(client, url, skip_invalid=False, checked_file=None):
    data = {"confirm": "1", **({"skip_invalid": "1"} if skip_invalid else {})}
    data["checked"] = client.checked_file if checked_file is None else checked_file
    return client.post(url, data)


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_change_list_offers_the_import_to_supervisors(world, as_user):
    page = as_user(world["supervisor"]).get(TICKETS)

    assert page.status_code == 200
    assert f'href="{TICKET_IMPORT}"' in page.content.decode()
    assert as_user(world["supervisor"]).get(TICKET_IMPORT).status_code == 200


def test_a_checked_file_writes_nothing_until_it_is_confirmed(world, as_user):
    client = as_user(world["supervisor"])

    checked = upload(client, TICKET_IMPORT, csv_file([ticket_row("T-1"), ticket_row("T-2")]))

    assert checked.status_code == 200
    body = checked.content.decode()
    assert "dry run, nothing written" in body
    assert "2 to create, 0 to update" in body
    assert 'id="import-confirm"' in body
    assert not Ticket.objects.exists()

    done = confirm(client, TICKET_IMPORT)

    assert done.status_code == 302 and done.url == TICKETS
    assert any("2 created, 0 updated" in text for text in said(done))
    tickets = Ticket.objects.order_by("external_ref")
    assert [t.external_ref for t in tickets] == ["T-1", "T-2"]
    assert {(t.status, t.assignee, t.created_by) for t in tickets} == {
        ("open", world["agent"], world["supervisor"])
    }
    events = Event.objects.filter(type=EventType.IMPORTED)
    assert events.count() == 2
    assert {event.actor for event in events} == {world["supervisor"]}
    # The file was used up: confirming again has nothing to import.
    again = confirm(client, TICKET_IMPORT)
    assert again.status_code == 302
    assert "There is no checked file waiting: upload it again." in said(again)
    assert Ticket.objects.count() == 2


def test_bad_rows_are_listed_by_line_and_stop_an_all_or_nothing_import(world, as_user):
    client = as_user(world["supervisor"])
    rows = [ticket_row("T-1"), ticket_row("T-2", priority="asap"), ticket_row("T-3", team="Nope")]

    checked = upload(client, TICKET_IMPORT, csv_file(rows))

    body = checked.content.decode()
    assert "line 3: priority: " in body and "asap" in body
    assert "line 4: team: No team named &quot;Nope&quot;." in body
    assert "Import the good rows, skip the 2 bad rows" in body
    assert not Ticket.objects.exists()


def test_the_good_rows_can_be_loaded_and_the_bad_ones_skipped(world, as_user):
    client = as_user(world["supervisor"])
    upload(client, TICKET_IMPORT, csv_file([ticket_row("T-1"), ticket_row("T-2", status="x")]))

    done = confirm(client, TICKET_IMPORT, skip_invalid=True)

    assert done.status_code == 200
    assert "line 3: status: " in done.content.decode()
    assert list(Ticket.objects.values_list("external_ref", flat=True)) == ["T-1"]


def test_rows_that_went_bad_since_the_check_stop_the_import(world, as_user):
    client = as_user(world["supervisor"])
    upload(client, TICKET_IMPORT, csv_file([ticket_row("T-1"), ticket_row("T-2")]))
    User.objects.filter(pk=world["agent"].pk).update(is_active=False)

    refused = confirm(client, TICKET_IMPORT)

    assert refused.status_code == 200
    assert "Nothing was written: 2 of 2 rows failed when they were checked again." in said(refused)
    assert "line 2: assignee_email: " in refused.content.decode()
    assert not Ticket.objects.exists()


def test_a_re_upload_updates_and_never_duplicates(world, as_user):
    client = as_user(world["supervisor"])
    TicketFactory(external_ref="T-1", title="Old title", team=world["support"])

    checked = upload(client, TICKET_IMPORT, csv_file([ticket_row("T-1", title="New title")]))
    assert "0 to create, 1 to update" in checked.content.decode()
    confirm(client, TICKET_IMPORT)

    assert list(Ticket.objects.values_list("external_ref", "title")) == [("T-1", "New title")]


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (SimpleUploadedFile("t.csv", b"\xff\xfe\x00bad"), "t.csv: not UTF-8 text"),
        (SimpleUploadedFile("t.csv", b"title,colour\nA,red\n"), "t.csv: "),
        (SimpleUploadedFile("t.txt", b"external_ref\n"), "cannot tell the format from the name"),
        (SimpleUploadedFile("t.json", b"{not json"), "t.json: "),
    ],
)
def test_a_file_that_cannot_be_read_gets_one_message_and_nothing_waits(
    world, as_user, file, message
):
    client = as_user(world["supervisor"])

    refused = upload(client, TICKET_IMPORT, file)

    assert refused.status_code == 200
    errors = refused.context["form"].errors["file"]
    assert len(errors) == 1 and message in errors[0]
    assert "import-confirm" not in refused.content.decode()
    assert confirm(client, TICKET_IMPORT).status_code == 302  # nothing was kept to confirm
    assert not Ticket.objects.exists()


def test_the_format_can_be_chosen_when_the_name_does_not_tell(world, as_user):
    client = as_user(world["supervisor"])
    items = json.dumps([ticket_row("T-1")]).encode()

    checked = upload(client, TICKET_IMPORT, SimpleUploadedFile("export.txt", items), format="json")
    confirm(client, TICKET_IMPORT)

    assert "1 to create" in checked.content.decode()
    assert Ticket.objects.get().external_ref == "T-1"


def test_work_orders_are_imported_alike(world, as_user):
    client = as_user(world["supervisor"])
    TicketFactory(external_ref="T-1", team=world["support"], status="open")
    rows = [{"external_ref": "W-1", "ticket_ref": "T-1", "title": "Fix it", "team": "Support"}]
    columns = ["external_ref", "ticket_ref", "team", "title"]

    upload(client, WORK_ORDER_IMPORT, csv_file(rows, "orders.csv", columns))
    confirm(client, WORK_ORDER_IMPORT)

    order = WorkOrder.objects.get()
    assert (order.external_ref, order.ticket.external_ref) == ("W-1", "T-1")


def test_only_admins_import_people(world, as_user):
    rows = [{"email": "new@example.com", "full_name": "New", "role": "agent", "teams": "Support"}]
    columns = ["email", "full_name", "role", "teams"]

    assert as_user(world["supervisor"]).get(USER_IMPORT).status_code == 403
    assert (
        "import-link"
        not in as_user(world["supervisor"]).get("/admin/accounts/user/").content.decode()
    )
    admin = as_user(world["admin"])
    upload(admin, USER_IMPORT, csv_file(rows, "users.csv", columns))
    confirm(admin, USER_IMPORT)

    created = User.objects.get(email="new@example.com")
    assert (created.role, [t.name for t in created.teams.all()]) == ("agent", ["Support"])
    assert not created.has_usable_password()


def test_an_admin_cannot_import_a_new_role_for_themselves(world, as_user):
    """As through the API and the user form: an admin who demotes themselves may lock everyone
    out."""
    admin = world["admin"]
    rows = [{"email": admin.email, "full_name": "", "role": "requester", "teams": ""}]
    client = as_user(admin)

    checked = upload(client, USER_IMPORT, csv_file(rows, "users.csv", list(rows[0])))
    confirm(client, USER_IMPORT)

    assert "role: You cannot change your own role." in checked.content.decode()
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_agents_and_requesters_never_reach_the_page(world, as_user):
    for user in (world["agent"], world["requester"]):
        response = as_user(user).post(TICKET_IMPORT, {"confirm": "1"})
        assert response.status_code == 302 and "/admin/login/" in response.url
    assert not Ticket.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_a_file_over_the_request_limit_is_refused_before_it_is_read(world, as_user):
    rows = [ticket_row(f"T-{n}", description="x" * 100) for n in range(30)]

    refused = upload(as_user(world["supervisor"]), TICKET_IMPORT, csv_file(rows))

    assert refused.status_code == 413
    assert refused["Content-Type"] == "text/plain; charset=utf-8"
    assert "manage.py import_tickets" in refused.content.decode()
    assert not Ticket.objects.exists()


def test_a_confirmation_imports_the_file_its_page_checked_or_nothing(world, as_user):
    """Two tabs: a file checked in the first, another in the second; the first tab's button
    would have imported the second file, which its page never showed."""
    client = as_user(world["supervisor"])
    upload(client, TICKET_IMPORT, csv_file([ticket_row("A-1")]))
    first_page = client.checked_file
    upload(client, TICKET_IMPORT, csv_file([ticket_row(f"B-{n}") for n in range(5)], "b.csv"))

    refused = confirm(client, TICKET_IMPORT, checked_file=first_page)

    assert refused.status_code == 302
    assert said(refused) == [
        "Nothing was written: the file waiting is b.csv, checked after the page you confirmed "
        "on. Confirm on its page, or upload yours again."
    ]
    assert not Ticket.objects.exists()
    # The second file still waits for its own page.
    assert confirm(client, TICKET_IMPORT).status_code == 302
    assert sorted(Ticket.objects.values_list("external_ref", flat=True)) == [
        f"B-{n}" for n in range(5)
    ]


def test_a_row_written_meanwhile_with_the_same_key_is_a_message_not_an_error_page(
    world, as_user, monkeypatch
):
    """Another write of the same `external_ref` between the check and the confirmation (the
    same file confirmed twice at once, from two clicks that both found it waiting): the database
    refused the batch, and the page was an error page."""
    from tickets.imports import TicketImport

    client = as_user(world["supervisor"])
    upload(client, TICKET_IMPORT, csv_file([ticket_row("T-1")]))
    write = TicketImport.write

    def someone_files_it_first(self, plan):
        TicketFactory(external_ref="T-1", team=world["support"])
        return write(self, plan)

    monkeypatch.setattr(TicketImport, "write", someone_files_it_first)

    done = confirm(client, TICKET_IMPORT)

    assert done.status_code == 302
    assert said(done) == [
        "The database refused a batch (nothing was written): did something write the same rows "
        "meanwhile? Check the file again."
    ]
    assert not Ticket.objects.exists()  # the import's transaction, that row included
