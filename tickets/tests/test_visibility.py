"""Who sees which ticket, decided once by Ticket.objects.visible_to() and used everywhere."""

import pytest

from accounts.authentication import user_by_id
from accounts.tests.factories import AgentFactory
from tickets.models import Ticket

from .factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tickets(cast):
    """One ticket per reason to see it."""
    elsewhere = cast["outsider_agent"].teams.get()
    return {
        "of_the_team": TicketFactory(team=cast["team"], requester=cast["requester"]),
        "of_another_team": TicketFactory(team=elsewhere),
        "assigned_elsewhere": TicketFactory(
            team=elsewhere, assignee=AgentFactory(teams=[elsewhere])
        ),
        "requested_by_team_agent_elsewhere": TicketFactory(
            team=elsewhere, requester=cast["team_agent"]
        ),
        "of_another_requester": TicketFactory(team=elsewhere, requester=cast["other_requester"]),
    }


EVERYTHING = {
    "of_the_team",
    "of_another_team",
    "assigned_elsewhere",
    "requested_by_team_agent_elsewhere",
    "of_another_requester",
}
SEES = {
    "requester": {"of_the_team"},
    "other_requester": {"of_another_requester"},
    "team_agent": {"of_the_team", "requested_by_team_agent_elsewhere"},
    "outsider_agent": EVERYTHING - {"of_the_team"},
    "supervisor": EVERYTHING,
    "admin": EVERYTHING,
}


def test_agents_see_tickets_assigned_to_them_outside_their_teams(cast):
    lone_agent = AgentFactory()
    mine = TicketFactory(team=cast["team"], assignee=lone_agent)
    TicketFactory(team=cast["team"])

    assert list(Ticket.objects.visible_to(lone_agent)) == [mine]
    assert list(Ticket.objects.visible_to(user_by_id(lone_agent.pk))) == [mine]  # no teams


@pytest.mark.parametrize("actor", list(SEES))
def test_the_same_tickets_whether_the_teams_were_read_with_the_user_or_not(cast, tickets, actor):
    """API requests carry the user's team ids (accounts.authentication); other code does not."""
    as_read_by_the_api = user_by_id(cast[actor].pk)
    assert as_read_by_the_api.loaded_team_ids is not None
    expected = {tickets[name].pk for name in SEES[actor]}

    for user in (cast[actor], as_read_by_the_api):
        assert set(Ticket.objects.visible_to(user).values_list("pk", flat=True)) == expected


@pytest.mark.parametrize("actor", list(SEES))
def test_the_list_shows_exactly_the_visible_tickets(client_for, cast, tickets, actor):
    response = client_for(cast[actor]).get("/api/v1/tickets/", {"page_size": 200})

    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {
        tickets[name].pk for name in SEES[actor]
    }


ENDPOINTS = [
    ("get", ""),
    ("patch", ""),
    ("get", "transitions/"),
    ("post", "transitions/"),
    ("post", "assign/"),
    ("get", "comments/"),
    ("post", "comments/"),
    ("get", "history/"),
]


@pytest.mark.parametrize(("method", "suffix"), ENDPOINTS)
@pytest.mark.parametrize("actor", list(SEES))
def test_every_endpoint_answers_404_for_an_invisible_ticket(
    client_for, cast, tickets, actor, method, suffix
):
    bodies = {"transitions/": {"name": "triage"}, "assign/": {"assignee": None}}
    body = bodies.get(suffix, {"body": "hi"} if suffix else {"title": "x"})
    for name, ticket in tickets.items():
        url = f"/api/v1/tickets/{ticket.pk}/{suffix}"
        response = getattr(client_for(cast[actor]), method)(url, body, format="json")
        if name in SEES[actor]:
            assert response.status_code != 404, (name, response.json())
        else:
            assert response.status_code == 404, name
            assert response.json()["code"] == "not_found"


def test_unknown_and_malformed_ids_are_404(client_for, cast):
    client = client_for(cast["supervisor"])

    assert client.get("/api/v1/tickets/999999/").status_code == 404
    assert client.get("/api/v1/tickets/abc/").status_code == 404
    assert client.post("/api/v1/tickets/abc/transitions/", {"name": "x"}).status_code == 404


def test_anonymous_requests_are_401(api_client, cast):
    ticket = TicketFactory(team=cast["team"])

    assert api_client.get("/api/v1/tickets/").status_code == 401
    assert api_client.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 401


@pytest.mark.parametrize("kind", ["tickets", "work-orders"])
@pytest.mark.parametrize("query", ["status=closed", "status=nonsense", "search=absent&ordering=x"])
def test_the_list_parameters_do_not_apply_to_one_object(client_for, cast, kind, query):
    """A visible object is found whatever the query string holds: only a list is filtered."""
    from workorders.tests.factories import WorkOrderFactory

    made = {"tickets": TicketFactory, "work-orders": WorkOrderFactory}[kind](team=cast["team"])
    client = client_for(cast["team_agent"])
    url = f"/api/v1/{kind}/{made.pk}/"

    read = client.get(f"{url}?{query}")
    edited = client.patch(f"{url}?{query}", {"title": "Found"}, format="json")
    history = client.get(f"{url}history/?{query}")

    assert (read.status_code, edited.status_code, history.status_code) == (200, 200, 200)
    assert read.json()["id"] == made.pk
    assert edited.json()["title"] == "Found"


def test_an_agent_who_moves_a_ticket_out_of_sight_is_not_shown_its_other_work_orders(
    client_for, cast
):
    """The answer to the PATCH is the ticket they saved, read without their visibility (they
    no longer see it): its work orders listed there were all of them, another team's too."""
    from workorders.tests.factories import WorkOrderFactory

    ticket = TicketFactory(team=cast["team"], status="open")
    ours = WorkOrderFactory(team=cast["team"], ticket=ticket)
    WorkOrderFactory(team=cast["other_team"], ticket=ticket)  # not theirs to see
    client = client_for(cast["team_agent"])

    moved = client.patch(
        f"/api/v1/tickets/{ticket.pk}/", {"team": cast["other_team"].pk}, format="json"
    )

    assert moved.status_code == 200
    assert [summary["id"] for summary in moved.json()["work_orders"]] == [ours.pk]
    assert client.get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404
