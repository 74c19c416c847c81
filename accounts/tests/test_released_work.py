"""Work goes back to its team when its assignee may no longer hold it: a role given up, an
account deactivated, a team left. Through the users API, the teams API and the admin alike."""

import pytest

from accounts.choices import Role
from accounts.models import Team, User
from dispatchdesk.models import Event, EventType
from tickets.choices import TicketStatus
from tickets.tests.factories import TicketFactory
from workorders.choices import WorkOrderStatus
from workorders.tests.factories import WorkOrderFactory

from .factories import AdminFactory, AgentFactory, SupervisorFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams():
    return TeamFactory(name="Facilities"), TeamFactory(name="IT")


@pytest.fixture
def agent(teams):
    return AgentFactory(teams=teams)


@pytest.fixture
def work(agent, teams):
    """What the agent holds: open work in both teams, and closed work that keeps its assignee."""
    facilities, it = teams
    return {
        "ticket": TicketFactory(team=facilities, assignee=agent, status=TicketStatus.IN_PROGRESS),
        "resolved": TicketFactory(team=facilities, assignee=agent, status=TicketStatus.RESOLVED),
        "work_order": WorkOrderFactory(team=facilities, assignee=agent),
        "it_ticket": TicketFactory(team=it, assignee=agent, status=TicketStatus.OPEN),
        "closed": TicketFactory(team=facilities, assignee=agent, status=TicketStatus.CLOSED),
        "verified": WorkOrderFactory(
            team=facilities, assignee=agent, status=WorkOrderStatus.VERIFIED
        ),
    }


def assignees(work) -> dict[str, int | None]:
    return {name: type(obj).objects.get(pk=obj.pk).assignee_id for name, obj in work.items()}


def unassigned_by(obj) -> list[tuple[int | None, dict]]:
    events = Event.objects.for_object(obj).filter(type=EventType.UNASSIGNED)
    return [(event.actor_id, event.data) for event in events]


@pytest.mark.parametrize(
    "change",
    [{"role": Role.REQUESTER}, {"is_active": False}],
    ids=["made a requester", "deactivated"],
)
def test_a_person_who_may_no_longer_work_gives_back_all_their_open_work(
    client_for, agent, work, change
):
    admin = AdminFactory()

    response = client_for(admin).patch(f"/api/v1/users/{agent.pk}/", change, format="json")

    assert response.status_code == 200, response.json()
    assert assignees(work) == {
        "ticket": None,
        "resolved": None,
        "work_order": None,
        "it_ticket": None,
        "closed": agent.pk,  # history is not rewritten
        "verified": agent.pk,
    }
    assert unassigned_by(work["ticket"]) == [(admin.pk, {"from": agent.pk, "to": None})]
    assert unassigned_by(work["work_order"]) == [(admin.pk, {"from": agent.pk, "to": None})]


@pytest.mark.parametrize(
    "change",
    [{"role": Role.REQUESTER}, {"is_active": False}, {"teams": []}],
    ids=["made a requester", "deactivated", "left the team"],
)
def test_a_closed_ticket_reopened_goes_back_to_the_queue_not_to_who_may_no_longer_hold_it(
    client_for, agent, work, change
):
    """Closed work keeps its assignee. Reopened, it kept them too: a former agent, now a
    requester who had asked for it, could then start it."""
    admin, supervisor = AdminFactory(), SupervisorFactory()
    closed = work["closed"]
    changed = client_for(admin).patch(f"/api/v1/users/{agent.pk}/", change, format="json")
    assert changed.status_code == 200

    response = client_for(supervisor).post(
        f"/api/v1/tickets/{closed.pk}/transitions/", {"name": "reopen", "note": "Again"}
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["assignee"]) == ("open", None)
    events = Event.objects.for_object(closed).values_list("type", "actor", "data")
    assert [(kind, actor) for kind, actor, _ in events] == [
        (EventType.STATUS_CHANGED, supervisor.pk),
        (EventType.UNASSIGNED, supervisor.pk),
    ]
    assert events[1][2] == {"from": agent.pk, "to": None}


def test_a_closed_ticket_reopened_keeps_an_assignee_who_may_still_hold_it(client_for, work):
    closed = work["closed"]

    response = client_for(SupervisorFactory()).post(
        f"/api/v1/tickets/{closed.pk}/transitions/", {"name": "reopen", "note": "Again"}
    )

    assert response.json()["assignee"] == closed.assignee_id
    assert not unassigned_by(closed)


def test_leaving_a_team_gives_back_that_teams_work_only(client_for, agent, work, teams):
    facilities, it = teams

    response = client_for(AdminFactory()).patch(
        f"/api/v1/users/{agent.pk}/", {"teams": [it.pk]}, format="json"
    )

    assert response.status_code == 200, response.json()
    held = assignees(work)
    assert (held["ticket"], held["work_order"], held["resolved"]) == (None, None, None)
    assert held["it_ticket"] == agent.pk


def test_a_team_that_drops_a_member_takes_back_its_work(client_for, agent, work, teams):
    facilities, it = teams
    supervisor = SupervisorFactory()
    stays = AgentFactory(teams=[facilities])

    response = client_for(supervisor).patch(
        f"/api/v1/teams/{facilities.pk}/", {"members": [stays.pk]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert set(facilities.members.all()) == {stays}
    held = assignees(work)
    assert (held["ticket"], held["work_order"]) == (None, None)
    assert held["it_ticket"] == agent.pk
    assert unassigned_by(work["ticket"]) == [(supervisor.pk, {"from": agent.pk, "to": None})]


def test_renaming_a_team_keeps_its_members_and_their_work(client_for, agent, work, teams):
    facilities, _ = teams

    response = client_for(SupervisorFactory()).patch(
        f"/api/v1/teams/{facilities.pk}/", {"name": "Buildings"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert agent in facilities.members.all()
    assert assignees(work)["ticket"] == agent.pk


def test_a_role_given_up_in_the_admin_gives_back_the_work_too(client, agent, work):
    admin = AdminFactory()
    client.force_login(admin)
    url = f"/admin/accounts/user/{agent.pk}/change/"
    data = {
        "email": agent.email,
        "full_name": agent.full_name,
        "role": Role.REQUESTER,
        "teams": [team.pk for team in agent.teams.all()],
        "is_active": "on",
    }

    response = client.post(url, data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert User.objects.get(pk=agent.pk).role == Role.REQUESTER
    assert assignees(work)["ticket"] is None
    assert unassigned_by(work["ticket"]) == [(admin.pk, {"from": agent.pk, "to": None})]


def test_a_supervisor_sets_a_teams_members_in_the_admin(client, agent, work, teams):
    facilities, it = teams
    supervisor = SupervisorFactory()
    newcomer = AgentFactory()
    client.force_login(supervisor)
    url = f"/admin/accounts/team/{facilities.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["adminform"].form["members"].value() == [agent.pk]

    response = client.post(url, {"name": "Facilities", "members": [newcomer.pk]})

    assert response.status_code == 302, response.context and response.context["errors"]
    assert set(facilities.members.all()) == {newcomer}
    held = assignees(work)
    assert (held["ticket"], held["work_order"], held["it_ticket"]) == (None, None, agent.pk)
    assert unassigned_by(work["ticket"]) == [(supervisor.pk, {"from": agent.pk, "to": None})]


def test_a_team_added_in_the_admin_takes_its_members(client, agent):
    client.force_login(SupervisorFactory())

    response = client.post("/admin/accounts/team/add/", {"name": "Night", "members": [agent.pk]})

    assert response.status_code == 302, response.context and response.context["errors"]
    assert list(Team.objects.get(name="Night").members.all()) == [agent]


def test_only_active_agents_and_supervisors_are_offered_as_members(client, agent):
    client.force_login(SupervisorFactory())
    requester = User.objects.create_user(email="req@example.com", role=Role.REQUESTER)
    data = {"name": "Night", "members": [requester.pk]}

    response = client.post("/admin/accounts/team/add/", data)

    assert response.status_code == 200
    assert "members" in response.context["adminform"].form.errors
    assert not Team.objects.filter(name="Night").exists()


def test_a_team_saved_unchanged_in_the_admin_keeps_a_deactivated_member(client, teams):
    facilities, _ = teams
    gone = AgentFactory(teams=[facilities], is_active=False)
    client.force_login(SupervisorFactory())
    url = f"/admin/accounts/team/{facilities.pk}/change/"
    members = client.get(url).context["adminform"].form["members"].value()

    response = client.post(url, {"name": facilities.name, "members": members})

    assert response.status_code == 302, response.context and response.context["errors"]
    assert gone in facilities.members.all()


def test_the_admin_refuses_a_team_name_with_a_semicolon(client):
    client.force_login(SupervisorFactory())

    response = client.post("/admin/accounts/team/add/", {"name": "R;D", "members": []})

    assert response.status_code == 200
    assert "semicolon" in response.context["adminform"].form.errors["name"][0]


def test_the_admin_refuses_a_team_name_differing_only_in_case(client, teams):
    client.force_login(SupervisorFactory())

    response = client.post("/admin/accounts/team/add/", {"name": "facilities", "members": []})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == [
        "A team with this name already exists."
    ]
