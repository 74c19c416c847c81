import pytest

from accounts.tests.factories import AgentFactory, SupervisorFactory
from dispatchdesk.models import Event

from .factories import TicketFactory

pytestmark = pytest.mark.django_db


def assign(client, ticket, assignee):
    pk = assignee.pk if assignee is not None else None
    return client.post(f"/api/v1/tickets/{ticket.pk}/assign/", {"assignee": pk}, format="json")


@pytest.fixture
def ticket(cast):
    return TicketFactory(team=cast["team"], requester=cast["requester"], status="open")


def assignment_events(ticket):
    return [(e.type, e.data) for e in Event.objects.for_object(ticket)]


@pytest.mark.parametrize("actor", ["supervisor", "admin"])
def test_supervisors_assign_any_active_team_member_and_clear(client_for, cast, ticket, actor):
    client = client_for(cast[actor])

    assigned = assign(client, ticket, cast["team_agent"])
    reassigned = assign(client, ticket, cast["supervisor"])
    cleared = assign(client, ticket, None)

    assert (assigned.status_code, reassigned.status_code, cleared.status_code) == (200, 200, 200)
    assert assigned.json()["assignee"] == cast["team_agent"].pk
    assert assigned.json()["title"] == ticket.title  # the whole ticket, not just the input
    assert assigned["ETag"]
    assert cleared.json()["assignee"] is None
    agent, supervisor = cast["team_agent"].pk, cast["supervisor"].pk
    assert assignment_events(ticket) == [
        ("assigned", {"from": None, "to": agent}),
        ("assigned", {"from": agent, "to": supervisor}),
        ("unassigned", {"from": supervisor, "to": None}),
    ]


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
def test_an_assignee_who_cannot_work_the_ticket_is_400(client_for, cast, ticket, make_assignee):
    response = assign(client_for(cast["supervisor"]), ticket, make_assignee(cast))

    assert response.status_code == 400
    assert (
        "not an active agent or supervisor of team Support"
        in response.json()["fields"]["assignee"][0]
    )
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert not Event.objects.for_object(ticket).exists()


def test_unknown_assignee_id_is_400(client_for, cast, ticket):
    response = client_for(cast["supervisor"]).post(
        f"/api/v1/tickets/{ticket.pk}/assign/", {"assignee": 999999}, format="json"
    )

    assert response.status_code == 400
    assert "assignee" in response.json()["fields"]


def test_an_agent_cannot_tell_which_user_ids_exist(client_for, cast, ticket):
    """Someone's id (here an inactive agent's) and one nobody has get the same answer."""
    gone = AgentFactory(teams=[cast["team"]], is_active=False)
    client = client_for(cast["team_agent"])
    url = f"/api/v1/tickets/{ticket.pk}/assign/"

    answers = [client.post(url, {"assignee": named}, format="json") for named in (gone.pk, 999_999)]

    assert [answer.status_code for answer in answers] == [403, 403]
    assert answers[0].json() == answers[1].json()


def test_an_agent_takes_unassigned_work_of_their_team_and_gives_it_back(client_for, cast, ticket):
    client = client_for(cast["team_agent"])

    assert assign(client, ticket, cast["team_agent"]).status_code == 200
    assert assign(client, ticket, None).status_code == 200
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_an_agent_taking_work_that_is_already_theirs_changes_nothing(client_for, cast, ticket):
    """A retried take, say after a lost answer: the outcome the agent asked for, no new event."""
    client = client_for(cast["team_agent"])
    assert assign(client, ticket, cast["team_agent"]).status_code == 200

    again = assign(client, ticket, cast["team_agent"])

    assert again.status_code == 200
    assert again.json()["assignee"] == cast["team_agent"].pk
    assert Event.objects.for_object(ticket).filter(type="assigned").count() == 1


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (None, "assignee"),  # assigning someone else
        ("assignee", "team_agent"),  # taking work that is already someone's
        ("assignee", None),  # unassigning someone else
    ],
)
def test_agents_may_do_nothing_else(client_for, cast, current, target):
    ticket = TicketFactory(
        team=cast["team"], status="open", assignee=cast[current] if current else None
    )

    response = assign(client_for(cast["team_agent"]), ticket, cast[target] if target else None)

    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.assignee == (cast[current] if current else None)


def test_an_agent_cannot_take_work_of_another_team_they_can_see(client_for, cast):
    elsewhere = cast["outsider_agent"].teams.get()
    ticket = TicketFactory(team=elsewhere, status="open", requester=cast["team_agent"])

    response = assign(client_for(cast["team_agent"]), ticket, cast["team_agent"])

    assert response.status_code == 403


def test_requesters_cannot_assign(client_for, cast, ticket):
    assert assign(client_for(cast["requester"]), ticket, cast["team_agent"]).status_code == 403


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_terminal_tickets_cannot_be_assigned(client_for, cast, status):
    ticket = TicketFactory(team=cast["team"], status=status)

    response = assign(client_for(cast["supervisor"]), ticket, cast["team_agent"])

    assert response.status_code == 409


def test_assigning_the_current_assignee_again_records_nothing(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["team_agent"])

    response = assign(client_for(cast["supervisor"]), ticket, cast["team_agent"])

    assert response.status_code == 200
    assert not Event.objects.for_object(ticket).exists()


def test_a_supervisor_outside_the_team_can_still_assign_its_members(client_for, cast, ticket):
    outside_supervisor = SupervisorFactory()

    response = assign(client_for(outside_supervisor), ticket, cast["team_agent"])

    assert response.status_code == 200


def test_an_assignee_deleted_in_the_admin_meanwhile_is_400(client_for, cast, ticket, monkeypatch):
    """The request named someone who was deleted before their row was locked (an error page)."""
    from dispatchdesk import workflow

    newcomer = AgentFactory(teams=[cast["team"]])
    lock_person = workflow.lock_person

    def deleted_first(pk):
        newcomer.delete()
        return lock_person(pk)

    monkeypatch.setattr(workflow, "lock_person", deleted_first)

    response = assign(client_for(cast["supervisor"]), ticket, newcomer)

    assert response.status_code == 400
    assert response.json()["fields"] == {"assignee": ["This user no longer exists."]}
    ticket.refresh_from_db()
    assert ticket.assignee_id is None
