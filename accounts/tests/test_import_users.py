"""`manage.py import_users`: people matched by email, with the API's rules for roles and teams."""

import pytest
from django.db import connection

from accounts.imports import UserImport
from accounts.models import User
from accounts.services import LAST_ADMIN, NOT_A_WORKER, user_update
from dispatchdesk import workflow
from dispatchdesk.bulk import NAMES_NOTHING
from dispatchdesk.models import Event, EventType
from dispatchdesk.tests.concurrency import Meanwhile
from dispatchdesk.tests.importing import run, write_csv, write_json
from tickets.choices import TicketStatus
from tickets.models import Ticket
from tickets.tests.factories import TicketFactory

from .factories import PASSWORD, AdminFactory, AgentFactory, TeamFactory

pytestmark = pytest.mark.django_db

COLUMNS = ["email", "full_name", "role", "teams"]


@pytest.fixture
def teams(db):
    return {name: TeamFactory(name=name) for name in ("Support", "Field", "Night shift")}


def users_file(tmp_path, *rows, name="users.csv"):
    if name.endswith(".json"):
        return write_json(tmp_path / name, list(rows))
    return write_csv(tmp_path / name, COLUMNS, list(rows))


def team_names(user: User) -> set[str]:
    return set(user.teams.values_list("name", flat=True))


@pytest.mark.parametrize("name", ["users.csv", "users.json"])
def test_new_users_get_their_role_and_teams_and_no_usable_password(teams, tmp_path, name):
    team_list = ["Support", "Night shift"] if name.endswith(".json") else "Support; Night shift"
    path = users_file(
        tmp_path,
        {
            "email": "Kim.Lee@Example.com",
            "full_name": "Kim Lee",
            "role": "agent",
            "teams": team_list,
        },
        {"email": "rita@example.com", "full_name": "Rita"},
        name=name,
    )

    outcome = run("import_users", path)

    assert outcome.ok, outcome.errors
    assert "2 created, 0 updated, 0 skipped (unchanged), 0 failed" in outcome.out
    kim = User.objects.get(email="kim.lee@example.com")  # emails are stored lower-case
    assert (kim.full_name, kim.role, kim.is_active) == ("Kim Lee", "agent", True)
    assert team_names(kim) == {"Support", "Night shift"}
    assert not kim.has_usable_password()
    rita = User.objects.get(email="rita@example.com")
    assert (rita.role, team_names(rita)) == ("requester", set())
    assert not rita.has_usable_password()


def test_teams_are_found_by_name_in_any_letter_case(teams, tmp_path):
    """Team names are unique in any case, so `night SHIFT` can mean only one team."""
    path = users_file(
        tmp_path, {"email": "kim@example.com", "role": "agent", "teams": "support; night SHIFT"}
    )

    outcome = run("import_users", path)

    assert outcome.ok, outcome.errors
    assert team_names(User.objects.get(email="kim@example.com")) == {"Support", "Night shift"}


def test_a_rerun_updates_matched_users_and_keeps_their_password(teams, tmp_path):
    agent = AgentFactory(email="alex@example.com", full_name="Alex", teams=[teams["Support"]])
    path = users_file(tmp_path, {"email": "ALEX@example.com", "full_name": "Alex", "role": "agent"})
    outcome = run("import_users", path)
    assert "0 created, 0 updated, 1 skipped (unchanged)" in outcome.out

    path = users_file(
        tmp_path,
        {"email": "alex@example.com", "full_name": "Alex Agent", "role": "supervisor"},
        {"email": "new@example.com", "role": "agent", "teams": "Field"},
    )
    outcome = run("import_users", path)

    assert outcome.ok, outcome.errors
    assert "1 created, 1 updated, 0 skipped (unchanged)" in outcome.out
    assert User.objects.count() == 2
    agent.refresh_from_db()
    assert (agent.full_name, agent.role) == ("Alex Agent", "supervisor")
    assert team_names(agent) == {"Support"}  # no teams given: unchanged
    assert agent.check_password(PASSWORD)

    path = users_file(tmp_path, {"email": "alex@example.com", "teams": "Field"})
    assert run("import_users", path).ok
    assert team_names(agent) == {"Field"}  # teams given: exactly those


def test_a_user_who_leaves_the_worker_roles_leaves_their_teams(teams, tmp_path):
    agent = AgentFactory(email="alex@example.com", teams=[teams["Support"]])

    assert run("import_users", users_file(tmp_path, {"email": agent.email, "role": "requester"})).ok

    agent.refresh_from_db()
    assert (agent.role, team_names(agent)) == ("requester", set())


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"email": "", "full_name": "Kim"}, "email: This field is required."),
        ({"email": "not an email"}, "email: Enter a valid email address."),
        ({"role": "boss"}, 'role: "boss" is not a valid choice.'),
        ({"full_name": "x" * 151}, "full_name: Ensure this field has no more than 150 characters."),
        ({"role": "agent", "teams": "Support;Nowhere"}, 'teams: No team named "Nowhere".'),
        ({"role": "requester", "teams": "Support"}, f"teams: {NOT_A_WORKER}"),
        ({"teams": "Support"}, f"teams: {NOT_A_WORKER}"),  # a new user is a requester
        # Separators alone: not a list that takes every team away (an empty cell keeps them).
        ({"role": "agent", "teams": " ; "}, f"teams: {NAMES_NOTHING}"),
    ],
)
def test_each_kind_of_bad_row_is_reported_and_nothing_is_written(teams, tmp_path, cells, message):
    good = {"email": "good@example.com"}
    path = users_file(tmp_path, good, {"email": "bad@example.com"} | cells)

    outcome = run("import_users", path)

    assert not outcome.ok
    assert outcome.errors == [f"line 3: {message}"]
    assert not User.objects.exists()


def test_a_cell_of_separators_leaves_someones_teams_and_work_alone(teams, tmp_path):
    agent = AgentFactory(email="alex@example.com", teams=[teams["Support"]])
    ticket = TicketFactory(team=teams["Support"], status="open", assignee=agent)
    path = users_file(tmp_path, {"email": "alex@example.com", "teams": ";"})

    outcome = run("import_users", path)

    assert outcome.errors == [f"line 2: teams: {NAMES_NOTHING}"]
    ticket.refresh_from_db()
    assert (team_names(agent), ticket.assignee_id) == ({"Support"}, agent.pk)


def test_someone_deactivated_keeps_their_teams_and_joins_no_other(teams, tmp_path):
    """As through the API (accounts.services.user_change_problems)."""
    gone = AgentFactory(email="gone@example.com", teams=[teams["Support"]], is_active=False)
    joins = users_file(tmp_path, {"email": "gone@example.com", "teams": "Support;Field"})
    leaves = users_file(tmp_path, {"email": "gone@example.com", "teams": "Support"}, name="b.csv")
    AgentFactory(email="kept@example.com", teams=[teams["Support"]], is_active=False)
    kept = users_file(tmp_path, {"email": "kept@example.com", "teams": "Support"}, name="c.csv")

    joined = run("import_users", joins)
    kept_as_they_were = run("import_users", kept)

    assert joined.errors == [f"line 2: teams: {NOT_A_WORKER}"]
    assert team_names(gone) == {"Support"}
    assert kept_as_they_were.ok, kept_as_they_were.errors
    gone.teams.add(teams["Field"])  # joined before they were deactivated
    assert run("import_users", leaves).ok  # leaving a team is allowed
    assert team_names(gone) == {"Support"}


def test_the_same_email_twice_is_refused_whatever_its_case(teams, tmp_path):
    path = users_file(tmp_path, {"email": "kim@example.com"}, {"email": "KIM@example.com"})

    outcome = run("import_users", path)

    assert outcome.errors == ["line 3: email: Duplicate of line 2."]
    assert not User.objects.exists()


def test_an_email_too_long_once_folded_is_a_bad_row_not_a_failed_import(teams, tmp_path):
    """It was checked before it was folded (NFKC): the database refused the whole run."""
    long = "a@" + ".".join(["\ufb03" * 60] * 3) + ".com"
    path = users_file(tmp_path, {"email": "kim@example.com"}, {"email": long})

    outcome = run("import_users", path)

    assert outcome.errors == ["line 3: email: Ensure this field has no more than 254 characters."]
    assert "database" not in outcome.failure
    assert not User.objects.exists()


def test_skip_invalid_and_dry_run(teams, tmp_path):
    path = users_file(
        tmp_path,
        {"email": "one@example.com"},
        {"email": "two@example.com", "role": "boss"},
        {"email": "three@example.com", "role": "agent", "teams": "Field"},
    )

    dry = run("import_users", path, "--dry-run", "--skip-invalid")
    assert not dry.ok and dry.errors == ['line 3: role: "boss" is not a valid choice.']
    assert "2 to create" in dry.out
    assert not User.objects.exists()

    outcome = run("import_users", path, "--skip-invalid")
    assert outcome.failure == "1 of 3 rows failed; the others were loaded."
    assert sorted(User.objects.values_list("email", flat=True)) == [
        "one@example.com",
        "three@example.com",
    ]


def test_an_import_that_moves_people_gives_back_the_work_they_can_no_longer_hold(teams, tmp_path):
    support, field = teams["Support"], teams["Field"]
    mover = AgentFactory(email="mo@example.com", teams=[support, field])
    leaver = AgentFactory(email="lee@example.com", teams=[support])
    kept = TicketFactory(team=field, assignee=mover, status=TicketStatus.OPEN)
    left = TicketFactory(team=support, assignee=mover, status=TicketStatus.OPEN)
    dropped = TicketFactory(team=support, assignee=leaver, status=TicketStatus.IN_PROGRESS)
    closed = TicketFactory(team=support, assignee=leaver, status=TicketStatus.CLOSED)
    path = users_file(
        tmp_path,
        {"email": "mo@example.com", "teams": "Field"},
        {"email": "lee@example.com", "role": "requester"},
    )

    outcome = run("import_users", path)

    assert outcome.ok, outcome.errors
    assignees = dict(Ticket.objects.values_list("pk", "assignee_id"))
    assert assignees == {kept.pk: mover.pk, left.pk: None, dropped.pk: None, closed.pk: leaver.pk}
    events = Event.objects.for_object(dropped).filter(type=EventType.UNASSIGNED)
    assert [(e.actor_id, e.data) for e in events] == [(None, {"from": leaver.pk, "to": None})]


def test_an_import_keeps_the_last_active_admin(teams, tmp_path):
    """Of two admins a file demotes both: the first goes, the second stays (it would leave
    nobody to manage users)."""
    first, second = AdminFactory(email="ada@example.com"), AdminFactory(email="bo@example.com")
    path = users_file(
        tmp_path,
        {"email": first.email, "role": "agent"},
        {"email": second.email, "role": "requester"},
    )

    outcome = run("import_users", path)

    assert outcome.errors == [f"line 3: role: {LAST_ADMIN}"]
    assert run("import_users", path, "--skip-invalid").failure.startswith("1 of 2 rows failed")
    assert set(User.objects.filter(role="admin").values_list("email", flat=True)) == {
        "bo@example.com"
    }


def test_a_user_changed_after_the_import_read_them_is_not_overwritten(teams, tmp_path, monkeypatch):
    """An admin makes someone a supervisor between the import's check and its write: a row that
    only renames them would have written back the role it read."""
    ada = AgentFactory(email="ada@example.com", full_name="Ada", teams=[teams["Support"]])
    bo = AgentFactory(email="bo@example.com", full_name="Bo", teams=[teams["Support"]])
    admin = AdminFactory()
    read = UserImport.lookup

    def lookup_then_someone_edits(importer, batch):
        read(importer, batch)
        user_update(user=User.objects.get(pk=bo.pk), by=admin, role="supervisor")

    monkeypatch.setattr(UserImport, "lookup", lookup_then_someone_edits)
    path = users_file(
        tmp_path,
        {"email": ada.email, "full_name": "Ada L."},
        {"email": bo.email, "full_name": "B."},
    )

    outcome = run("import_users", path)

    assert outcome.failure == (
        "users.csv: line 3: changed by someone else since the import read them; nothing "
        "written. Run the import again."
    )
    # (The edit ran inside the import's transaction here, so it is rolled back with it.)
    assert set(User.objects.filter(pk__in=[ada.pk, bo.pk]).values_list("full_name", flat=True)) == {
        "Ada",
        "Bo",
    }


def test_an_import_keeps_the_last_admin_when_another_was_demoted_meanwhile(
    teams, tmp_path, monkeypatch
):
    """The file demotes one of three admins; the two others are demoted through the API after
    the import's check: writing the row would leave nobody to manage users."""
    first, second = AdminFactory(email="ada@example.com"), AdminFactory(email="bo@example.com")
    owner = AdminFactory(email="owner@example.com")
    read = UserImport.lookup

    def lookup_then_the_others_are_demoted(importer, batch):
        read(importer, batch)
        for admin, by in ((second, owner), (owner, first)):  # nobody changes their own role
            user_update(user=User.objects.get(pk=admin.pk), by=by, role="agent")

    monkeypatch.setattr(UserImport, "lookup", lookup_then_the_others_are_demoted)
    path = users_file(tmp_path, {"email": first.email, "role": "agent"})

    outcome = run("import_users", path)

    assert outcome.failure == (
        "users.csv: line 2: changed by someone else since the import read them; nothing "
        "written. Run the import again."
    )
    assert User.objects.get(pk=first.pk).role == "admin"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and deadlocks: PostgreSQL only"
)
@pytest.mark.django_db(transaction=True)
def test_an_import_of_several_batches_and_an_assignment_at_once_do_not_deadlock(
    teams, tmp_path, monkeypatch
):
    """Batch 1 makes Ada a requester, giving back her ticket (locked); the API then assigns Bo
    to it (Bo locked, then the ticket: it waits); batch 2 renames Bo. Bo locked only then, the
    two waited on each other."""
    support = teams["Support"]
    ada = AgentFactory(email="ada@example.com", teams=[support])
    bo = AgentFactory(email="bo@example.com", teams=[support])
    ticket = TicketFactory(team=support, assignee=ada, status=TicketStatus.OPEN)
    admin = AdminFactory()
    assignment = Meanwhile(
        lambda: workflow.assign(Ticket.objects.get(pk=ticket.pk), by=admin, to=bo)
    )
    write = UserImport.write

    def write_the_second_batch_after_the_api_started(importer, plan):
        if plan.updates and plan.updates[0].pk == bo.pk:
            assignment.start()  # the API locks what it can and waits
        write(importer, plan)

    monkeypatch.setattr(UserImport, "write", write_the_second_batch_after_the_api_started)
    path = users_file(
        tmp_path, {"email": ada.email, "role": "requester"}, {"email": bo.email, "full_name": "B."}
    )

    try:
        imported = run("import_users", path, "--batch-size", "1")
    finally:
        assignment.finish()

    assert imported.ok, (imported.failure, imported.errors)
    assert assignment.outcome == "done"
    assert Ticket.objects.get(pk=ticket.pk).assignee == bo
