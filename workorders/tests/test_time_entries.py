"""Time entries: the assignee or a supervisor logs time; `actual_minutes` is their sum."""

import pytest
from django.utils import timezone

from dispatchdesk.models import Event
from workorders.models import TimeEntry

from .factories import TimeEntryFactory, WorkOrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/work-orders/"


def entries_url(work_order):
    return f"{URL}{work_order.pk}/time-entries/"


def entry_url(entry):
    return f"{URL}{entry.work_order_id}/time-entries/{entry.pk}/"


def log(client, work_order, **payload):
    return client.post(entries_url(work_order), payload, format="json")


# Logging


@pytest.mark.parametrize("actor", ["assignee", "supervisor", "admin"])
def test_the_assignee_or_a_supervisor_logs_time(client_for, cast, work_order, actor):
    response = log(client_for(cast[actor]), work_order, minutes=30, note="Replaced the filter")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "user", "minutes", "note", "date", "created_at"}
    assert (body["user"], body["minutes"], body["note"]) == (
        cast[actor].pk,
        30,
        "Replaced the filter",
    )
    assert body["date"] == timezone.localdate().isoformat()
    entry = TimeEntry.objects.get()
    assert (entry.work_order, entry.user, entry.minutes) == (work_order, cast[actor], 30)
    event = Event.objects.for_object(work_order).get()
    assert (event.type, event.actor) == ("time_logged", cast[actor])
    assert event.data == {"entry": entry.pk, "minutes": 30}


def test_a_date_can_be_given(client_for, cast, work_order):
    response = log(client_for(cast["assignee"]), work_order, minutes=15, date="2025-03-01")

    assert response.status_code == 201
    assert TimeEntry.objects.get().date.isoformat() == "2025-03-01"


def test_the_author_is_always_the_caller(client_for, cast, work_order):
    response = log(client_for(cast["assignee"]), work_order, minutes=5, user=cast["admin"].pk)

    assert response.status_code == 201
    assert TimeEntry.objects.get().user == cast["assignee"]


@pytest.mark.parametrize("minutes", [0, -5, "abc", "", None, 1.5, 10**12, 10**30, 7 * 24 * 60 + 1])
def test_bad_minutes_are_400(client_for, cast, work_order, minutes):
    response = log(client_for(cast["assignee"]), work_order, minutes=minutes)

    assert response.status_code == 400, response.content[:200]
    assert set(response.json()["fields"]) == {"minutes"}
    assert not TimeEntry.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "minutes"),
        ({"minutes": 5, "date": "yesterday"}, "date"),
        ({"minutes": 5, "note": "x" * 501}, "note"),
    ],
)
def test_other_bad_input_is_400(client_for, cast, work_order, payload, field):
    response = log(client_for(cast["assignee"]), work_order, **payload)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_week_in_one_entry_is_the_most(client_for, cast, work_order):
    response = log(client_for(cast["assignee"]), work_order, minutes=7 * 24 * 60)

    assert response.status_code == 201


def test_an_agent_who_is_not_the_assignee_cannot_log_time(client_for, cast, work_order):
    response = log(client_for(cast["team_agent"]), work_order, minutes=30)

    assert response.status_code == 403
    assert not TimeEntry.objects.exists()
    assert not Event.objects.exists()


def test_nobody_but_a_supervisor_logs_time_on_unassigned_work(client_for, cast):
    work_order = WorkOrderFactory(team=cast["team"])

    agent = log(client_for(cast["team_agent"]), work_order, minutes=30)
    supervisor = log(client_for(cast["supervisor"]), work_order, minutes=30)

    assert (agent.status_code, supervisor.status_code) == (403, 201)


def test_entries_are_listed_oldest_first(client_for, cast, work_order):
    late = TimeEntryFactory(work_order=work_order, date="2025-05-02")
    early = TimeEntryFactory(work_order=work_order, date="2025-05-01")
    same_day = TimeEntryFactory(work_order=work_order, date="2025-05-02")

    response = client_for(cast["team_agent"]).get(entries_url(work_order))

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [early.pk, late.pk, same_day.pk]


# actual_minutes


def test_actual_minutes_is_the_sum_on_detail_and_list(client_for, cast, work_order):
    other = WorkOrderFactory(team=cast["team"])
    client = client_for(cast["assignee"])
    log(client, work_order, minutes=30)
    log(client, work_order, minutes=45)

    detail = client.get(f"{URL}{work_order.pk}/").json()
    rows = {row["id"]: row for row in client.get(URL).json()["results"]}

    assert detail["actual_minutes"] == 75
    assert rows[work_order.pk]["actual_minutes"] == 75
    assert rows[other.pk]["actual_minutes"] == 0


def test_actual_minutes_follows_a_changed_entry(client_for, cast, work_order):
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30)
    TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=45)
    client = client_for(cast["assignee"])

    client.patch(entry_url(entry), {"minutes": 10}, format="json")

    assert client.get(f"{URL}{work_order.pk}/").json()["actual_minutes"] == 55


def test_logged_time_makes_an_earlier_etag_stale(client_for, cast, work_order):
    """`actual_minutes` is part of what the work order shows: its ETag moves with it."""
    supervisor, assignee = client_for(cast["supervisor"]), client_for(cast["assignee"])
    read = supervisor.get(f"{URL}{work_order.pk}/")
    log(assignee, work_order, minutes=30)

    response = supervisor.patch(
        f"{URL}{work_order.pk}/", {"title": "Late"}, format="json", HTTP_IF_MATCH=read["ETag"]
    )

    assert response.status_code == 412
    now = supervisor.get(f"{URL}{work_order.pk}/")
    assert now["ETag"] != read["ETag"]
    assert now.json()["updated_at"] > read.json()["updated_at"]
    assert now.json()["updated_by"] == cast["assignee"].pk


def test_changed_minutes_make_an_earlier_etag_stale_and_a_changed_note_does_not(
    client_for, cast, work_order
):
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30)
    client = client_for(cast["assignee"])
    etag = client.get(f"{URL}{work_order.pk}/")["ETag"]

    client.patch(entry_url(entry), {"note": "Filter and seal"}, format="json")
    assert client.get(f"{URL}{work_order.pk}/")["ETag"] == etag
    client.patch(entry_url(entry), {"minutes": 10}, format="json")
    assert client.get(f"{URL}{work_order.pk}/")["ETag"] != etag


def test_actual_minutes_is_read_only(client_for, cast, work_order):
    TimeEntryFactory(work_order=work_order, minutes=30)

    response = client_for(cast["supervisor"]).patch(
        f"{URL}{work_order.pk}/", {"actual_minutes": 999}, format="json"
    )

    assert response.status_code in (200, 400)
    assert (
        client_for(cast["supervisor"]).get(f"{URL}{work_order.pk}/").json()["actual_minutes"] == 30
    )


def test_a_transition_answers_actual_minutes(client_for, cast, work_order):
    TimeEntryFactory(work_order=work_order, minutes=25)

    response = client_for(cast["assignee"]).post(
        f"{URL}{work_order.pk}/transitions/", {"name": "start"}, format="json"
    )

    assert response.json()["actual_minutes"] == 25


# Changing an entry


def test_the_author_changes_their_entry(client_for, cast, work_order):
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30, note="")

    response = client_for(cast["assignee"]).patch(
        entry_url(entry), {"minutes": 40, "note": "Longer"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["minutes"], response.json()["note"]) == (40, "Longer")
    entry.refresh_from_db()
    assert (entry.minutes, entry.note) == (40, "Longer")
    event = Event.objects.for_object(work_order).get()
    assert (event.type, event.actor) == ("time_logged", cast["assignee"])
    assert event.data == {
        "entry": entry.pk,
        "minutes": 40,
        "previous_minutes": 30,
        "changes": {"minutes": [30, 40], "note": ["", "Longer"]},
    }


def test_history_keeps_a_changed_date_or_note_of_an_entry(client_for, cast, work_order):
    entry = TimeEntryFactory(
        work_order=work_order, user=cast["assignee"], minutes=30, note="", date="2026-03-02"
    )

    response = client_for(cast["assignee"]).patch(
        entry_url(entry), {"date": "2026-03-01", "note": "Was Sunday"}, format="json"
    )

    assert response.status_code == 200
    history = client_for(cast["supervisor"]).get(f"/api/v1/work-orders/{work_order.pk}/history/")
    (event,) = history.json()["results"]
    assert event["data"]["changes"] == {
        "date": ["2026-03-02", "2026-03-01"],
        "note": ["", "Was Sunday"],
    }


@pytest.mark.parametrize("actor", ["supervisor", "admin"])
def test_a_supervisor_changes_anyones_entry(client_for, cast, work_order, actor):
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30)

    response = client_for(cast[actor]).patch(entry_url(entry), {"minutes": 20}, format="json")

    assert response.status_code == 200
    entry.refresh_from_db()
    assert (entry.minutes, entry.user) == (20, cast["assignee"])


def test_another_agent_cannot_change_an_entry(client_for, cast, work_order):
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30)

    response = client_for(cast["team_agent"]).patch(
        entry_url(entry), {"minutes": 300}, format="json"
    )

    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.minutes == 30
    assert not Event.objects.for_object(work_order).exists()


def test_an_author_no_longer_assigned_cannot_change_their_entry(client_for, cast, work_order):
    """Logging time is for the assignee: the author taken off the work order changed their
    entry to a week all the same."""
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30)
    reassigned = client_for(cast["supervisor"]).post(
        f"{URL}{work_order.pk}/assign/", {"assignee": cast["team_agent"].pk}, format="json"
    )
    assert reassigned.status_code == 200

    response = client_for(cast["assignee"]).patch(entry_url(entry), {"minutes": 10080})

    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.minutes == 30


@pytest.mark.parametrize("minutes", [0, -5, "abc", 10**12])
def test_an_entry_cannot_be_changed_to_bad_minutes(client_for, cast, work_order, minutes):
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30)

    response = client_for(cast["assignee"]).patch(
        entry_url(entry), {"minutes": minutes}, format="json"
    )

    assert response.status_code == 400
    assert "minutes" in response.json()["fields"]
    entry.refresh_from_db()
    assert entry.minutes == 30


def test_an_entrys_author_cannot_be_changed(client_for, cast, work_order):
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"])

    client_for(cast["supervisor"]).patch(entry_url(entry), {"user": cast["admin"].pk})

    entry.refresh_from_db()
    assert entry.user == cast["assignee"]


def test_an_unknown_entry_is_404(client_for, cast, work_order):
    response = client_for(cast["supervisor"]).patch(
        f"{entries_url(work_order)}999999/", {"minutes": 5}, format="json"
    )

    assert response.status_code == 404


def test_time_entries_are_never_deleted(client_for, cast, work_order):
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"])

    response = client_for(cast["admin"]).delete(entry_url(entry))

    assert response.status_code == 405
    assert TimeEntry.objects.filter(pk=entry.pk).exists()


# Finished work orders


@pytest.mark.parametrize("status", ["verified", "cancelled"])
def test_time_cannot_be_logged_or_changed_on_a_finished_work_order(client_for, cast, status):
    work_order = WorkOrderFactory(team=cast["team"], status=status, assignee=cast["assignee"])
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30)

    for actor in ("assignee", "supervisor"):
        client = client_for(cast[actor])
        logged = log(client, work_order, minutes=10)
        changed = client.patch(entry_url(entry), {"minutes": 10}, format="json")
        assert (logged.status_code, changed.status_code) == (409, 409), actor

    entry.refresh_from_db()
    assert entry.minutes == 30
    assert TimeEntry.objects.count() == 1
    assert not Event.objects.for_object(work_order).exists()


def test_a_finished_work_orders_time_can_still_be_read(client_for, cast):
    work_order = WorkOrderFactory(team=cast["team"], status="verified")
    TimeEntryFactory.create_batch(2, work_order=work_order, minutes=30)
    client = client_for(cast["team_agent"])

    assert len(client.get(entries_url(work_order)).json()["results"]) == 2
    assert client.get(f"{URL}{work_order.pk}/").json()["actual_minutes"] == 60


@pytest.mark.parametrize("status", ["in_progress", "on_hold", "completed"])
def test_time_can_be_logged_while_the_work_is_not_finished(client_for, cast, status):
    work_order = WorkOrderFactory(team=cast["team"], status=status, assignee=cast["assignee"])

    assert log(client_for(cast["assignee"]), work_order, minutes=10).status_code == 201


def test_an_edit_that_changes_nothing_is_not_recorded(client_for, cast):
    work_order = WorkOrderFactory(
        team=cast["team"], status="in_progress", assignee=cast["assignee"]
    )
    entry = TimeEntryFactory(work_order=work_order, user=cast["assignee"], minutes=30)

    response = client_for(cast["assignee"]).patch(
        f"/api/v1/work-orders/{work_order.pk}/time-entries/{entry.pk}/", {"minutes": 30}
    )

    assert response.status_code == 200
    assert not Event.objects.for_object(work_order).exists()
