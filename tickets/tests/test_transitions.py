"""The ticket lifecycle table of the design, fired through the API by every kind of user."""

import pytest

from dispatchdesk.models import Event
from tickets.choices import TicketStatus as S
from tickets.models import Ticket

from .factories import TicketFactory

pytestmark = pytest.mark.django_db

SUPERVISORS = {"supervisor", "admin"}
ASSIGNEE = {"assignee"} | SUPERVISORS
ACTORS = ["requester", "assignee", "team_agent", "outsider_agent", "supervisor", "admin"]
INPUTS = {"note": "because", "resolution": "fixed it"}

# (transition, source, target, who may fire it, inputs it needs) — the design's table.
TABLE = [
    ("triage", S.NEW, S.OPEN, {"assignee", "team_agent"} | SUPERVISORS, []),
    ("start", S.OPEN, S.IN_PROGRESS, ASSIGNEE, []),
    ("hold", S.OPEN, S.ON_HOLD, ASSIGNEE, ["note"]),
    ("hold", S.IN_PROGRESS, S.ON_HOLD, ASSIGNEE, ["note"]),
    ("resume", S.ON_HOLD, S.IN_PROGRESS, ASSIGNEE, []),
    ("resolve", S.OPEN, S.RESOLVED, ASSIGNEE, ["resolution"]),
    ("resolve", S.IN_PROGRESS, S.RESOLVED, ASSIGNEE, ["resolution"]),
    ("resolve", S.ON_HOLD, S.RESOLVED, ASSIGNEE, ["resolution"]),
    ("close", S.RESOLVED, S.CLOSED, {"requester"} | SUPERVISORS, []),
    ("reopen", S.RESOLVED, S.OPEN, {"requester", "assignee"} | SUPERVISORS, ["note"]),
    ("reopen", S.CLOSED, S.OPEN, SUPERVISORS, ["note"]),
    ("cancel", S.NEW, S.CANCELLED, {"requester"} | SUPERVISORS, ["note"]),
    ("cancel", S.OPEN, S.CANCELLED, SUPERVISORS, ["note"]),
    ("cancel", S.ON_HOLD, S.CANCELLED, SUPERVISORS, ["note"]),
]
TRANSITION_NAMES = sorted({row[0] for row in TABLE})


def ticket_in(cast, status, **fields):
    fields.setdefault("assignee", cast["assignee"])
    return TicketFactory(team=cast["team"], requester=cast["requester"], status=status, **fields)


def fire(client, ticket, name, **inputs):
    url = f"/api/v1/tickets/{ticket.pk}/transitions/"
    return client.post(url, {"name": name, **inputs}, format="json")


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(
    ("name", "source", "target", "allowed", "needs"),
    TABLE,
    ids=[f"{row[0]}-from-{row[1]}" for row in TABLE],
)
def test_who_may_fire_each_transition(
    client_for, cast, actor, name, source, target, allowed, needs
):
    ticket = ticket_in(cast, source)

    response = fire(client_for(cast[actor]), ticket, name, **{k: INPUTS[k] for k in needs})

    ticket.refresh_from_db()
    if actor == "outsider_agent":
        assert response.status_code == 404
        assert ticket.status == source
    elif actor in allowed:
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == target
        assert ticket.status == target
        event = Event.objects.for_object(ticket).get(type="status_changed")
        assert event.actor == cast[actor]
        # Besides, `changes`: what the transition overwrote (test_..._keeps_what_it_overwrote).
        assert {k: v for k, v in event.data.items() if k != "changes"} == {
            "transition": name,
            "from": source,
            "to": target,
            "note": "",
            **{field: INPUTS[field] for field in needs},
        }
    else:
        assert response.status_code == 403
        assert "may" in response.json()["detail"]
        assert ticket.status == source
        assert not Event.objects.for_object(ticket).exists()


NOT_FROM_HERE = [
    (name, status)
    for name in TRANSITION_NAMES
    for status in S
    if not any(row[0] == name and row[1] == status for row in TABLE)
]


@pytest.mark.parametrize(("name", "status"), NOT_FROM_HERE)
def test_transitions_from_any_other_state_are_409(client_for, cast, name, status):
    ticket = ticket_in(cast, status)

    response = fire(client_for(cast["supervisor"]), ticket, name, **INPUTS)

    assert response.status_code == 409
    assert status in response.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.status == status


@pytest.mark.parametrize(("name", "source", "needs"), [(r[0], r[1], r[4]) for r in TABLE if r[4]])
@pytest.mark.parametrize("value", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_missing_inputs_are_400(client_for, cast, name, source, needs, value):
    ticket = ticket_in(cast, source)
    inputs = {} if value is None else {field: value for field in needs}

    response = fire(client_for(cast["supervisor"]), ticket, name, **inputs)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == set(needs)
    ticket.refresh_from_db()
    assert ticket.status == source


@pytest.mark.parametrize(("name", "source"), [("start", S.OPEN), ("resume", S.ON_HOLD)])
def test_start_and_resume_need_an_assignee(client_for, cast, name, source):
    ticket = ticket_in(cast, source, assignee=None)

    response = fire(client_for(cast["supervisor"]), ticket, name)

    assert response.status_code == 409
    assert "no assignee" in response.json()["detail"]
    ticket.refresh_from_db()
    assert ticket.status == source


def test_unknown_transition_is_400(client_for, cast):
    ticket = ticket_in(cast, S.NEW)

    response = fire(client_for(cast["supervisor"]), ticket, "explode")

    assert response.status_code == 400
    assert "triage" in response.json()["fields"]["name"][0]


def test_inputs_a_transition_does_not_take_are_400(client_for, cast):
    ticket = ticket_in(cast, S.NEW)

    response = fire(client_for(cast["supervisor"]), ticket, "triage", resolution="done")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["resolution"]


def test_resolve_sets_resolution_and_time_and_reopen_clears_them(client_for, cast):
    ticket = ticket_in(cast, S.IN_PROGRESS)
    client = client_for(cast["assignee"])

    resolved = fire(client, ticket, "resolve", resolution="Replaced the toner").json()
    assert resolved["resolution"] == "Replaced the toner"
    assert resolved["resolved_at"] is not None

    closed = fire(client_for(cast["requester"]), ticket, "close").json()
    assert closed["closed_at"] is not None

    reopened = fire(client_for(cast["supervisor"]), ticket, "reopen", note="Again").json()
    assert reopened["status"] == "open"
    assert (reopened["resolution"], reopened["resolved_at"], reopened["closed_at"]) == (
        "",
        None,
        None,
    )


def test_a_transitions_event_keeps_what_it_overwrote(client_for, cast):
    """A reopen clears the resolution and its times: the event says what they were."""
    ticket = ticket_in(cast, S.IN_PROGRESS)
    resolved = fire(client_for(cast["assignee"]), ticket, "resolve", resolution="New toner").json()

    fire(client_for(cast["supervisor"]), ticket, "reopen", note="Still streaky")

    reopen = Event.objects.for_object(ticket).filter(data__transition="reopen").get()
    changes = reopen.data["changes"]
    assert set(changes) == {"resolution", "resolved_at"}
    assert changes["resolution"] == ["New toner", ""]
    assert changes["resolved_at"][1] is None
    assert changes["resolved_at"][0].startswith(resolved["resolved_at"][:19])
    resolve = Event.objects.for_object(ticket).filter(data__transition="resolve").get()
    assert resolve.data["changes"]["resolution"] == ["", "New toner"]


def expected_options(cast, status, actor):
    return sorted(
        name for name, source, _, allowed, _ in TABLE if source == status and actor in allowed
    )


@pytest.mark.parametrize("actor", [a for a in ACTORS if a != "outsider_agent"])
@pytest.mark.parametrize("status", list(S))
def test_get_transitions_lists_exactly_what_the_user_may_fire(client_for, cast, actor, status):
    ticket = ticket_in(cast, status)

    response = client_for(cast[actor]).get(f"/api/v1/tickets/{ticket.pk}/transitions/")

    assert response.status_code == 200
    assert sorted(option["name"] for option in response.json()) == expected_options(
        cast, status, actor
    )
    for option in response.json():
        row = next(r for r in TABLE if r[0] == option["name"] and r[1] == status)
        assert option == {"name": row[0], "target": row[2], "needs": row[4]}


def test_get_transitions_leaves_out_those_whose_guards_fail(client_for, cast):
    ticket = ticket_in(cast, S.OPEN, assignee=None)

    response = client_for(cast["supervisor"]).get(f"/api/v1/tickets/{ticket.pk}/transitions/")

    assert "start" not in {option["name"] for option in response.json()}
    assert "resolve" in {option["name"] for option in response.json()}


def test_the_status_field_cannot_be_written(cast):
    ticket = Ticket.objects.get(pk=ticket_in(cast, S.NEW).pk)

    with pytest.raises(AttributeError):
        ticket.status = S.CLOSED
