"""Paths that lock the same rows take them in the same order (people by id, then work orders
by id, then tickets by id; a token's row before its blacklist entry), so that two of them at
the same moment never wait on each other in a circle (PostgreSQL would end one: a 503).

Each test stages the two paths with `Meanwhile` at the point where they used to cross.
"""

import threading
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.contrib.admin.sites import site
from django.db import connection
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as account_services
from accounts.admin import TEAM_IN_USE
from accounts.models import User
from accounts.services import user_update
from accounts.tests.factories import AdminFactory, AgentFactory, SupervisorFactory, TeamFactory
from dispatchdesk.models import IdempotencyKey
from dispatchdesk.tests.concurrency import (
    Meanwhile,
    messages_on,
    team_deleted_in_the_admin,
    then_meanwhile,
)
from dispatchdesk.tests.test_admin_backoffice import TICKETS, change_url, form_data
from tickets import services as ticket_services
from tickets.choices import TicketStatus
from tickets.models import Comment
from tickets.tests.factories import TicketFactory
from workorders import services as work_order_services
from workorders.models import WorkOrder
from workorders.tests.factories import WorkOrderFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serializes whole-database writes: the paths cannot overlap",
    ),
]


def deactivate(person, *, by):
    return Meanwhile(
        lambda: user_update(user=User.objects.get(pk=person.pk), by=by, is_active=False)
    )


def test_a_logout_while_the_same_person_is_deactivated(client_for, monkeypatch):
    """The deactivation blacklisted the person's tokens without locking them; a logout in
    between locked the token and waited for that blacklist entry, whose commit needed the
    token's row."""
    admin, agent = AdminFactory(), AgentFactory()
    refresh = str(RefreshToken.for_user(agent))
    answers = []
    logout = Meanwhile(
        lambda: answers.append(
            APIClient().post("/api/v1/auth/logout/", {"refresh": refresh}, format="json")
        )
    )
    end_sessions = account_services.end_sessions

    def end_sessions_then_a_logout(user):
        end_sessions(user)
        logout.start()  # it waits for the token, which the deactivation holds

    monkeypatch.setattr(account_services, "end_sessions", end_sessions_then_a_logout)

    response = client_for(admin).patch(f"/api/v1/users/{agent.pk}/", {"is_active": False})
    logout.finish()

    assert logout.outcome == "done"
    assert (response.status_code, answers[0].status_code) in {(200, 200), (200, 401)}


def test_work_orders_of_two_tickets_deleted_in_the_admin_as_their_assignee_is_deactivated(
    monkeypatch,
):
    """The bulk deletion locked each work order's ticket as it deleted it, so in work-order
    order; the deactivation gives back tickets by id."""
    team = TeamFactory()
    admin, agent = AdminFactory(), AgentFactory(teams=[team])
    lower, higher = (TicketFactory(team=team, status="open", assignee=agent) for _ in range(2))
    first = WorkOrderFactory(team=team, ticket=higher, status="cancelled")  # the lower id
    second = WorkOrderFactory(team=team, ticket=lower, status="cancelled")
    deactivation = deactivate(agent, by=admin)
    main, delete = threading.current_thread(), work_order_services.work_order_delete

    def the_deactivation_after_the_first(work_order, *, by):
        delete(work_order, by=by)
        if threading.current_thread() is main and work_order.pk == first.pk:
            deactivation.start()

    monkeypatch.setattr(work_order_services, "work_order_delete", the_deactivation_after_the_first)
    request = RequestFactory().post("/")
    request.user = admin

    site._registry[WorkOrder].delete_queryset(
        request, WorkOrder.objects.filter(pk__in=[first.pk, second.pk])
    )
    deactivation.finish()

    assert deactivation.outcome == "done"
    assert not WorkOrder.objects.filter(pk__in=[first.pk, second.pk]).exists()


def email_and_role_changed_as_the_person_comments(monkeypatch, client_for, change_them):
    """The person comments on their open ticket; `change_them(person)`, run meanwhile, gives them
    another email and makes them a requester. Answers the comment's response, the change's
    outcome, the person and the ticket as they end."""
    team = TeamFactory()
    agent = AgentFactory(teams=[team])
    ticket = TicketFactory(team=team, status="open", assignee=agent)
    change = Meanwhile(lambda: change_them(agent))
    # The change then waits for the ticket, which the comment holds.
    monkeypatch.setattr(ticket_services, "record", then_meanwhile(ticket_services.record, change))
    response = client_for(agent).post(
        f"/api/v1/tickets/{ticket.pk}/comments/", {"body": "On my way", "internal": False}
    )
    change.finish()
    return (
        response,
        change.outcome,
        User.objects.get(pk=agent.pk),
        ticket.__class__.objects.get(pk=ticket.pk),
    )


def test_an_email_changed_with_a_demotion_while_the_person_comments_on_their_ticket(
    client_for, monkeypatch
):
    """Changing an email (a unique column: a key of the user's row to PostgreSQL) locked the
    user's row FOR UPDATE before the work they hold was given back; the person's comment in
    between held their ticket, and its commit checks the history's foreign key to them."""
    admin = AdminFactory()

    def change_them(person):
        user_update(
            user=User.objects.get(pk=person.pk),
            by=admin,
            email="moved@example.com",
            role="requester",
        )

    response, outcome, person, ticket = email_and_role_changed_as_the_person_comments(
        monkeypatch, client_for, change_them
    )

    assert (response.status_code, outcome) == (201, "done")
    assert (person.email, person.role, ticket.assignee_id) == (
        "moved@example.com",
        "requester",
        None,
    )


def test_the_same_change_on_the_admin_page(client_for, monkeypatch):
    """The admin's user page saved the whole user, email included, before its teams and the
    work given back went through the service: the same crossing."""
    admin = AdminFactory()
    pages = {}

    def change_them(person):
        browser = Client()
        browser.force_login(admin)
        url = f"/admin/accounts/user/{person.pk}/change/"
        data = {**form_data(browser.get(url), "user_form"), "email": "moved@example.com"}
        data.update(role="requester", teams=[])
        pages["after"] = browser.post(url, data)

    response, outcome, person, ticket = email_and_role_changed_as_the_person_comments(
        monkeypatch, client_for, change_them
    )

    assert (response.status_code, outcome, pages["after"].status_code) == (201, "done", 302)
    assert (person.email, person.role, ticket.assignee_id) == (
        "moved@example.com",
        "requester",
        None,
    )


def test_a_bulk_start_of_two_work_orders_of_one_ticket_while_time_is_logged_on_the_second(
    monkeypatch,
):
    """A bulk action in one transaction held the ticket, locked with the first work order,
    while it waited for the second, which time being logged on it held before its ticket."""
    from dispatchdesk import workflow

    team = TeamFactory()
    supervisor, agent = SupervisorFactory(teams=[team]), AgentFactory(teams=[team])
    ticket = TicketFactory(team=team, status="open")
    first, second = (
        WorkOrderFactory(team=team, ticket=ticket, status="open", assignee=agent) for _ in range(2)
    )
    logging = Meanwhile(
        lambda: work_order_services.time_entry_add(
            work_order=WorkOrder.objects.get(pk=second.pk), by=agent, minutes=5
        )
    )
    monkeypatch.setattr(workflow, "fire", then_meanwhile(workflow.fire, logging))
    browser = Client()
    browser.force_login(supervisor)

    response = browser.post(
        "/admin/workorders/workorder/",
        {"action": "fire_start", "_selected_action": [first.pk, second.pk]},
    )
    logging.finish()

    assert (response.status_code, logging.outcome) == (302, "done")
    assert set(WorkOrder.objects.values_list("status", flat=True)) == {"in_progress"}


def test_two_admin_pages_of_one_ticket_saved_at_once_do_not_deadlock(monkeypatch):
    """One supervisor adds a comment, another changes the title, with one idempotency key
    past IDEMPOTENCY_KEY_HOURS in the table (anyone's)."""
    import tickets.admin

    team = TeamFactory()
    agent = AgentFactory(teams=[team])
    sam, kim = SupervisorFactory(teams=[team]), SupervisorFactory(teams=[team])
    ticket = TicketFactory(team=team, status=TicketStatus.OPEN, assignee=agent)
    old = IdempotencyKey.objects.create(user=agent, key="old", path=TICKETS)
    then = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS, minutes=1)
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=then)

    commenter, editor = Client(), Client()
    commenter.force_login(sam)
    editor.force_login(kim)
    comment_page = form_data(commenter.get(change_url(ticket)), "ticket_form")
    edit_page = form_data(editor.get(change_url(ticket)), "ticket_form")
    answers = []
    commenting = Meanwhile(
        lambda: answers.append(
            commenter.post(change_url(ticket), comment_page | {"comments-0-body": "On my way"})
        )
    )
    # The editor has locked the ticket (ticket_update) when the commenter's page arrives.
    monkeypatch.setattr(
        tickets.admin, "ticket_update", then_meanwhile(tickets.admin.ticket_update, commenting)
    )

    edited = editor.post(change_url(ticket), edit_page | {"title": "Printer on fire"})
    commenting.finish()

    assert (edited.status_code, commenting.outcome) == (302, "done")
    assert answers[0].status_code == 302
    assert Comment.objects.filter(ticket=ticket, body="On my way").exists()


def test_teams_held_and_teams_deleted_at_once_do_not_deadlock(client_for):
    """hold_teams locks in the table's physical order, the bulk deletion by id. Team A was
    renamed (its row now lies after B's); B is being changed (team_update holds it FOR NO KEY
    UPDATE) as an admin deletes A and B and another admin puts someone in A and B."""

    from accounts.models import Team
    from accounts.services import team_update
    from accounts.tests.factories import AdminFactory

    admin = AdminFactory()
    agent = AgentFactory()
    a, b = TeamFactory(name="Alpha"), TeamFactory(name="Bravo")
    team_update(team=a, by=admin, name="Alpha shift")  # a new row version, after B's
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_team WHERE id IN (%s, %s)", [a.pk, b.pk])
        assert [pk for (pk,) in cursor.fetchall()] == [b.pk, a.pk]  # physical order

    name = connection.settings_dict["NAME"]
    other = psycopg.connect(host="127.0.0.1", user="postgres", dbname=name)  # team_update on B
    other.execute("SELECT 1 FROM accounts_team WHERE id = %s FOR NO KEY UPDATE", [b.pk])
    browser = Client()
    browser.force_login(admin)
    answers = []
    deletion = Meanwhile(
        lambda: answers.append(
            browser.post(
                "/admin/accounts/team/",
                {"action": "delete_selected", "_selected_action": [a.pk, b.pk], "post": "yes"},
                follow=True,
            )
        )
    )
    deletion.start()  # refused at once: B is held (it locked A, then waited for B)

    response = client_for(admin).patch(
        f"/api/v1/users/{agent.pk}/", {"teams": [a.pk, b.pk]}, format="json"
    )
    deletion.finish()
    other.commit()  # the team change on B ends
    other.close()

    assert deletion.outcome == "done", deletion.outcome
    assert response.status_code == 200, response.content[:300]
    assert Team.objects.filter(pk__in=[a.pk, b.pk]).count() == 2
    assert messages_on(answers[0]) == [TEAM_IN_USE]


def test_a_team_deleted_in_the_admin_while_an_import_moves_its_member(tmp_path, monkeypatch):
    """The import deletes Alex's membership of Night shift and writes it again (teams changed:
    Night shift;Field); the deletion, holding the team FOR UPDATE, waited for that deleted
    membership; the import's commit waited for the team (its new membership's foreign key).
    The deletion now waits for nobody: it is refused while the import holds the team."""
    from accounts import imports
    from accounts.tests.factories import AdminFactory
    from dispatchdesk.tests.importing import run, write_csv

    admin = AdminFactory()
    night = TeamFactory(name="Night shift")
    TeamFactory(name="Field")
    alex = AgentFactory(email="alex@example.com", teams=[night])
    path = write_csv(
        tmp_path / "users.csv",
        ["email", "full_name", "role", "teams"],
        [{"email": alex.email, "teams": "Night shift;Field"}],
    )
    answers = []
    deletion = team_deleted_in_the_admin(admin, night, answers)
    monkeypatch.setattr(imports, "release_work", then_meanwhile(imports.release_work, deletion))

    outcome = run("import_users", path)
    deletion.finish()

    assert (deletion.outcome, messages_on(answers[0])) == ("done", [TEAM_IN_USE])
    assert outcome.ok, outcome.failure
    assert set(alex.teams.values_list("name", flat=True)) == {"Field", "Night shift"}
