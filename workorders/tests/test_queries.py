"""The number of queries of lists and details does not grow with the page or the children."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import AgentFactory
from tickets.tests.factories import TicketFactory

from .factories import ChecklistItemFactory, TimeEntryFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/work-orders/"


def count_queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200, response.json()
    if "page_size" in params:
        assert len(response.json()["results"]) == params["page_size"]
    return len(queries)


@pytest.fixture
def busy_work_orders(cast):
    """50 work orders of the team, each with 2 checklist items and 2 time entries, half linked."""
    agents = AgentFactory.create_batch(3, teams=[cast["team"]])
    tickets = TicketFactory.create_batch(5, team=cast["team"], status="open")
    work_orders = []
    for n in range(50):
        work_order = WorkOrderFactory(
            team=cast["team"],
            assignee=agents[n % 3],
            created_by=cast["supervisor"],
            ticket=tickets[n % 5] if n % 2 else None,
        )
        ChecklistItemFactory.create_batch(2, work_order=work_order)
        TimeEntryFactory.create_batch(2, work_order=work_order, minutes=n + 1)
        work_orders.append(work_order)
    return work_orders


@pytest.mark.parametrize("actor", ["team_agent", "supervisor"])
@pytest.mark.parametrize(
    "params",
    [{}, {"status": "open", "overdue": "false", "search": "Work", "ordering": "-priority"}],
    ids=["plain", "filtered"],
)
def test_the_work_order_list_costs_the_same_for_5_or_50(
    client_for, cast, busy_work_orders, actor, params
):
    client = client_for(cast[actor])

    small = count_queries(client, URL, page_size=5, **params)
    large = count_queries(client, URL, page_size=50, **params)

    assert small == large
    assert large <= 6


def test_the_ticket_filter_costs_the_same_for_any_ticket(client_for, cast, busy_work_orders):
    client = client_for(cast["supervisor"])
    ticket_id = busy_work_orders[1].ticket_id

    assert count_queries(client, URL, ticket=ticket_id) <= 6


def test_actual_minutes_in_the_list_are_right_for_every_row(client_for, cast, busy_work_orders):
    rows = client_for(cast["supervisor"]).get(URL, {"page_size": 50}).json()["results"]

    expected = {wo.pk: 2 * (n + 1) for n, wo in enumerate(busy_work_orders)}
    assert {row["id"]: row["actual_minutes"] for row in rows} == expected


def test_the_work_order_detail_and_its_children_are_bounded(
    client_for, cast, busy_work_orders, django_assert_max_num_queries
):
    client = client_for(cast["team_agent"])
    work_order = busy_work_orders[0]
    base = f"{URL}{work_order.pk}/"

    for suffix in ("", "checklist/", "time-entries/", "history/", "transitions/"):
        with django_assert_max_num_queries(6):
            assert client.get(f"{base}{suffix}").status_code == 200, suffix


def test_the_ticket_list_costs_the_same_for_5_or_50_with_work_orders(client_for, cast):
    for _ in range(50):
        ticket = TicketFactory(team=cast["team"], requester=cast["requester"], status="open")
        for _ in range(3):
            WorkOrderFactory(team=cast["team"], ticket=ticket, created_by=cast["supervisor"])
    client = client_for(cast["supervisor"])

    small = count_queries(client, "/api/v1/tickets/", page_size=5)
    large = count_queries(client, "/api/v1/tickets/", page_size=50)

    assert small == large
    assert large <= 6
    rows = client.get("/api/v1/tickets/", {"page_size": 50}).json()["results"]
    assert {len(row["work_orders"]) for row in rows} == {3}


def test_the_ticket_detail_with_work_orders_is_bounded(
    client_for, cast, django_assert_max_num_queries
):
    ticket = TicketFactory(team=cast["team"], status="open")
    WorkOrderFactory.create_batch(10, team=cast["team"], ticket=ticket)
    client = client_for(cast["supervisor"])

    with django_assert_max_num_queries(5):
        body = client.get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert len(body["work_orders"]) == 10
