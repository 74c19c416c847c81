"""Checklists: adding, ticking, rewording and moving items; `complete` needs every item done."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatchdesk.models import Event
from workorders.models import ChecklistItem

from .factories import ChecklistItemFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db


def checklist_url(work_order):
    return f"/api/v1/work-orders/{work_order.pk}/checklist/"


def item_url(item):
    return f"/api/v1/work-orders/{item.work_order_id}/checklist/{item.pk}/"


def texts(client, work_order) -> list[str]:
    response = client.get(checklist_url(work_order))
    assert response.status_code == 200
    return [row["text"] for row in response.json()["results"]]


def complete(client, work_order, notes="All done"):
    body = (
        {"name": "complete"} if notes is None else {"name": "complete", "completion_notes": notes}
    )
    return client.post(f"/api/v1/work-orders/{work_order.pk}/transitions/", body, format="json")


@pytest.fixture
def started(cast):
    """A work order in progress, assigned to the cast's assignee."""
    return WorkOrderFactory(team=cast["team"], status="in_progress", assignee=cast["assignee"])


# Adding and listing


def test_items_are_added_at_the_end_and_listed_in_order(client_for, cast, work_order):
    client = client_for(cast["team_agent"])

    answers = [client.post(checklist_url(work_order), {"text": t}) for t in ("A", "B", "C")]

    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.json()["position"] for a in answers] == [0, 1, 2]
    first = answers[0].json()
    assert set(first) == {"id", "text", "position", "done", "done_by", "done_at"}
    assert (first["done"], first["done_by"], first["done_at"]) == (False, None, None)
    assert texts(client, work_order) == ["A", "B", "C"]
    events = list(Event.objects.for_object(work_order))
    assert [(e.type, e.data) for e in events] == [
        ("fields_changed", {"checklist": [None, text], "item": answer.json()["id"], "position": n})
        for n, (text, answer) in enumerate(zip(("A", "B", "C"), answers, strict=True))
    ]


def test_an_item_added_at_position_0_comes_first(client_for, cast, work_order):
    client = client_for(cast["team_agent"])
    for text in ("A", "B", "C"):
        client.post(checklist_url(work_order), {"text": text})

    response = client.post(checklist_url(work_order), {"text": "First", "position": 0})

    assert response.status_code == 201
    assert response.json()["position"] == 0
    assert texts(client, work_order) == ["First", "A", "B", "C"]
    added = Event.objects.for_object(work_order).last().data
    assert added == {"checklist": [None, "First"], "item": response.json()["id"], "position": 0}


def test_an_item_added_ticked_is_ticked_by_whoever_added_it(client_for, cast, work_order):
    response = client_for(cast["assignee"]).post(
        checklist_url(work_order), {"text": "A", "done": True}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["done"], response.json()["done_by"]) == (True, cast["assignee"].pk)
    events = Event.objects.for_object(work_order)
    assert [event.type for event in events] == ["fields_changed", "checklist_ticked"]


def test_who_may_not_tick_cannot_add_an_item_ticked(client_for, cast, work_order):
    response = client_for(cast["team_agent"]).post(
        checklist_url(work_order), {"text": "A", "done": True}, format="json"
    )

    assert response.status_code == 403
    assert not ChecklistItem.objects.exists()
    assert not Event.objects.for_object(work_order).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"text": "x", "position": -1}, "position"),
        ({"text": "x", "position": "first"}, "position"),
        ({"text": "x", "position": 10**12}, "position"),
    ],
)
def test_bad_items_are_400(client_for, cast, work_order, payload, field):
    response = client_for(cast["supervisor"]).post(
        checklist_url(work_order), payload, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not ChecklistItem.objects.exists()


# Ticking


@pytest.mark.parametrize("actor", ["assignee", "supervisor", "admin"])
def test_the_assignee_or_a_supervisor_ticks_and_unticks(client_for, cast, work_order, actor):
    item = ChecklistItemFactory(work_order=work_order, text="Drain the tank")
    client = client_for(cast[actor])

    ticked = client.patch(item_url(item), {"done": True}, format="json")

    assert ticked.status_code == 200, ticked.json()
    body = ticked.json()
    assert (body["done"], body["done_by"]) == (True, cast[actor].pk)
    assert body["done_at"] is not None
    item.refresh_from_db()
    assert (item.done, item.done_by) == (True, cast[actor])

    unticked = client.patch(item_url(item), {"done": False}, format="json")

    assert unticked.status_code == 200
    assert (unticked.json()["done"], unticked.json()["done_by"], unticked.json()["done_at"]) == (
        False,
        None,
        None,
    )
    events = list(Event.objects.for_object(work_order))
    assert [(e.type, e.actor, e.data) for e in events] == [
        ("checklist_ticked", cast[actor], {"item": item.pk, "text": "Drain the tank", "done": d})
        for d in (True, False)
    ]


def test_ticking_what_is_already_ticked_records_nothing(client_for, cast, work_order):
    item = ChecklistItemFactory(work_order=work_order)
    client = client_for(cast["assignee"])
    client.patch(item_url(item), {"done": True}, format="json")

    again = client.patch(item_url(item), {"done": True}, format="json")

    assert again.status_code == 200
    assert Event.objects.for_object(work_order).filter(type="checklist_ticked").count() == 1


def test_an_agent_who_is_not_the_assignee_cannot_tick(client_for, cast, work_order):
    item = ChecklistItemFactory(work_order=work_order)

    response = client_for(cast["team_agent"]).patch(item_url(item), {"done": True}, format="json")

    assert response.status_code == 403
    item.refresh_from_db()
    assert (item.done, item.done_by) == (False, None)
    assert not Event.objects.for_object(work_order).exists()


@pytest.mark.parametrize("done", [True, False])
def test_who_may_not_tick_is_refused_even_when_nothing_would_change(
    client_for, cast, work_order, done
):
    """The same answer as for a tick that would change the item: not theirs to tick."""
    item = ChecklistItemFactory(work_order=work_order, done=done)

    response = client_for(cast["team_agent"]).patch(item_url(item), {"done": done}, format="json")

    assert response.status_code == 403


def test_nobody_but_a_supervisor_ticks_an_unassigned_work_order(client_for, cast):
    work_order = WorkOrderFactory(team=cast["team"])
    item = ChecklistItemFactory(work_order=work_order)

    agent = client_for(cast["team_agent"]).patch(item_url(item), {"done": True}, format="json")
    supervisor = client_for(cast["supervisor"]).patch(item_url(item), {"done": True})

    assert (agent.status_code, supervisor.status_code) == (403, 200)


@pytest.mark.parametrize("value", ["maybe", None, 3])
def test_a_bad_done_is_400(client_for, cast, work_order, value):
    item = ChecklistItemFactory(work_order=work_order)

    response = client_for(cast["assignee"]).patch(item_url(item), {"done": value}, format="json")

    assert response.status_code == 400
    assert "done" in response.json()["fields"]


def test_an_unknown_item_is_404(client_for, cast, work_order):
    response = client_for(cast["supervisor"]).patch(
        f"{checklist_url(work_order)}999999/", {"done": True}, format="json"
    )

    assert response.status_code == 404


# Rewording and moving


def test_rewording_an_item_is_recorded(client_for, cast, work_order):
    item = ChecklistItemFactory(work_order=work_order, text="Old")

    response = client_for(cast["team_agent"]).patch(item_url(item), {"text": "New"})

    assert response.status_code == 200
    assert response.json()["text"] == "New"
    event = Event.objects.for_object(work_order).get()
    assert (event.type, event.data) == (
        "fields_changed",
        {"checklist": ["Old", "New"], "item": item.pk},
    )


def test_an_item_cannot_be_reworded_to_nothing(client_for, cast, work_order):
    item = ChecklistItemFactory(work_order=work_order, text="Old")

    response = client_for(cast["supervisor"]).patch(item_url(item), {"text": ""})

    assert response.status_code == 400
    item.refresh_from_db()
    assert item.text == "Old"


@pytest.mark.parametrize(
    ("moved", "position", "expected"),
    [
        ("C", 0, ["C", "A", "B"]),
        ("A", 2, ["B", "C", "A"]),
        ("A", 1, ["B", "A", "C"]),
        ("B", 99, ["A", "C", "B"]),
    ],
)
def test_moving_an_item_reorders_the_list(client_for, cast, work_order, moved, position, expected):
    items = {t: ChecklistItemFactory(work_order=work_order, text=t) for t in ("A", "B", "C")}
    client = client_for(cast["team_agent"])

    response = client.patch(item_url(items[moved]), {"position": position}, format="json")

    assert response.status_code == 200
    assert response.json()["position"] == expected.index(moved)
    assert texts(client, work_order) == expected
    assert [i.position for i in ChecklistItem.objects.order_by("position")] == [0, 1, 2]
    event = Event.objects.for_object(work_order).get()
    assert event.data["checklist_order"] == [
        [items[t].pk for t in ("A", "B", "C")],
        [items[t].pk for t in expected],
    ]


@pytest.mark.parametrize("how", ["added", "moved"])
def test_putting_an_item_first_is_one_update_however_long_the_list(
    client_for, cast, work_order, how
):
    """Each item that moved down was saved on its own: a query an item."""
    client = client_for(cast["supervisor"])
    ContentType.objects.get_for_model(work_order)  # cached from here on, as in a warm worker
    counts = []
    for length in (3, 30):
        ChecklistItem.objects.filter(work_order=work_order).delete()
        items = ChecklistItemFactory.create_batch(length, work_order=work_order)
        for position, item in enumerate(items):
            ChecklistItem.objects.filter(pk=item.pk).update(position=position)
        with CaptureQueriesContext(connection) as queries:
            if how == "added":
                response = client.post(checklist_url(work_order), {"text": "Do", "position": 0})
            else:
                response = client.patch(item_url(items[-1]), {"position": 0})
        counts.append(len(queries))  # now: the next request clears the connection's log
        assert response.status_code in (200, 201), response.json()
        assert texts(client, work_order)[0] == ("Do" if how == "added" else items[-1].text)

    assert counts[0] == counts[1]


def test_a_move_to_where_it_already_is_records_nothing(client_for, cast, work_order):
    items = [ChecklistItemFactory(work_order=work_order) for _ in range(2)]

    response = client_for(cast["supervisor"]).patch(item_url(items[0]), {"position": 0})

    assert response.status_code == 200
    assert not Event.objects.for_object(work_order).exists()


# complete needs the checklist done


def test_complete_is_409_naming_the_unfinished_items(client_for, cast, started):
    ChecklistItemFactory(work_order=started, text="Drain the tank", done=True)
    ChecklistItemFactory(work_order=started, text="Refill")
    ChecklistItemFactory(work_order=started, text="Test the valve")

    response = complete(client_for(cast["assignee"]), started)

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert '"Refill"' in detail
    assert '"Test the valve"' in detail
    assert "Drain the tank" not in detail
    started.refresh_from_db()
    assert started.status == "in_progress"
    assert started.completion_notes == ""
    assert not Event.objects.for_object(started).exists()


def test_complete_is_not_offered_while_items_are_open(client_for, cast, started):
    item = ChecklistItemFactory(work_order=started)
    client = client_for(cast["assignee"])
    url = f"/api/v1/work-orders/{started.pk}/transitions/"
    assert "complete" not in {t["name"] for t in client.get(url).json()}

    client.patch(item_url(item), {"done": True}, format="json")

    offered = {t["name"]: t for t in client.get(url).json()}
    assert offered["complete"]["needs"] == ["completion_notes"]


def test_complete_succeeds_once_every_item_is_ticked(client_for, cast, started):
    items = ChecklistItemFactory.create_batch(2, work_order=started)
    client = client_for(cast["assignee"])
    assert complete(client, started).status_code == 409

    for item in items:
        assert client.patch(item_url(item), {"done": True}, format="json").status_code == 200
    response = complete(client, started, notes="Replaced the seal")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["completion_notes"]) == ("completed", "Replaced the seal")
    event = Event.objects.for_object(started).filter(type="status_changed").get()
    assert (event.data["from"], event.data["to"]) == ("in_progress", "completed")


def test_a_work_order_without_a_checklist_completes(client_for, cast, started):
    assert complete(client_for(cast["assignee"]), started).status_code == 200


@pytest.mark.parametrize("notes", [None, "", "   "])
def test_complete_without_completion_notes_is_400(client_for, cast, started, notes):
    response = complete(client_for(cast["assignee"]), started, notes=notes)

    assert response.status_code == 400
    assert "completion_notes" in response.json()["fields"]
    started.refresh_from_db()
    assert started.status == "in_progress"


def test_completion_notes_are_refused_on_other_transitions(client_for, cast, started):
    response = client_for(cast["assignee"]).post(
        f"/api/v1/work-orders/{started.pk}/transitions/",
        {"name": "pause", "note": "Waiting for parts", "completion_notes": "x"},
        format="json",
    )

    assert response.status_code == 400
    assert "completion_notes" in response.json()["fields"]


def test_an_agent_who_is_not_the_assignee_cannot_complete(client_for, cast, started):
    response = complete(client_for(cast["team_agent"]), started)

    assert response.status_code == 403


# Finished work orders


@pytest.mark.parametrize("status", ["verified", "cancelled"])
def test_a_finished_work_orders_checklist_cannot_change(client_for, cast, status):
    work_order = WorkOrderFactory(team=cast["team"], status=status, assignee=cast["assignee"])
    item = ChecklistItemFactory(work_order=work_order, text="Old")
    client = client_for(cast["supervisor"])

    answers = [
        client.post(checklist_url(work_order), {"text": "More"}),
        client.patch(item_url(item), {"done": True}, format="json"),
        client.patch(item_url(item), {"text": "New"}),
        client.patch(item_url(item), {"position": 3}),
    ]

    assert [a.status_code for a in answers] == [409] * 4
    item.refresh_from_db()
    assert (item.text, item.done) == ("Old", False)
    assert ChecklistItem.objects.count() == 1
    assert not Event.objects.for_object(work_order).exists()


@pytest.mark.parametrize("status", ["verified", "cancelled"])
def test_a_finished_work_orders_checklist_can_still_be_read(client_for, cast, status):
    work_order = WorkOrderFactory(team=cast["team"], status=status)
    ChecklistItemFactory(work_order=work_order, text="Kept")

    assert texts(client_for(cast["team_agent"]), work_order) == ["Kept"]


def test_a_completed_work_orders_checklist_stays_as_completed(client_for, cast):
    work_order = WorkOrderFactory(team=cast["team"], status="completed", assignee=cast["assignee"])
    item = ChecklistItemFactory(work_order=work_order, done=True)
    client = client_for(cast["supervisor"])

    untick = client.patch(
        f"/api/v1/work-orders/{work_order.pk}/checklist/{item.pk}/", {"done": False}
    )
    add = client.post(f"/api/v1/work-orders/{work_order.pk}/checklist/", {"text": "More"})

    assert (untick.status_code, add.status_code) == (409, 409)
    item.refresh_from_db()
    assert item.done
    assert work_order.checklist.count() == 1
