"""Assigning work orders (POST assign/): the same rules as tickets."""

import pytest

from accounts.tests.factories import AgentFactory, SupervisorFactory
from dispatchdesk.models import Event

from .factories import WorkOrderFactory

pytestmark = pytest.mark.django_db


def assign(client, work_order, assignee):
    pk = assignee.pk if assignee is not None else None
    return client.post(
        f"/api/v1/work-orders/{work_order.pk}/assign/", {"assignee": pk}, format="json"
    )


@pytest.fixture
def unassigned(cast):
    return WorkOrderFactory(team=cast["team"], status="open")


def assignment_events(work_order):
    return [(e.type, e.data) for e in Event.objects.for_object(work_order)]


@pytest.mark.parametrize("actor", ["supervisor", "admin"])
def test_supervisors_assign_any_active_team_member_and_clear(client_for, cast, unassigned, actor):
    client = client_for(cast[actor])

    assigned = assign(client, unassigned, cast["team_agent"])
    reassigned = assign(client, unassigned, cast["supervisor"])
    cleared = assign(client, unassigned, None)

    assert (assigned.status_code, reassigned.status_code, cleared.status_code) == (200, 200, 200)
    assert assigned.json()["assignee"] == cast["team_agent"].pk
    assert "actual_minutes" in assigned.json()
    assert cleared.json()["assignee"] is None
    agent, supervisor = cast["team_agent"].pk, cast["supervisor"].pk
    assert assignment_events(unassigned) == [
        ("assigned", {"from": None, "to": agent}),
        ("assigned", {"from": agent, "to": supervisor}),
        ("unassigned", {"from": supervisor, "to": None}),
    ]
    unassigned.refresh_from_db()
    assert unassigned.updated_by == cast[actor]


@pytest.mark.parametrize(
    "make_assignee",
    [
        lambda cast: cast["outsider_agent"],
        lambda cast: AgentFactory(teams=[cast["team"]], is_active=False),
        lambda cast: cast["requester"],
        lambda cast: cast["admin"],
    ],
    ids=["outside the team", "inactive", "a requester", "an admin"],
)
def test_an_assignee_who_cannot_do_the_work_is_400(client_for, cast, unassigned, make_assignee):
    response = assign(client_for(cast["supervisor"]), unassigned, make_assignee(cast))

    assert response.status_code == 400
    assert (
        "not an active agent or supervisor of team Support"
        in response.json()["fields"]["assignee"][0]
    )
    unassigned.refresh_from_db()
    assert unassigned.assignee is None
    assert not Event.objects.for_object(unassigned).exists()


@pytest.mark.parametrize("value", [999999, "abc", 1.5])
def test_an_unknown_or_malformed_assignee_is_400(client_for, cast, unassigned, value):
    response = client_for(cast["supervisor"]).post(
        f"/api/v1/work-orders/{unassigned.pk}/assign/", {"assignee": value}, format="json"
    )

    assert response.status_code == 400
    assert "assignee" in response.json()["fields"]


def test_an_agent_takes_unassigned_work_of_their_team_and_gives_it_back(
    client_for, cast, unassigned
):
    client = client_for(cast["team_agent"])

    taken = assign(client, unassigned, cast["team_agent"])
    assert taken.status_code == 200
    assert taken.json()["assignee"] == cast["team_agent"].pk
    assert assign(client, unassigned, None).status_code == 200

    unassigned.refresh_from_db()
    assert unassigned.assignee is None
    assert [t for t, _ in assignment_events(unassigned)] == ["assigned", "unassigned"]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (None, "assignee"),  # assigning someone else
        ("assignee", "team_agent"),  # taking work that is already someone's
        ("assignee", None),  # unassigning someone else
    ],
)
def test_agents_may_do_nothing_else(client_for, cast, current, target):
    work_order = WorkOrderFactory(
        team=cast["team"], status="open", assignee=cast[current] if current else None
    )

    response = assign(client_for(cast["team_agent"]), work_order, cast[target] if target else None)

    assert response.status_code == 403
    work_order.refresh_from_db()
    assert work_order.assignee == (cast[current] if current else None)
    assert not Event.objects.for_object(work_order).exists()


def test_an_agent_assigned_outside_their_teams_may_give_it_back(client_for, cast):
    """Visible only because it is theirs; they may unassign themselves, not re-take it."""
    lone_agent = AgentFactory()
    work_order = WorkOrderFactory(team=cast["team"], assignee=lone_agent)
    client = client_for(lone_agent)

    assert assign(client, work_order, None).status_code == 200
    assert assign(client, work_order, lone_agent).status_code == 404  # no longer visible


def test_requesters_cannot_assign(client_for, cast, unassigned):
    response = assign(client_for(cast["requester"]), unassigned, cast["team_agent"])

    assert response.status_code == 404  # work orders do not exist for requesters


@pytest.mark.parametrize("status", ["verified", "cancelled"])
@pytest.mark.parametrize("actor", ["supervisor", "team_agent"])
def test_finished_work_orders_cannot_be_assigned(client_for, cast, status, actor):
    work_order = WorkOrderFactory(team=cast["team"], status=status)

    response = assign(client_for(cast[actor]), work_order, cast[actor])

    assert response.status_code == 409
    work_order.refresh_from_db()
    assert work_order.assignee is None


@pytest.mark.parametrize("status", ["scheduled", "in_progress", "on_hold", "completed"])
def test_work_orders_not_yet_finished_can_be_reassigned(client_for, cast, status):
    work_order = WorkOrderFactory(team=cast["team"], status=status, assignee=cast["assignee"])

    response = assign(client_for(cast["supervisor"]), work_order, cast["team_agent"])

    assert response.status_code == 200


def test_assigning_the_current_assignee_again_records_nothing(client_for, cast):
    work_order = WorkOrderFactory(team=cast["team"], assignee=cast["team_agent"])

    response = assign(client_for(cast["supervisor"]), work_order, cast["team_agent"])

    assert response.status_code == 200
    assert not Event.objects.for_object(work_order).exists()


def test_a_supervisor_outside_the_team_can_still_assign_its_members(client_for, cast, unassigned):
    response = assign(client_for(SupervisorFactory()), unassigned, cast["team_agent"])

    assert response.status_code == 200


def test_the_new_assignee_may_then_fire_their_transitions(client_for, cast, unassigned):
    assign(client_for(cast["supervisor"]), unassigned, cast["team_agent"])

    response = client_for(cast["team_agent"]).post(
        f"/api/v1/work-orders/{unassigned.pk}/transitions/", {"name": "start"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
