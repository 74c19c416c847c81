"""Every list and detail endpoint costs a fixed number of queries: not one more for a bigger
page, nor for more comments, history events, work orders, checklist items, time entries, team
members or teams. And no list reads its whole table: every query of the listed rows is bounded.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import AgentFactory, RequesterFactory, SupervisorFactory, TeamFactory
from dispatchdesk.models import Event, EventType
from tickets.models import Ticket
from tickets.tests.factories import CommentFactory, TicketFactory
from workorders.tests.factories import ChecklistItemFactory, TimeEntryFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
# A bound query: a LIMIT, one row by id, rows of given ids, a count or an EXPLAIN.
BOUNDED = re.compile(r"\bLIMIT\b|\bCOUNT\(|^EXPLAIN|\.\"id\" = |\"id\" IN \(", re.S)


def captured(client, url: str, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return response.json(), [query["sql"] for query in queries]


def list_cost(client, url: str, rows: int, table: str, **params) -> tuple[int, int]:
    """Queries for a page of 5 and for a page of `rows` (every row); no unbounded read."""
    costs = []
    for size in (5, rows):
        body, queries = captured(client, url, page_size=size, **params)
        assert len(body["results"]) == size
        costs.append(len(queries))
        for sql in queries:
            if f'FROM "{table}"' in sql.split("WHERE")[0]:
                assert BOUNDED.search(sql), f"reads {table} whole: {sql[:300]}"
    return costs[0], costs[1]


def detail_cost(client, url: str) -> int:
    return len(captured(client, url)[1])


@pytest.fixture
def team():
    return TeamFactory(name="Support")


@pytest.fixture
def supervisor(team):
    return SupervisorFactory(teams=[team])


@pytest.fixture
def agent(team):
    return AgentFactory(teams=[team])


@pytest.fixture
def as_user(client_for):
    """An API client with the access token of a user."""
    return client_for


def busy_ticket(team, agent, *, children: int):
    """A ticket of the team with `children` comments, events and work orders each."""
    ticket = TicketFactory(team=team, assignee=agent, status="open")
    CommentFactory.create_batch(children, ticket=ticket)
    for n in range(children):
        Event.objects.create(subject=ticket, actor=agent, type=EventType.FIELDS_CHANGED, data={})
        WorkOrderFactory(ticket=ticket, team=team, assignee=agent, title=f"Job {n}")
    return ticket


def busy_work_order(team, agent, *, children: int):
    work_order = WorkOrderFactory(team=team, assignee=agent, status="in_progress")
    for _ in range(children):
        ChecklistItemFactory(work_order=work_order)
        TimeEntryFactory(work_order=work_order, user=agent)
        Event.objects.create(subject=work_order, actor=agent, type=EventType.TIME_LOGGED, data={})
    return work_order


# --- tickets ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "supervisor", "requester"])
@pytest.mark.parametrize(
    "params",
    [{}, {"status": ["open", "new"], "assignee": "x", "search": "Ticket", "ordering": "-due_at"}],
    ids=["plain", "filtered"],
)
def test_the_ticket_list_costs_the_same_for_any_page_and_any_children(
    as_user, team, agent, supervisor, who, params
):
    for n in range(30):
        busy_ticket(team, agent, children=n % 4)
    TicketFactory.create_batch(30, team=team, assignee=agent, status="new")
    requester = RequesterFactory()
    Ticket.objects.update(requester=requester)  # so that the requester sees them all too
    user = {"agent": agent, "supervisor": supervisor, "requester": requester}[who]
    if "assignee" in params:
        params = {**params, "assignee": "me" if who == "agent" else agent.pk}

    small, large = list_cost(as_user(user), f"{API}/tickets/", 50, "tickets_ticket", **params)

    assert small == large
    assert large <= 7


def test_a_tickets_detail_costs_the_same_with_many_children(as_user, team, agent):
    client = as_user(agent)
    quiet = busy_ticket(team, agent, children=0)
    busy = busy_ticket(team, agent, children=12)

    assert detail_cost(client, f"{API}/tickets/{quiet.pk}/") == detail_cost(
        client, f"{API}/tickets/{busy.pk}/"
    )
    assert detail_cost(client, f"{API}/tickets/{busy.pk}/") <= 4


@pytest.mark.parametrize("child", ["comments", "history"])
def test_a_tickets_comments_and_history_cost_the_same_for_any_page(as_user, team, agent, child):
    ticket = busy_ticket(team, agent, children=60)
    url = f"{API}/tickets/{ticket.pk}/{child}/"
    table = "tickets_comment" if child == "comments" else "dispatchdesk_event"
    rows = 50

    small, large = list_cost(as_user(agent), url, rows, table)

    assert small == large
    assert large <= 5


# --- work orders --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "supervisor"])
@pytest.mark.parametrize(
    "params",
    [{}, {"status": "in_progress", "search": "Work order", "ordering": "-priority"}],
    ids=["plain", "filtered"],
)
def test_the_work_order_list_costs_the_same_for_any_page_and_any_children(
    as_user, team, agent, supervisor, who, params
):
    for n in range(60):
        busy_work_order(team, agent, children=n % 4)
    user = {"agent": agent, "supervisor": supervisor}[who]

    small, large = list_cost(
        as_user(user), f"{API}/work-orders/", 50, "workorders_workorder", **params
    )

    assert small == large
    assert large <= 6


def test_a_work_orders_detail_costs_the_same_with_many_children(as_user, team, agent):
    client = as_user(agent)
    quiet = busy_work_order(team, agent, children=0)
    busy = busy_work_order(team, agent, children=15)

    assert detail_cost(client, f"{API}/work-orders/{quiet.pk}/") == detail_cost(
        client, f"{API}/work-orders/{busy.pk}/"
    )
    assert detail_cost(client, f"{API}/work-orders/{busy.pk}/") <= 3


@pytest.mark.parametrize(
    ("child", "table"),
    [
        ("checklist", "workorders_checklistitem"),
        ("time-entries", "workorders_timeentry"),
        ("history", "dispatchdesk_event"),
    ],
)
def test_a_work_orders_children_cost_the_same_for_any_page(as_user, team, agent, child, table):
    work_order = busy_work_order(team, agent, children=55)

    small, large = list_cost(
        as_user(agent), f"{API}/work-orders/{work_order.pk}/{child}/", 50, table
    )

    assert small == large
    assert large <= 4


# --- people and teams ---------------------------------------------------------------------


@pytest.fixture
def admin():
    from accounts.tests.factories import AdminFactory

    return AdminFactory()


def test_the_user_list_costs_the_same_for_any_page_and_any_number_of_teams(as_user, admin):
    teams = TeamFactory.create_batch(6)
    for n in range(60):
        AgentFactory(teams=teams[: n % 6 + 1])

    small, large = list_cost(as_user(admin), f"{API}/users/", 50, "accounts_user")

    assert small == large
    assert large <= 4


def test_a_users_detail_costs_the_same_with_many_teams(as_user, admin):
    lone = AgentFactory(teams=[TeamFactory()])
    busy = AgentFactory(teams=TeamFactory.create_batch(12))
    client = as_user(admin)

    assert detail_cost(client, f"{API}/users/{lone.pk}/") == detail_cost(
        client, f"{API}/users/{busy.pk}/"
    )


def test_the_team_list_costs_the_same_for_any_page_and_any_number_of_members(as_user, supervisor):
    for n in range(60):
        AgentFactory.create_batch(n % 3, teams=[TeamFactory()])

    small, large = list_cost(as_user(supervisor), f"{API}/teams/", 50, "accounts_team")

    assert small == large
    assert large <= 4


def test_a_teams_detail_costs_the_same_with_many_members(as_user, supervisor, team):
    small_team = TeamFactory()
    AgentFactory.create_batch(20, teams=[team])
    client = as_user(supervisor)

    assert detail_cost(client, f"{API}/teams/{small_team.pk}/") == detail_cost(
        client, f"{API}/teams/{team.pk}/"
    )
