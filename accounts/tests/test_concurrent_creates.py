"""Creates that race for one unique name or email: one wins, the others get a 400 on the field.
(And two admins demoting each other at once: one wins, an admin remains.)

The serializers check uniqueness before they write, so two requests sent together can both pass
the check; the database's constraint then decides, and the loser must hear why, not get a 500."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Team, User
from accounts.services import user_update
from accounts.tests.factories import PASSWORD, AdminFactory, RequesterFactory, TeamFactory
from dispatchdesk.tests.concurrency import Meanwhile, send_all_at_once
from tickets.models import Ticket

pytestmark = pytest.mark.django_db(transaction=True)

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite serializes whole-database writes: the requests cannot overlap",
)


def one_done_others_refused(responses, field: str, done: int = 201) -> None:
    statuses = sorted(response.status_code for response in responses)
    assert statuses == sorted([done] + [400] * (len(responses) - 1))
    for response in responses:
        if response.status_code == 400:
            assert list(response.json()["fields"]) == [field]


@needs_postgresql
@pytest.mark.parametrize(
    "names",
    [["Field crew"] * 6, ["Field crew", "FIELD CREW", "field crew"] * 2],
    ids=["same case", "other cases"],
)
def test_teams_of_one_name_created_at_once(cast, names):
    requests = [(cast["admin"], "post", "/api/v1/teams/", {"name": name}) for name in names]

    responses = send_all_at_once(requests)

    one_done_others_refused(responses, "name")
    assert Team.objects.filter(name__iexact="field crew").count() == 1


@needs_postgresql
def test_users_of_one_email_created_at_once(cast):
    body = {"email": "pat@example.com", "full_name": "Pat", "password": "a-long-passphrase-9"}

    responses = send_all_at_once([(cast["admin"], "post", "/api/v1/users/", body)] * 6)

    one_done_others_refused(responses, "email")
    assert User.objects.filter(email__iexact="pat@example.com").count() == 1


@needs_postgresql
def test_teams_renamed_to_one_name_at_once(cast):
    teams = [TeamFactory(name=f"Crew {n}") for n in range(6)]
    body = {"name": "Night crew"}
    requests = [(cast["admin"], "patch", f"/api/v1/teams/{team.pk}/", body) for team in teams]

    responses = send_all_at_once(requests)

    one_done_others_refused(responses, "name", done=200)
    assert Team.objects.filter(name="Night crew").count() == 1


@needs_postgresql
def test_users_given_one_email_at_once(cast):
    people = [RequesterFactory() for _ in range(6)]
    body = {"email": "pat@example.com"}
    requests = [(cast["admin"], "patch", f"/api/v1/users/{person.pk}/", body) for person in people]

    responses = send_all_at_once(requests)

    one_done_others_refused(responses, "email", done=200)
    assert User.objects.filter(email="pat@example.com").count() == 1


@needs_postgresql
@pytest.mark.parametrize("change", [{"role": "requester"}, {"is_active": False}])
def test_two_admins_demoting_each_other_at_once_leave_one_admin(change):
    """Nobody demotes themselves; two admins demoting each other at the same moment would
    otherwise both pass and leave nobody to manage users."""
    for _ in range(3):
        User.objects.filter(role="admin").delete()
        first, second = AdminFactory(), AdminFactory()
        requests = [
            (first, "patch", f"/api/v1/users/{second.pk}/", change),
            (second, "patch", f"/api/v1/users/{first.pk}/", change),
        ]

        responses = send_all_at_once(requests)

        assert sorted(response.status_code for response in responses) == [200, 400]
        refused = next(response for response in responses if response.status_code == 400)
        assert list(refused.json()["fields"]) == list(change)
        assert User.objects.filter(role="admin", is_active=True).count() == 1


@needs_postgresql
def test_one_refresh_token_sent_several_times_at_once_is_rotated_once(cast):
    """A stolen refresh token replayed while its owner refreshes: one of them gets a new one,
    the others a 401. Checked, then blacklisted without a lock, all of them got one, each a
    session of its own that went on rotating."""
    from rest_framework_simplejwt.tokens import RefreshToken

    refresh = str(RefreshToken.for_user(cast["team_agent"]))
    body = {"refresh": refresh}
    requests = [(cast["team_agent"], "post", "/api/v1/auth/token/refresh/", body)] * 6

    responses = send_all_at_once(requests)

    assert sorted(response.status_code for response in responses) == [200] + [401] * 5


def meanwhile_at_login(meanwhile: Meanwhile, monkeypatch) -> None:
    """Let `meanwhile` run when a login has checked the password, before it makes its tokens."""
    from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

    get_token = TokenObtainPairSerializer.get_token.__func__

    def meanwhile_then_token(cls, person):
        meanwhile.start()
        return get_token(cls, person)

    monkeypatch.setattr(TokenObtainPairSerializer, "get_token", classmethod(meanwhile_then_token))


def activate_again(user, *, by, monkeypatch) -> None:
    """After a race with a deactivation: the test's patches taken back, the account active."""
    monkeypatch.undo()
    user_update(user=User.objects.get(pk=user.pk), by=by, is_active=True)


@needs_postgresql
@pytest.mark.parametrize("email_too", [False, True], ids=["deactivated", "and renamed"])
def test_a_refresh_and_a_deactivation_at_once_leave_no_session(cast, monkeypatch, email_too):
    """The refresh is about to record its new token when the deactivation comes. With the
    token's row locked before the user's, a deactivation that also changed the email (its
    update locks the user's row) deadlocked with the refresh; without one, it listed the user's
    tokens before the new one was there, which then worked again after a reactivation."""
    from rest_framework_simplejwt import tokens

    user, admin = cast["team_agent"], cast["admin"]
    changes = {"is_active": False} | ({"email": "moved@example.com"} if email_too else {})
    deactivation = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=user.pk), by=admin, **changes)
    )
    outstand = tokens.RefreshToken.outstand

    def deactivated_meanwhile_then_outstand(token):
        deactivation.start()  # it goes as far as it can while this refresh holds its locks
        return outstand(token)

    monkeypatch.setattr(tokens.RefreshToken, "outstand", deactivated_meanwhile_then_outstand)
    client = APIClient()

    try:
        rotated = client.post(
            "/api/v1/auth/token/refresh/",
            {"refresh": str(tokens.RefreshToken.for_user(user))},
            format="json",
        )
    finally:
        deactivation.finish()
    activate_again(user, by=admin, monkeypatch=monkeypatch)

    assert deactivation.outcome == "done"
    assert rotated.status_code == 200
    again = client.post(
        "/api/v1/auth/token/refresh/", {"refresh": rotated.json()["refresh"]}, format="json"
    )
    assert again.status_code == 401  # the deactivation ended the token made meanwhile too


@needs_postgresql
def test_a_refresh_does_not_wait_for_an_import_that_names_the_person(cast, tmp_path, monkeypatch):
    """An all-or-nothing import keeps the people it names locked until it ends; a refresh took
    the user's row lock, and waited for the whole import (14 s for 100,000 tickets)."""
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.imports import UserImport
    from dispatchdesk.tests.importing import run, write_csv

    agent, other = cast["team_agent"], cast["assignee"]
    refresh = str(RefreshToken.for_user(agent))

    def refresh_the_agents_token():
        response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh})
        assert response.status_code == 200, response.content

    refreshing = Meanwhile(refresh_the_agents_token)
    seen_while_importing = []
    write = UserImport.write

    def write_then_refresh(importer, plan):
        write(importer, plan)
        if not seen_while_importing:
            refreshing.start()
            seen_while_importing.append(refreshing.outcome)

    monkeypatch.setattr(UserImport, "write", write_then_refresh)
    rows = [{"email": agent.email, "full_name": "A."}, {"email": other.email, "full_name": "B."}]
    path = write_csv(tmp_path / "users.csv", ["email", "full_name", "role", "teams"], rows)

    try:
        assert run("import_users", path, "--batch-size", "1").ok
    finally:
        refreshing.finish()

    assert seen_while_importing == ["done"]


@needs_postgresql
def test_a_login_and_a_deactivation_at_once_leave_no_session(cast, monkeypatch):
    """The login has checked the password when the deactivation comes: the deactivation ended
    the tokens it found, before the login's was there, which then worked after a reactivation."""
    user, admin = cast["team_agent"], cast["admin"]
    deactivation = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=user.pk), by=admin, is_active=False)
    )
    meanwhile_at_login(deactivation, monkeypatch)
    client = APIClient()

    try:
        login = client.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD})
    finally:
        deactivation.finish()
    activate_again(user, by=admin, monkeypatch=monkeypatch)

    assert deactivation.outcome == "done"
    assert login.status_code == 200
    again = client.post("/api/v1/auth/token/refresh/", {"refresh": login.json()["refresh"]})
    assert again.status_code == 401


@needs_postgresql
def test_a_login_spelt_otherwise_keeps_apart_from_a_deactivation_too(cast, monkeypatch):
    """`\\u212aim@…` (a Kelvin sign) is `kim@…` to the login, which lower-cases it: the lock's
    own lookup (the database's case folding) missed the user, and took no lock."""
    from accounts import tokens

    user = cast["team_agent"]
    User.objects.filter(pk=user.pk).update(email="kim@example.com")
    held = []
    monkeypatch.setattr(tokens, "hold_sessions", held.append)

    response = APIClient().post(
        "/api/v1/auth/token/", {"email": "\u212aim@example.com", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert held == [user.pk]


@needs_postgresql
def test_a_logout_and_a_refresh_of_one_token_at_once_take_turns(cast):
    """Each waited for the other's blacklist entry: a deadlock (the logout answered 503, and
    the refresh went on with a new token)."""
    from rest_framework_simplejwt.tokens import RefreshToken

    refresh = {"refresh": str(RefreshToken.for_user(cast["team_agent"]))}
    requests = [
        (cast["team_agent"], "post", "/api/v1/auth/logout/", refresh),
        (cast["team_agent"], "post", "/api/v1/auth/token/refresh/", refresh),
    ] * 3

    responses = send_all_at_once(requests)

    statuses = [response.status_code for response in responses]
    assert 503 not in statuses and 500 not in statuses, statuses
    assert statuses.count(204) + statuses.count(200) == 1, statuses  # one goes first, once


@needs_postgresql
def test_a_login_while_an_admin_deletes_the_user_is_not_an_error(cast, monkeypatch):
    """The login's new token was not among the rows the deletion collected: its foreign key
    failed at commit (a 500)."""
    from django.contrib import admin as django_admin

    user = cast["team_agent"]
    user_admin = django_admin.site._registry[User]
    deletion = Meanwhile(lambda: user_admin.delete_model(None, User.objects.get(pk=user.pk)))
    meanwhile_at_login(deletion, monkeypatch)

    try:
        login = APIClient().post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD})
    finally:
        deletion.finish()

    assert login.status_code == 200
    assert deletion.outcome == "done"
    assert not User.objects.filter(pk=user.pk).exists()


@needs_postgresql
def test_an_agent_taking_work_as_they_are_deactivated_does_not_keep_it(
    cast, client_for, monkeypatch
):
    """The take was checked against the user the request had authenticated: deactivated in
    between (their work given back), they took the ticket all the same, and kept it."""
    from dispatchdesk import workflow
    from tickets.tests.factories import TicketFactory

    agent, admin = cast["team_agent"], cast["admin"]
    ticket = TicketFactory(team=cast["team"], status="open")
    deactivation = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=agent.pk), by=admin, is_active=False)
    )
    assign = workflow.assign

    def deactivated_meanwhile(obj, *, by, to, **kwargs):
        deactivation.finish()
        return assign(obj, by=by, to=to, **kwargs)

    monkeypatch.setattr(workflow, "assign", deactivated_meanwhile)

    response = client_for(agent).post(
        f"/api/v1/tickets/{ticket.pk}/assign/", {"assignee": agent.pk}
    )

    assert deactivation.outcome == "done"
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.assignee_id is None


@needs_postgresql
@pytest.mark.parametrize("with_if_match", [False, True])
def test_a_teams_members_and_a_members_teams_changed_at_once(
    cast, client_for, monkeypatch, with_if_match
):
    """The team's row locked FOR UPDATE (to check If-Match) held back the user's side adding
    the same membership, which then held back the team's: a deadlock (503)."""
    import threading

    from accounts import services
    from accounts.tests.factories import AgentFactory, SupervisorFactory

    team, elsewhere = TeamFactory(), TeamFactory()
    agent, supervisor = AgentFactory(teams=[elsewhere]), SupervisorFactory(teams=[team])
    admin, main = cast["admin"], threading.current_thread()
    user_side = Meanwhile(
        lambda: user_update(user=User.objects.get(pk=agent.pk), by=admin, teams=[elsewhere, team])
    )
    ensure_may_join = services.ensure_may_join

    def the_user_side_meanwhile(*args, **kwargs):
        if threading.current_thread() is main:
            user_side.start()
        return ensure_may_join(*args, **kwargs)

    monkeypatch.setattr(services, "ensure_may_join", the_user_side_meanwhile)
    client, url = client_for(admin), f"/api/v1/teams/{team.pk}/"
    headers = {"HTTP_IF_MATCH": client.get(url)["ETag"]} if with_if_match else {}

    response = client.patch(url, {"members": [supervisor.pk, agent.pk]}, format="json", **headers)
    user_side.finish()

    assert (response.status_code, user_side.outcome) == (200, "done")
    assert set(User.objects.get(pk=agent.pk).teams.all()) == {team, elsewhere}


@needs_postgresql
def test_a_team_joined_while_a_users_teams_are_written_is_not_lost(cast, monkeypatch):
    """The user's side checked If-Match, then a team took them in and committed, then the
    user's side wrote the teams it was sent: the new membership was gone, with two 200s."""
    import threading

    from accounts import services
    from accounts.services import team_update
    from accounts.tests.factories import AgentFactory
    from dispatchdesk.etags import etag_for

    first, second = TeamFactory(), TeamFactory()
    agent, admin, main = AgentFactory(teams=[first]), cast["admin"], threading.current_thread()
    read = etag_for(User.objects.get(pk=agent.pk))
    team_side = Meanwhile(
        lambda: team_update(
            team=Team.objects.get(pk=second.pk), by=admin, members=[User.objects.get(pk=agent.pk)]
        )
    )
    ensure_if_match = services.ensure_if_match

    def the_team_side_meanwhile(obj, if_match):
        ensure_if_match(obj, if_match)
        if threading.current_thread() is main:
            team_side.start()  # it waits for the agent's row, which this change holds

    monkeypatch.setattr(services, "ensure_if_match", the_team_side_meanwhile)

    user_update(
        user=User.objects.get(pk=agent.pk), by=admin, teams=[first], full_name="A", if_match=read
    )
    team_side.finish()

    assert team_side.outcome == "done"
    assert set(User.objects.get(pk=agent.pk).teams.all()) == {first, second}


@needs_postgresql
def test_a_ticket_closed_and_its_assignee_deactivated_after_a_reopen_read_it(
    cast, client_for, monkeypatch
):
    """The reopen decided from the ticket as read (resolved) that there was no assignee to
    look at; by its lock the ticket was closed and the assignee deactivated (closed work is not
    given back), and it reopened to them."""
    import threading

    from dispatchdesk import workflow
    from tickets.tests.factories import TicketFactory

    agent, admin, main = cast["team_agent"], cast["admin"], threading.current_thread()
    ticket = TicketFactory(
        team=cast["team"], requester=cast["requester"], assignee=agent, status="resolved"
    )

    def close_then_deactivate():
        workflow.fire(Ticket.objects.get(pk=ticket.pk), name="close", by=cast["requester"])
        user_update(user=User.objects.get(pk=agent.pk), by=admin, is_active=False)

    meanwhile, lock = Meanwhile(close_then_deactivate), workflow.lock

    def both_meanwhile(obj):
        if threading.current_thread() is main:
            meanwhile.finish()
        return lock(obj)

    monkeypatch.setattr(workflow, "lock", both_meanwhile)

    response = client_for(cast["supervisor"]).post(
        f"/api/v1/tickets/{ticket.pk}/transitions/", {"name": "reopen", "note": "Again"}
    )

    assert meanwhile.outcome == "done"
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["assignee"]) == ("open", None)
