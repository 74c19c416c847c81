"""Every list and detail endpoint costs a fixed number of queries: not one more for a bigger
page, nor for more comments, history events, work orders, checklist items, time entries, team
members or teams. And no list reads its whole table: every query of the listed rows is bounded.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import (
    AdminFactory,
    AgentFactory,
    RequesterFactory,
    SupervisorFactory,
    TeamFactory,
)
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


def busy_ticket(team, agent, *, children: int, status="open", **fields):
    """A ticket of the team with `children` public and internal comments, public and internal
    events, and active work orders each."""
    ticket = TicketFactory(team=team, assignee=agent, status=status, **fields)
    CommentFactory.create_batch(children, ticket=ticket)
    CommentFactory.create_batch(children, ticket=ticket, internal=True, author=agent)
    for n in range(children):
        Event.objects.create(subject=ticket, actor=agent, type=EventType.FIELDS_CHANGED, data={})
        Event.objects.create(
            subject=ticket, actor=agent, type=EventType.COMMENT_ADDED, public=False
        )
        WorkOrderFactory(ticket=ticket, team=team, assignee=agent, title=f"Job {n}")
    return ticket


def busy_work_order(team, agent, *, children: int, status="in_progress"):
    """A work order of the team with `children` unfinished checklist items, time entries and
    events each."""
    work_order = WorkOrderFactory(team=team, assignee=agent, status=status)
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


# --- every role, and what no other test counts ----------------------------------------------

ROLES = {
    "requester": RequesterFactory,
    "agent": AgentFactory,
    "supervisor": SupervisorFactory,
    "admin": AdminFactory,
}


def someone(role: str, team):
    """A user of `role`; agents and supervisors are members of `team`."""
    return ROLES[role](teams=[team] if role in ("agent", "supervisor") else [])


def cost(client, url: str, **params) -> int:
    """The queries of a request (any page, HTML too) sent a second time: the first warms
    caches (content types, the session, compiled SQL)."""
    client.get(url, params)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.content[:300])
    return len(queries)


@pytest.mark.parametrize("role", ["requester", "agent", "supervisor", "admin"])
@pytest.mark.parametrize("suffix", ["", "comments/", "history/", "transitions/"])
def test_a_tickets_detail_and_children_cost_the_same_for_every_role(as_user, team, role, suffix):
    """Only the agent's were counted, and transitions/ not at all: a supervisor's GET describes
    the active work orders that block `resolve` (describe_active_work_orders)."""
    user = someone(role, team)
    requester = user if role == "requester" else RequesterFactory()
    client, agent = as_user(user), AgentFactory(teams=[team])
    quiet = busy_ticket(team, agent, children=1, requester=requester)
    busy = busy_ticket(team, agent, children=30, requester=requester)
    params = {} if suffix in ("", "transitions/") else {"page_size": 200}

    small = cost(client, f"{API}/tickets/{quiet.pk}/{suffix}", **params)
    large = cost(client, f"{API}/tickets/{busy.pk}/{suffix}", **params)

    assert small == large
    assert large <= 5


@pytest.mark.parametrize("kind", ["tickets", "work-orders"])
def test_transitions_cost_no_more_when_a_guard_blocks_one(as_user, team, agent, kind):
    """The list named what blocks a transition (the active work orders, the unfinished
    checklist items) for its own sake and threw it away: two queries more for a supervisor."""
    client = as_user(SupervisorFactory(teams=[team]))
    if kind == "tickets":
        free = busy_ticket(team, agent, children=0)
        blocked = busy_ticket(team, agent, children=2)
    else:
        free = busy_work_order(team, agent, children=0)
        blocked = busy_work_order(team, agent, children=2)
    url = f"{API}/{kind}/{{}}/transitions/"
    names = {
        name: [t["name"] for t in client.get(url.format(obj.pk)).json()]
        for name, obj in (("free", free), ("blocked", blocked))
    }
    assert "resolve" in names["free"] or "complete" in names["free"]
    assert not {"resolve", "complete"} & set(names["blocked"])

    assert cost(client, url.format(blocked.pk)) <= cost(client, url.format(free.pk))


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
@pytest.mark.parametrize("suffix", ["", "checklist/", "time-entries/", "history/", "transitions/"])
def test_a_work_orders_detail_and_children_cost_the_same_for_every_role(
    as_user, team, agent, role, suffix
):
    """transitions/ was held to at most 6 with 2 checklist items only: a query for each
    unfinished item (describe_unfinished_checklist) still passed."""
    client = as_user(agent if role == "agent" else someone(role, team))
    quiet = busy_work_order(team, agent, children=1)
    busy = busy_work_order(team, agent, children=30)
    params = {} if suffix in ("", "transitions/") else {"page_size": 200}

    small = cost(client, f"{API}/work-orders/{quiet.pk}/{suffix}", **params)
    large = cost(client, f"{API}/work-orders/{busy.pk}/{suffix}", **params)

    assert small == large
    assert large <= 5


@pytest.mark.parametrize("role", ["requester", "agent", "supervisor", "admin"])
def test_me_costs_the_same_with_many_teams(as_user, role):
    user = ROLES[role]()
    if user.is_worker:
        user.teams.set(TeamFactory.create_batch(10))

    assert cost(as_user(user), f"{API}/me/") <= 3


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_the_workers_user_list_costs_the_same_for_any_page(as_user, team, role):
    """Agents and supervisors list active workers (a query of its own), counted for admins only."""
    teams = TeamFactory.create_batch(6)
    for n in range(60):
        AgentFactory(teams=teams[: n % 6 + 1])
        RequesterFactory()
    client = as_user(someone(role, team))

    small = cost(client, f"{API}/users/", page_size=5)
    large = cost(client, f"{API}/users/", page_size=60)

    assert small == large
    assert large <= 4


# --- the admin's pages (its change lists are counted in test_admin_backoffice) ----------------


@pytest.fixture
def admin_page(client):
    def login(role, team):
        client.force_login(someone(role, team))
        return client

    return login


@pytest.mark.parametrize("role", ["supervisor", "admin"])
@pytest.mark.parametrize(
    ("kind", "status", "most"),
    [
        ("ticket", "open", 15),
        ("ticket", "closed", 15),
        ("workorder", "in_progress", 13),
        ("workorder", "verified", 13),
    ],
)
def test_a_change_page_costs_the_same_with_many_inline_rows(
    admin_page, team, agent, role, kind, status, most
):
    """Comments, work orders, checklist items, time entries and history: their inlines read
    the people they name with them."""
    busy_one = busy_ticket if kind == "ticket" else busy_work_order
    quiet = busy_one(team, agent, children=1, status=status)
    busy = busy_one(team, agent, children=10, status=status)
    client = admin_page(role, team)
    app = "tickets" if kind == "ticket" else "workorders"

    small = cost(client, f"/admin/{app}/{kind}/{quiet.pk}/change/")
    large = cost(client, f"/admin/{app}/{kind}/{busy.pk}/change/")

    assert small == large
    assert large <= most


@pytest.mark.parametrize("role", ["supervisor", "admin"])
def test_user_and_team_change_pages_cost_the_same_with_many_teams_or_members(
    admin_page, team, role
):
    lone, busy = (
        AgentFactory(teams=[TeamFactory()]),
        AgentFactory(teams=TeamFactory.create_batch(10)),
    )
    small_team, big_team = TeamFactory(), TeamFactory()
    AgentFactory(teams=[small_team])
    AgentFactory.create_batch(20, teams=[big_team])
    client = admin_page(role, team)

    assert cost(client, f"/admin/accounts/user/{lone.pk}/change/") == cost(
        client, f"/admin/accounts/user/{busy.pk}/change/"
    )
    assert cost(client, f"/admin/accounts/team/{small_team.pk}/change/") == cost(
        client, f"/admin/accounts/team/{big_team.pk}/change/"
    )


@pytest.mark.parametrize("url", ["/admin/accounts/user/", "/admin/accounts/team/"])
def test_user_and_team_change_lists_cost_the_same_for_more_rows(admin_page, team, url):
    client = admin_page("admin", team)
    AgentFactory.create_batch(3, teams=[TeamFactory()])
    small = cost(client, url)
    for _ in range(40):
        AgentFactory.create_batch(2, teams=[TeamFactory(), team])

    assert cost(client, url) == small
