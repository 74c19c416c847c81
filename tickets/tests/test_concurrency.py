"""Conflicting transitions fired at once: exactly one wins, the others get 409."""

import threading

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


def delete_in_the_admin(obj, admin, how: str, *, also=(), **options):
    """An admin confirms the deletion of `obj` (a ticket, a team) on its page, or with the bulk
    action (of `obj` and `also`)."""
    browser = Client()
    browser.force_login(admin)
    changelist = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/"
    if how == "its page":
        url, data = f"{changelist}{obj.pk}/delete/", {"post": "yes"}
    else:
        url, chosen = changelist, [obj.pk, *(other.pk for other in also)]
        data = {"action": "delete_selected", "_selected_action": chosen, "post": "yes"}
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


def file_work(kind: str, team, client, moved=None):
    """`client`'s user files a ticket or a work order in `team` (or moves `moved` there)."""
    api = "/api/v1/tickets/" if kind == "ticket" else "/api/v1/work-orders/"
    if moved is not None:
        return client.patch(f"{api}{moved.pk}/", {"team": team.pk}, format="json")
    return client.post(api, {"title": "Night work", "team": team.pk}, format="json")


@needs_postgresql
@pytest.mark.parametrize("kind", ["ticket", "work order"])
@pytest.mark.parametrize("how", ["filed", "moved"])
@pytest.mark.parametrize("by", ["supervisor", "agent of the team"])
def test_work_put_in_a_team_deleted_meanwhile_is_400(cast, client_for, monkeypatch, kind, how, by):
    """The request named a team the admin then deleted: the work's foreign key failed the
    commit (an error page). An agent's work order was a 403 (they were no longer in the team)."""
    from accounts.tests.factories import AgentFactory, TeamFactory
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
    user = cast["supervisor"] if by == "supervisor" else AgentFactory(teams=[cast["team"], night])

    response = file_work(kind, night, client_for(user), moved)

    assert (deletion.outcome, response.status_code) == ("done", 400)
    assert response.json()["fields"] == {"team": ["This team has been deleted."]}
    assert not model.objects.filter(team_id=night.pk).exists()


@needs_postgresql
@pytest.mark.parametrize("kind", ["ticket", "work order"])
@pytest.mark.parametrize("how", ["its page", "the bulk action"])
@pytest.mark.parametrize("when", ["as it is filed", "filed since the page was shown"])
def test_an_empty_team_deleted_in_the_admin_as_work_is_filed_in_it_is_kept(
    cast, client_for, monkeypatch, kind, how, when
):
    """The deletion did not wait for the work being filed: the team was deleted, and the work
    failed its commit on it (an error page). Work committed after the page checked for it made
    the deletion an error page (its protected work)."""
    from accounts.admin import TEAM_IN_USE, TeamAdmin
    from accounts.models import Team
    from accounts.tests.factories import TeamFactory
    from dispatchdesk.tests.concurrency import messages_on
    from workorders import services as work_order_services
    from workorders.models import WorkOrder

    night = TeamFactory(name="Night shift")
    supervisor = client_for(cast["supervisor"])
    if when == "as it is filed":
        pages = []
        deletion = Meanwhile(
            lambda: pages.append(delete_in_the_admin(night, cast["admin"], how, follow=True))
        )
        # The work written, not committed: the deletion finds no work on the team.
        services = ticket_services if kind == "ticket" else work_order_services
        monkeypatch.setattr(services, "record", then_meanwhile(services.record, deletion))
        response = file_work(kind, night, supervisor)
        deletion.finish()
        assert (response.status_code, deletion.outcome) == (201, "done")
        expected = TEAM_IN_USE
    else:
        filed = []
        filing = Meanwhile(lambda: filed.append(file_work(kind, night, supervisor)))
        checked = TeamAdmin.get_deleted_objects

        def checked_then_filed(self, objs, request):  # the page checks the team for work
            found = checked(self, objs, request)
            filing.finish()
            return found

        monkeypatch.setattr(TeamAdmin, "get_deleted_objects", checked_then_filed)
        pages = [delete_in_the_admin(night, cast["admin"], how, follow=True)]
        assert (filing.outcome, filed[0].status_code) == ("done", 201)
        expected = (
            "Nothing was deleted: work was filed in the team since the page was shown. A team "
            "with tickets or work orders is kept; move them to another team first."
        )

    assert (pages[0].status_code, messages_on(pages[0])) == (200, [expected])
    assert Team.objects.filter(pk=night.pk).exists()
    model = Ticket if kind == "ticket" else WorkOrder
    assert model.objects.filter(team_id=night.pk).count() == 1


@needs_postgresql
@pytest.mark.parametrize("old_team", ["kept", "deleted"])
def test_a_work_order_for_a_ticket_moved_meanwhile_goes_to_its_new_team(
    cast, client_for, monkeypatch, old_team
):
    """The work order took the team of the ticket as the request had read it: the ticket's
    old team, or an error page when that team had been deleted since."""
    from accounts.models import Team
    from accounts.tests.factories import TeamFactory
    from workorders import serializers as work_order_serializers

    night = TeamFactory(name="Night shift")
    ticket = TicketFactory(team=night, status="open")

    def moved_and_maybe_deleted():
        moved = Ticket.objects.get(pk=ticket.pk)
        ticket_services.ticket_update(
            ticket=moved, by=cast["supervisor"], changes={"team": cast["team"]}
        )
        if old_team == "deleted":
            night.delete()

    meanwhile = Meanwhile(moved_and_maybe_deleted)
    create = work_order_serializers.work_order_create
    monkeypatch.setattr(
        work_order_serializers, "work_order_create", in_this_thread_first(create)(meanwhile)
    )

    response = client_for(cast["supervisor"]).post(
        "/api/v1/work-orders/", {"title": "Fix", "ticket": ticket.pk}, format="json"
    )

    assert (meanwhile.outcome, response.status_code) == ("done", 201)
    assert response.json()["team"] == cast["team"].pk
    assert Team.objects.filter(pk=night.pk).exists() == (old_team == "kept")


@needs_postgresql
def test_a_work_order_filed_and_a_ticket_moved_across_a_bulk_team_deletion(
    cast, client_for, monkeypatch
):
    """A work-order create held its team, then locked its ticket; a move of that ticket
    locked it, then waited for its new team, which the deletion (by id) had locked before
    waiting for the create's team: the three waited in a circle (a deadlock). Every path now
    locks its work first and the team last."""
    from accounts.models import Team
    from accounts.tests.factories import TeamFactory

    alpha, beta = TeamFactory(name="Alpha"), TeamFactory(name="Beta")  # empty; by id: alpha first
    ticket = TicketFactory(team=cast["team"], status="open")
    admin = Client()
    admin.force_login(cast["admin"])
    pages, moves = [], []
    selected = {"action": "delete_selected", "_selected_action": [alpha.pk, beta.pk], "post": "yes"}
    deletion = Meanwhile(lambda: pages.append(admin.post("/admin/accounts/team/", selected)))
    mover = client_for(cast["supervisor"])
    move = Meanwhile(
        lambda: moves.append(
            mover.patch(f"/api/v1/tickets/{ticket.pk}/", {"team": alpha.pk}, format="json")
        )
    )

    hold, main = workflow.hold_team, threading.current_thread()

    def held_then_others_meanwhile(team):
        hold(team)
        if threading.current_thread() is main:  # the create's
            deletion.start()  # locks Alpha, then waits for Beta, which the create holds
            move.start()  # waits for the ticket, or (before) locked it and waited for Alpha

    monkeypatch.setattr(workflow, "hold_team", held_then_others_meanwhile)

    response = client_for(cast["supervisor"]).post(
        "/api/v1/work-orders/",
        {"title": "Fix", "ticket": ticket.pk, "team": beta.pk},
        format="json",
    )
    deletion.finish()
    move.finish()

    assert (deletion.outcome, move.outcome) == ("done", "done")
    assert (response.status_code, moves[0].status_code, pages[0].status_code) == (201, 200, 302)
    assert Ticket.objects.get(pk=ticket.pk).team_id == alpha.pk
    assert Team.objects.filter(pk=beta.pk).exists()  # it has the work order


@needs_postgresql
@pytest.mark.parametrize("kind", ["tickets", "workorders"])
@pytest.mark.parametrize("options", [[], ["--skip-invalid"]])
def test_an_import_into_a_team_deleted_before_it_writes_names_the_team(
    cast, tmp_path, monkeypatch, kind, options
):
    """The batch failed at its commit on the foreign key: "the database refused a batch ...
    violates foreign key constraint", as if the import's rows were wrong."""
    from accounts.tests.factories import TeamFactory
    from dispatchdesk.tests.importing import run, write_csv
    from tickets.imports import TICKET_COLUMNS, TicketImport
    from workorders.imports import WORK_ORDER_COLUMNS, WorkOrderImport
    from workorders.models import WorkOrder

    night = TeamFactory(name="Night shift")
    row = {"external_ref": "N-1", "title": "Night work", "team": "Night shift"}
    if kind == "tickets":
        columns, importer, model = TICKET_COLUMNS, TicketImport, Ticket
        row["requester_email"] = cast["requester"].email
    else:
        columns, importer, model = WORK_ORDER_COLUMNS, WorkOrderImport, WorkOrder
    path = write_csv(tmp_path / f"{kind}.csv", list(columns), [row])
    deletion = Meanwhile(lambda: night.delete())
    # Before the import holds the teams: ahead of the run, or with each batch's write.
    method = "write" if options else "lock_ahead"
    monkeypatch.setattr(importer, method, in_this_thread_first(getattr(importer, method))(deletion))

    outcome = run(f"import_{kind}", path, *options)

    assert deletion.outcome == "done"
    assert (
        'line 2: team: deleted by someone else since the import read them: "Night shift"'
        in outcome.failure
    )
    assert not model.objects.filter(external_ref="N-1").exists()


@needs_postgresql
@pytest.mark.parametrize("api_write", ["work-order create", "ticket move"])
def test_an_import_an_api_write_and_a_bulk_team_deletion_do_not_deadlock(
    cast, client_for, tmp_path, monkeypatch, api_write
):
    """An import holds the teams its file names before the rows it updates; the API holds a
    team after the work it locks. A bulk deletion of two teams locked the first and waited for
    the second: the import held Beta and waited for the ticket, the API request held the ticket
    and waited for Alpha, the deletion held Alpha and waited for Beta (a deadlock). A deletion
    now waits for nobody: it is refused while a team it would delete is held."""
    from accounts.admin import TEAM_IN_USE
    from accounts.tests.factories import TeamFactory
    from dispatchdesk.tests.concurrency import messages_on
    from dispatchdesk.tests.importing import run, write_csv
    from tickets.imports import TICKET_COLUMNS, TicketImport

    alpha, beta = TeamFactory(name="Alpha"), TeamFactory(name="Beta")  # empty; by id alpha first
    ticket = TicketFactory(team=cast["team"], status="open", external_ref="T-1")
    row = {"external_ref": "T-1", "title": "Imported title", "team": "Beta"}
    path = write_csv(tmp_path / "tickets.csv", list(TICKET_COLUMNS), [row])
    pages, answers = [], []
    deletion = Meanwhile(
        lambda: pages.append(
            delete_in_the_admin(alpha, cast["admin"], "the bulk action", also=[beta], follow=True)
        )
    )
    api = client_for(cast["supervisor"])
    if api_write == "work-order create":
        body = {"title": "Fix", "ticket": ticket.pk, "team": alpha.pk}
        other = Meanwhile(lambda: answers.append(api.post("/api/v1/work-orders/", body)))
    else:
        url = f"/api/v1/tickets/{ticket.pk}/"
        other = Meanwhile(lambda: answers.append(api.patch(url, {"team": alpha.pk})))
    write, main = TicketImport.write, threading.current_thread()

    def others_then_write(self, plan):  # the file's teams held (lock_ahead): Beta
        if threading.current_thread() is main:
            deletion.start()  # refused now; it locked Alpha, then waited for Beta
            other.start()  # locks the ticket, then Alpha
        return write(self, plan)  # locks the ticket

    monkeypatch.setattr(TicketImport, "write", others_then_write)

    outcome = run("import_tickets", path)
    deletion.finish()
    other.finish()

    assert (deletion.outcome, other.outcome) == ("done", "done")
    assert messages_on(pages[0]) == [TEAM_IN_USE]
    if api_write == "work-order create":
        assert (answers[0].status_code, outcome.ok) == (201, True), outcome.failure
        assert Ticket.objects.get(pk=ticket.pk).team_id == beta.pk
    else:  # the import read the ticket before the move: it is refused, as changed meanwhile
        assert answers[0].status_code == 200
        assert "line 2: changed by someone else since the import read them" in outcome.failure
        assert Ticket.objects.get(pk=ticket.pk).team_id == alpha.pk
