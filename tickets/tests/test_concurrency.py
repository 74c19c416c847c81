"""Conflicting transitions fired at once: exactly one wins, the others get 409."""

import pytest
from django.db import connection
from django.test import Client

from dispatchdesk import workflow
from dispatchdesk.exceptions import Conflict
from dispatchdesk.models import Event
from dispatchdesk.tests.concurrency import (
    Meanwhile,
    in_this_thread_first,
    send_all_at_once,
    then_meanwhile,
)
from tickets import services as ticket_services
from tickets.models import Comment, Ticket

from .factories import TicketFactory

pytestmark = pytest.mark.django_db(transaction=True)

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; SQLite serializes whole-database writes instead",
)

# Both leave `open`, and neither can follow the other (nor itself).
CONFLICTING = [{"name": "resolve", "resolution": "fixed"}, {"name": "cancel", "note": "duplicate"}]


def fire_all_at_once(ticket, user, bodies) -> list[int]:
    url = f"/api/v1/tickets/{ticket.pk}/transitions/"
    responses = send_all_at_once([(user, "post", url, body) for body in bodies])
    return [response.status_code for response in responses]


@needs_postgresql
def test_many_conflicting_transitions_one_winner(cast):
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    bodies = CONFLICTING * 6  # twelve requests, two transitions

    statuses = fire_all_at_once(ticket, cast["supervisor"], bodies)

    assert sorted(statuses) == [200] + [409] * (len(bodies) - 1)
    ticket = Ticket.objects.get(pk=ticket.pk)
    events = list(Event.objects.for_object(ticket).filter(type="status_changed"))
    assert len(events) == 1
    winner = bodies[statuses.index(200)]["name"]
    assert events[0].data["transition"] == winner
    assert events[0].data["from"] == "open"
    assert events[0].data["to"] == ticket.status


@needs_postgresql
def test_the_same_transition_twice_at_once_happens_once(cast):
    ticket = TicketFactory(team=cast["team"], status="new")

    statuses = fire_all_at_once(ticket, cast["supervisor"], [{"name": "triage"}] * 6)

    assert sorted(statuses) == [200] + [409] * 5
    assert Event.objects.for_object(ticket).filter(type="status_changed").count() == 1


@needs_postgresql
def test_a_stale_copy_cannot_overwrite_a_transition(cast):
    """Two copies of one ticket loaded; the first is cancelled; the second cannot start."""
    ticket = TicketFactory(team=cast["team"], status="open", assignee=cast["assignee"])
    first, second = Ticket.objects.get(pk=ticket.pk), Ticket.objects.get(pk=ticket.pk)

    workflow.fire(first, name="cancel", by=cast["supervisor"], inputs={"note": "duplicate"})

    with pytest.raises(Conflict, match="cancelled"):
        workflow.fire(second, name="start", by=cast["supervisor"])
    assert Ticket.objects.get(pk=ticket.pk).status == "cancelled"
    assert Event.objects.for_object(ticket).count() == 1


def delete_in_the_admin(obj, admin, how: str, **options):
    """An admin confirms the deletion of `obj` (a ticket, a team) on its page, or with the bulk
    action."""
    browser = Client()
    browser.force_login(admin)
    changelist = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"
    if how == "its page":
        url, data = f"{changelist}{obj.pk}/delete/", {"post": "yes"}
    else:
        url = changelist
        data = {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    return browser.post(url, data, **options)


@needs_postgresql
@pytest.mark.parametrize("how", ["its page", "the bulk action"])
def test_a_closed_ticket_deleted_in_the_admin_as_a_supervisor_comments_on_it(
    cast, client_for, monkeypatch, how
):
    """The admin's delete collected the ticket's comments before it waited for the ticket,
    which the comment held: the comment committed, and the delete then failed at its commit
    on the comment left pointing at nothing (an error page)."""
    ticket = TicketFactory(team=cast["team"], status="closed")
    pages = []

    def delete_it():
        pages.append(delete_in_the_admin(ticket, cast["admin"], how))

    deletion = Meanwhile(delete_it)
    # The deletion then waits for the ticket, which the comment holds.
    monkeypatch.setattr(ticket_services, "record", then_meanwhile(ticket_services.record, deletion))

    response = client_for(cast["supervisor"]).post(
        f"/api/v1/tickets/{ticket.pk}/comments/", {"body": "Closing note", "internal": True}
    )
    deletion.finish()

    assert (response.status_code, deletion.outcome, pages[0].status_code) == (201, "done", 302)
    assert not Ticket.objects.filter(pk=ticket.pk).exists()
    assert not Comment.objects.filter(ticket_id=ticket.pk).exists()


@needs_postgresql
def test_a_comment_on_a_ticket_deleted_meanwhile_is_404(cast, client_for, monkeypatch):
    """The view found the ticket; it was gone when the service locked it (an error page)."""
    ticket = TicketFactory(team=cast["team"], status="closed")
    deletion = Meanwhile(lambda: Ticket.objects.filter(pk=ticket.pk).delete())
    lock = workflow.lock

    def deleted_then_locked(obj):
        deletion.finish()
        return lock(obj)

    monkeypatch.setattr(workflow, "lock", deleted_then_locked)

    response = client_for(cast["supervisor"]).post(
        f"/api/v1/tickets/{ticket.pk}/comments/", {"body": "Closing note", "internal": True}
    )

    assert (deletion.outcome, response.status_code) == ("done", 404)
    assert response.json()["code"] == "not_found"


@needs_postgresql
@pytest.mark.parametrize("how", ["its page", "the bulk action"])
@pytest.mark.parametrize("meanwhile", ["reopened", "reopened and given a work order"])
def test_a_ticket_reopened_as_the_admin_deletes_it_is_kept(cast, monkeypatch, how, meanwhile):
    """The admin checked that the ticket was finished when it showed the page, and deleted it
    as it was then: a ticket reopened meanwhile was deleted, and one given a work order too was
    an error page (its protected work order)."""
    from tickets.admin import TicketAdmin
    from workorders.services import work_order_create

    ticket = TicketFactory(team=cast["team"], status="closed", assignee=cast["assignee"])

    def reopen():
        reopened = workflow.fire(
            Ticket.objects.get(pk=ticket.pk),
            name="reopen",
            by=cast["supervisor"],
            inputs={"note": "Not done"},
        )
        if "work order" in meanwhile:
            work_order_create(by=cast["supervisor"], title="Fix it", ticket=reopened)

    method = "delete_model" if how == "its page" else "delete_queryset"
    monkeypatch.setattr(
        TicketAdmin, method, in_this_thread_first(getattr(TicketAdmin, method))(Meanwhile(reopen))
    )

    response = delete_in_the_admin(ticket, cast["admin"], how, follow=True)

    assert response.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).status == "open"
    assert "This ticket is open: only a cancelled or closed one is deleted." in [
        str(message) for message in response.context["messages"]
    ]


def file_work(kind: str, by, team, client, moved=None):
    """`by` files a ticket or a work order in `team` (or moves `moved` there) through the API."""
    api = "/api/v1/tickets/" if kind == "ticket" else "/api/v1/work-orders/"
    if moved is not None:
        return client.patch(f"{api}{moved.pk}/", {"team": team.pk}, format="json")
    return client.post(api, {"title": "Night work", "team": team.pk}, format="json")


@needs_postgresql
@pytest.mark.parametrize("kind", ["ticket", "work order"])
@pytest.mark.parametrize("how", ["filed", "moved"])
def test_work_put_in_a_team_deleted_meanwhile_is_400(cast, client_for, monkeypatch, kind, how):
    """The request named a team the admin then deleted: the work's foreign key failed the
    commit (an error page)."""
    from accounts.tests.factories import TeamFactory
    from tickets import serializers as ticket_serializers
    from workorders import serializers as work_order_serializers
    from workorders.models import WorkOrder
    from workorders.tests.factories import WorkOrderFactory

    night = TeamFactory(name="Night shift")
    model, serializers = {
        "ticket": (Ticket, ticket_serializers),
        "work order": (WorkOrder, work_order_serializers),
    }[kind]
    factory = TicketFactory if kind == "ticket" else WorkOrderFactory
    moved = factory(team=cast["team"]) if how == "moved" else None
    service = {"ticket": "ticket", "work order": "work_order"}[kind]
    service += "_update" if moved else "_create"
    deletion = Meanwhile(lambda: night.delete())
    monkeypatch.setattr(
        serializers, service, in_this_thread_first(getattr(serializers, service))(deletion)
    )

    response = file_work(kind, cast["supervisor"], night, client_for(cast["supervisor"]), moved)

    assert (deletion.outcome, response.status_code) == ("done", 400)
    assert response.json()["fields"] == {"team": ["This team has been deleted."]}
    assert not model.objects.filter(team_id=night.pk).exists()


@needs_postgresql
@pytest.mark.parametrize("kind", ["ticket", "work order"])
@pytest.mark.parametrize("how", ["its page", "the bulk action"])
def test_an_empty_team_deleted_in_the_admin_as_work_is_filed_in_it_is_kept(
    cast, client_for, monkeypatch, kind, how
):
    """The deletion did not wait for the work being filed: the team was deleted, and the work
    failed its commit on it (an error page)."""
    from accounts.models import Team
    from accounts.tests.factories import TeamFactory
    from workorders import services as work_order_services
    from workorders.models import WorkOrder

    night = TeamFactory(name="Night shift")
    pages = []
    deletion = Meanwhile(
        lambda: pages.append(delete_in_the_admin(night, cast["admin"], how, follow=True))
    )
    # The work written, not committed: the deletion finds no work on the team, and locks it.
    services = ticket_services if kind == "ticket" else work_order_services
    monkeypatch.setattr(services, "record", then_meanwhile(services.record, deletion))

    response = file_work(kind, cast["supervisor"], night, client_for(cast["supervisor"]))
    deletion.finish()

    assert (response.status_code, deletion.outcome, pages[0].status_code) == (201, "done", 200)
    assert Team.objects.filter(pk=night.pk).exists()
    model = Ticket if kind == "ticket" else WorkOrder
    assert model.objects.filter(team_id=night.pk).count() == 1
    assert (
        "Nothing was deleted: work was filed in the team since the page was shown. A team with "
        "tickets or work orders is kept; move them to another team first."
    ) in [str(message) for message in pages[0].context["messages"]]
