"""Every API operation against every role, from one table.

The operations come from the OpenAPI schema, so an endpoint added without a row here fails
`test_every_operation_has_rules`.
"""

import pytest
from drf_spectacular.generators import SchemaGenerator

from accounts.tests.factories import (
    AdminFactory,
    AgentFactory,
    RequesterFactory,
    SupervisorFactory,
    TeamFactory,
)
from tickets.tests.factories import TicketFactory
from workorders.tests.factories import ChecklistItemFactory, TimeEntryFactory, WorkOrderFactory

ROLES = ["anonymous", "requester", "agent", "supervisor", "admin"]
STRONG_PASSWORD = "a-sufficiently-long-passphrase"

# (path, method): (body, expected status for anonymous, requester, agent, supervisor, admin)
MATRIX = {
    ("/api/v1/auth/token/", "POST"): (
        {"email": "nobody@example.com", "password": "wrong"},
        (401, 401, 401, 401, 401),
    ),
    ("/api/v1/auth/token/refresh/", "POST"): ({"refresh": "forged"}, (401,) * 5),
    ("/api/v1/auth/logout/", "POST"): ({"refresh": "forged"}, (401,) * 5),
    ("/api/v1/me/", "GET"): (None, (401, 200, 200, 200, 200)),
    ("/api/v1/users/", "GET"): (None, (401, 403, 200, 200, 200)),
    ("/api/v1/users/", "POST"): (
        {"email": "new@example.com", "password": STRONG_PASSWORD},
        (401, 403, 403, 403, 201),
    ),
    ("/api/v1/users/{id}/", "GET"): (None, (401, 403, 200, 200, 200)),
    ("/api/v1/users/{id}/", "PATCH"): ({"full_name": "Renamed"}, (401, 403, 403, 403, 200)),
    ("/api/v1/teams/", "GET"): (None, (401, 403, 200, 200, 200)),
    ("/api/v1/teams/", "POST"): ({"name": "Night shift"}, (401, 403, 403, 201, 201)),
    ("/api/v1/teams/{id}/", "GET"): (None, (401, 403, 200, 200, 200)),
    ("/api/v1/teams/{id}/", "PATCH"): ({"name": "Renamed"}, (401, 403, 403, 200, 200)),
    ("/api/v1/tickets/", "GET"): (None, (401, 200, 200, 200, 200)),
    ("/api/v1/tickets/", "POST"): ({"title": "New"}, (401, 201, 201, 201, 201)),
    ("/api/v1/tickets/{id}/", "GET"): (None, (401, 200, 200, 200, 200)),
    ("/api/v1/tickets/{id}/", "PATCH"): ({"title": "Renamed"}, (401, 200, 200, 200, 200)),
    ("/api/v1/tickets/{id}/transitions/", "GET"): (None, (401, 200, 200, 200, 200)),
    ("/api/v1/tickets/{id}/transitions/", "POST"): (
        {"name": "triage"},
        (401, 403, 200, 200, 200),
    ),
    ("/api/v1/tickets/{id}/assign/", "POST"): (
        {"assignee": "{agent}"},
        (401, 403, 200, 200, 200),
    ),
    ("/api/v1/tickets/{id}/comments/", "GET"): (None, (401, 200, 200, 200, 200)),
    ("/api/v1/tickets/{id}/comments/", "POST"): ({"body": "Hi"}, (401, 201, 201, 201, 201)),
    ("/api/v1/tickets/{id}/history/", "GET"): (None, (401, 200, 200, 200, 200)),
    ("/api/v1/work-orders/", "GET"): (None, (401, 403, 200, 200, 200)),
    ("/api/v1/work-orders/", "POST"): (
        {"title": "Job", "team": "{team}"},
        (401, 403, 201, 201, 201),
    ),
    ("/api/v1/work-orders/{id}/", "GET"): (None, (401, 404, 200, 200, 200)),
    ("/api/v1/work-orders/{id}/", "PATCH"): ({"title": "Renamed"}, (401, 404, 200, 200, 200)),
    ("/api/v1/work-orders/{id}/transitions/", "GET"): (None, (401, 404, 200, 200, 200)),
    ("/api/v1/work-orders/{id}/transitions/", "POST"): (
        {"name": "start"},
        (401, 404, 200, 200, 200),
    ),
    ("/api/v1/work-orders/{id}/assign/", "POST"): (
        {"assignee": None},
        (401, 404, 200, 200, 200),
    ),
    ("/api/v1/work-orders/{id}/checklist/", "GET"): (None, (401, 404, 200, 200, 200)),
    ("/api/v1/work-orders/{id}/checklist/", "POST"): (
        {"text": "Step"},
        (401, 404, 201, 201, 201),
    ),
    ("/api/v1/work-orders/{id}/checklist/{item_pk}/", "PATCH"): (
        {"done": True},
        (401, 404, 200, 200, 200),
    ),
    ("/api/v1/work-orders/{id}/time-entries/", "GET"): (None, (401, 404, 200, 200, 200)),
    ("/api/v1/work-orders/{id}/time-entries/", "POST"): (
        {"minutes": 5},
        (401, 404, 201, 201, 201),
    ),
    ("/api/v1/work-orders/{id}/time-entries/{entry_pk}/", "PATCH"): (
        {"minutes": 6},
        (401, 404, 200, 200, 200),
    ),
    ("/api/v1/work-orders/{id}/history/", "GET"): (None, (401, 404, 200, 200, 200)),
}


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(path, method.upper()) for path, item in schema["paths"].items() for method in item}


def test_every_operation_has_rules():
    operations = schema_operations()

    assert operations - set(MATRIX) == set(), "add a row to MATRIX for each new operation"
    assert set(MATRIX) - operations == set(), "the MATRIX lists an operation that is gone"


@pytest.fixture
def scene(db):
    team = TeamFactory(name="Support")
    agent = AgentFactory(teams=[team])
    people = {
        "requester": RequesterFactory(),
        "agent": agent,
        "supervisor": SupervisorFactory(teams=[team]),
        "admin": AdminFactory(),
    }
    ticket = TicketFactory(team=team, requester=people["requester"])
    work_order = WorkOrderFactory(team=team, assignee=agent)
    return {
        "people": people,
        "team": team,
        "ticket": ticket,
        "work_order": work_order,
        "item": ChecklistItemFactory(work_order=work_order),
        "entry": TimeEntryFactory(work_order=work_order, user=agent),
    }


def concrete(path: str, scene) -> str:
    if "{id}" not in path:
        return path
    resource = path.split("/")[3]
    ids = {
        "users": scene["people"]["agent"].pk,
        "teams": scene["team"].pk,
        "tickets": scene["ticket"].pk,
        "work-orders": scene["work_order"].pk,
    }
    return path.format(id=ids[resource], item_pk=scene["item"].pk, entry_pk=scene["entry"].pk)


def concrete_body(body, scene):
    if body is None:
        return None
    values = {"{agent}": scene["people"]["agent"].pk, "{team}": scene["team"].pk}
    return {key: values.get(value, value) for key, value in body.items()}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("path", "method"), sorted(MATRIX))
def test_role_rules_of_every_operation(api_client, client_for, scene, path, method, role):
    body, expected = MATRIX[path, method]
    user = scene["people"].get(role)
    client = client_for(user) if user else api_client

    response = getattr(client, method.lower())(
        concrete(path, scene), concrete_body(body, scene), format="json"
    )

    assert response.status_code == expected[ROLES.index(role)], response.content[:300]
