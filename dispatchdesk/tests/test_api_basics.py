"""The schema, the docs pages and the one error shape that every endpoint uses."""

import pytest
import yaml
from django.core.management import call_command

from accounts.tests.factories import AdminFactory, RequesterFactory

ERROR_KEYS = {"status", "code", "detail", "fields"}

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path):
    schema_file = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    schema = yaml.safe_load(schema_file.read_text())
    assert {"jwtAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == ERROR_KEYS
    me = schema["paths"]["/api/v1/me/"]["get"]["responses"]
    assert me["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    login = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(login)
    # The tokens a login answers (documented as no body at all, once).
    answer = login["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][answer]["required"] == ["access", "refresh"]


def test_the_schema_describes_no_serializer_with_a_docstring_about_our_code(tmp_path):
    """Swagger and ReDoc show a component's description: it must speak to API users."""
    schema_file = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(schema_file))

    components = yaml.safe_load(schema_file.read_text())["components"]["schemas"]

    described = {name: c["description"] for name, c in components.items() if "description" in c}
    assert not [name for name, text in described.items() if "serializer" in text.lower()]


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/", "/api/redoc/"])
def test_schema_and_docs_pages_are_served_without_a_cdn(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert b"cdn.jsdelivr.net" not in response.content
    assert b"fonts.googleapis.com" not in response.content
    assert b"fonts.gstatic.com" not in response.content


def test_the_redoc_page_still_loads_redoc_and_the_schema(client):
    page = client.get("/api/redoc/").content.decode()

    bundle = "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
    assert f'<script src="{bundle}">' in page
    assert "/api/schema/" in page


def test_browsable_api_root_lists_the_resources(client):
    client.force_login(AdminFactory())

    response = client.get("/api/v1/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"/api/v1/users/" in response.content


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/v1/users/", None, 401),
        ("get", "/api/v1/users/999999/", None, 404),
        ("get", "/api/v1/users/not-a-number/", None, 404),
        ("delete", "/api/v1/teams/1/", None, 405),
        ("post", "/api/v1/teams/", {"name": ""}, 400),
        ("post", "/api/v1/teams/", "not json", 400),
    ],
)
def test_errors_share_one_shape(client_for, api_client, method, path, body, status):
    client = api_client if status == 401 else client_for(AdminFactory())

    if isinstance(body, str):
        response = client.generic(method.upper(), path, body, content_type="application/json")
    else:
        response = getattr(client, method)(path, body, format="json")

    assert response.status_code == status
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["status"] == status


def test_non_json_bodies_are_415(client_for):
    response = client_for(AdminFactory()).post(
        "/api/v1/teams/", "name=x", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_forbidden_carries_a_reason(client_for):
    response = client_for(RequesterFactory()).get("/api/v1/users/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert response.json()["detail"]


def test_page_size_is_capped_at_200(client_for):
    RequesterFactory.create_batch(205)

    response = client_for(AdminFactory()).get("/api/v1/users/", {"page_size": 5000})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 200
    assert response.json()["count"] == 206
    assert "page=2" in response.json()["next"]


@pytest.mark.parametrize("bad_id", [2.5, "2.5", "two"])
def test_an_id_that_is_not_a_whole_number_is_400_wherever_an_object_is_named(
    client_for, cast, bad_id
):
    """Such ids used to reach the database lookup, which read 2.5 as 2."""
    from tickets.tests.factories import TicketFactory

    ticket = TicketFactory(team=cast["team"], status="open")
    admin = client_for(cast["admin"])
    supervisor = client_for(cast["supervisor"])
    team, person = cast["team"].pk + 0.5, cast["assignee"].pk + 0.5
    if not isinstance(bad_id, float):
        team = person = bad_id
    requests = {
        "tickets.team": (supervisor, "/api/v1/tickets/", {"title": "t", "team": team}),
        "tickets.requester": (supervisor, "/api/v1/tickets/", {"title": "t", "requester": person}),
        "assign": (supervisor, f"/api/v1/tickets/{ticket.pk}/assign/", {"assignee": person}),
        "work-orders.team": (supervisor, "/api/v1/work-orders/", {"title": "w", "team": team}),
        "work-orders.ticket": (
            supervisor,
            "/api/v1/work-orders/",
            {"title": "w", "ticket": ticket.pk + 0.5 if isinstance(bad_id, float) else bad_id},
        ),
        "teams.members": (admin, "/api/v1/teams/", {"name": "New", "members": [person]}),
        "users.teams": (
            admin,
            "/api/v1/users/",
            {
                "email": "kim@example.com",
                "full_name": "Kim",
                "role": "agent",
                "password": "a long enough password 42",
                "teams": [team],
            },
        ),
    }

    answers = {
        name: client.post(url, body, format="json")
        for name, (client, url, body) in requests.items()
    }

    for name, response in answers.items():
        field = name.split(".")[-1] if "." in name else "assignee"
        assert response.status_code == 400, (name, response.json())
        assert field in response.json()["fields"], (name, response.json())
    ticket.refresh_from_db()
    assert ticket.assignee is None
