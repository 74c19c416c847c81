"""A work order's audit trail (GET work-orders/{id}/history/): every change, oldest first."""

import pytest

from dispatchdesk import workflow
from dispatchdesk.models import Event
from tickets.tests.factories import TicketFactory
from workorders import services
from workorders.models import ChecklistItem, TimeEntry, WorkOrder

from .factories import ChecklistItemFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/work-orders/"


def test_a_work_order_life_is_recorded_in_order(client_for, cast):
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], status="open")
    supervisor, agent = client_for(cast["supervisor"]), client_for(cast["assignee"])
    work_order_id = supervisor.post(URL, {"title": "Pump", "ticket": ticket.pk}).json()["id"]
    url = f"{URL}{work_order_id}/"

    item_id = supervisor.post(f"{url}checklist/", {"text": "Drain"}).json()["id"]
    supervisor.post(f"{url}assign/", {"assignee": cast["assignee"].pk}, format="json")
    agent.post(f"{url}transitions/", {"name": "start"})
    agent.post(f"{url}time-entries/", {"minutes": 30})
    agent.patch(f"{url}checklist/{item_id}/", {"done": True}, format="json")
    agent.patch(url, {"location": "Basement"})
    agent.post(f"{url}transitions/", {"name": "complete", "completion_notes": "Done"})
    supervisor.post(f"{url}transitions/", {"name": "verify"})

    response = agent.get(f"{url}history/")
    assert response.status_code == 200
    events = response.json()["results"]
    assert [(e["type"], e["data"].get("transition")) for e in events] == [
        ("created", None),
        ("fields_changed", None),
        ("assigned", None),
        ("status_changed", "start"),
        ("time_logged", None),
        ("checklist_ticked", None),
        ("fields_changed", None),
        ("status_changed", "complete"),
        ("status_changed", "verify"),
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert set(events[0]) == {"id", "at", "actor", "type", "data"}
    assert {k: events[7]["data"][k] for k in ("transition", "from", "to", "note")} == {
        "transition": "complete",
        "from": "in_progress",
        "to": "completed",
        "note": "",
    }
    assert [e["actor"] for e in events[3:8]] == [cast["assignee"].pk] * 5
    assert events[-1]["actor"] == cast["supervisor"].pk
    assert WorkOrder.objects.get(pk=work_order_id).status == "verified"
    linked = Event.objects.for_object(ticket).get()
    assert (linked.type, linked.data["work_order"]) == ("work_order_linked", work_order_id)


def test_history_is_read_only(client_for, cast, work_order):
    client = client_for(cast["admin"])
    url = f"{URL}{work_order.pk}/history/"

    answers = [client.post(url, {}), client.patch(url, {}), client.delete(url)]

    assert [a.status_code for a in answers] == [405, 405, 405]


def explode(*args, **kwargs):
    raise RuntimeError("crash while writing history")


def test_a_failure_while_recording_leaves_no_half_written_child(cast, monkeypatch):
    work_order = WorkOrderFactory(team=cast["team"], assignee=cast["assignee"])
    item = ChecklistItemFactory(work_order=work_order)
    monkeypatch.setattr(services, "record", explode)

    with pytest.raises(RuntimeError):
        services.checklist_add(work_order=work_order, by=cast["supervisor"], text="Lost")
    with pytest.raises(RuntimeError):
        services.checklist_update(item=item, by=cast["assignee"], done=True)
    with pytest.raises(RuntimeError):
        services.time_entry_add(work_order=work_order, by=cast["assignee"], minutes=5)
    with pytest.raises(RuntimeError):
        services.work_order_create(by=cast["supervisor"], title="Never", team=cast["team"])

    item.refresh_from_db()
    assert item.done is False
    assert ChecklistItem.objects.count() == 1
    assert not TimeEntry.objects.exists()
    assert WorkOrder.objects.count() == 1


def test_a_failure_while_linking_leaves_no_work_order(cast, monkeypatch):
    ticket = TicketFactory(team=cast["team"], status="open")
    real_record = services.record

    def fail_on_link(obj, by, event_type, *args, **kwargs):
        if event_type == "work_order_linked":
            raise RuntimeError("crash while linking")
        return real_record(obj, by, event_type, *args, **kwargs)

    monkeypatch.setattr(services, "record", fail_on_link)

    with pytest.raises(RuntimeError):
        services.work_order_create(by=cast["supervisor"], title="Never", ticket=ticket)

    assert not WorkOrder.objects.exists()
    assert not Event.objects.exists()


def test_a_transition_is_recorded_with_its_note(cast):
    work_order = WorkOrderFactory(team=cast["team"], status="in_progress")

    workflow.fire(work_order, name="pause", by=cast["supervisor"], inputs={"note": "Parts"})

    event = Event.objects.for_object(work_order).get()
    assert event.data == {
        "transition": "pause",
        "from": "in_progress",
        "to": "on_hold",
        "note": "Parts",
    }
