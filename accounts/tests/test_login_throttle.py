"""Login attempts: one budget per client IP over the three ways to send a password, counted where
every worker sees it."""

import pytest
from django.core.cache import caches
from django.db import connection
from rest_framework.throttling import SimpleRateThrottle

from .factories import PASSWORD, SupervisorFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
ADMIN_LOGIN_URL = "/admin/login/"
API_LOGIN_URL = "/api-auth/login/"


@pytest.fixture(autouse=True)
def three_a_minute(monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login", "3/minute")


@pytest.fixture
def supervisor():
    return SupervisorFactory(email="sam@example.com")


def token_login(client, password="wrong"):
    return client.post(TOKEN_URL, {"email": "sam@example.com", "password": password})


def form_login(client, url, password="wrong"):
    return client.post(url, {"username": "sam@example.com", "password": password})


@pytest.mark.parametrize("url", [ADMIN_LOGIN_URL, API_LOGIN_URL], ids=["admin", "browsable-api"])
def test_login_forms_are_throttled(client, supervisor, url):
    codes = [form_login(client, url).status_code for _ in range(3)]
    refused = form_login(client, url, password=PASSWORD)  # even the right password

    assert codes == [200, 200, 200]  # the form again, with its error
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many login attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(url).status_code == 200  # looking at the form is not an attempt


@pytest.mark.parametrize("url", [ADMIN_LOGIN_URL, API_LOGIN_URL], ids=["admin", "browsable-api"])
def test_login_forms_still_log_in_within_the_budget(client, supervisor, url):
    response = form_login(client, url, password=PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(supervisor.pk)


def test_every_way_to_log_in_draws_on_one_budget(client, api_client, supervisor):
    assert token_login(api_client).status_code == 401
    assert form_login(client, ADMIN_LOGIN_URL).status_code == 200
    assert form_login(client, API_LOGIN_URL).status_code == 200

    assert token_login(api_client, password=PASSWORD).status_code == 429
    assert form_login(client, ADMIN_LOGIN_URL, password=PASSWORD).status_code == 429


def test_attempts_are_counted_where_every_worker_sees_them(api_client, supervisor):
    for _ in range(3):
        token_login(api_client)
    # Another gunicorn worker has nothing of this in its memory.
    caches["default"].clear()

    assert token_login(api_client, password=PASSWORD).status_code == 429
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dispatchdesk_cache")
        assert cursor.fetchone()[0] == 1  # the attempts of 127.0.0.1, in the database


def test_an_empty_rate_turns_the_login_throttle_off(client, monkeypatch, supervisor):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "login", None)

    codes = {form_login(client, ADMIN_LOGIN_URL).status_code for _ in range(5)}

    assert codes == {200}


def test_a_made_up_forwarded_for_header_buys_no_more_attempts(api_client, supervisor):
    codes = [
        api_client.post(
            TOKEN_URL,
            {"email": "sam@example.com", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(4)
    ]

    assert codes == [401, 401, 401, 429]


def test_behind_a_proxy_clients_are_told_apart_by_the_address_it_adds(
    api_client, supervisor, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def attempt(forwarded_for):
        return api_client.post(
            TOKEN_URL,
            {"email": "sam@example.com", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=forwarded_for,
        ).status_code

    # The proxy appends the address it saw; whatever the client wrote before it is ignored.
    codes = [attempt(f"198.51.100.{n}, 203.0.113.7") for n in range(4)]

    assert codes == [401, 401, 401, 429]
    assert attempt("203.0.113.8") == 401  # another client behind the same proxy
