"""The work-order lifecycle table of the design, fired through the API by every kind of user."""

from datetime import UTC, datetime

import pytest

from dispatchdesk.models import Event
from workorders.choices import WorkOrderStatus as S

from .factories import ChecklistItemFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db

SUPERVISORS = {"supervisor", "admin"}
ASSIGNEE = {"assignee"} | SUPERVISORS
ACTORS = ["requester", "assignee", "team_agent", "outsider_agent", "supervisor", "admin"]
INVISIBLE_TO = {"requester", "outsider_agent"}
INPUTS = {
    "note": "because",
    "completion_notes": "Replaced the belt",
    "scheduled_start": "2030-01-07T09:00:00Z",
}

# (transition, source, target, who may fire it, inputs it needs) — the design's table.
TABLE = [
    (
        "schedule",
        S.OPEN,
        S.SCHEDULED,
        {"assignee", "team_agent"} | SUPERVISORS,
        ["scheduled_start"],
    ),
    ("start", S.OPEN, S.IN_PROGRESS, ASSIGNEE, []),
    ("start", S.SCHEDULED, S.IN_PROGRESS, ASSIGNEE, []),
    ("pause", S.IN_PROGRESS, S.ON_HOLD, ASSIGNEE, ["note"]),
    ("resume", S.ON_HOLD, S.IN_PROGRESS, ASSIGNEE, []),
    ("complete", S.IN_PROGRESS, S.COMPLETED, ASSIGNEE, ["completion_notes"]),
    ("verify", S.COMPLETED, S.VERIFIED, SUPERVISORS, []),
    ("rework", S.COMPLETED, S.IN_PROGRESS, SUPERVISORS, ["note"]),
    ("cancel", S.OPEN, S.CANCELLED, SUPERVISORS, ["note"]),
    ("cancel", S.SCHEDULED, S.CANCELLED, SUPERVISORS, ["note"]),
    ("cancel", S.ON_HOLD, S.CANCELLED, SUPERVISORS, ["note"]),
]
TRANSITION_NAMES = sorted({row[0] for row in TABLE})
NOT_FROM_HERE = [
    (name, status)
    for name in TRANSITION_NAMES
    for status in S
    if not any(row[0] == name and row[1] == status for row in TABLE)
]


def work_order_in(cast, status, **fields):
    fields.setdefault("assignee", cast["assignee"])
    return WorkOrderFactory(team=cast["team"], status=status, **fields)


def fire(client, work_order, name, **inputs):
    url = f"/api/v1/work-orders/{work_order.pk}/transitions/"
    return client.post(url, {"name": name, **inputs})


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(
    ("name", "source", "target", "allowed", "needs"),
    TABLE,
    ids=[f"{row[0]}-from-{row[1]}" for row in TABLE],
)
def test_who_may_fire_each_transition(
    client_for, cast, actor, name, source, target, allowed, needs
):
    work_order = work_order_in(cast, source)

    response = fire(client_for(cast[actor]), work_order, name, **{k: INPUTS[k] for k in needs})

    work_order.refresh_from_db()
    if actor in INVISIBLE_TO:
        assert response.status_code == 404
        assert work_order.status == source
    elif actor in allowed:
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == target
        assert work_order.status == target
        event = Event.objects.for_object(work_order).get(type="status_changed")
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
        assert work_order.status == source
        assert not Event.objects.for_object(work_order).exists()


@pytest.mark.parametrize(("name", "status"), NOT_FROM_HERE)
def test_transitions_from_any_other_state_are_409(client_for, cast, name, status):
    work_order = work_order_in(cast, status)

    response = fire(client_for(cast["supervisor"]), work_order, name, **INPUTS)

    assert response.status_code == 409  # the state is checked before the inputs
    assert status in response.json()["detail"]
    work_order.refresh_from_db()
    assert work_order.status == status


@pytest.mark.parametrize(("name", "source", "needs"), [(r[0], r[1], r[4]) for r in TABLE if r[4]])
@pytest.mark.parametrize("value", [None, ""], ids=["missing", "empty"])
def test_missing_inputs_are_400(client_for, cast, name, source, needs, value):
    work_order = work_order_in(cast, source)
    inputs = {} if value is None else {field: value for field in needs}

    response = fire(client_for(cast["supervisor"]), work_order, name, **inputs)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == set(needs)
    work_order.refresh_from_db()
    assert work_order.status == source


@pytest.mark.parametrize(("name", "source"), [("schedule", S.OPEN), ("start", S.OPEN)])
def test_schedule_and_start_need_an_assignee(client_for, cast, name, source):
    work_order = work_order_in(cast, source, assignee=None)
    needs = {"scheduled_start": INPUTS["scheduled_start"]} if name == "schedule" else {}

    response = fire(client_for(cast["supervisor"]), work_order, name, **needs)

    assert response.status_code == 409
    assert "no assignee" in response.json()["detail"]


def test_schedule_sets_the_start(client_for, cast):
    work_order = work_order_in(cast, S.OPEN)

    start = INPUTS["scheduled_start"]
    body = fire(client_for(cast["assignee"]), work_order, "schedule", scheduled_start=start).json()

    assert body["scheduled_start"] == INPUTS["scheduled_start"]


def test_schedule_after_the_planned_end_is_400_and_changes_nothing(client_for, cast):
    end = datetime(2030, 1, 1, 17, tzinfo=UTC)
    work_order = work_order_in(cast, S.OPEN, scheduled_end=end)

    response = fire(
        client_for(cast["assignee"]),
        work_order,
        "schedule",
        scheduled_start=INPUTS["scheduled_start"],
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {
        "scheduled_start": [
            "Must not be after the scheduled end (2030-01-01T17:00:00Z); move or clear "
            "scheduled_end first."
        ]
    }
    work_order.refresh_from_db()
    assert (work_order.status, work_order.scheduled_start, work_order.scheduled_end) == (
        S.OPEN,
        None,
        end,
    )
    assert not Event.objects.for_object(work_order).exists()


def test_complete_needs_every_checklist_item_done(client_for, cast):
    work_order = work_order_in(cast, S.IN_PROGRESS)
    ChecklistItemFactory(work_order=work_order, text="Drain the tank", done=True)
    ChecklistItemFactory(work_order=work_order, text="Check the valve")

    response = fire(client_for(cast["assignee"]), work_order, "complete", completion_notes="ok")

    assert response.status_code == 409
    assert '"Check the valve"' in response.json()["detail"]
    assert "Drain the tank" not in response.json()["detail"]


def expected_options(status, actor):
    return sorted(
        name for name, source, _, allowed, _ in TABLE if source == status and actor in allowed
    )


@pytest.mark.parametrize("actor", [a for a in ACTORS if a not in INVISIBLE_TO])
@pytest.mark.parametrize("status", list(S))
def test_get_transitions_lists_exactly_what_the_user_may_fire(client_for, cast, actor, status):
    work_order = work_order_in(cast, status)

    response = client_for(cast[actor]).get(f"/api/v1/work-orders/{work_order.pk}/transitions/")

    assert response.status_code == 200
    assert sorted(option["name"] for option in response.json()) == expected_options(status, actor)
