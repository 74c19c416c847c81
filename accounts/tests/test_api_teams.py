import pytest
from django.db import connection

from accounts.models import DEFAULT_TEAM_NAME, Team

from .factories import AdminFactory, AgentFactory, RequesterFactory, SupervisorFactory, TeamFactory

pytestmark = pytest.mark.django_db

TEAMS_URL = "/api/v1/teams/"


def test_a_default_team_exists_after_migrate():
    assert Team.objects.get(is_default=True).name == DEFAULT_TEAM_NAME


@pytest.mark.parametrize("name", ["general", "Front desk"])
def test_the_default_team_renamed_stays_the_default(client_for, name):
    """Renamed in letter case, work filed without a team failed (500: a second "General"
    against the names unique in any case); renamed otherwise, it went to a new empty team."""
    supervisor, requester = SupervisorFactory(), RequesterFactory()
    default = Team.objects.default()
    client = client_for(supervisor)

    renamed = client.patch(f"{TEAMS_URL}{default.pk}/", {"name": name}, format="json")
    ticket = client_for(requester).post("/api/v1/tickets/", {"title": "Printer"}, format="json")
    work_order = client.post("/api/v1/work-orders/", {"title": "Check it"}, format="json")

    assert renamed.status_code == 200
    assert renamed.json()["is_default"] is True
    assert (ticket.status_code, work_order.status_code) == (201, 201), ticket.content[:300]
    assert ticket.json()["team"] == work_order.json()["team"] == default.pk
    assert list(Team.objects.values_list("name", flat=True)) == [name]


def test_only_the_default_team_says_it_is(client_for):
    TeamFactory(name="Night shift")

    response = client_for(SupervisorFactory()).get(TEAMS_URL)

    assert {team["name"]: team["is_default"] for team in response.json()["results"]} == {
        DEFAULT_TEAM_NAME: True,
        "Night shift": False,
    }


@pytest.mark.parametrize(
    ("factory", "status"),
    [(RequesterFactory, 403), (AgentFactory, 200), (SupervisorFactory, 200), (AdminFactory, 200)],
)
def test_who_may_list_teams(client_for, factory, status):
    response = client_for(factory()).get(TEAMS_URL)

    assert response.status_code == status
    if status == 200:
        assert DEFAULT_TEAM_NAME in {team["name"] for team in response.json()["results"]}


@pytest.mark.parametrize(
    ("factory", "status"),
    [(RequesterFactory, 403), (AgentFactory, 403), (SupervisorFactory, 201), (AdminFactory, 201)],
)
def test_supervisors_and_admins_manage_teams(client_for, factory, status):
    member = AgentFactory()

    response = client_for(factory()).post(
        TEAMS_URL, {"name": "Night shift", "members": [member.pk]}, format="json"
    )

    assert response.status_code == status
    team = Team.objects.filter(name="Night shift").first()
    if status == 201:
        assert response.json()["members"] == [member.pk]
        assert list(team.members.all()) == [member]
    else:
        assert team is None


def test_agent_cannot_rename_a_team_they_can_see(client_for):
    team = TeamFactory(name="Ops")

    response = client_for(AgentFactory()).patch(
        f"{TEAMS_URL}{team.pk}/", {"name": "Mine"}, format="json"
    )

    assert response.status_code == 403
    team.refresh_from_db()
    assert team.name == "Ops"


def test_supervisor_changes_members(client_for):
    team = TeamFactory(name="Ops")
    first, second = AgentFactory(teams=[team]), SupervisorFactory()

    response = client_for(SupervisorFactory()).patch(
        f"{TEAMS_URL}{team.pk}/", {"members": [second.pk]}, format="json"
    )

    assert response.status_code == 200
    assert list(team.members.all()) == [second]
    assert not first.teams.exists()


@pytest.mark.parametrize(
    "make_member",
    [RequesterFactory, AdminFactory, lambda: AgentFactory(is_active=False)],
    ids=["requester", "admin", "inactive agent"],
)
def test_only_active_agents_and_supervisors_can_be_members(client_for, make_member):
    response = client_for(SupervisorFactory()).post(
        TEAMS_URL, {"name": "Night shift", "members": [make_member().pk]}, format="json"
    )

    assert response.status_code == 400
    assert "members" in response.json()["fields"]


def test_a_deactivated_member_stays_when_the_list_read_is_sent_back(client_for):
    """Only new members must be able to work; one refused is named."""
    team = TeamFactory(name="Ops")
    gone = AgentFactory(teams=[team], is_active=False)
    joining, inactive = AgentFactory(), AgentFactory(is_active=False)
    client = client_for(SupervisorFactory())
    members = client.get(f"{TEAMS_URL}{team.pk}/").json()["members"]

    kept = client.patch(
        f"{TEAMS_URL}{team.pk}/", {"members": [*members, joining.pk]}, format="json"
    )
    refused = client.patch(
        f"{TEAMS_URL}{team.pk}/", {"members": [*members, inactive.pk]}, format="json"
    )

    assert kept.status_code == 200, kept.json()
    assert set(team.members.all()) == {gone, joining}
    assert refused.status_code == 400
    assert refused.json()["fields"]["members"][0].endswith(f"Not one: {inactive.pk}.")


def test_a_team_name_cannot_hold_a_semicolon(client_for):
    """Imports separate a user's team names with it: `R;D` could never be named there."""
    client = client_for(SupervisorFactory())
    team = TeamFactory(name="Research")

    created = client.post(TEAMS_URL, {"name": "R;D"}, format="json")
    renamed = client.patch(f"{TEAMS_URL}{team.pk}/", {"name": "R;D"}, format="json")

    assert created.status_code == renamed.status_code == 400
    assert "semicolon" in created.json()["fields"]["name"][0]
    assert not Team.objects.filter(name="R;D").exists()


def test_team_names_are_unique(client_for):
    TeamFactory(name="Ops")

    response = client_for(SupervisorFactory()).post(TEAMS_URL, {"name": "Ops"}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()["fields"]


@pytest.mark.parametrize("name", ["ops", "OPS", "Ops"])
def test_team_names_differing_only_in_case_are_one_name(client_for, name):
    TeamFactory(name="Ops")

    response = client_for(SupervisorFactory()).post(TEAMS_URL, {"name": name}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"]["name"] == ["A team with this name already exists."]
    assert Team.objects.filter(name__iexact="ops").count() == 1


def test_team_names_are_compared_as_the_database_constraint_folds_them(client_for):
    TeamFactory(name="\u212a-team")  # the Kelvin sign, which lower() makes a plain "k"

    response = client_for(SupervisorFactory()).post(TEAMS_URL, {"name": "k-team"}, format="json")

    # PostgreSQL folds every letter, SQLite's lower() the ASCII ones only: either way the check
    # answers as the constraint would, never a 500.
    assert response.status_code == (400 if connection.vendor == "postgresql" else 201)


def test_a_team_renamed_to_its_own_name_in_another_case_is_fine(client_for):
    team = TeamFactory(name="Ops")

    response = client_for(SupervisorFactory()).patch(
        f"{TEAMS_URL}{team.pk}/", {"name": "OPS"}, format="json"
    )

    assert response.status_code == 200, response.json()
    team.refresh_from_db()
    assert team.name == "OPS"


def test_unknown_member_id_is_400(client_for):
    response = client_for(SupervisorFactory()).post(
        TEAMS_URL, {"name": "Ops", "members": [999999]}, format="json"
    )

    assert response.status_code == 400
    assert "members" in response.json()["fields"]


@pytest.mark.parametrize("ids", [[1.5], ["x"], [True], [None], "3", {"3": 3}, [2**63], [-(2**64)]])
def test_member_ids_that_name_no_one_are_400(client_for, ids):
    team = TeamFactory()

    response = client_for(SupervisorFactory()).patch(
        f"/api/v1/teams/{team.pk}/", {"members": ids}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["members"]


def test_member_ids_are_looked_up_at_once_and_at_most_a_thousand(
    client_for, django_assert_max_num_queries
):
    """They were looked up one query each, with no limit: a megabyte of ids held a worker."""
    team, client = TeamFactory(), client_for(SupervisorFactory())
    agents = [agent.pk for agent in AgentFactory.create_batch(30)]

    with django_assert_max_num_queries(20):
        response = client.patch(f"/api/v1/teams/{team.pk}/", {"members": agents}, format="json")
    too_many = client.patch(f"/api/v1/teams/{team.pk}/", {"members": [1] * 1001}, format="json")

    assert response.status_code == 200
    assert sorted(response.json()["members"]) == sorted(agents)
    assert too_many.status_code == 400
    assert too_many.json()["fields"]["members"] == ["Send at most 1,000 ids."]


def test_teams_are_never_deleted_through_the_api(client_for):
    team = TeamFactory()

    assert client_for(AdminFactory()).delete(f"{TEAMS_URL}{team.pk}/").status_code == 405
    assert Team.objects.filter(pk=team.pk).exists()


@pytest.mark.parametrize(
    "factory", [RequesterFactory, AgentFactory, SupervisorFactory, AdminFactory]
)
@pytest.mark.parametrize("method", ["delete", "put"])
@pytest.mark.parametrize("path", ["/api/v1/teams/", "/api/v1/users/"])
def test_methods_the_api_never_offers_are_405_for_every_role(client_for, factory, method, path):
    """Before the permissions: a role that may not write got 403 where the design says 405."""
    user = (
        factory(teams=[TeamFactory()])
        if factory in (AgentFactory, SupervisorFactory)
        else factory()
    )
    client = client_for(user)
    target = f"{path}{user.pk}/" if path.endswith("users/") else f"{path}{TeamFactory().pk}/"

    for url in (path, target):
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 405, (url, response.json())
        assert response.json()["code"] == "method_not_allowed"
    assert Team.objects.exists()


def test_a_missing_default_team_is_the_team_named_general_again():
    """Deleted outside the admin (which refuses): a team named General in another letter case
    becomes the default, rather than a second General that the names' constraint refuses."""
    Team.objects.filter(is_default=True).delete()
    general = TeamFactory(name="GENERAL")

    assert Team.objects.default() == general
    assert Team.objects.get(is_default=True) == general
