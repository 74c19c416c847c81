import json

import pytest

from dispatchdesk.models import Event
from tickets.choices import TicketStatus
from tickets.models import Comment

from .factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(cast):
    return TicketFactory(team=cast["team"], requester=cast["requester"], status=TicketStatus.OPEN)


def comments_url(ticket):
    return f"/api/v1/tickets/{ticket.pk}/comments/"


def post_comment(client, ticket, body, internal=False):
    return client.post(comments_url(ticket), {"body": body, "internal": internal}, format="json")


def test_requester_and_agent_comment_publicly(client_for, cast, ticket):
    from_requester = post_comment(client_for(cast["requester"]), ticket, "It broke again")
    from_agent = post_comment(client_for(cast["team_agent"]), ticket, "On my way")

    assert from_requester.status_code == from_agent.status_code == 201
    assert from_requester.json()["author"] == cast["requester"].pk
    assert from_requester.json()["internal"] is False
    bodies = [
        c["body"] for c in client_for(cast["requester"]).get(comments_url(ticket)).json()["results"]
    ]
    assert bodies == ["It broke again", "On my way"]


def test_requesters_cannot_write_internal_comments(client_for, cast, ticket):
    response = post_comment(client_for(cast["requester"]), ticket, "secret", internal=True)

    assert response.status_code == 403
    assert not Comment.objects.exists()
    assert not Event.objects.for_object(ticket).exists()


def test_internal_comments_never_reach_the_requester(client_for, cast, ticket):
    agent, requester = client_for(cast["team_agent"]), client_for(cast["requester"])
    post_comment(agent, ticket, "Public answer")
    post_comment(agent, ticket, "INTERNAL: the customer is wrong", internal=True)

    agent_view = agent.get(comments_url(ticket)).json()
    requester_view = requester.get(comments_url(ticket)).json()
    assert [c["body"] for c in agent_view["results"]] == [
        "Public answer",
        "INTERNAL: the customer is wrong",
    ]
    assert [c["body"] for c in requester_view["results"]] == ["Public answer"]
    assert requester_view["count"] == 1

    # Not in the history either, nor anywhere in the ticket's payloads.
    requester_history = requester.get(f"/api/v1/tickets/{ticket.pk}/history/").json()
    assert [e["data"]["internal"] for e in requester_history["results"]] == [False]
    assert requester_history["count"] == 1
    agent_history = agent.get(f"/api/v1/tickets/{ticket.pk}/history/").json()
    assert agent_history["count"] == 2
    for payload in (
        requester.get(f"/api/v1/tickets/{ticket.pk}/").json(),
        requester.get("/api/v1/tickets/").json(),
        requester_history,
        requester_view,
    ):
        assert "INTERNAL" not in json.dumps(payload)


def test_blank_comment_is_400(client_for, cast, ticket):
    response = post_comment(client_for(cast["team_agent"]), ticket, "  ")

    assert response.status_code == 400
    assert "body" in response.json()["fields"]


@pytest.mark.parametrize("status", [TicketStatus.CLOSED, TicketStatus.CANCELLED])
@pytest.mark.parametrize(
    ("actor", "expected"),
    [("requester", 409), ("team_agent", 409), ("supervisor", 201), ("admin", 201)],
)
def test_terminal_tickets_take_comments_from_supervisors_only(
    client_for, cast, status, actor, expected
):
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], status=status)

    response = post_comment(client_for(cast[actor]), ticket, "Late note")

    assert response.status_code == expected
    assert Comment.objects.filter(ticket=ticket).count() == (1 if expected == 201 else 0)


def test_a_comment_is_recorded_in_history(client_for, cast, ticket):
    comment_id = post_comment(
        client_for(cast["team_agent"]), ticket, "Noted", internal=True
    ).json()["id"]

    event = Event.objects.for_object(ticket).get()
    assert (event.type, event.actor, event.public) == ("comment_added", cast["team_agent"], False)
    assert event.data == {"comment": comment_id, "internal": True}
