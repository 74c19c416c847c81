"""Who belongs to a team, changed from both sides at the same moment (`teams/` and `users/`,
the API and the admin), and finished work reopened as its assignee is deactivated: each change
is made to the rows as they are behind their locks, none is lost, and none deadlocks.

Each test stages the race with `Meanwhile` at the point where the other change used to slip in.
"""

import threading

import pytest
from django.db import connection

from accounts import services
from accounts.admin import TEAM_IN_USE
from accounts.models import Team, User
from accounts.services import team_update, user_update
from accounts.tests.factories import AdminFactory, AgentFactory, SupervisorFactory, TeamFactory
from dispatchdesk import workflow
from dispatchdesk.tests.concurrency import (
    Meanwhile,
    in_this_thread_first,
    messages_on,
    team_deleted_in_the_admin,
    then_meanwhile,
)
from dispatchdesk.tests.test_admin_backoffice import form_data
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serializes whole-database writes: the changes cannot overlap",
    ),
]


def test_someone_who_joins_as_the_team_is_changed_gives_their_work_back(
    monkeypatch,
):
    """The members were read again behind the locks from a cached queryset: someone who joined
    (and took the team's work) in between was taken out by the change, their work kept."""
    team, elsewhere = TeamFactory(), TeamFactory()
    admin, supervisor = AdminFactory(), SupervisorFactory(teams=[team])
    agent = AgentFactory(teams=[elsewhere])
    ticket = TicketFactory(team=team, status="open")

    def joins_and_takes_work():
        user_update(user=User.objects.get(pk=agent.pk), by=admin, teams=[elsewhere, team])
        workflow.assign(
            Ticket.objects.get(pk=ticket.pk), by=admin, to=User.objects.get(pk=agent.pk)
        )

    meanwhile = Meanwhile(joins_and_takes_work)
    monkeypatch.setattr(
        services, "lock_people", in_this_thread_first(services.lock_people)(meanwhile)
    )

    team_update(team=Team.objects.get(pk=team.pk), by=admin, members=[supervisor])  # as read

    assert meanwhile.outcome == "done"
    ticket.refresh_from_db()
    assert not team.members.filter(pk=agent.pk).exists()
    assert ticket.assignee_id is None


@pytest.mark.parametrize(
    "change", [{"role": "requester"}, {"is_active": False}], ids=["made a requester", "deactivated"]
)
def test_someone_demoted_as_they_are_added_to_a_team_is_refused(client_for, monkeypatch, change):
    """The members were checked as the request had read them: a requester, or someone
    deactivated, joined the team."""
    team = TeamFactory()
    admin, other_admin = AdminFactory(), AdminFactory()
    supervisor, agent = SupervisorFactory(teams=[team]), AgentFactory()
    demotion = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=agent.pk), by=other_admin, **change)
    )
    monkeypatch.setattr(
        services, "lock_people", in_this_thread_first(services.lock_people)(demotion)
    )

    response = client_for(admin).patch(
        f"/api/v1/teams/{team.pk}/", {"members": [supervisor.pk, agent.pk]}, format="json"
    )

    assert demotion.outcome == "done"
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["members"]
    assert not team.members.filter(pk=agent.pk).exists()


def test_teams_given_to_someone_made_a_requester_meanwhile_are_refused(client_for, monkeypatch):
    """The change was decided on the user as the request had read them (an agent): a requester
    ended up in a team."""
    team = TeamFactory()
    admin, other_admin, agent = AdminFactory(), AdminFactory(), AgentFactory(teams=[])
    demotion = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=agent.pk), by=other_admin, role="requester")
    )
    monkeypatch.setattr(
        services,
        "ensure_an_admin_remains",
        in_this_thread_first(services.ensure_an_admin_remains)(demotion),
    )

    response = client_for(admin).patch(
        f"/api/v1/users/{agent.pk}/", {"teams": [team.pk]}, format="json"
    )

    assert demotion.outcome == "done"
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["teams"]
    agent = User.objects.get(pk=agent.pk)
    assert (agent.role, list(agent.teams.all())) == ("requester", [])


def test_a_team_renamed_in_the_admin_as_the_user_side_adds_a_member(client, monkeypatch):
    """The admin wrote the new name first (a unique column: FOR UPDATE on the team), which held
    back the user side's new membership while that held the agent's row, which the team's
    change of members then waited for: a deadlock."""
    from accounts import admin as accounts_admin

    team, elsewhere = TeamFactory(name="Support"), TeamFactory(name="Elsewhere")
    agent, supervisor = AgentFactory(teams=[elsewhere]), SupervisorFactory(teams=[team])
    admin = AdminFactory()
    user_side = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=agent.pk), by=admin, teams=[elsewhere, team])
    )
    team_update_of_the_admin = accounts_admin.team_update

    def user_side_meanwhile(**kwargs):
        user_side.start()  # it goes as far as it can
        return team_update_of_the_admin(**kwargs)

    monkeypatch.setattr(accounts_admin, "team_update", user_side_meanwhile)
    client.force_login(admin)
    url = f"/admin/accounts/team/{team.pk}/change/"
    data = form_data(client.get(url), "team_form")
    data.update(name="Support desk", members=[str(supervisor.pk), str(agent.pk)])

    response = client.post(url, data)
    user_side.finish()

    assert (response.status_code, user_side.outcome) == (302, "done")
    team.refresh_from_db()
    assert team.name == "Support desk"
    assert set(team.members.all()) == {supervisor, agent}


def test_a_reopen_that_finds_the_ticket_closed_as_its_assignee_is_being_deactivated():
    """Found closed behind its lock (it was resolved when read), the ticket's assignee was read
    without a lock: a deactivation past giving back work (closed work is not) but not yet
    committed was not seen, and the ticket reopened to someone deactivated."""
    team = TeamFactory()
    agent, supervisor, admin = AgentFactory(teams=[team]), SupervisorFactory(), AdminFactory()
    ticket = TicketFactory(team=team, status="resolved", assignee=agent)
    as_read = Ticket.objects.get(pk=ticket.pk)
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")  # closed meanwhile
    released, may_commit = threading.Event(), threading.Event()

    def deactivate_and_wait_before_committing():
        with services.transaction.atomic():
            user_update(user=User.objects.get(pk=agent.pk), by=admin, is_active=False)
            released.set()
            may_commit.wait(10)

    deactivation = Meanwhile(deactivate_and_wait_before_committing)
    deactivation.go.set()
    assert released.wait(10)
    reopen = Meanwhile(
        lambda: workflow.fire(as_read, name="reopen", by=supervisor, inputs={"note": "Again"})
    )
    reopen.start()  # it waits for the agent, whom the deactivation holds
    may_commit.set()
    deactivation.finish()
    reopen.finish()

    assert (deactivation.outcome, reopen.outcome) == ("done", "done")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.assignee_id) == ("open", None)


def test_a_password_set_on_the_admin_page_keeps_a_deactivation_made_meanwhile(client, monkeypatch):
    """Django's password form saved the whole user as the page had read them."""
    from accounts.admin import PasswordForm

    agent, admin, other_admin = AgentFactory(), AdminFactory(), AdminFactory()
    deactivation = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=agent.pk), by=other_admin, is_active=False)
    )
    monkeypatch.setattr(PasswordForm, "save", in_this_thread_first(PasswordForm.save)(deactivation))
    client.force_login(admin)
    password = "a-long-passphrase-9x"

    response = client.post(
        f"/admin/accounts/user/{agent.pk}/password/",
        {"password1": password, "password2": password, "usable_password": "true"},
    )

    assert deactivation.outcome == "done"
    assert response.status_code == 302
    agent = User.objects.get(pk=agent.pk)
    assert (agent.is_active, agent.check_password(password)) == (False, True)


@pytest.mark.parametrize(
    "change", [{"is_active": False}, {"role": "requester"}], ids=["deactivated", "demoted"]
)
def test_ones_own_password_changed_in_the_admin_keeps_a_change_made_meanwhile(
    client, monkeypatch, change
):
    """The admin site's own "Change password" page saved the whole user as the request had
    read them: an admin's deactivation or demotion of them in between was undone."""
    from django.contrib.admin import forms as admin_forms

    from accounts.tests.factories import PASSWORD

    supervisor, admin = SupervisorFactory(teams=[TeamFactory()]), AdminFactory()
    meanwhile = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=supervisor.pk), by=admin, **change)
    )
    save = admin_forms.AdminPasswordChangeForm.save
    monkeypatch.setattr(
        admin_forms.AdminPasswordChangeForm, "save", in_this_thread_first(save)(meanwhile)
    )
    client.force_login(supervisor)
    new = "another-long-passphrase-7q"

    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )

    assert (meanwhile.outcome, response.status_code) == ("done", 302)
    supervisor = User.objects.get(pk=supervisor.pk)
    assert supervisor.check_password(new)
    assert (supervisor.role, supervisor.is_active) == (
        change.get("role", "supervisor"),
        change.get("is_active", True),
    )


def test_a_ticket_moved_to_a_team_its_assignee_is_leaving(monkeypatch):
    """The move checked that the assignee was a member without locking them: taken out of the
    team at that moment (their work there given back, which did not include this ticket yet),
    they were left assigned to work of a team they are not in."""
    from tickets.services import ticket_update

    support, other = TeamFactory(name="Support"), TeamFactory(name="Other")
    agent = AgentFactory(teams=[support, other])
    supervisor, admin = SupervisorFactory(teams=[support, other]), AdminFactory()
    ticket = TicketFactory(team=other, status="open", assignee=agent)
    removal = Meanwhile(
        lambda: team_update(team=Team.objects.get(pk=support.pk), by=admin, members=[supervisor])
    )
    main, as_history_value = threading.current_thread(), workflow.as_history_value

    def after_the_check(value):
        if threading.current_thread() is main and not removal.go.is_set():
            removal.start()  # it goes as far as it can: with the agent locked, it waits
        return as_history_value(value)

    monkeypatch.setattr(workflow, "as_history_value", after_the_check)

    ticket_update(ticket=Ticket.objects.get(pk=ticket.pk), by=supervisor, changes={"team": support})
    removal.finish()

    assert removal.outcome == "done"
    ticket.refresh_from_db()
    assert not support.members.filter(pk=agent.pk).exists()
    assert (ticket.team_id, ticket.assignee_id) == (support.pk, None)


def test_an_import_and_a_team_renamed_as_a_member_leaves_do_not_deadlock(tmp_path, monkeypatch):
    """A rename wrote the team's unique name column, which locks the row against the inserts
    that name the team (FOR UPDATE); holding it, the change waited for a ticket the import had
    locked, and the import's next ticket in that team waited for the row: a deadlock."""
    from accounts.tests.factories import RequesterFactory
    from dispatchdesk.tests.importing import run, write_csv
    from tickets.imports import TICKET_COLUMNS, TicketImport

    support = TeamFactory(name="Support")
    lee, sam, admin = (
        AgentFactory(teams=[support]),
        SupervisorFactory(teams=[support]),
        AdminFactory(),
    )
    RequesterFactory(email="rita@example.com")
    TicketFactory(team=support, status="open", assignee=lee, external_ref="T-1")
    team_change = Meanwhile(
        lambda: team_update(
            team=Team.objects.get(pk=support.pk), by=admin, name="Support desk", members=[sam]
        )
    )
    write = TicketImport.write

    def the_team_change_before_the_second_batch(importer, plan):
        if plan.creates:
            team_change.start(1.0)  # it goes as far as it can
        write(importer, plan)

    monkeypatch.setattr(TicketImport, "write", the_team_change_before_the_second_batch)
    rows = [
        {"external_ref": "T-1", "title": "Renamed"},
        {
            "external_ref": "T-2",
            "title": "New",
            "team": "Support",
            "requester_email": "rita@example.com",
        },
    ]

    imported = run(
        "import_tickets",
        write_csv(tmp_path / "t.csv", list(TICKET_COLUMNS), rows),
        "--batch-size",
        "1",
    )
    team_change.finish()

    assert (imported.ok, team_change.outcome) == (True, "done"), imported.failure
    assert Team.objects.get(pk=support.pk).name == "Support desk"
    assert Ticket.objects.get(external_ref="T-1").assignee_id is None  # lee left the team


def test_work_moved_after_it_was_reassigned_and_a_team_change_do_not_deadlock(monkeypatch):
    """The move locked the assignee it had read (A), found the work reassigned (to B) behind its
    lock and locked B too, still holding A: two people locked out of id order, against a team
    change that locks them by id (B, then A)."""
    from tickets.services import ticket_update

    source, target = TeamFactory(name="Source"), TeamFactory(name="Target")
    b = AgentFactory(teams=[source, target])  # the lower id
    a = AgentFactory(teams=[source, target])
    supervisor, admin = SupervisorFactory(teams=[source, target]), AdminFactory()
    ticket = TicketFactory(team=source, status="open", assignee=a)
    as_read = Ticket.objects.get(pk=ticket.pk)
    workflow.assign(Ticket.objects.get(pk=ticket.pk), by=supervisor, to=b)  # since it was read
    team_change = Meanwhile(
        lambda: team_update(
            team=Team.objects.get(pk=target.pk), by=admin, members=[a, b, supervisor]
        )
    )
    main, lock_person = threading.current_thread(), workflow.lock_person

    def the_team_change_before_b_is_locked(pk):
        if threading.current_thread() is main and pk == b.pk:
            team_change.start(1.0)
        return lock_person(pk)

    monkeypatch.setattr(workflow, "lock_person", the_team_change_before_b_is_locked)

    ticket_update(ticket=as_read, by=supervisor, changes={"team": target})
    team_change.finish()

    assert team_change.outcome == "done"
    ticket.refresh_from_db()
    assert (ticket.team_id, ticket.assignee_id) == (target.pk, b.pk)


def test_a_team_deleted_in_the_admin_while_someone_joins_it(client_for, monkeypatch):
    """The deletion collected the team's memberships, then waited for the team, which the
    joining held: the new membership committed, and the deletion failed at its commit on it.
    The deletion now waits for nobody: it is refused while the team is held."""
    admin, agent, night = AdminFactory(), AgentFactory(), TeamFactory(name="Night shift")
    answers = []
    deletion = team_deleted_in_the_admin(admin, night, answers)
    # After the teams are held and the membership written.
    monkeypatch.setattr(services, "release_work", then_meanwhile(services.release_work, deletion))

    response = client_for(admin).patch(
        f"/api/v1/users/{agent.pk}/", {"teams": [night.pk]}, format="json"
    )
    deletion.finish()

    assert (response.status_code, deletion.outcome) == (200, "done")
    assert messages_on(answers[0]) == [TEAM_IN_USE]
    assert list(agent.teams.all()) == [night]


def test_a_team_deleted_between_two_batches_of_a_user_import(tmp_path, monkeypatch):
    """The import held each batch's teams as it wrote that batch: its first batch had taken
    Una out of Night shift (her membership row locked), the deletion locked the team and
    waited for that row, and the second batch, putting Vic in Night shift, waited for the team.
    The import now holds them for its whole run, and the deletion is refused meanwhile."""
    from accounts import imports
    from dispatchdesk.tests.importing import run, write_csv

    admin = AdminFactory()
    night, field = TeamFactory(name="Night shift"), TeamFactory(name="Field")
    AgentFactory(email="una@example.com", teams=[night])
    AgentFactory(email="vic@example.com", teams=[field])
    path = write_csv(
        tmp_path / "users.csv",
        ["email", "full_name", "role", "teams"],
        [
            {"email": "una@example.com", "teams": "Field"},
            {"email": "vic@example.com", "teams": "Field;Night shift"},
        ],
    )
    answers = []
    deletion = team_deleted_in_the_admin(admin, night, answers)
    monkeypatch.setattr(imports, "release_work", then_meanwhile(imports.release_work, deletion))

    outcome = run("import_users", path, "--batch-size", "1")
    deletion.finish()

    assert outcome.ok, outcome.failure
    assert (deletion.outcome, messages_on(answers[0])) == ("done", [TEAM_IN_USE])
    assert set(Team.objects.get(pk=night.pk).members.values_list("email", flat=True)) == {
        "vic@example.com"
    }


@pytest.mark.parametrize("options", [[], ["--skip-invalid"]])
def test_a_team_an_import_names_deleted_before_it_writes_is_named(tmp_path, monkeypatch, options):
    """It said the row was "changed by someone else", of a new user, without naming the team."""
    from dispatchdesk.tests.importing import run, write_csv

    night = TeamFactory(name="Night shift")
    path = write_csv(
        tmp_path / "users.csv",
        ["email", "full_name", "role", "teams"],
        [{"email": "new@example.com", "full_name": "New", "role": "agent", "teams": "Night shift"}],
    )
    deletion = Meanwhile(lambda: Team.objects.filter(pk=night.pk).delete())
    held = in_this_thread_first(Team.objects.held)(deletion)
    monkeypatch.setattr(Team.objects, "held", held)

    outcome = run("import_users", path, *options)

    assert 'line 2: teams: deleted by someone else since the import read them: "Night shift"' in (
        outcome.failure
    )
    assert not User.objects.filter(email="new@example.com").exists()
