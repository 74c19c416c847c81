"""Creating, reading and editing work orders (POST/GET/PATCH /api/v1/work-orders/)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import DEFAULT_TEAM_NAME
from dispatchdesk import workflow
from dispatchdesk.models import Event
from tickets.tests.factories import TicketFactory
from workorders.models import WorkOrder

from .factories import TimeEntryFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/work-orders/"


def detail_url(work_order):
    return f"{URL}{work_order.pk}/"


def create(client, **payload):
    return client.post(URL, payload, format="json")


# Creating


def test_an_agent_creates_a_work_order_for_their_team(client_for, cast):
    response = create(
        client_for(cast["team_agent"]),
        title="Replace the router",
        description="Rack 3",
        team=cast["team"].pk,
        location="Server room",
        estimated_minutes=90,
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    work_order = WorkOrder.objects.get(pk=body["id"])
    assert (body["status"], body["priority"], body["assignee"], body["ticket"]) == (
        "open",
        "normal",
        None,
        None,
    )
    assert (body["team"], body["location"], body["estimated_minutes"]) == (
        cast["team"].pk,
        "Server room",
        90,
    )
    assert body["actual_minutes"] == 0
    assert work_order.created_by == work_order.updated_by == cast["team_agent"]
    assert work_order.due_at == work_order.created_at + timedelta(hours=72)
    event = Event.objects.for_object(work_order).get()
    assert (event.type, event.actor) == ("created", cast["team_agent"])
    assert event.data == {
        "title": "Replace the router",
        "priority": "normal",
        "team": cast["team"].pk,
        "ticket": None,
    }


@pytest.mark.parametrize(("priority", "hours"), [("urgent", 4), ("high", 24), ("low", 168)])
def test_due_date_defaults_from_priority(client_for, cast, priority, hours):
    response = create(
        client_for(cast["team_agent"]), title="x", team=cast["team"].pk, priority=priority
    )

    work_order = WorkOrder.objects.get(pk=response.json()["id"])
    assert work_order.due_at - work_order.created_at == timedelta(hours=hours)


def test_a_given_due_date_is_kept(client_for, cast):
    due = (timezone.now() + timedelta(days=9)).replace(microsecond=0)

    response = create(
        client_for(cast["team_agent"]), title="x", team=cast["team"].pk, due_at=due.isoformat()
    )

    assert WorkOrder.objects.get(pk=response.json()["id"]).due_at == due


def test_an_agent_cannot_create_for_another_team(client_for, cast):
    response = create(client_for(cast["team_agent"]), title="x", team=cast["other_team"].pk)

    assert response.status_code == 403
    assert not WorkOrder.objects.exists()
    assert not Event.objects.exists()


def test_without_team_or_ticket_an_agent_outside_the_default_team_is_403(client_for, cast):
    response = create(client_for(cast["team_agent"]), title="x")

    assert response.status_code == 403
    assert not WorkOrder.objects.exists()


@pytest.mark.parametrize("actor", ["supervisor", "admin"])
def test_supervisors_and_admins_create_for_any_team(client_for, cast, actor):
    response = create(client_for(cast[actor]), title="x", team=cast["other_team"].pk)

    assert response.status_code == 201
    assert WorkOrder.objects.get().team == cast["other_team"]


def test_without_team_or_ticket_it_goes_to_the_default_team(client_for, cast):
    response = create(client_for(cast["supervisor"]), title="x")

    assert response.status_code == 201
    assert WorkOrder.objects.get().team.name == DEFAULT_TEAM_NAME


@pytest.mark.parametrize("actor", ["requester", "other_requester"])
def test_requesters_cannot_create_work_orders(client_for, cast, actor):
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], status="open")

    response = create(client_for(cast[actor]), title="x", ticket=ticket.pk)

    assert response.status_code == 403
    assert not WorkOrder.objects.exists()


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"title"}),
        ({"title": ""}, {"title"}),
        ({"title": "   "}, {"title"}),
        ({"title": "x" * 201}, {"title"}),
        ({"title": "x", "priority": "whenever"}, {"priority"}),
        ({"title": "x", "team": 999999}, {"team"}),
        ({"title": "x", "team": "abc"}, {"team"}),
        ({"title": "x", "ticket": 999999}, {"ticket"}),
        ({"title": "x", "ticket": "abc"}, {"ticket"}),
        ({"title": "x", "due_at": "tomorrow"}, {"due_at"}),
        ({"title": "x", "scheduled_start": "soon"}, {"scheduled_start"}),
        (
            {
                "title": "x",
                "scheduled_start": "2030-01-02T10:00:00Z",
                "scheduled_end": "2030-01-02T09:59:00Z",
            },
            {"scheduled_end"},
        ),
        ({"title": "x", "estimated_minutes": -1}, {"estimated_minutes"}),
        ({"title": "x", "estimated_minutes": "abc"}, {"estimated_minutes"}),
        ({"title": "x", "estimated_minutes": 10**20}, {"estimated_minutes"}),
        ({"title": "x", "location": "x" * 201}, {"location"}),
        ({"title": "x", "status": "completed"}, {"status"}),
        ({"title": "x", "assignee": 1}, {"assignee"}),
    ],
)
def test_bad_input_is_400_per_field_and_writes_nothing(client_for, cast, payload, fields):
    payload = {"team": cast["team"].pk, **payload}

    response = client_for(cast["supervisor"]).post(URL, payload, format="json")

    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert (body["status"], body["code"]) == (400, "invalid")
    assert set(body["fields"]) == fields
    assert not WorkOrder.objects.exists()
    assert not Event.objects.exists()


def test_an_estimate_too_large_for_postgresql_is_400_on_every_database(client_for, cast):
    """PostgreSQL stores at most 2**31 - 1 here; SQLite must not accept what production refuses."""
    response = create(
        client_for(cast["supervisor"]), title="x", team=cast["team"].pk, estimated_minutes=2**31
    )

    assert response.status_code == 400, response.json()
    assert set(response.json()["fields"]) == {"estimated_minutes"}
    assert not WorkOrder.objects.exists()


def test_status_in_the_body_points_to_transitions(client_for, cast):
    response = create(
        client_for(cast["supervisor"]), title="x", team=cast["team"].pk, status="completed"
    )

    assert response.status_code == 400
    assert "transitions/" in response.json()["fields"]["status"][0]


def test_a_schedule_that_ends_when_it_starts_is_accepted(client_for, cast):
    at = "2030-01-02T10:00:00Z"

    response = create(
        client_for(cast["supervisor"]),
        title="x",
        team=cast["team"].pk,
        scheduled_start=at,
        scheduled_end=at,
    )

    assert response.status_code == 201


def test_read_only_fields_in_the_body_are_ignored(client_for, cast):
    response = create(
        client_for(cast["supervisor"]),
        title="x",
        team=cast["team"].pk,
        completion_notes="forged",
        external_ref="EXT-1",
        actual_minutes=999,
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["completion_notes"], body["external_ref"], body["actual_minutes"]) == (
        "",
        None,
        0,
    )


def test_a_json_list_body_is_400(client_for, cast):
    response = client_for(cast["supervisor"]).post(URL, [1, 2], format="json")

    assert response.status_code == 400


# Never deleted


@pytest.mark.parametrize("actor", ["team_agent", "supervisor", "admin"])
def test_work_orders_are_never_deleted(client_for, cast, work_order, actor):
    response = client_for(cast[actor]).delete(detail_url(work_order))

    assert response.status_code == 405
    assert WorkOrder.objects.filter(pk=work_order.pk).exists()


def test_put_is_not_offered(client_for, cast, work_order):
    response = client_for(cast["admin"]).put(detail_url(work_order), {"title": "x"}, format="json")

    assert response.status_code == 405


# Reading


def test_the_detail_shows_every_documented_field(client_for, cast, work_order):
    response = client_for(cast["supervisor"]).get(detail_url(work_order))

    assert response.status_code == 200
    assert set(response.json()) == {
        "id",
        "ticket",
        "team",
        "title",
        "description",
        "status",
        "priority",
        "assignee",
        "scheduled_start",
        "scheduled_end",
        "due_at",
        "is_overdue",
        "location",
        "estimated_minutes",
        "actual_minutes",
        "completion_notes",
        "external_ref",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
    }


@pytest.mark.parametrize(
    ("status", "overdue"),
    [("open", True), ("in_progress", True), ("completed", True), ("verified", False)],
)
def test_is_overdue_when_past_due_and_not_terminal(client_for, cast, status, overdue):
    work_order = WorkOrderFactory(
        team=cast["team"], status=status, due_at=timezone.now() - timedelta(minutes=1)
    )
    body = client_for(cast["supervisor"]).get(detail_url(work_order)).json()

    assert body["is_overdue"] is overdue


# Editing


def test_an_agent_edit_records_exactly_what_changed(client_for, cast, work_order):
    response = client_for(cast["team_agent"]).patch(
        detail_url(work_order),
        {"title": work_order.title, "priority": "urgent", "location": "Basement"},
        format="json",
    )

    assert response.status_code == 200
    work_order.refresh_from_db()
    assert work_order.due_at == work_order.created_at + timedelta(hours=4)
    assert work_order.updated_by == cast["team_agent"]
    event = Event.objects.for_object(work_order).get()
    assert event.type == "fields_changed"
    assert set(event.data) == {"priority", "due_at", "location"}
    assert event.data["location"] == ["", "Basement"]


def test_an_edit_that_changes_nothing_records_nothing(client_for, cast, work_order):
    response = client_for(cast["team_agent"]).patch(
        detail_url(work_order), {"title": work_order.title}, format="json"
    )

    assert response.status_code == 200
    assert not Event.objects.for_object(work_order).exists()


def test_a_patch_answers_actual_minutes(client_for, cast, work_order):
    TimeEntryFactory(work_order=work_order, minutes=20)

    response = client_for(cast["supervisor"]).patch(
        detail_url(work_order), {"title": "Renamed"}, format="json"
    )

    assert response.json()["actual_minutes"] == 20


def test_an_agent_cannot_move_a_work_order_to_another_team(client_for, cast, work_order):
    response = client_for(cast["team_agent"]).patch(
        detail_url(work_order), {"team": cast["other_team"].pk}, format="json"
    )

    assert response.status_code == 403
    work_order.refresh_from_db()
    assert work_order.team == cast["team"]


def test_moving_a_work_order_to_a_team_its_assignee_is_not_in_is_400(client_for, cast, work_order):
    response = client_for(cast["supervisor"]).patch(
        detail_url(work_order), {"team": cast["other_team"].pk}, format="json"
    )

    assert response.status_code == 400
    assert "team" in response.json()["fields"]


def test_a_patched_schedule_that_ends_before_the_stored_start_is_400(client_for, cast):
    work_order = WorkOrderFactory(
        team=cast["team"], scheduled_start=timezone.now() + timedelta(days=2)
    )

    response = client_for(cast["supervisor"]).patch(
        detail_url(work_order),
        {"scheduled_end": (timezone.now() + timedelta(days=1)).isoformat()},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"scheduled_end"}


def test_a_schedule_set_meanwhile_is_checked_against_not_written_past(
    client_for, cast, monkeypatch
):
    """Someone schedules the start after this request read the work order and before it locks
    it: the end sent would fall before that start (the database's check: a 500)."""
    work_order = WorkOrderFactory(team=cast["team"])
    start = timezone.now() + timedelta(days=2)
    lock = workflow.lock

    def someone_schedules_then_lock(obj):
        WorkOrder.objects.filter(pk=obj.pk).update(scheduled_start=start)
        return lock(obj)

    monkeypatch.setattr(workflow, "lock", someone_schedules_then_lock)
    end = (start - timedelta(days=1)).isoformat()

    response = client_for(cast["supervisor"]).patch(
        detail_url(work_order), {"scheduled_end": end}, format="json"
    )

    assert response.status_code == 400, response.content[:300]
    assert response.json()["fields"] == {"scheduled_end": ["Must not be before the start."]}
    assert WorkOrder.objects.get(pk=work_order.pk).scheduled_end is None


def test_a_scheduled_work_order_keeps_a_start(client_for, cast):
    start = timezone.now() + timedelta(days=2)
    work_order = WorkOrderFactory(
        team=cast["team"], assignee=cast["assignee"], status="scheduled", scheduled_start=start
    )
    client = client_for(cast["supervisor"])

    cleared = client.patch(detail_url(work_order), {"scheduled_start": None}, format="json")
    moved = client.patch(
        detail_url(work_order),
        {"scheduled_start": (start + timedelta(hours=1)).isoformat()},
        format="json",
    )

    assert cleared.status_code == 400
    assert set(cleared.json()["fields"]) == {"scheduled_start"}
    assert moved.status_code == 200
    assert WorkOrder.objects.get(pk=work_order.pk).scheduled_start == start + timedelta(hours=1)


@pytest.mark.parametrize("field", ["status", "assignee"])
def test_writing_status_or_assignee_directly_is_400_pointing_to_its_endpoint(
    client_for, cast, work_order, field
):
    response = client_for(cast["supervisor"]).patch(
        detail_url(work_order), {field: "completed" if field == "status" else None}, format="json"
    )

    assert response.status_code == 400
    assert ("transitions/" if field == "status" else "assign/") in response.json()["fields"][field][
        0
    ]
    work_order.refresh_from_db()
    assert (work_order.status, work_order.assignee) == ("open", cast["assignee"])


@pytest.mark.parametrize("status", ["verified", "cancelled"])
@pytest.mark.parametrize("actor", ["assignee", "team_agent", "supervisor"])
def test_terminal_work_orders_are_read_only(client_for, cast, status, actor):
    work_order = WorkOrderFactory(team=cast["team"], status=status, assignee=cast["assignee"])

    response = client_for(cast[actor]).patch(
        detail_url(work_order), {"title": "Changed"}, format="json"
    )

    assert response.status_code == 409
    work_order.refresh_from_db()
    assert work_order.title != "Changed"


# ETag and If-Match


def test_the_detail_has_an_etag_that_changes_with_the_work_order(client_for, cast, work_order):
    client = client_for(cast["supervisor"])

    first = client.get(detail_url(work_order))["ETag"]
    assert first == client.get(detail_url(work_order))["ETag"]
    client.patch(detail_url(work_order), {"title": "Changed"}, format="json")

    assert client.get(detail_url(work_order))["ETag"] != first


def test_a_patch_with_a_stale_if_match_is_412_and_changes_nothing(client_for, cast, work_order):
    alice, bob = client_for(cast["supervisor"]), client_for(cast["team_agent"])
    etag = alice.get(detail_url(work_order))["ETag"]
    bob.patch(detail_url(work_order), {"description": "Bob was here"}, format="json")

    response = alice.patch(
        detail_url(work_order), {"title": "Alice's"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 412
    assert response.json()["code"] == "precondition_failed"
    work_order.refresh_from_db()
    assert work_order.title != "Alice's"
    assert [e.type for e in Event.objects.for_object(work_order)] == ["fields_changed"]


def test_a_transition_makes_an_earlier_etag_stale(client_for, cast, work_order):
    client = client_for(cast["supervisor"])
    etag = client.get(detail_url(work_order))["ETag"]
    client.post(f"{detail_url(work_order)}transitions/", {"name": "start"}, format="json")

    response = client.patch(
        detail_url(work_order), {"title": "Late"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 412


def test_a_patch_with_the_current_if_match_succeeds_and_returns_the_new_etag(
    client_for, cast, work_order
):
    client = client_for(cast["supervisor"])
    etag = client.get(detail_url(work_order))["ETag"]

    response = client.patch(
        detail_url(work_order), {"title": "Mine"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    assert response["ETag"] == client.get(detail_url(work_order))["ETag"] != etag


# Idempotency-Key


def test_a_retried_create_with_the_same_key_creates_nothing_new(client_for, cast):
    client = client_for(cast["team_agent"])
    payload = {"title": "Fix the tap", "team": cast["team"].pk}

    first = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="wo-1")
    retry = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="wo-1")

    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert WorkOrder.objects.count() == 1
    assert Event.objects.count() == 1


def test_a_retried_linked_create_links_once(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open")
    client = client_for(cast["team_agent"])
    payload = {"title": "Fix the tap", "ticket": ticket.pk}

    for _ in range(2):
        client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="wo-1")

    assert WorkOrder.objects.count() == 1
    assert Event.objects.for_object(ticket).filter(type="work_order_linked").count() == 1


def test_a_key_reused_for_another_work_order_is_400(client_for, cast):
    client = client_for(cast["team_agent"])
    client.post(
        URL, {"title": "A", "team": cast["team"].pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    response = client.post(
        URL, {"title": "B", "team": cast["team"].pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert WorkOrder.objects.count() == 1


def test_a_refused_create_does_not_burn_the_key(client_for, cast):
    client = client_for(cast["team_agent"])
    forbidden = {"title": "A", "team": cast["other_team"].pk}

    first = client.post(URL, forbidden, format="json", HTTP_IDEMPOTENCY_KEY="k")
    allowed = client.post(
        URL, {"title": "A", "team": cast["team"].pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert first.status_code == 403
    assert allowed.status_code == 201
    assert WorkOrder.objects.count() == 1


def test_a_work_order_sent_back_as_read_keeps_a_ticket_the_agent_may_not_see(
    client_for, cast, saved_as_read
):
    """Its `ticket`, shown to the agent, was refused when sent back unchanged: "object does not
    exist" (the field took only tickets the agent may see)."""
    hidden = TicketFactory(team=cast["other_team"], requester=cast["requester"])
    work_order = WorkOrderFactory(team=cast["team"], ticket=hidden)
    agent = client_for(cast["team_agent"])
    editable = ["ticket", "team", "title", "description", "priority", "location", "due_at"]

    response = saved_as_read(
        agent, f"/api/v1/work-orders/{work_order.pk}/", editable, title="New title"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["ticket"], response.json()["title"]) == (hidden.pk, "New title")
    # A ticket the agent may not see is still refused as a new one.
    other = WorkOrderFactory(team=cast["team"])
    response = agent.patch(f"/api/v1/work-orders/{other.pk}/", {"ticket": hidden.pk})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["ticket"]


@pytest.mark.parametrize(
    ("case", "status", "answer"),
    [
        ("an agent of another team", 403, "Agents work with work orders of their own teams"),
        ("a schedule ending before it starts", 400, "scheduled_end"),
        ("the ticket deleted meanwhile", 400, "ticket"),
    ],
)
def test_a_work_order_for_a_closed_ticket_is_refused_for_its_role_and_inputs_first(
    client_for, cast, monkeypatch, case, status, answer
):
    """Locking the ticket first, the create answered 409 (the closed ticket) before the 403
    and 400 it answered before; a ticket deleted meanwhile was a 404 on the list's POST."""
    from tickets.models import Ticket
    from workorders import serializers

    user = cast["outsider_agent"] if case.startswith("an agent") else cast["supervisor"]
    ticket = TicketFactory(team=cast["team"], status="closed", requester=user)
    body = {"title": "Fix", "ticket": ticket.pk}
    if case.startswith("a schedule"):
        body |= {"scheduled_start": "2026-01-02T10:00:00Z", "scheduled_end": "2026-01-01T10:00Z"}
    if case.startswith("the ticket"):
        create = serializers.work_order_create

        def deleted_first(**kwargs):
            Ticket.objects.filter(pk=ticket.pk).delete()
            return create(**kwargs)

        monkeypatch.setattr(serializers, "work_order_create", deleted_first)

    response = client_for(user).post("/api/v1/work-orders/", body, format="json")

    assert response.status_code == status
    assert answer in (response.json()["detail"] if status == 403 else response.json()["fields"])
    assert not WorkOrder.objects.exists()


@pytest.mark.parametrize("who", ["agent", "supervisor"])
def test_a_team_deleted_meanwhile_is_400_before_a_closed_tickets_409(
    cast, client_for, monkeypatch, who
):
    """A supervisor got the closed ticket's 409 where an agent got the 400 on `team`."""
    from accounts.models import Team
    from accounts.tests.factories import AgentFactory, SupervisorFactory, TeamFactory
    from workorders import serializers

    night = TeamFactory(name="Night shift")
    user = (AgentFactory if who == "agent" else SupervisorFactory)(teams=[cast["team"], night])
    ticket = TicketFactory(team=cast["team"], status="closed")
    create = serializers.work_order_create

    def team_deleted_first(**kwargs):
        Team.objects.filter(pk=night.pk).delete()
        return create(**kwargs)

    monkeypatch.setattr(serializers, "work_order_create", team_deleted_first)
    body = {"title": "Fix", "ticket": ticket.pk, "team": night.pk}

    response = client_for(user).post("/api/v1/work-orders/", body, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"team": ["This team has been deleted."]}


@pytest.mark.parametrize("who", ["agent", "supervisor"])
def test_a_link_and_a_move_to_a_team_deleted_meanwhile_is_400_before_a_closed_tickets_409(
    cast, client_for, monkeypatch, who
):
    """Linking a work order to a closed ticket while moving it to a team deleted meanwhile: a
    supervisor got the ticket's 409 where an agent got the 400 on `team`."""
    from accounts.models import Team
    from accounts.tests.factories import AgentFactory, SupervisorFactory, TeamFactory
    from workorders import serializers

    night = TeamFactory(name="Night shift")
    user = (AgentFactory if who == "agent" else SupervisorFactory)(teams=[cast["team"], night])
    ticket = TicketFactory(team=cast["team"], status="closed")
    work_order = WorkOrderFactory(team=cast["team"])
    update = serializers.work_order_update

    def team_deleted_first(**kwargs):
        Team.objects.filter(pk=night.pk).delete()
        return update(**kwargs)

    monkeypatch.setattr(serializers, "work_order_update", team_deleted_first)
    body = {"ticket": ticket.pk, "team": night.pk}

    response = client_for(user).patch(f"/api/v1/work-orders/{work_order.pk}/", body, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"team": ["This team has been deleted."]}
