"""`Idempotency-Key` on every API create: a retry by the same user replays the first response."""

import pytest
from django.core.management import call_command

from accounts.models import Team, User
from tickets.models import Comment
from tickets.tests.factories import TicketFactory
from workorders.models import ChecklistItem, TimeEntry
from workorders.tests.factories import WorkOrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def creates(cast):
    """(who, path, body, the model the create adds a row to) for each create but tickets' and
    work orders' own (tested with them)."""
    ticket = TicketFactory(team=cast["team"], status="open")
    work_order = WorkOrderFactory(team=cast["team"], assignee=cast["assignee"])
    work_orders = f"/api/v1/work-orders/{work_order.pk}"
    return {
        "comment": (
            "team_agent",
            f"/api/v1/tickets/{ticket.pk}/comments/",
            {"body": "On my way"},
            Comment,
        ),
        "checklist item": (
            "assignee",
            f"{work_orders}/checklist/",
            {"text": "Drain"},
            ChecklistItem,
        ),
        "time entry": ("assignee", f"{work_orders}/time-entries/", {"minutes": 30}, TimeEntry),
        "team": ("supervisor", "/api/v1/teams/", {"name": "Night shift"}, Team),
        "user": (
            "admin",
            "/api/v1/users/",
            {
                "email": "kim@example.com",
                "full_name": "Kim",
                "role": "agent",
                "password": "a long enough password 42",
            },
            User,
        ),
    }


@pytest.mark.parametrize("kind", ["comment", "checklist item", "time entry", "team", "user"])
def test_a_retried_create_with_the_same_key_creates_nothing_new(client_for, cast, creates, kind):
    who, path, body, model = creates[kind]
    client = client_for(cast[who])
    before = model.objects.count()

    first = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    retry = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    other = client.post(path, body | {"minutes": 31}, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")

    assert first.status_code == retry.status_code == 201, first.json()
    assert retry.json() == first.json()
    assert list(retry.json()) == list(first.json())
    assert model.objects.count() == before + 1
    assert other.status_code == 400
    assert "Idempotency-Key" in other.json()["fields"]


def test_the_schema_offers_the_key_on_every_create(tmp_path):
    import yaml

    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(path))
    paths = yaml.safe_load(path.read_text())["paths"]

    creates = [
        (url, operation)
        for url, operations in paths.items()
        for method, operation in operations.items()
        if method == "post" and "201" in operation["responses"]
    ]
    assert len(creates) == 7  # tickets, work orders, comments, checklist, time, teams, users
    for url, operation in creates:
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, url


def test_the_stored_fingerprint_is_keyed_so_a_password_in_the_body_cannot_be_guessed_from_it(
    client_for, cast, creates
):
    import hashlib
    import json

    from dispatchdesk.models import IdempotencyKey

    _, path, body, _ = creates["user"]
    client_for(cast["admin"]).post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    stored = IdempotencyKey.objects.get().request_hash
    plain = json.dumps(body, sort_keys=True, default=str)
    assert stored != hashlib.sha256(f"{path}\n{plain}".encode()).hexdigest()
    assert "a long enough password 42" not in IdempotencyKey.objects.get().response_body


def test_keys_past_their_time_are_removed_whoever_sent_them(client_for, cast, creates, settings):
    from datetime import timedelta

    from django.utils import timezone

    from dispatchdesk.models import IdempotencyKey

    who, path, body, _ = creates["comment"]
    client_for(cast["supervisor"]).post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    old = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS + 1)
    IdempotencyKey.objects.update(created_at=old)

    client_for(cast[who]).post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="new")

    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.parametrize("kind", ["comment", "checklist item", "time entry"])
@pytest.mark.parametrize("written", ["0" * 300 + "{pk}", "0{pk}", "１"])
def test_an_object_is_named_by_its_id_as_written_once(client_for, cast, creates, kind, written):
    """`0002`, or 300 zeros before it, or a digit of another script, named the same object (its
    id read with int()): a create under such a path with a key stored a path longer than its
    column (PostgreSQL refused it: a 500). Only the id as written once is an object's path."""
    who, path, body, model = creates[kind]
    pk = path.split("/")[4]
    odd = path.replace(f"/{pk}/", "/" + written.format(pk=pk) + "/", 1)

    response = client_for(cast[who]).post(odd, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 404
    assert not model.objects.exists()
