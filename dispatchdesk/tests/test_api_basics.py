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
