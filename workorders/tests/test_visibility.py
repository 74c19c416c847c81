"""Who sees which work order, decided once by WorkOrder.objects.visible_to() and used everywhere.

Work orders are for staff: agents see their teams' and those assigned to them; supervisors and
admins see all; requesters none (the list is 403, a single work order is simply not there).
"""

import pytest
from django.db import connection, transaction

from accounts.authentication import user_by_id
from accounts.tests.factories import AgentFactory
from tickets.tests.factories import TicketFactory
from workorders.models import WorkOrder

from .factories import ChecklistItemFactory, TimeEntryFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/work-orders/"


@pytest.fixture
def work_orders(cast):
    """One work order per reason to see it (or not)."""
    elsewhere = cast["other_team"]
    requested = TicketFactory(team=cast["team"], requester=cast["requester"], status="open")
    return {
        "of_the_team": WorkOrderFactory(team=cast["team"], ticket=requested),
        "of_another_team": WorkOrderFactory(team=elsewhere),
        "assigned_to_team_agent_elsewhere": WorkOrderFactory(
            team=elsewhere, assignee=cast["team_agent"]
        ),
        "for_a_ticket_the_team_agent_requested": WorkOrderFactory(
            team=elsewhere,
            ticket=TicketFactory(team=elsewhere, requester=cast["team_agent"], status="open"),
        ),
    }


EVERYTHING = {
    "of_the_team",
    "of_another_team",
    "assigned_to_team_agent_elsewhere",
    "for_a_ticket_the_team_agent_requested",
}
SEES = {
    "requester": set(),
    "other_requester": set(),
    "team_agent": {"of_the_team", "assigned_to_team_agent_elsewhere"},
    "assignee": {"of_the_team"},
    "outsider_agent": EVERYTHING - {"of_the_team"},
    "supervisor": EVERYTHING,
    "admin": EVERYTHING,
}
STAFF = [actor for actor in SEES if "requester" not in actor]


def test_agents_see_work_orders_assigned_to_them_outside_their_teams(cast):
    lone_agent = AgentFactory()
    mine = WorkOrderFactory(team=cast["team"], assignee=lone_agent)
    WorkOrderFactory(team=cast["team"])

    assert list(WorkOrder.objects.visible_to(lone_agent)) == [mine]


@pytest.mark.parametrize("actor", SEES)
def test_the_sql_spelling_of_visibility_selects_the_same_rows(cast, work_orders, actor):
    """visible_to_sql() (the summaries on tickets use it) must agree with visible_to()."""
    expected = {work_orders[name].pk for name in SEES[actor]}
    # As other code reads the user, and as API requests do (with the ids of the user's teams).
    for user in (cast[actor], user_by_id(cast[actor].pk)):
        condition, params = WorkOrder.objects.visible_to_sql(user, "wo")
        table = WorkOrder._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT wo.id FROM {table} wo WHERE {condition}", params)
            selected = {row[0] for row in cursor.fetchall()}

        assert selected == expected
        assert set(WorkOrder.objects.visible_to(user).values_list("pk", flat=True)) == expected


@pytest.mark.parametrize("actor", STAFF)
def test_the_list_shows_exactly_the_visible_work_orders(client_for, cast, work_orders, actor):
    response = client_for(cast[actor]).get(URL, {"page_size": 200})

    assert response.status_code == 200
    body = response.json()
    assert {row["id"] for row in body["results"]} == {work_orders[n].pk for n in SEES[actor]}
    assert body["count"] == len(SEES[actor])


@pytest.mark.parametrize("actor", ["requester", "other_requester"])
def test_requesters_asking_for_the_list_get_403(client_for, cast, work_orders, actor):
    response = client_for(cast[actor]).get(URL)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_requesters_get_403_also_when_filtering_by_their_own_ticket(client_for, cast, work_orders):
    ticket_id = work_orders["of_the_team"].ticket_id

    response = client_for(cast["requester"]).get(URL, {"ticket": ticket_id})

    assert response.status_code == 403


ENDPOINTS = [
    ("get", "", None),
    ("patch", "", {"title": "x"}),
    ("get", "transitions/", None),
    ("post", "transitions/", {"name": "start"}),
    ("post", "assign/", {"assignee": None}),
    ("get", "checklist/", None),
    ("post", "checklist/", {"text": "Peek"}),
    ("patch", "checklist/{item}/", {"done": True}),
    ("get", "time-entries/", None),
    ("post", "time-entries/", {"minutes": 5}),
    ("patch", "time-entries/{entry}/", {"minutes": 5}),
    ("get", "history/", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), ENDPOINTS, ids=lambda v: str(v))
def test_every_endpoint_answers_404_for_an_invisible_work_order(
    client_for, cast, work_orders, method, suffix, body
):
    children = {
        name: (ChecklistItemFactory(work_order=wo), TimeEntryFactory(work_order=wo))
        for name, wo in work_orders.items()
    }
    for actor, visible in SEES.items():
        client = client_for(cast[actor])
        for name, work_order in work_orders.items():
            item, entry = children[name]
            url = f"{URL}{work_order.pk}/{suffix.format(item=item.pk, entry=entry.pk)}"
            with transaction.atomic():  # each request sees the same objects
                response = getattr(client, method)(url, body, format="json")
                transaction.set_rollback(True)
            if name in visible:
                assert response.status_code != 404, (actor, name, response.json())
            else:
                assert response.status_code == 404, (actor, name, response.status_code)
                assert response.json()["code"] == "not_found"


def test_a_child_of_another_work_order_is_404(client_for, cast):
    mine = WorkOrderFactory(team=cast["team"])
    theirs = WorkOrderFactory(team=cast["team"])
    item = ChecklistItemFactory(work_order=theirs)
    entry = TimeEntryFactory(work_order=theirs)
    client = client_for(cast["supervisor"])

    ticked = client.patch(f"{URL}{mine.pk}/checklist/{item.pk}/", {"done": True}, format="json")
    changed = client.patch(f"{URL}{mine.pk}/time-entries/{entry.pk}/", {"minutes": 1})

    assert (ticked.status_code, changed.status_code) == (404, 404)


def test_unknown_and_malformed_ids_are_404(client_for, cast):
    client = client_for(cast["supervisor"])

    assert client.get(f"{URL}999999/").status_code == 404
    assert client.get(f"{URL}abc/").status_code == 404
    assert client.post(f"{URL}abc/transitions/", {"name": "start"}).status_code == 404
    assert client.get(f"{URL}{2**70}/").status_code == 404


def test_anonymous_requests_are_401(api_client, cast):
    work_order = WorkOrderFactory(team=cast["team"])

    assert api_client.get(URL).status_code == 401
    assert api_client.get(f"{URL}{work_order.pk}/").status_code == 401
    assert api_client.post(URL, {"title": "x"}).status_code == 401


def test_a_work_order_moved_to_another_team_leaves_the_old_teams_sight(client_for, cast):
    """An agent of both teams moves it; the old team's agents no longer see it."""
    both = AgentFactory(teams=[cast["team"], cast["other_team"]])
    work_order = WorkOrderFactory(team=cast["team"])

    response = client_for(both).patch(
        f"{URL}{work_order.pk}/", {"team": cast["other_team"].pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["team"] == cast["other_team"].pk
    assert client_for(cast["team_agent"]).get(f"{URL}{work_order.pk}/").status_code == 404
