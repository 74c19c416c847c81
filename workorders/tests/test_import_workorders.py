"""`manage.py import_workorders` and `export_workorders`: jobs matched by external_ref, linked to
tickets by theirs."""

from datetime import UTC, datetime, timedelta

import pytest

from accounts.tests.factories import AgentFactory, TeamFactory
from dispatchdesk.models import Event, EventType
from dispatchdesk.tests.importing import run, write_csv
from tickets.tests.factories import TicketFactory
from workorders.imports import WORK_ORDER_COLUMNS
from workorders.models import WorkOrder
from workorders.serializers import MAX_ESTIMATED_MINUTES

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    support, elsewhere = TeamFactory(name="Support"), TeamFactory(name="Elsewhere")
    return {
        "support": support,
        "elsewhere": elsewhere,
        "agent": AgentFactory(email="alex@example.com", teams=[support]),
        "outsider": AgentFactory(email="olga@example.com", teams=[elsewhere]),
        "ticket": TicketFactory(external_ref="T-1", team=support),
        "closed": TicketFactory(external_ref="T-9", team=elsewhere, status="closed"),
    }


def orders_file(tmp_path, *rows, name="work-orders.csv"):
    return write_csv(tmp_path / name, list(WORK_ORDER_COLUMNS), list(rows))


def test_a_work_order_for_a_ticket_takes_its_team_and_is_recorded_on_both(world, tmp_path):
    path = orders_file(
        tmp_path,
        {
            "external_ref": "WO-1",
            "ticket_ref": "T-1",
            "title": "Replace the fuser",
            "description": "Bring the spare from stores.",
            "priority": "high",
            "status": "scheduled",
            "assignee_email": "alex@example.com",
            "scheduled_start": "2026-03-02T09:00:00Z",
            "scheduled_end": "2026-03-02T11:00:00Z",
            "location": "Floor 2",
            "estimated_minutes": "90.0",  # read as the API reads it: 90
        },
    )

    outcome = run("import_workorders", path)

    assert outcome.ok, outcome.errors
    order = WorkOrder.objects.get(external_ref="WO-1")
    assert (order.ticket, order.team, order.assignee) == (
        world["ticket"],
        world["support"],
        world["agent"],
    )
    assert (order.title, order.description, order.location) == (
        "Replace the fuser",
        "Bring the spare from stores.",
        "Floor 2",
    )
    assert (order.priority, order.status, order.estimated_minutes) == ("high", "scheduled", 90)
    assert order.scheduled_start == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert order.scheduled_end == datetime(2026, 3, 2, 11, tzinfo=UTC)
    assert order.due_at == order.created_at + timedelta(hours=24)
    [imported] = Event.objects.for_object(order)
    assert imported.data == {
        "created": True,
        "external_ref": "WO-1",
        "status": "scheduled",
        "title": "Replace the fuser",
        "priority": "high",
        "team": world["support"].pk,
        "assignee": world["agent"].pk,
    }
    [linked] = Event.objects.for_object(world["ticket"]).filter(type=EventType.WORK_ORDER_LINKED)
    assert linked.data == {"work_order": order.pk, "title": "Replace the fuser"}
    assert linked.public is False


def test_a_standalone_work_order_goes_to_the_default_team(world, tmp_path):
    path = orders_file(tmp_path, {"external_ref": "PM-1", "title": "Quarterly extinguisher check"})

    assert run("import_workorders", path).ok

    order = WorkOrder.objects.get()
    assert (order.ticket, order.team.name, order.status) == (None, "General", "open")


def test_an_import_may_place_history_in_any_status(world, tmp_path):
    """Unlike the API, which links work only to tickets still being worked."""
    path = orders_file(
        tmp_path,
        {"external_ref": "WO-9", "ticket_ref": "T-9", "title": "Old job", "status": "verified"},
    )

    assert run("import_workorders", path).ok
    order = WorkOrder.objects.get()
    assert (order.ticket, order.team, order.status) == (
        world["closed"],
        world["elsewhere"],
        "verified",
    )


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"title": ""}, "title: This field is required."),
        ({"ticket_ref": "T-404"}, 'ticket_ref: No ticket with the external_ref "T-404".'),
        ({"status": "resolved"}, 'status: "resolved" is not a valid choice.'),
        ({"estimated_minutes": "1.5"}, "estimated_minutes: A valid integer is required."),
        ({"estimated_minutes": "1.0.0"}, "estimated_minutes: A valid integer is required."),
        (
            {"estimated_minutes": "-1"},
            "estimated_minutes: Ensure this value is greater than or equal to 0.",
        ),
        (
            {"estimated_minutes": str(MAX_ESTIMATED_MINUTES + 1)},
            "estimated_minutes: Ensure this value is less than or equal to "
            f"{MAX_ESTIMATED_MINUTES}.",
        ),
        (
            {"scheduled_start": "2026-03-02T10:00Z", "scheduled_end": "2026-03-02T09:00Z"},
            "scheduled_end: Must not be before the start.",
        ),
        ({"location": "x" * 201}, "location: Ensure this field has no more than 200 characters."),
        (
            {"ticket_ref": "T-1", "assignee_email": "olga@example.com"},
            "assignee_email: olga@example.com is not an active agent or supervisor of team "
            "Support.",
        ),
    ],
)
def test_each_kind_of_bad_row_is_reported_and_nothing_is_written(world, tmp_path, cells, message):
    good = {"external_ref": "WO-1", "title": "Fine"}
    path = orders_file(tmp_path, good, {"external_ref": "WO-2", "title": "Broken"} | cells)

    outcome = run("import_workorders", path)

    assert not outcome.ok
    assert outcome.errors == [f"line 3: {message}"]
    assert not WorkOrder.objects.exists()
    assert not Event.objects.exists()


def test_a_rerun_links_once_and_never_moves_a_work_order_to_another_ticket(world, tmp_path):
    standalone = orders_file(tmp_path, {"external_ref": "WO-1", "title": "Fix"})
    assert run("import_workorders", standalone).ok

    linked = orders_file(tmp_path, {"external_ref": "WO-1", "title": "Fix", "ticket_ref": "T-1"})
    outcome = run("import_workorders", linked)
    assert "0 created, 1 updated" in outcome.out
    order = WorkOrder.objects.get()
    assert order.ticket == world["ticket"]
    assert order.team.name == "General"  # the ticket's team is only a default for new ones
    linked_events = Event.objects.filter(type=EventType.WORK_ORDER_LINKED)
    assert list(linked_events.values_list("object_id", flat=True)) == [world["ticket"].pk]

    again = run("import_workorders", linked)
    assert "0 created, 0 updated, 1 skipped (unchanged)" in again.out

    moved = orders_file(tmp_path, {"external_ref": "WO-1", "ticket_ref": "T-9"})
    outcome = run("import_workorders", moved)
    assert outcome.errors == [
        "line 2: ticket_ref: This work order already belongs to another ticket."
    ]
    assert WorkOrder.objects.get().ticket == world["ticket"]


def test_export_then_import_round_trips_every_field(world, tmp_path):
    rows = [
        {
            "external_ref": "WO-1",
            "ticket_ref": "T-1",
            "title": "Replace the fuser",
            "description": 'Use the "spare", not the old one.\nCall first.',
            "priority": "urgent",
            "status": "in_progress",
            "assignee_email": "alex@example.com",
            "scheduled_start": "2026-03-02T09:00:00Z",
            "scheduled_end": "2026-03-02T11:30:00.500000Z",
            "due_at": "2026-03-03T00:00:00Z",
            "location": "Floor 2, by the lifts",
            "estimated_minutes": "0",
        },
        {"external_ref": "PM-1", "title": "Quarterly check", "team": "Elsewhere"},
        {"external_ref": "PM-2", "title": "Someday", "team": "Elsewhere", "due_at": "none"},
    ]
    assert run("import_workorders", orders_file(tmp_path, *rows)).ok
    assert WorkOrder.objects.get(external_ref="PM-2").due_at is None
    for name in ("work-orders.csv", "work-orders.json"):
        exported = tmp_path / f"exported-{name}"
        assert run("export_workorders", "-o", exported).ok
        before = list(WorkOrder.objects.order_by("external_ref").values())

        WorkOrder.objects.all().delete()
        assert run("import_workorders", exported).ok

        after = list(WorkOrder.objects.order_by("external_ref").values())
        moving = {"id", "created_at", "updated_at"}
        strip = [{k: v for k, v in row.items() if k not in moving} for row in (*before, *after)]
        assert strip[:3] == strip[3:]
        assert after[2]["estimated_minutes"] == 0


def test_an_export_says_how_many_work_orders_lose_their_ticket(tmp_path):
    """A work order of a ticket made through the API (no external_ref) exported with an empty
    ticket_ref, without a word: imported elsewhere, it arrived as a work order of no ticket."""
    from workorders.tests.factories import WorkOrderFactory

    team = TeamFactory()
    WorkOrderFactory(team=team, external_ref="WO-1", ticket=TicketFactory(team=team))
    keyed = TicketFactory(team=team, external_ref="T-2")
    WorkOrderFactory(team=team, external_ref="WO-2", ticket=keyed)
    WorkOrderFactory(team=team, external_ref="WO-3", ticket=None)

    outcome = run("export_workorders", "-o", tmp_path / "work-orders.csv")

    assert outcome.ok
    assert outcome.errors[1:] == [
        "1 of them belong to a ticket without an external_ref: an import would bring them in as "
        "work orders of no ticket."
    ]
