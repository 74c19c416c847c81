import pytest


@pytest.fixture
def cast(db):
    """Everyone around one team's work: who is who decides what they may do."""
    from accounts.tests import factories

    team = factories.TeamFactory(name="Support")
    other_team = factories.TeamFactory(name="Elsewhere")
    return {
        "team": team,
        "other_team": other_team,
        "requester": factories.RequesterFactory(),
        "assignee": factories.AgentFactory(teams=[team]),
        "team_agent": factories.AgentFactory(teams=[team]),
        "outsider_agent": factories.AgentFactory(teams=[other_team]),
        "other_requester": factories.RequesterFactory(),
        "supervisor": factories.SupervisorFactory(teams=[team]),
        "admin": factories.AdminFactory(),
    }


@pytest.fixture
def work_order(cast):
    """An open work order of the cast's team, assigned to the cast's assignee."""
    from workorders.tests.factories import WorkOrderFactory

    return WorkOrderFactory(
        team=cast["team"], assignee=cast["assignee"], created_by=cast["supervisor"]
    )
