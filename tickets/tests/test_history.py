"""The audit trail: every change leaves an event, written atomically with the change."""

import pytest

from dispatchdesk import history, workflow
from dispatchdesk.models import AppendOnlyError, Event
from tickets import services
from tickets.models import Comment, Ticket

from .factories import TicketFactory

pytestmark = pytest.mark.django_db


def test_a_ticket_life_is_recorded_in_order_oldest_first(client_for, cast):
    requester, agent = client_for(cast["requester"]), client_for(cast["assignee"])
    ticket_id = requester.post("/api/v1/tickets/", {"title": "No wifi"}).json()["id"]
    ticket = Ticket.objects.get(pk=ticket_id)
    services.ticket_update(
        ticket=ticket, by=cast["supervisor"], changes={"team": cast["team"]}
    )  # routed to the team

    url = f"/api/v1/tickets/{ticket_id}/"
    agent.post(f"{url}transitions/", {"name": "triage"})
    agent.post(f"{url}assign/", {"assignee": cast["assignee"].pk})
    agent.post(f"{url}transitions/", {"name": "start", "note": "on it"})
    agent.post(f"{url}comments/", {"body": "Router rebooted", "internal": True})
    requester.post(f"{url}comments/", {"body": "Thanks"})
    agent.patch(url, {"priority": "high"})
    agent.post(f"{url}transitions/", {"name": "resolve", "resolution": "Rebooted"})
    requester.post(f"{url}transitions/", {"name": "close"})

    events = agent.get(f"{url}history/").json()["results"]
    assert [(e["type"], e["data"].get("transition")) for e in events] == [
        ("created", None),
        ("fields_changed", None),
        ("status_changed", "triage"),
        ("assigned", None),
        ("status_changed", "start"),
        ("comment_added", None),
        ("comment_added", None),
        ("fields_changed", None),
        ("status_changed", "resolve"),
        ("status_changed", "close"),
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[4]["data"] == {
        "transition": "start",
        "from": "open",
        "to": "in_progress",
        "note": "on it",
    }
    assert events[4]["actor"] == cast["assignee"].pk
    assert set(events[0]) == {"id", "at", "actor", "type", "data"}

    public = requester.get(f"{url}history/").json()["results"]
    assert [e["id"] for e in public] == [
        e["id"] for e in events if e["data"].get("internal") is not True
    ]


def explode(*args, **kwargs):
    raise RuntimeError("crash while writing history")


@pytest.mark.django_db(transaction=True)
def test_a_failure_while_recording_a_transition_leaves_neither_change_nor_event(cast, monkeypatch):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    monkeypatch.setattr(workflow, "record", explode)

    with pytest.raises(RuntimeError):
        workflow.fire(ticket, name="start", by=cast["assignee"])

    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert not Event.objects.exists()


def test_a_failure_while_recording_an_assignment_leaves_nothing(cast, monkeypatch):
    ticket = TicketFactory(team=cast["team"], status="open")
    monkeypatch.setattr(workflow, "record", explode)

    with pytest.raises(RuntimeError):
        workflow.assign(ticket, by=cast["supervisor"], to=cast["team_agent"])

    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_a_failure_while_recording_an_edit_or_a_comment_leaves_nothing(cast, monkeypatch):
    ticket = TicketFactory(team=cast["team"], status="open", title="Before")
    monkeypatch.setattr(services, "record", explode)
    monkeypatch.setattr(workflow, "record", explode)

    with pytest.raises(RuntimeError):
        services.ticket_update(ticket=ticket, by=cast["supervisor"], changes={"title": "After"})
    with pytest.raises(RuntimeError):
        services.comment_add(ticket=ticket, by=cast["supervisor"], body="Lost")
    with pytest.raises(RuntimeError):
        services.ticket_create(by=cast["requester"], title="Never")

    ticket.refresh_from_db()
    assert ticket.title == "Before"
    assert not Comment.objects.exists()
    assert Ticket.objects.count() == 1


def test_a_failure_in_the_api_is_not_half_written(client_for, cast, monkeypatch):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    monkeypatch.setattr(workflow, "record", explode)
    client = client_for(cast["assignee"])
    client.raise_request_exception = False

    response = client.post(f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": "start"})

    assert response.status_code == 500
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_events_are_append_only(cast):
    ticket = TicketFactory(team=cast["team"])
    workflow.fire(ticket, name="triage", by=cast["supervisor"])
    event = Event.objects.get()

    event.data = {"forged": True}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.update(data={})
    with pytest.raises(AppendOnlyError):
        Event.objects.all().delete()
    assert Event.objects.get().data["transition"] == "triage"


@pytest.mark.django_db(transaction=True)
def test_history_cannot_be_written_outside_a_transaction(cast):
    ticket = TicketFactory(team=cast["team"])

    with pytest.raises(RuntimeError, match="same transaction"):
        history.record(ticket, cast["supervisor"], "created")
    assert not Event.objects.exists()


def test_a_time_is_recorded_as_written_to_the_microsecond(client_for, cast):
    """Django's JSON encoder cut times to milliseconds: a due date moved by less was recorded
    as changed from and to the same time."""
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], status="open")
    client, url = client_for(cast["supervisor"]), f"/api/v1/tickets/{ticket.pk}/"
    client.patch(url, {"due_at": "2030-01-01T10:00:00.000100Z"}, format="json")

    saved = client.patch(url, {"due_at": "2030-01-01T10:00:00.000900Z"}, format="json").json()

    old, new = client.get(f"{url}history/").json()["results"][-1]["data"]["due_at"]
    assert (old, new) == ("2030-01-01T10:00:00.000100Z", "2030-01-01T10:00:00.000900Z")
    assert new == saved["due_at"]
