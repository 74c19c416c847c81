"""Conflicting transitions fired at once: exactly one wins, the others get 409."""

import pytest
from django.db import connection

from dispatchdesk import workflow
from dispatchdesk.exceptions import Conflict
from dispatchdesk.models import Event
from dispatchdesk.tests.concurrency import send_all_at_once
from tickets.models import Ticket

from .factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; SQLite serializes whole-database writes instead",
)

# Both leave `open`, and neither can follow the other (nor itself).
CONFLICTING = [{"name": "resolve", "resolution": "fixed"}, {"name": "cancel", "note": "duplicate"}]


def fire_all_at_once(ticket, user, bodies) -> list[int]:
    url = f"/api/v1/tickets/{ticket.pk}/transitions/"
    responses = send_all_at_once([(user, "post", url, body) for body in bodies])
    return [response.status_code for response in responses]


@needs_postgresql
def test_many_conflicting_transitions_one_winner(cast):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    bodies = CONFLICTING * 6  # twelve requests, two transitions

    statuses = fire_all_at_once(ticket, cast["supervisor"], bodies)

    assert sorted(statuses) == [200] + [409] * (len(bodies) - 1)
    ticket = Ticket.objects.get(pk=ticket.pk)
    events = list(Event.objects.for_object(ticket).filter(type="status_changed"))
    assert len(events) == 1
    winner = bodies[statuses.index(200)]["name"]
    assert events[0].data["transition"] == winner
    assert events[0].data["from"] == "open"
    assert events[0].data["to"] == ticket.status


@needs_postgresql
def test_the_same_transition_twice_at_once_happens_once(cast):
    ticket = TicketFactory(team=cast["team"], status="new")

    statuses = fire_all_at_once(ticket, cast["supervisor"], [{"name": "triage"}] * 6)

    assert sorted(statuses) == [200] + [409] * 5
    assert Event.objects.for_object(ticket).filter(type="status_changed").count() == 1


@needs_postgresql
def test_a_stale_copy_cannot_overwrite_a_transition(cast):
    """Two copies of one ticket loaded; the first is cancelled; the second cannot start."""
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    first, second = Ticket.objects.get(pk=ticket.pk), Ticket.objects.get(pk=ticket.pk)

    workflow.fire(first, name="cancel", by=cast["supervisor"], inputs={"note": "duplicate"})

    with pytest.raises(Conflict, match="cancelled"):
        workflow.fire(second, name="start", by=cast["supervisor"])
    assert Ticket.objects.get(pk=ticket.pk).status == "cancelled"
    assert Event.objects.for_object(ticket).count() == 1
