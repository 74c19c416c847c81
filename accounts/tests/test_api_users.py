import pytest

from accounts.models import Team, User

from .factories import (
    AdminFactory,
    AgentFactory,
    RequesterFactory,
    SupervisorFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

USERS_URL = "/api/v1/users/"
ROLE_FACTORIES = {
    "requester": RequesterFactory,
    "agent": AgentFactory,
    "supervisor": SupervisorFactory,
    "admin": AdminFactory,
}


@pytest.fixture
def people():
    return {
        "requester": RequesterFactory(),
        "agent": AgentFactory(),
        "supervisor": SupervisorFactory(),
        "admin": AdminFactory(),
        "inactive_agent": AgentFactory(is_active=False),
    }


def listed_ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("role", "status", "sees"),
    [
        ("requester", 403, set()),
        ("agent", 200, {"agent", "supervisor"}),
        ("supervisor", 200, {"agent", "supervisor"}),
        ("admin", 200, {"requester", "agent", "supervisor", "admin", "inactive_agent"}),
    ],
)
def test_who_may_list_users_and_whom_they_see(client_for, people, role, status, sees):
    response = client_for(people[role]).get(USERS_URL)

    assert response.status_code == status
    if status == 200:
        assert listed_ids(response) == {people[name].pk for name in sees}


def test_anonymous_user_list_is_401(api_client):
    assert api_client.get(USERS_URL).status_code == 401


@pytest.mark.parametrize(("role", "status"), [("agent", 404), ("supervisor", 404), ("admin", 200)])
def test_a_requester_is_invisible_to_workers(client_for, people, role, status):
    response = client_for(people[role]).get(f"{USERS_URL}{people['requester'].pk}/")

    assert response.status_code == status


@pytest.mark.parametrize(
    ("role", "status"),
    [("requester", 403), ("agent", 403), ("supervisor", 403), ("admin", 201)],
)
def test_only_admins_create_users(client_for, people, role, status):
    team = TeamFactory()
    payload = {
        "email": "New.Person@Example.com",
        "full_name": "New Person",
        "role": "agent",
        "teams": [team.pk],
        "password": "a-sufficiently-long-passphrase",
    }

    response = client_for(people[role]).post(USERS_URL, payload, format="json")

    assert response.status_code == status
    created = User.objects.filter(email="new.person@example.com").first()
    if status == 201:
        body = response.json()
        assert "password" not in body
        assert body["email"] == "new.person@example.com"
        assert body["teams"] == [team.pk]
        assert created.check_password("a-sufficiently-long-passphrase")
        assert list(created.teams.all()) == [team]
    else:
        assert created is None


@pytest.mark.parametrize(
    ("role", "status"),
    [("agent", 403), ("supervisor", 403), ("admin", 200)],
)
def test_only_admins_change_roles(client_for, people, role, status):
    target = people["agent"] if role != "agent" else AgentFactory()

    response = client_for(people[role]).patch(
        f"{USERS_URL}{target.pk}/", {"role": "supervisor"}, format="json"
    )

    assert response.status_code == status
    target.refresh_from_db()
    assert target.role == ("supervisor" if status == 200 else "agent")


def test_changing_an_invisible_user_is_404_not_403(client_for, people):
    response = client_for(people["agent"]).patch(
        f"{USERS_URL}{people['requester'].pk}/", {"full_name": "x"}, format="json"
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    "password",
    ["short", "12345678901234", "password123", "new.person@example.com"],
)
def test_weak_passwords_are_400_with_field_messages(client_for, people, password):
    response = client_for(people["admin"]).post(
        USERS_URL,
        {"email": "new.person@example.com", "role": "requester", "password": password},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["password"]
    assert body["fields"]["password"]
    assert not User.objects.filter(email="new.person@example.com").exists()


def test_a_password_like_the_users_name_is_400(client_for, people):
    response = client_for(people["admin"]).post(
        USERS_URL,
        {
            "email": "max@example.com",
            "full_name": "Maximilian Oberhauser",
            "role": "requester",
            "password": "Maximilian Oberhauser",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "too similar to the full name" in response.json()["fields"]["password"][0]


def test_a_user_can_be_created_inactive(client_for, people):
    response = client_for(people["admin"]).post(
        USERS_URL,
        {
            "email": "later@example.com",
            "role": "agent",
            "password": "a-long-passphrase-9",
            "is_active": False,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["is_active"] is False
    assert not User.objects.get(email="later@example.com").is_active


@pytest.mark.parametrize("how", ["created inactive", "given a team", "deactivated and moved"])
def test_an_inactive_user_joins_no_team_but_keeps_those_they_had(client_for, people, how):
    """As a team's members list has it: through users/ an inactive agent joined teams."""
    team, kept = TeamFactory(), TeamFactory()
    agent = people["inactive_agent"]
    agent.teams.set([kept])
    admin = client_for(people["admin"])
    body = {"teams": [kept.pk, team.pk]}
    if how == "created inactive":
        body |= {"email": "later@example.com", "role": "agent", "is_active": False}
        response = admin.post(USERS_URL, body | {"password": "a-long-passphrase-9"}, format="json")
    else:
        if how == "deactivated and moved":
            agent.is_active = True
            agent.save()
            body["is_active"] = False
        response = admin.patch(f"{USERS_URL}{agent.pk}/", body, format="json")
    kept_only = admin.patch(f"{USERS_URL}{agent.pk}/", {"teams": [kept.pk]}, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["teams"]
    assert not team.members.exists()
    assert kept_only.status_code == 200, kept_only.json()


def test_create_reports_every_bad_field(client_for, people):
    response = client_for(people["admin"]).post(
        USERS_URL, {"email": "not-an-email", "role": "boss"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"email", "role", "password"}


def test_duplicate_email_is_400_whatever_its_case(client_for, people):
    AgentFactory(email="taken@example.com")

    response = client_for(people["admin"]).post(
        USERS_URL,
        {"email": "TAKEN@example.com", "password": "a-sufficiently-long-passphrase"},
        format="json",
    )

    assert response.status_code == 400
    assert "email" in response.json()["fields"]


def test_requesters_cannot_be_team_members(client_for, people):
    team = TeamFactory()

    response = client_for(people["admin"]).post(
        USERS_URL,
        {
            "email": "r@example.com",
            "role": "requester",
            "teams": [team.pk],
            "password": "a-sufficiently-long-passphrase",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "teams" in response.json()["fields"]


def test_a_user_who_becomes_a_requester_leaves_their_teams(client_for, people):
    agent = AgentFactory(teams=[TeamFactory()])

    response = client_for(people["admin"]).patch(
        f"{USERS_URL}{agent.pk}/", {"role": "requester"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["teams"] == []
    assert not agent.teams.exists()


def test_admin_sets_a_new_password(client_for, people):
    target = people["agent"]

    response = client_for(people["admin"]).patch(
        f"{USERS_URL}{target.pk}/", {"password": "another-long-passphrase"}, format="json"
    )

    assert response.status_code == 200
    target.refresh_from_db()
    assert target.check_password("another-long-passphrase")


def test_admin_cannot_demote_or_deactivate_themselves(client_for, people):
    admin = people["admin"]

    response = client_for(admin).patch(
        f"{USERS_URL}{admin.pk}/", {"role": "agent", "is_active": False}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"role", "is_active"}
    admin.refresh_from_db()
    assert admin.role == "admin"
    assert admin.is_active


def test_users_are_never_deleted_through_the_api(client_for, people):
    response = client_for(people["admin"]).delete(f"{USERS_URL}{people['agent'].pk}/")

    assert response.status_code == 405
    assert User.objects.filter(pk=people["agent"].pk).exists()


def test_user_filters(client_for, people):
    team = TeamFactory()
    member = AgentFactory(full_name="Zed Member", teams=[team])
    client = client_for(people["admin"])

    assert listed_ids(client.get(USERS_URL, {"team": team.pk})) == {member.pk}
    assert listed_ids(client.get(USERS_URL, {"search": "zed mem"})) == {member.pk}
    assert listed_ids(client.get(USERS_URL, {"role": "requester"})) == {people["requester"].pk}
    assert listed_ids(client.get(USERS_URL, {"is_active": "false"})) == {
        people["inactive_agent"].pk
    }


@pytest.mark.parametrize("value", ["maybe", "1", "yes"])
def test_a_filter_value_not_understood_is_400(client_for, people, value):
    response = client_for(people["admin"]).get(USERS_URL, {"is_active": value})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["is_active"]


@pytest.mark.parametrize("role", ["requester", "agent", "supervisor", "admin"])
def test_me_shows_every_role_themselves(client_for, role):
    user = ROLE_FACTORIES[role]()

    response = client_for(user).get("/api/v1/me/")

    assert response.status_code == 200
    assert response.json()["email"] == user.email
    assert response.json()["role"] == role


def test_user_list_query_count_does_not_grow_with_page_size(
    client_for, people, django_assert_max_num_queries
):
    team = TeamFactory()
    AgentFactory.create_batch(30, teams=[team])
    client = client_for(people["admin"])

    with django_assert_max_num_queries(4):
        response = client.get(USERS_URL, {"page_size": 5})
    assert len(response.json()["results"]) == 5
    with django_assert_max_num_queries(4):
        response = client.get(USERS_URL, {"page_size": 200})
    assert len(response.json()["results"]) == 35


@pytest.mark.parametrize("kind", ["users", "teams"])
def test_a_stale_if_match_is_412_and_writes_nothing(client_for, people, kind):
    """Users and teams had no ETag: a members list read earlier and sent back took out a
    member added meanwhile (and gave back their work), without a word."""
    team = TeamFactory(name="Night shift")
    team.members.add(people["agent"])
    url = f"{USERS_URL}{people['agent'].pk}/" if kind == "users" else f"/api/v1/teams/{team.pk}/"
    change = {"full_name": "Agent Smith"} if kind == "users" else {"name": "Late shift"}
    admin = client_for(people["admin"])
    read = admin.get(url)
    # Someone else's change since: a new team for the user, a new member for the team.
    team.members.add(people["supervisor"])
    if kind == "users":
        people["agent"].teams.add(TeamFactory())

    stale = admin.patch(url, change, format="json", HTTP_IF_MATCH=read["ETag"])
    fresh = admin.get(url)
    saved = admin.patch(url, change, format="json", HTTP_IF_MATCH=fresh["ETag"])

    assert read["ETag"] != fresh["ETag"]
    assert stale.status_code == 412
    assert saved.status_code == 200, saved.json()
    assert saved["ETag"] == admin.get(url)["ETag"] != fresh["ETag"]
    assert admin.patch(url, change, format="json", HTTP_IF_MATCH=saved["ETag"]).status_code == 200


@pytest.mark.parametrize("query", ["role=requester", "role=nonsense", "is_active=false"])
def test_the_lists_filters_do_not_apply_to_one_users_url(client_for, people, query):
    url = f"{USERS_URL}{people['agent'].pk}/?{query}"
    admin = client_for(people["admin"])

    read = admin.get(url)
    changed = admin.patch(url, {"full_name": "Agent Smith"}, format="json")

    assert (read.status_code, changed.status_code) == (200, 200)
    assert read.json()["id"] == people["agent"].pk


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        ("kim@example.com", "kim@\uff45xample.com"),
        ("kim@ex\u00e4mple.com", "kim@exa\u0308mple.com"),
    ],
    ids=["fullwidth", "combining mark"],
)
def test_an_email_is_one_address_in_any_unicode_form(client, client_for, people, stored, sent):
    """The API stored `kim@ｅxample.com` beside `kim@example.com`, which the admin refuses
    (it folds as Django folds usernames), and the admin's save of such a user changed their
    login."""
    admin = client_for(people["admin"])
    kim = admin.post(
        USERS_URL,
        {"email": stored, "role": "agent", "password": "a-long-passphrase-9"},
        format="json",
    )
    assert kim.status_code == 201

    again = admin.post(
        USERS_URL,
        {"email": sent, "role": "agent", "password": "a-long-passphrase-9"},
        format="json",
    )
    login = client.post(
        "/api/v1/auth/token/",
        {"email": sent, "password": "a-long-passphrase-9"},
        content_type="application/json",
    )

    assert again.status_code == 400
    assert list(again.json()["fields"]) == ["email"]
    assert login.status_code == 200


@pytest.mark.parametrize(
    "email",
    [
        "a@" + ".".join(["\ufb03" * 60] * 3) + ".com",  # 188 characters, 548 once folded
        "kim@\u2474x.com",  # `⑴`: `(1)` once folded
        "a@\ufdfa.com",  # one character, words with spaces once folded
    ],
    ids=["too long folded", "parentheses folded", "spaces folded"],
)
def test_an_email_is_checked_as_it_will_be_stored(client_for, people, email):
    """It was folded after it was checked: a 500 on PostgreSQL for one too long, and addresses
    that are no addresses stored as they were folded."""
    response = client_for(people["admin"]).post(
        USERS_URL,
        {"email": email, "role": "agent", "password": "a-long-passphrase-9"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["email"]
    assert User.objects.count() == len(people)


@pytest.mark.parametrize("kind", ["users", "teams"])
def test_a_user_or_team_deleted_in_the_admin_while_being_changed_is_404(
    client_for, monkeypatch, kind
):
    """The view found them; they were gone when the change locked their row (an error page)."""
    from accounts import serializers

    model, service = {"users": (User, "user_update"), "teams": (Team, "team_update")}[kind]
    changed = AgentFactory() if kind == "users" else TeamFactory(name="Night shift")
    update = getattr(serializers, service)

    def deleted_first(**kwargs):
        model.objects.filter(pk=changed.pk).delete()
        return update(**kwargs)

    monkeypatch.setattr(serializers, service, deleted_first)
    body = {"full_name": "Kim"} if kind == "users" else {"name": "Day shift"}

    response = client_for(AdminFactory()).patch(f"/api/v1/{kind}/{changed.pk}/", body)

    assert response.status_code == 404
    assert not model.objects.filter(pk=changed.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_team_deleted_in_the_admin_as_someone_joins_it_is_400(client_for, monkeypatch):
    """The membership's foreign key failed the commit (an error page)."""
    from accounts import serializers

    agent, night = AgentFactory(), TeamFactory(name="Night shift")
    update = serializers.user_update

    def team_deleted_first(**kwargs):
        Team.objects.filter(pk=night.pk).delete()
        return update(**kwargs)

    monkeypatch.setattr(serializers, "user_update", team_deleted_first)

    response = client_for(AdminFactory()).patch(
        f"/api/v1/users/{agent.pk}/", {"teams": [night.pk]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"teams": ["A team named here has been deleted."]}
    assert not agent.teams.exists()


@pytest.mark.django_db(transaction=True)
def test_a_team_deleted_in_the_admin_as_a_new_user_is_created_in_it_is_400(client_for, monkeypatch):
    from accounts import serializers

    night = TeamFactory(name="Night shift")
    create = serializers.user_create

    def team_deleted_first(**kwargs):
        Team.objects.filter(pk=night.pk).delete()
        return create(**kwargs)

    monkeypatch.setattr(serializers, "user_create", team_deleted_first)
    body = {"email": "kim@example.com", "password": "a long passphrase 42", "role": "agent"}

    response = client_for(AdminFactory()).post(
        "/api/v1/users/", {**body, "teams": [night.pk]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"teams": ["A team named here has been deleted."]}
    assert not User.objects.filter(email="kim@example.com").exists()
