from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import DEFAULT_TEAM_NAME
from accounts.tests.factories import AgentFactory, RequesterFactory
from dispatchdesk.models import Event
from tickets.choices import TicketStatus
from tickets.models import Ticket

from .factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db

TICKETS_URL = "/api/v1/tickets/"


def detail_url(ticket):
    return f"{TICKETS_URL}{ticket.pk}/"


# Creating


def test_a_requester_files_a_ticket_for_themselves(client_for, cast):
    response = client_for(cast["requester"]).post(
        TICKETS_URL, {"title": "Printer jammed", "description": "Floor 2"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    ticket = Ticket.objects.get(pk=body["id"])
    assert (body["status"], body["priority"], body["assignee"]) == ("new", "normal", None)
    assert ticket.requester == ticket.created_by == cast["requester"]
    assert ticket.team.name == DEFAULT_TEAM_NAME
    assert ticket.due_at == ticket.created_at + timedelta(hours=72)
    event = Event.objects.for_object(ticket).get()
    assert (event.type, event.actor) == ("created", cast["requester"])


@pytest.mark.parametrize(("priority", "hours"), [("urgent", 4), ("high", 24), ("low", 168)])
def test_due_date_defaults_from_priority(client_for, cast, priority, hours):
    response = client_for(cast["requester"]).post(
        TICKETS_URL, {"title": "x", "priority": priority}, format="json"
    )

    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert ticket.due_at - ticket.created_at == timedelta(hours=hours)


def test_due_hours_are_configurable(client_for, cast, settings):
    settings.DUE_HOURS = {**settings.DUE_HOURS, "urgent": 1}

    response = client_for(cast["requester"]).post(
        TICKETS_URL, {"title": "x", "priority": "urgent"}, format="json"
    )

    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert ticket.due_at - ticket.created_at == timedelta(hours=1)


def test_an_agent_files_a_ticket_for_a_requester(client_for, cast):
    due = (timezone.now() + timedelta(days=2)).replace(microsecond=0)

    response = client_for(cast["team_agent"]).post(
        TICKETS_URL,
        {
            "title": "Call from Rita",
            "requester": cast["requester"].pk,
            "team": cast["team"].pk,
            "due_at": due.isoformat(),
        },
        format="json",
    )

    assert response.status_code == 201
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert (ticket.requester, ticket.created_by) == (cast["requester"], cast["team_agent"])
    assert ticket.due_at == due


@pytest.mark.parametrize(
    "extra", [{"requester": "other"}, {"due_at": "2030-01-01T00:00:00Z"}], ids=["requester", "due"]
)
def test_requesters_cannot_file_for_others_or_set_due_dates(client_for, cast, extra):
    if extra.get("requester") == "other":
        extra = {"requester": cast["other_requester"].pk}

    response = client_for(cast["requester"]).post(
        TICKETS_URL, {"title": "x", **extra}, format="json"
    )

    assert response.status_code == 403
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_requester_cannot_tell_which_user_ids_exist(client_for, cast, method):
    """Another requester's id and one nobody has get the same answer."""
    client = client_for(cast["requester"])
    ticket = TicketFactory(requester=cast["requester"], team=cast["team"])
    url = TICKETS_URL if method == "post" else detail_url(ticket)

    answers = [
        getattr(client, method)(url, {"title": "x", "requester": named}, format="json")
        for named in (cast["other_requester"].pk, 999_999, "abc")
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"title"}),
        ({"title": ""}, {"title"}),
        ({"title": "x" * 201}, {"title"}),
        ({"title": "x", "priority": "whenever"}, {"priority"}),
        ({"title": "x", "team": 999999}, {"team"}),
        ({"title": "x", "team": "abc"}, {"team"}),
        ({"title": "x", "due_at": "tomorrow"}, {"due_at"}),
        ({"title": "x", "status": "closed"}, {"status"}),
        ({"title": "x", "assignee": 1}, {"assignee"}),
    ],
)
def test_bad_input_is_400_per_field_and_writes_nothing(client_for, cast, payload, fields):
    response = client_for(cast["supervisor"]).post(TICKETS_URL, payload, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == fields
    assert not Ticket.objects.exists()
    assert not Event.objects.exists()


def test_a_json_list_body_is_400(client_for, cast):
    response = client_for(cast["supervisor"]).post(TICKETS_URL, [1, 2], format="json")

    assert response.status_code == 400


def test_tickets_are_never_deleted(client_for, cast):
    ticket = TicketFactory(team=cast["team"])

    response = client_for(cast["admin"]).delete(detail_url(ticket))

    assert response.status_code == 405
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_put_is_not_offered(client_for, cast):
    ticket = TicketFactory(team=cast["team"])

    response = client_for(cast["admin"]).put(detail_url(ticket), {"title": "x"}, format="json")

    assert response.status_code == 405


# Editing


def test_requester_edits_title_and_description_while_new(client_for, cast):
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], title="Old")

    response = client_for(cast["requester"]).patch(
        detail_url(ticket), {"title": "New", "description": "More"}, format="json"
    )

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.title, ticket.description, ticket.updated_by) == (
        "New",
        "More",
        cast["requester"],
    )


def test_requester_cannot_edit_once_triaged(client_for, cast):
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], status="open")

    response = client_for(cast["requester"]).patch(detail_url(ticket), {"title": "New"})

    assert response.status_code == 409
    assert "only while it is new" in response.json()["detail"]


@pytest.mark.parametrize("field", ["priority", "team", "due_at", "requester"])
def test_requester_may_not_change_other_fields(client_for, cast, field):
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"])
    values = {
        "priority": "urgent",
        "team": cast["other_team"].pk,
        "due_at": "2030-01-01T00:00:00Z",
        "requester": cast["other_requester"].pk,
    }

    response = client_for(cast["requester"]).patch(
        detail_url(ticket), {field: values[field]}, format="json"
    )

    assert response.status_code == 403
    named = "for themselves" if field == "requester" else field
    assert named in response.json()["detail"]


def test_requester_sends_their_new_ticket_back_as_read(client_for, cast, saved_as_read):
    """Their fields the role may not change, sent back unchanged, were a 403 naming them: the
    browsable API's form sends what it read."""
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], title="Old")
    client = client_for(cast["requester"])
    fields = ["title", "description", "priority", "team", "requester", "due_at"]

    response = saved_as_read(client, detail_url(ticket), fields, title="New")

    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "New"
    changed = Event.objects.for_object(ticket).get(type="fields_changed").data
    assert changed == {"title": ["Old", "New"]}
    # One of them changed is still refused, and nothing is written.
    response = saved_as_read(client, detail_url(ticket), fields, title="Newer", priority="urgent")
    assert response.status_code == 403
    assert "priority" in response.json()["detail"]
    ticket.refresh_from_db()
    assert (ticket.title, ticket.priority) == ("New", "normal")


def test_agent_edit_records_exactly_what_changed(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open", title="Same", priority="normal")

    response = client_for(cast["team_agent"]).patch(
        detail_url(ticket), {"title": "Same", "priority": "urgent"}, format="json"
    )

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.due_at == ticket.created_at + timedelta(hours=4)
    event = Event.objects.for_object(ticket).get()
    assert event.type == "fields_changed"
    assert set(event.data) == {"priority", "due_at"}
    assert event.data["priority"] == ["normal", "urgent"]


def test_an_edit_that_changes_nothing_records_nothing(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open", title="Same")

    response = client_for(cast["team_agent"]).patch(detail_url(ticket), {"title": "Same"})

    assert response.status_code == 200
    assert not Event.objects.for_object(ticket).exists()


def test_the_same_priority_sent_again_keeps_a_due_date_set_by_hand(client_for, cast):
    """A client sends back what it read: only a new priority brings its default due date."""
    ticket = TicketFactory(team=cast["team"], status="open", title="Same", priority="normal")
    client = client_for(cast["team_agent"])
    client.patch(detail_url(ticket), {"due_at": "2030-01-01T00:00:00Z"}, format="json")

    response = client.patch(
        detail_url(ticket), {"title": "Same", "priority": "normal"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["due_at"] == "2030-01-01T00:00:00Z"
    # One event: the due date set by hand; the second PATCH changed nothing.
    assert [list(event.data) for event in Event.objects.for_object(ticket)] == [["due_at"]]


def test_a_ticket_moves_only_to_a_team_its_assignee_belongs_to(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])

    response = client_for(cast["supervisor"]).patch(
        detail_url(ticket), {"team": cast["other_team"].pk}, format="json"
    )

    assert response.status_code == 400
    assert "unassign first" in response.json()["fields"]["team"][0]
    ticket.refresh_from_db()
    assert ticket.team == cast["team"]


def test_the_same_team_sent_again_is_no_move(client_for, cast):
    """Checked only on a move: an edit that sends back the team it read goes through even if
    the assignee has left that team since."""
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["outsider_agent"])

    response = client_for(cast["supervisor"]).patch(
        detail_url(ticket), {"team": cast["team"].pk, "title": "Renamed"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Renamed"


@pytest.mark.parametrize("status", [TicketStatus.CLOSED, TicketStatus.CANCELLED])
@pytest.mark.parametrize("actor", ["requester", "team_agent", "supervisor"])
def test_terminal_tickets_are_read_only(client_for, cast, status, actor):
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], status=status)

    response = client_for(cast[actor]).patch(detail_url(ticket), {"title": "Changed"})

    assert response.status_code == 409
    ticket.refresh_from_db()
    assert ticket.title != "Changed"


def test_moving_a_ticket_to_a_team_its_assignee_is_not_in_is_400(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])

    response = client_for(cast["supervisor"]).patch(
        detail_url(ticket), {"team": cast["outsider_agent"].teams.get().pk}, format="json"
    )

    assert response.status_code == 400
    assert "team" in response.json()["fields"]


def test_writing_status_directly_is_400_pointing_to_transitions(client_for, cast):
    ticket = TicketFactory(team=cast["team"])

    response = client_for(cast["supervisor"]).patch(detail_url(ticket), {"status": "closed"})

    assert response.status_code == 400
    assert "transitions/" in response.json()["fields"]["status"][0]
    ticket.refresh_from_db()
    assert ticket.status == "new"


# ETag and If-Match


def test_detail_has_an_etag_that_changes_with_the_ticket(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open")
    client = client_for(cast["supervisor"])

    first = client.get(detail_url(ticket))["ETag"]
    assert first == client.get(detail_url(ticket))["ETag"]
    client.patch(detail_url(ticket), {"title": "Changed"})

    assert client.get(detail_url(ticket))["ETag"] != first


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open", title="Original")
    alice, bob = client_for(cast["supervisor"]), client_for(cast["team_agent"])
    etag = alice.get(detail_url(ticket))["ETag"]
    bob.patch(detail_url(ticket), {"description": "Bob was here"})

    response = alice.patch(detail_url(ticket), {"title": "Alice's"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 412
    ticket.refresh_from_db()
    assert ticket.title == "Original"


def test_patch_with_the_current_if_match_succeeds_and_returns_the_new_etag(client_for, cast):
    ticket = TicketFactory(team=cast["team"], status="open")
    client = client_for(cast["supervisor"])
    etag = client.get(detail_url(ticket))["ETag"]

    response = client.patch(detail_url(ticket), {"title": "Mine"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] == client.get(detail_url(ticket))["ETag"] != etag


# Idempotency-Key


def test_a_retried_create_with_the_same_key_creates_nothing_new(client_for, cast):
    client = client_for(cast["requester"])
    payload = {"title": "Leaking tap"}

    first = client.post(TICKETS_URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")
    retry = client.post(TICKETS_URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="abc-123")

    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()
    assert list(retry.json()) == list(first.json())  # in the same order (jsonb sorted them)
    assert Ticket.objects.count() == 1
    assert Event.objects.count() == 1


def test_the_same_key_from_another_user_is_another_ticket(client_for, cast):
    payload = {"title": "Leaking tap"}

    for user in (cast["requester"], cast["other_requester"]):
        client_for(user).post(TICKETS_URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert Ticket.objects.count() == 2


def test_a_key_reused_for_another_request_is_400(client_for, cast):
    client = client_for(cast["requester"])
    client.post(TICKETS_URL, {"title": "A"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    response = client.post(TICKETS_URL, {"title": "B"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert Ticket.objects.count() == 1


def test_a_failed_create_does_not_burn_the_key(client_for, cast):
    client = client_for(cast["requester"])

    bad = client.post(TICKETS_URL, {"title": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    good = client.post(TICKETS_URL, {"title": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert bad.status_code == good.status_code == 400
    fixed = client.post(TICKETS_URL, {"title": "ok"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert fixed.status_code == 201


@pytest.mark.parametrize("key", ["a\x00b", "tab\there", "\x7f", " ", "x" * 256])
def test_a_key_with_a_control_character_or_of_no_use_is_400(client_for, cast, key):
    """A NUL was a 500 on PostgreSQL, whose text cannot hold it (gunicorn refuses control
    characters in headers; Django's development server passes them on)."""
    client = client_for(cast["requester"])

    response = client.post(TICKETS_URL, {"title": "A"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("team", ["sent back", "not sent"])
def test_a_patch_that_moves_nothing_costs_no_more_for_sending_the_team_back(client_for, cast, team):
    """Sending back the team it read made a PATCH pay for a move: the assignee locked, a
    savepoint."""
    ticket = TicketFactory(team=cast["team"], requester=cast["requester"], status="open")
    client, url = client_for(cast["supervisor"]), detail_url(ticket)
    client.patch(url, {"title": "Warm-up"}, format="json")  # caches (content types) filled
    plain = {"title": "Plain"}
    with CaptureQueriesContext(connection) as queries:
        assert client.patch(url, plain, format="json").status_code == 200
    baseline = len(queries)  # now: the next request clears the connection's log
    body = {"title": "Again"} | ({"team": cast["team"].pk} if team == "sent back" else {})

    with CaptureQueriesContext(connection) as queries:
        assert client.patch(url, body, format="json").status_code == 200

    team_lookup = 1 if team == "sent back" else 0  # the team's id checked by the serializer
    assert len(queries) == baseline + team_lookup


# Query counts


def test_list_and_detail_queries_do_not_grow(client_for, cast, django_assert_max_num_queries):
    requesters = RequesterFactory.create_batch(3)
    agents = AgentFactory.create_batch(3, teams=[cast["team"]])
    for i in range(60):
        ticket = TicketFactory(
            team=cast["team"], requester=requesters[i % 3], assignee=agents[i % 3]
        )
        CommentFactory.create_batch(2, ticket=ticket)
    client = client_for(cast["team_agent"])

    counts = []
    for page_size in (5, 60):
        with django_assert_max_num_queries(10) as captured:
            response = client.get(TICKETS_URL, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]

    with django_assert_max_num_queries(6):
        assert client.get(detail_url(ticket)).status_code == 200


def test_a_ticket_sent_back_as_read_keeps_its_deactivated_requester(
    client_for, cast, saved_as_read
):
    """Its `requester`, deactivated since, was refused when sent back unchanged: "object does
    not exist" (the field took only active users)."""
    gone = cast["other_requester"]
    ticket = TicketFactory(team=cast["team"], requester=gone)
    gone.is_active = False
    gone.save()
    agent = client_for(cast["team_agent"])
    editable = ["title", "description", "priority", "team", "requester", "due_at"]

    response = saved_as_read(agent, f"/api/v1/tickets/{ticket.pk}/", editable, title="New title")

    assert response.status_code == 200, response.json()
    assert (response.json()["requester"], response.json()["title"]) == (gone.pk, "New title")
    # Nobody deactivated becomes the requester of another ticket.
    other = TicketFactory(team=cast["team"])
    response = agent.patch(f"/api/v1/tickets/{other.pk}/", {"requester": gone.pk})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["requester"]


def test_a_deactivated_requester_sent_back_after_a_change_meanwhile_is_400(
    client_for, cast, monkeypatch
):
    """The agent read the ticket (its requester since deactivated); a supervisor then gave it
    an active requester; the agent's PATCH, sending back the old requester as read, made the
    deactivated user the requester again."""
    from tickets import serializers

    gone, active = cast["other_requester"], cast["requester"]
    ticket = TicketFactory(team=cast["team"], requester=gone)
    gone.is_active = False
    gone.save()
    update = serializers.ticket_update

    def changed_first(**kwargs):
        changes = {"requester": active}
        update(ticket=Ticket.objects.get(pk=ticket.pk), by=cast["supervisor"], changes=changes)
        return update(**kwargs)

    monkeypatch.setattr(serializers, "ticket_update", changed_first)

    response = client_for(cast["team_agent"]).patch(
        f"/api/v1/tickets/{ticket.pk}/", {"requester": gone.pk, "title": "New"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "requester": ["This user is deactivated: a ticket's requester must be active."]
    }
    assert Ticket.objects.get(pk=ticket.pk).requester_id == active.pk
