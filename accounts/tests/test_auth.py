from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import authentication
from accounts.authentication import user_by_id
from accounts.models import User
from accounts.services import user_update

from .factories import (
    PASSWORD,
    AdminFactory,
    AgentFactory,
    RequesterFactory,
    SupervisorFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
LOGOUT_URL = "/api/v1/auth/logout/"
ME_URL = "/api/v1/me/"


def login(client, email, password=PASSWORD):
    return client.post(TOKEN_URL, {"email": email, "password": password}, format="json")


def test_login_with_email_and_password_returns_working_tokens(api_client):
    user = AgentFactory(email="alex@example.com")

    response = login(api_client, "alex@example.com")

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    me = api_client.get(ME_URL)
    assert me.status_code == 200
    assert me.json()["id"] == user.pk
    assert me.json()["role"] == "agent"
    assert "password" not in me.json()


def test_login_email_is_case_insensitive(api_client):
    AgentFactory(email="alex@example.com")

    assert login(api_client, "Alex@Example.COM").status_code == 200


def test_bad_login_does_not_reveal_whether_the_email_exists(api_client):
    AgentFactory(email="alex@example.com")
    RequesterFactory(email="gone@example.com", is_active=False)

    wrong_password = login(api_client, "alex@example.com", "not-the-password")
    unknown_email = login(api_client, "nobody@example.com", "not-the-password")
    inactive = login(api_client, "gone@example.com")

    assert wrong_password.status_code == unknown_email.status_code == inactive.status_code == 401
    assert wrong_password.json() == unknown_email.json() == inactive.json()
    assert wrong_password.json()["code"] == "no_active_account"


def test_login_without_fields_is_400_per_field(api_client):
    response = api_client.post(TOKEN_URL, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"email", "password"}


def test_refresh_rotates_and_the_old_refresh_token_stops_working(api_client):
    AgentFactory(email="alex@example.com")
    first = login(api_client, "alex@example.com").json()

    rotated = api_client.post(REFRESH_URL, {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]

    reused = api_client.post(REFRESH_URL, {"refresh": first["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_not_valid"

    again = api_client.post(REFRESH_URL, {"refresh": rotated.json()["refresh"]}, format="json")
    assert again.status_code == 200


def test_logout_blacklists_the_refresh_token(api_client):
    AgentFactory(email="alex@example.com")
    tokens = login(api_client, "alex@example.com").json()

    logout = api_client.post(LOGOUT_URL, {"refresh": tokens["refresh"]}, format="json")
    assert logout.status_code == 204

    refresh = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]}, format="json")
    assert refresh.status_code == 401


def test_logout_with_a_garbage_token_is_401(api_client):
    response = api_client.post(LOGOUT_URL, {"refresh": "not-a-token"}, format="json")

    assert response.status_code == 401


def test_a_deleted_users_refresh_token_is_401_like_a_deactivated_ones(api_client):
    user = AgentFactory(email="alex@example.com")
    tokens = login(api_client, "alex@example.com").json()
    user.delete()  # the admin may delete users

    response = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_a_new_password_ends_every_session_of_the_user(api_client, client_for):
    """Whoever holds a token from before (a stolen one, say) is out: access and refresh."""
    user = AgentFactory(email="alex@example.com")
    tokens = login(api_client, "alex@example.com").json()
    admin = AdminFactory()

    changed = client_for(admin).patch(
        f"/api/v1/users/{user.pk}/", {"password": "a-new-long-passphrase-9"}, format="json"
    )

    assert changed.status_code == 200
    refresh = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]}, format="json")
    assert (refresh.status_code, refresh.json()["code"]) == (401, "password_changed")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get(ME_URL).status_code == 401
    assert login(APIClient(), "alex@example.com", "a-new-long-passphrase-9").status_code == 200


def test_a_password_changed_outside_the_api_ends_sessions_too(api_client):
    """The admin's password form and `manage.py changepassword` write the password directly."""
    user = AgentFactory(email="alex@example.com")
    tokens = login(api_client, "alex@example.com").json()
    user.set_password("a-new-long-passphrase-9")
    user.save()

    refresh = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]}, format="json")
    assert refresh.status_code == 401


def test_a_reactivated_user_starts_with_a_new_login(api_client, client_for):
    user = AgentFactory(email="alex@example.com")
    tokens = login(api_client, "alex@example.com").json()
    admin = client_for(AdminFactory())
    url = f"/api/v1/users/{user.pk}/"

    assert admin.patch(url, {"is_active": False}, format="json").status_code == 200
    assert admin.patch(url, {"is_active": True}, format="json").status_code == 200

    refresh = api_client.post(REFRESH_URL, {"refresh": tokens["refresh"]}, format="json")
    assert (refresh.status_code, refresh.json()["code"]) == (401, "token_not_valid")
    assert login(APIClient(), "alex@example.com").status_code == 200


def signed_refresh(user, **claims) -> str:
    """A refresh token signed with the installation's key, its claims changed (None: removed)."""
    token = RefreshToken.for_user(user)
    for claim, value in claims.items():
        if value is None:
            del token.payload[claim]
        else:
            token[claim] = value
    return str(token)


@pytest.mark.parametrize(
    "claims",
    [{"jti": None}, {"jti": 7}, {"user_id": "abc"}, {"user_id": None}, {"user_id": ["1"]}],
)
@pytest.mark.parametrize("url", [REFRESH_URL, LOGOUT_URL])
def test_a_signed_refresh_token_with_claims_we_never_issue_is_401(api_client, url, claims):
    refresh = signed_refresh(AgentFactory(), **claims)

    response = api_client.post(url, {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


@pytest.mark.parametrize("header", [None, "Bearer garbage", "Bearer ", "Token abc", "Bearer a.b.c"])
def test_missing_or_garbage_access_tokens_are_401(api_client, header):
    if header is not None:
        api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.get(ME_URL)

    assert response.status_code == 401
    assert set(response.json()) == {"status", "code", "detail", "fields"}


def test_expired_access_token_is_401(api_client):
    token = AccessToken.for_user(AgentFactory())
    token.set_exp(lifetime=-timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get(ME_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_access_token_of_a_deactivated_user_is_401(api_client, client_for):
    user = AgentFactory()
    client = client_for(user)
    user.is_active = False
    user.save()

    assert client.get(ME_URL).status_code == 401


def test_access_token_of_a_deleted_user_is_401(api_client, client_for):
    user = AgentFactory()
    client = client_for(user)
    user.delete()

    response = client.get(ME_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "user_not_found"


def test_access_token_with_a_malformed_user_id_is_401(api_client):
    token = AccessToken.for_user(AgentFactory())
    token["user_id"] = "1; DROP TABLE accounts_user"
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get(ME_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "user_not_found"


def test_the_authenticated_user_is_the_users_row_as_the_orm_reads_it(client_for):
    user = AgentFactory(full_name="Alex Agent")
    fields = [field.attname for field in User._meta.concrete_fields]

    read = user_by_id(str(user.pk))

    assert [getattr(read, name) for name in fields] == [
        getattr(User.objects.get(pk=user.pk), name) for name in fields
    ]
    assert not read._state.adding
    assert user_by_id(user.pk + 1000) is None


def test_the_authenticated_user_comes_with_the_ids_of_their_teams():
    first, second = TeamFactory(), TeamFactory()
    member = AgentFactory(teams=[second, first])

    assert user_by_id(member.pk).loaded_team_ids == tuple(sorted([first.pk, second.pk]))
    assert user_by_id(AgentFactory().pk).loaded_team_ids == ()
    assert User.objects.get(pk=member.pk).loaded_team_ids is None  # the ORM does not load them


def test_token_endpoint_is_throttled(api_client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "login", "3/minute")
    AgentFactory(email="alex@example.com")

    codes = [login(api_client, "alex@example.com", "wrong").status_code for _ in range(4)]

    assert codes == [401, 401, 401, 429]
    assert login(api_client, "alex@example.com").json()["code"] == "throttled"


def test_session_login_works_for_the_browsable_api(client):
    AgentFactory(email="alex@example.com")

    assert client.login(email="alex@example.com", password=PASSWORD)
    response = client.get(ME_URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"alex@example.com" in response.content


@pytest.fixture
def clock(fake_clock, settings):
    settings.JWT_USER_CACHE_SECONDS = 5
    return fake_clock(authentication)


def test_a_users_row_is_read_once_while_it_is_kept(client_for, clock):
    client = client_for(AgentFactory())
    assert client.get(ME_URL).status_code == 200

    clock.now += 4.9
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/tickets/")
    assert not [q for q in queries if '"accounts_user_teams"' in q["sql"]]

    clock.now += 0.1  # kept for 5 seconds: read again
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/tickets/")
    assert [q for q in queries if '"accounts_user_teams"' in q["sql"]]


def test_a_change_made_elsewhere_reaches_the_api_when_the_row_expires(client_for, clock):
    user = AgentFactory()
    client = client_for(user)
    assert client.get(ME_URL).status_code == 200
    # As another worker or a bulk write does it: no signal reaches this process.
    User.objects.filter(pk=user.pk).update(is_active=False)

    clock.now += 4
    assert client.get("/api/v1/tickets/").status_code == 200
    clock.now += 1
    response = client.get("/api/v1/tickets/")
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_a_change_made_in_this_process_reaches_the_next_request(client_for, clock):
    agent = AgentFactory()
    client = client_for(agent)
    assert client.get(ME_URL).status_code == 200

    agent.is_active = False
    agent.save()

    assert client.get("/api/v1/tickets/").status_code == 401


def test_a_new_team_reaches_the_next_request(client_for, clock):
    team = TeamFactory()
    agent = AgentFactory()
    client = client_for(agent)
    assert client.get(ME_URL).status_code == 200
    assert user_by_id(agent.pk).loaded_team_ids == ()

    agent.teams.add(team)

    assert user_by_id(agent.pk).loaded_team_ids == (team.pk,)


def test_each_request_gets_a_user_instance_of_its_own(clock):
    agent = AgentFactory()
    first = user_by_id(agent.pk)
    first.full_name = "changed in memory"

    second = user_by_id(agent.pk)
    assert second is not first
    assert second.full_name == agent.full_name


def test_with_no_keeping_every_request_reads_the_user(client_for, settings):
    settings.JWT_USER_CACHE_SECONDS = 0
    user = AgentFactory()
    client = client_for(user)
    assert client.get(ME_URL).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert client.get("/api/v1/tickets/").status_code == 401


def test_me_shows_a_change_made_elsewhere_at_once(client_for, clock):
    user = AgentFactory(full_name="Old Name")
    client = client_for(user)
    assert client.get(ME_URL).json()["full_name"] == "Old Name"
    User.objects.filter(pk=user.pk).update(full_name="New Name")

    assert client.get(ME_URL).json()["full_name"] == "New Name"


def test_a_browser_session_ends_with_a_deactivation_also_once_reactivated(client):
    """As refresh tokens are blacklisted: a session left open somewhere does not come back with
    the account. Other people's sessions, and the account's new ones, are not touched."""
    user, admin, other = SupervisorFactory(), AdminFactory(), SupervisorFactory()
    client.force_login(user)
    assert client.get(ME_URL).status_code == 200
    bystander = Client()
    bystander.force_login(other)

    user_update(user=user, by=admin, is_active=False)
    user_update(user=user, by=admin, is_active=True)

    assert client.get(ME_URL).status_code in (401, 403)
    assert client.get("/admin/").status_code == 302  # to the login page
    assert bystander.get(ME_URL).status_code == 200
    client.force_login(User.objects.get(pk=user.pk))
    assert client.get(ME_URL).status_code == 200
