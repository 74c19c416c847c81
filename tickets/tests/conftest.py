import pytest


@pytest.fixture
def cast(db):
    """Everyone around one team's ticket: who is who decides what they may do."""
    from accounts.tests import factories

    team = factories.TeamFactory(name="Support")
    other_team = factories.TeamFactory(name="Elsewhere")
    return {
        "team": team,
        "requester": factories.RequesterFactory(),
        "assignee": factories.AgentFactory(teams=[team]),
        "team_agent": factories.AgentFactory(teams=[team]),
        "outsider_agent": factories.AgentFactory(teams=[other_team]),
        "other_requester": factories.RequesterFactory(),
        "supervisor": factories.SupervisorFactory(teams=[team]),
        "admin": factories.AdminFactory(),
    }
