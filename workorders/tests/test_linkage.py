"""Work orders that carry out a ticket: linking, the ticket's history, and the resolve guard."""

import pytest

from dispatchdesk.models import Event
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory
from workorders.models import WorkOrder

from .factories import WorkOrderFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/work-orders/"
ACTIVE = ["open", "scheduled", "in_progress", "on_hold"]
FINISHED = ["completed", "verified", "cancelled"]


@pytest.fixture
def ticket(cast):
    return TicketFactory(
        team=cast["team"], requester=cast["requester"], status="open", assignee=cast["assignee"]
    )


def resolve(client, ticket):
    return client.post(
        f"/api/v1/tickets/{ticket.pk}/transitions/",
        {"name": "resolve", "resolution": "Fixed on site"},
        format="json",
    )


# Creating for a ticket


def test_a_work_order_for_a_ticket_takes_the_tickets_team(client_for, cast, ticket):
    response = client_for(cast["team_agent"]).post(
        URL, {"title": "Visit", "ticket": ticket.pk}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["ticket"], response.json()["team"]) == (ticket.pk, cast["team"].pk)
    work_order = WorkOrder.objects.get()
    assert (work_order.ticket, work_order.team) == (ticket, cast["team"])
    assert Event.objects.for_object(work_order).get().data["ticket"] == ticket.pk


def test_a_given_team_wins_over_the_tickets(client_for, cast, ticket):
    response = client_for(cast["supervisor"]).post(
        URL, {"title": "Visit", "ticket": ticket.pk, "team": cast["other_team"].pk}, format="json"
    )

    assert response.status_code == 201
    assert WorkOrder.objects.get().team == cast["other_team"]


def test_an_agent_cannot_send_a_tickets_work_to_another_team(client_for, cast, ticket):
    response = client_for(cast["team_agent"]).post(
        URL, {"title": "Visit", "ticket": ticket.pk, "team": cast["other_team"].pk}, format="json"
    )

    assert response.status_code == 403
    assert not WorkOrder.objects.exists()
    assert not Event.objects.for_object(ticket).exists()


def test_an_agent_cannot_create_for_a_visible_ticket_of_another_team(client_for, cast):
    """The ticket is visible (the agent requested it) but its team is not the agent's."""
    ticket = TicketFactory(team=cast["other_team"], requester=cast["team_agent"], status="open")

    response = client_for(cast["team_agent"]).post(
        URL, {"title": "Visit", "ticket": ticket.pk}, format="json"
    )

    assert response.status_code == 403
    assert not WorkOrder.objects.exists()


def test_linking_is_recorded_in_the_tickets_history_as_internal(client_for, cast, ticket):
    staff = client_for(cast["team_agent"])
    work_order_id = staff.post(URL, {"title": "Visit", "ticket": ticket.pk}).json()["id"]

    event = Event.objects.for_object(ticket).get()
    assert (event.type, event.actor, event.public) == (
        "work_order_linked",
        cast["team_agent"],
        False,
    )
    assert event.data == {"work_order": work_order_id, "title": "Visit"}
    history_url = f"/api/v1/tickets/{ticket.pk}/history/"
    staff_history = staff.get(history_url).json()["results"]
    assert [e["type"] for e in staff_history] == ["work_order_linked"]
    requester_history = client_for(cast["requester"]).get(history_url)
    assert requester_history.status_code == 200
    assert requester_history.json()["results"] == []


def test_linking_by_patch_is_recorded_on_the_ticket(client_for, cast, ticket):
    work_order = WorkOrderFactory(team=cast["team"])

    response = client_for(cast["team_agent"]).patch(
        f"{URL}{work_order.pk}/", {"ticket": ticket.pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["ticket"] == ticket.pk
    event = Event.objects.for_object(ticket).get()
    assert (event.type, event.public) == ("work_order_linked", False)
    assert event.data["work_order"] == work_order.pk


def test_a_link_with_a_new_title_names_the_work_order_as_it_now_is(client_for, cast, ticket):
    work_order = WorkOrderFactory(team=cast["team"], title="Old name")

    response = client_for(cast["team_agent"]).patch(
        f"{URL}{work_order.pk}/", {"ticket": ticket.pk, "title": "Replace pump"}, format="json"
    )

    assert response.status_code == 200
    assert Event.objects.for_object(ticket).get().data["title"] == "Replace pump"


def test_a_work_order_cannot_move_to_another_ticket(client_for, cast, ticket):
    work_order = WorkOrderFactory(team=cast["team"], ticket=ticket)
    other = TicketFactory(team=cast["team"], status="open")

    response = client_for(cast["supervisor"]).patch(
        f"{URL}{work_order.pk}/", {"ticket": other.pk}, format="json"
    )

    assert response.status_code == 409
    work_order.refresh_from_db()
    assert work_order.ticket == ticket


def test_a_linked_work_order_cannot_be_unlinked_to_get_round_the_resolve_guard(
    client_for, cast, ticket
):
    work_order = WorkOrderFactory(team=cast["team"], ticket=ticket, status="in_progress")
    supervisor = client_for(cast["supervisor"])

    unlinked = supervisor.patch(f"{URL}{work_order.pk}/", {"ticket": None}, format="json")

    assert unlinked.status_code == 409
    assert unlinked.json()["detail"] == (
        "A linked work order stays with its ticket: it cannot be unlinked."
    )
    work_order.refresh_from_db()
    assert work_order.ticket == ticket
    assert not Event.objects.for_object(work_order).exists()
    assert resolve(supervisor, ticket).status_code == 409
    ticket.refresh_from_db()
    assert ticket.status == "open"


@pytest.mark.parametrize("status", ["resolved", "closed", "cancelled"])
def test_a_ticket_no_longer_being_worked_takes_no_work_orders(client_for, cast, status):
    ticket = TicketFactory(team=cast["team"], status=status)

    response = client_for(cast["supervisor"]).post(
        URL, {"title": "Too late", "ticket": ticket.pk}, format="json"
    )

    assert response.status_code == 409
    assert status in response.json()["detail"]
    assert not WorkOrder.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize("status", ["resolved", "closed", "cancelled"])
def test_linking_by_patch_to_a_finished_ticket_is_409(client_for, cast, status):
    ticket = TicketFactory(team=cast["team"], status=status)
    work_order = WorkOrderFactory(team=cast["team"])

    response = client_for(cast["supervisor"]).patch(
        f"{URL}{work_order.pk}/", {"ticket": ticket.pk}, format="json"
    )

    assert response.status_code == 409
    work_order.refresh_from_db()
    assert work_order.ticket is None


@pytest.mark.parametrize("status", ["new", "in_progress", "on_hold"])
def test_tickets_still_being_worked_take_work_orders(client_for, cast, status):
    ticket = TicketFactory(team=cast["team"], status=status)

    response = client_for(cast["supervisor"]).post(
        URL, {"title": "Visit", "ticket": ticket.pk}, format="json"
    )

    assert response.status_code == 201


def test_a_ticket_the_agent_cannot_see_is_400_on_ticket(client_for, cast):
    hidden = TicketFactory(team=cast["other_team"], status="open")

    response = client_for(cast["team_agent"]).post(
        URL, {"title": "Visit", "ticket": hidden.pk, "team": cast["team"].pk}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"ticket"}
    assert not WorkOrder.objects.exists()
    assert not Event.objects.for_object(hidden).exists()


def test_the_400_for_a_hidden_ticket_is_the_same_as_for_a_missing_one(client_for, cast):
    hidden = TicketFactory(team=cast["other_team"], status="open")
    client = client_for(cast["team_agent"])
    payload = {"title": "Visit", "team": cast["team"].pk}

    hidden_answer = client.post(URL, {**payload, "ticket": hidden.pk}, format="json").json()
    missing_answer = client.post(URL, {**payload, "ticket": hidden.pk + 1000}, format="json").json()

    assert hidden_answer["fields"]["ticket"] == [
        m.replace(str(hidden.pk + 1000), str(hidden.pk)) for m in missing_answer["fields"]["ticket"]
    ]


# The resolve guard


@pytest.mark.parametrize("status", ACTIVE)
def test_a_ticket_with_an_active_work_order_cannot_be_resolved(client_for, cast, ticket, status):
    work_order = WorkOrderFactory(
        team=cast["team"], ticket=ticket, status=status, title="Swap the pump"
    )

    response = resolve(client_for(cast["supervisor"]), ticket)

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert f"#{work_order.pk}" in detail
    assert "Swap the pump" in detail
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert not Event.objects.for_object(ticket).filter(type="status_changed").exists()


def test_the_409_names_every_active_work_order_and_only_those(client_for, cast, ticket):
    first = WorkOrderFactory(team=cast["team"], ticket=ticket, status="open")
    second = WorkOrderFactory(team=cast["team"], ticket=ticket, status="on_hold")
    done = WorkOrderFactory(team=cast["team"], ticket=ticket, status="verified")

    detail = resolve(client_for(cast["supervisor"]), ticket).json()["detail"]

    assert f"#{first.pk}" in detail
    assert f"#{second.pk}" in detail
    assert f"#{done.pk}" not in detail


@pytest.mark.parametrize("status", FINISHED)
def test_a_ticket_whose_work_orders_are_finished_can_be_resolved(client_for, cast, ticket, status):
    WorkOrderFactory(team=cast["team"], ticket=ticket, status=status)
    WorkOrderFactory(team=cast["team"], ticket=ticket, status="verified")
    WorkOrderFactory(team=cast["team"], status="open")  # not linked: does not count

    response = resolve(client_for(cast["supervisor"]), ticket)

    assert response.status_code == 200, response.json()
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"


def test_the_assignee_can_resolve_once_the_work_is_done_through_the_api(client_for, cast, ticket):
    supervisor = client_for(cast["supervisor"])
    work_order = WorkOrderFactory(
        team=cast["team"], ticket=ticket, status="in_progress", assignee=cast["assignee"]
    )
    assert resolve(client_for(cast["assignee"]), ticket).status_code == 409

    completed = client_for(cast["assignee"]).post(
        f"{URL}{work_order.pk}/transitions/",
        {"name": "complete", "completion_notes": "Pump swapped"},
        format="json",
    )

    assert completed.status_code == 200
    assert resolve(client_for(cast["assignee"]), ticket).status_code == 200
    assert supervisor.get(f"/api/v1/tickets/{ticket.pk}/").json()["status"] == "resolved"


def test_resolve_is_not_offered_while_a_work_order_is_active(client_for, cast, ticket):
    work_order = WorkOrderFactory(team=cast["team"], ticket=ticket, status="in_progress")
    client = client_for(cast["supervisor"])
    url = f"/api/v1/tickets/{ticket.pk}/transitions/"

    offered = {t["name"] for t in client.get(url).json()}
    assert "resolve" not in offered
    assert "hold" in offered

    WorkOrder.objects.filter(pk=work_order.pk).update(status="completed")
    assert "resolve" in {t["name"] for t in client.get(url).json()}


# The summary on tickets


def test_staff_see_the_tickets_work_orders_in_id_order(client_for, cast, ticket):
    first = WorkOrderFactory(team=cast["team"], ticket=ticket, title="First", status="on_hold")
    second = WorkOrderFactory(team=cast["team"], ticket=ticket, title="Second")
    WorkOrderFactory(team=cast["team"], title="Unlinked")

    for actor in ("team_agent", "supervisor", "admin"):
        body = client_for(cast[actor]).get(f"/api/v1/tickets/{ticket.pk}/").json()
        assert body["work_orders"] == [
            {"id": first.pk, "title": "First", "status": "on_hold"},
            {"id": second.pk, "title": "Second", "status": "open"},
        ], actor


def test_the_summary_is_also_in_the_ticket_list(client_for, cast, ticket):
    work_order = WorkOrderFactory(team=cast["team"], ticket=ticket, title="Visit")
    TicketFactory(team=cast["team"], status="open")

    rows = client_for(cast["supervisor"]).get("/api/v1/tickets/").json()["results"]

    by_id = {row["id"]: row["work_orders"] for row in rows}
    assert by_id[ticket.pk] == [{"id": work_order.pk, "title": "Visit", "status": "open"}]
    assert [] in by_id.values()


def test_requesters_never_see_work_orders_on_their_tickets(client_for, cast, ticket):
    WorkOrderFactory(team=cast["team"], ticket=ticket)
    client = client_for(cast["requester"])

    detail = client.get(f"/api/v1/tickets/{ticket.pk}/").json()
    rows = client.get("/api/v1/tickets/").json()["results"]

    assert detail["work_orders"] == []
    assert [row["work_orders"] for row in rows] == [[]]


def test_the_summary_follows_a_transition(client_for, cast, ticket):
    work_order = WorkOrderFactory(
        team=cast["team"], ticket=ticket, status="open", assignee=cast["assignee"]
    )
    client = client_for(cast["supervisor"])
    client.post(f"{URL}{work_order.pk}/transitions/", {"name": "start"}, format="json")

    body = client.get(f"/api/v1/tickets/{ticket.pk}/").json()

    assert body["work_orders"][0]["status"] == "in_progress"


def test_the_ticket_filter_lists_only_that_tickets_work_orders(client_for, cast, ticket):
    mine = WorkOrderFactory.create_batch(2, team=cast["team"], ticket=ticket)
    other_ticket = TicketFactory(team=cast["team"], status="open")
    WorkOrderFactory(team=cast["team"], ticket=other_ticket)
    WorkOrderFactory(team=cast["team"])

    response = client_for(cast["team_agent"]).get(URL, {"ticket": ticket.pk})

    assert response.status_code == 200
    assert sorted(row["id"] for row in response.json()["results"]) == sorted(w.pk for w in mine)


@pytest.mark.parametrize("value", ["abc", "0", "-1", str(2**64)])
def test_a_bad_ticket_filter_is_400(client_for, cast, value):
    response = client_for(cast["supervisor"]).get(URL, {"ticket": value})

    assert response.status_code == 400
    assert "ticket" in response.json()["fields"]


# Rules found in review: finished tickets stay finished, summaries do not leak


@pytest.mark.parametrize("ticket_status", ["resolved", "closed", "cancelled"])
def test_rework_is_refused_while_the_ticket_is_finished(client_for, cast, ticket_status):
    ticket = TicketFactory(team=cast["team"], status=ticket_status)
    work_order = WorkOrderFactory(
        team=cast["team"], ticket=ticket, status="completed", assignee=cast["assignee"]
    )

    response = client_for(cast["supervisor"]).post(
        f"{URL}{work_order.pk}/transitions/", {"name": "rework", "note": "again"}
    )

    assert response.status_code == 409
    assert "reopen the ticket first" in response.json()["detail"]
    work_order.refresh_from_db()
    assert work_order.status == "completed"


def test_rework_is_allowed_while_the_ticket_is_still_worked(client_for, cast, ticket):
    work_order = WorkOrderFactory(team=cast["team"], ticket=ticket, status="completed")

    response = client_for(cast["supervisor"]).post(
        f"{URL}{work_order.pk}/transitions/", {"name": "rework", "note": "again"}
    )

    assert response.status_code == 200
    assert resolve(client_for(cast["supervisor"]), ticket).status_code == 409


def test_the_ticket_summary_lists_only_work_orders_the_agent_may_open(client_for, cast, ticket):
    own = WorkOrderFactory(team=cast["team"], ticket=ticket)
    WorkOrderFactory(team=cast["other_team"], ticket=ticket)

    agent_view = client_for(cast["team_agent"]).get(f"/api/v1/tickets/{ticket.pk}/").json()
    supervisor_view = client_for(cast["supervisor"]).get(f"/api/v1/tickets/{ticket.pk}/").json()

    assert [wo["id"] for wo in agent_view["work_orders"]] == [own.pk]
    assert len(supervisor_view["work_orders"]) == 2


def test_resolving_names_only_the_active_work_orders_the_user_may_see(client_for, cast, ticket):
    own = WorkOrderFactory(team=cast["team"], ticket=ticket, title="Pump")
    WorkOrderFactory(team=cast["other_team"], ticket=ticket, title="Secret facilities job")
    WorkOrderFactory(team=cast["other_team"], ticket=ticket, title="Another one")

    by_assignee = resolve(client_for(cast["assignee"]), ticket)
    by_supervisor = resolve(client_for(cast["supervisor"]), ticket)

    assert by_assignee.status_code == by_supervisor.status_code == 409
    assert by_assignee.json()["detail"] == (
        "Cannot resolve this ticket: linked work orders are still active: "
        f"#{own.pk} Pump (open), 2 more that you cannot see."
    )
    assert "Secret facilities job" in by_supervisor.json()["detail"]
    options = client_for(cast["assignee"]).get(f"/api/v1/tickets/{ticket.pk}/transitions/")
    assert "resolve" not in [option["name"] for option in options.json()]


def test_a_ticket_history_leaves_out_links_to_work_orders_the_agent_may_not_see(
    client_for, cast, ticket
):
    supervisor = client_for(cast["supervisor"])
    own = supervisor.post(URL, {"title": "Pump", "ticket": ticket.pk}, format="json").json()
    other_team = {"title": "Secret facilities job", "ticket": ticket.pk}
    supervisor.post(URL, {**other_team, "team": cast["other_team"].pk}, format="json")
    history_url = f"/api/v1/tickets/{ticket.pk}/history/"

    agent_history = client_for(cast["assignee"]).get(history_url).json()["results"]
    supervisor_history = supervisor.get(history_url).json()["results"]

    assert [event["data"]["work_order"] for event in agent_history] == [own["id"]]
    assert len(supervisor_history) == 2
