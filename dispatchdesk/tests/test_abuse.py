"""Abuse: throttling, oversized bodies, hostile strings. Never a 500, nothing executed."""

import json

import pytest
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from accounts.tests.factories import (
    AgentFactory,
    RequesterFactory,
    SupervisorFactory,
    TeamFactory,
)
from tickets.models import Ticket
from workorders.tests.factories import WorkOrderFactory

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"status", "code", "detail", "fields"}
HOSTILE = [
    "'; DROP TABLE tickets_ticket; --",
    "1 OR 1=1",
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }} ${7*7} %s %n",
    "Z̸̡̛̖a̴̟͌l̷̙̆g̵̣̈o̶͚͝",
    "\u202eevil\u202c right-to-left override",
    "😀👍🏽👨‍👩‍👧",
    "ｆｕｌｌｗｉｄｔｈ",
    "e\u0301 combining",
    "\\x00 not a real nul",
]


def test_each_user_is_throttled(client_for, monkeypatch):
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "5/minute")
    client = client_for(RequesterFactory())

    codes = [client.get("/api/v1/tickets/").status_code for _ in range(6)]

    assert codes == [200] * 5 + [429]
    response = client.get("/api/v1/tickets/")
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response


def test_one_users_flood_does_not_throttle_another(client_for, monkeypatch):
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "2/minute")
    noisy, quiet = client_for(RequesterFactory()), client_for(RequesterFactory())

    for _ in range(3):
        noisy.get("/api/v1/tickets/")

    assert quiet.get("/api/v1/tickets/").status_code == 200


def test_anonymous_clients_are_throttled_on_public_endpoints(api_client, monkeypatch):
    monkeypatch.setitem(AnonRateThrottle.THROTTLE_RATES, "anon", "3/minute")
    refresh = "/api/v1/auth/token/refresh/"

    codes = [api_client.post(refresh, {"refresh": "forged"}).status_code for _ in range(4)]

    assert codes == [401, 401, 401, 429]


def test_an_oversized_body_is_413_and_creates_nothing(client_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    body = json.dumps({"title": "x", "description": "y" * 5_000})

    response = client_for(RequesterFactory()).generic(
        "POST", "/api/v1/tickets/", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert set(response.json()) == ERROR_KEYS
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_stored_and_returned_verbatim(client_for, text):
    client = client_for(AgentFactory())

    created = client.post("/api/v1/tickets/", {"title": text[:200], "description": text})

    assert created.status_code == 201, created.json()
    ticket = Ticket.objects.get()
    assert (ticket.title, ticket.description) == (text[:200], text)
    fetched = client.get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert (fetched["title"], fetched["description"]) == (text[:200], text)
    assert Ticket.objects.count() == 1  # the "DROP TABLE" did not run either
    found = client.get("/api/v1/tickets/", {"search": text[:50]})
    assert found.status_code == 200


def test_the_browsable_api_escapes_html(client, django_user_model):
    agent = AgentFactory()
    client.force_login(agent)
    client.post(
        "/api/v1/tickets/",
        json.dumps({"title": "<script>alert('x')</script>"}),
        content_type="application/json",
    )

    page = client.get("/api/v1/tickets/", HTTP_ACCEPT="text/html").content.decode()

    assert "<script>alert('x')</script>" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize(
    "params",
    [
        {"search": "x" * 10_000},
        {"search": "\x00"},
        {"assignee": "\x00"},
        {"status": "' OR 1=1 --"},
        {"ordering": "password"},
        {"created_after": "9999999-01-01"},
        {"due_before": "0420-08-13T04:43:01.90+23:46"},
        {"created_after": "0001-01-01T00:00:00+05:00"},
        {"created_before": "9999-12-31T23:59:59-05:00"},
        {"page": "-1"},
        {"page": "9" * 40},
        {"page_size": "9" * 40},
    ],
)
def test_hostile_query_parameters_never_fail_the_server(client_for, params):
    response = client_for(AgentFactory()).get("/api/v1/tickets/", params)

    assert response.status_code in (200, 400, 404)
    assert response.json()


@pytest.mark.parametrize(
    "body",
    [
        '{"title": "\\u0000"}',
        '{"title": ' + "[" * 2_000 + "]" * 2_000 + "}",
        "\xff\xfe not utf-8",
        '{"title": "x", "title": "duplicate keys"}',
        "null",
        '"just a string"',
        '{"title": 1e999}',
        '{"title": "x", "due_at": "0001-01-01T00:00:00+05:00"}',
        '{"title": "x", "due_at": "9999-12-31T23:59:59-05:00"}',
        '{"title": "x", "due_at": "2030-01-01T00:00:00+23:46"}',
    ],
    ids=[
        "nul",
        "deep",
        "bad-utf8",
        "dup-keys",
        "null",
        "string",
        "huge-number",
        "year-0",
        "year-10000",
        "offset-23h",
    ],
)
def test_hostile_bodies_never_fail_the_server(client_for, body):
    response = client_for(AgentFactory()).generic(
        "POST",
        "/api/v1/tickets/",
        body.encode("utf-8", "surrogatepass"),
        content_type="application/json",
    )

    assert response.status_code in (201, 400)
    if response.status_code == 201:
        assert "id" in response.json()
    else:
        assert set(response.json()) == ERROR_KEYS


# Times without an offset at either end of the calendar, in a zone where they have no date in
# UTC (which the database stores): 10000-01-01 04:59 and 0000-12-31 15:00 UTC.
TIMES_WITHOUT_A_UTC_DATE = [
    ("America/New_York", "9999-12-31T23:59"),
    ("Asia/Tokyo", "0001-01-01T00:00"),
]


@pytest.mark.parametrize(("zone", "moment"), TIMES_WITHOUT_A_UTC_DATE)
def test_a_local_time_without_a_date_in_utc_is_a_400_everywhere(client_for, settings, zone, moment):
    settings.TIME_ZONE = zone
    team = TeamFactory()
    agent = AgentFactory(teams=[team])
    work_order = WorkOrderFactory(team=team, assignee=agent)
    client = client_for(SupervisorFactory(teams=[team]))
    out_of_range = ["Datetime value out of range."]

    created = client.post("/api/v1/tickets/", {"title": "x", "due_at": moment}, format="json")
    edited = client.patch(
        f"/api/v1/work-orders/{work_order.pk}/", {"scheduled_start": moment}, format="json"
    )
    scheduled = client.post(
        f"/api/v1/work-orders/{work_order.pk}/transitions/",
        {"name": "schedule", "scheduled_start": moment},
        format="json",
    )

    assert (created.status_code, created.json()["fields"]) == (400, {"due_at": out_of_range})
    assert (edited.status_code, edited.json()["fields"]) == (400, {"scheduled_start": out_of_range})
    assert (scheduled.status_code, scheduled.json()["fields"]) == (
        400,
        {"scheduled_start": out_of_range},
    )
    work_order.refresh_from_db()
    assert (work_order.status, work_order.scheduled_start) == ("open", None)
    assert not Ticket.objects.exists()


def test_cors_is_closed_unless_configured(client_for, settings):
    client = client_for(AgentFactory())
    origin = {"HTTP_ORIGIN": "https://app.example.com"}

    closed = client.get("/api/v1/tickets/", **origin)
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    opened = client.get("/api/v1/tickets/", **origin)
    stranger = client.get("/api/v1/tickets/", HTTP_ORIGIN="https://evil.example.com")

    assert "Access-Control-Allow-Origin" not in closed
    assert opened["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in stranger
