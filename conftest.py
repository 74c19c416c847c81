import os

import pytest

# Set before pytest-django loads the settings: tests run the development configuration
# unless the environment says otherwise (CI adds DATABASE_URL for PostgreSQL).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatchdesk.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")


def pytest_configure(config):
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018 - load the settings now; pytest-django then sets Django up


@pytest.fixture(autouse=True)
def _test_settings(settings):
    from uuid import uuid4

    from django.core.cache import cache

    from accounts.authentication import forget_recent_users

    # A fast hasher keeps factories cheap; throttling counters must not leak between tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    # Every request reads its user, as a worker does the first time it sees them: query counts
    # stay the same from one request to the next (tests of the keeping turn it on).
    settings.JWT_USER_CACHE_SECONDS = 0
    # Users that API authentication kept: ids are used again after a rollback on SQLite.
    forget_recent_users()
    # Login attempts count in the database cache, whose table transactional tests do not roll
    # back: each test counts under keys of its own.
    shared = {**settings.CACHES["shared"], "KEY_PREFIX": uuid4().hex}
    settings.CACHES = {**settings.CACHES, "shared": shared}


class FakeClock:
    """Stands in for a module's monotonic `clock`: time moves when a test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_clock(monkeypatch):
    """`fake_clock(module)` replaces `module.clock` with a FakeClock for the test."""

    def install(module) -> FakeClock:
        clock = FakeClock()
        monkeypatch.setattr(module, "clock", clock)
        return clock

    return install


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_for():
    """An API client that sends a real access token of the given user."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return make


@pytest.fixture
def saved_as_read():
    """A PATCH of an object's editable `fields` as its GET shows them, with `changes`: what a
    client (the browsable API's form, too) sends back."""

    def save(client, url: str, fields: list[str], **changes):
        read = client.get(url).json()
        return client.patch(url, {field: read[field] for field in fields} | changes, format="json")

    return save


@pytest.fixture
def cast(db):
    """Everyone around one team's work: who is who decides what they may do."""
    from accounts.tests import factories

    team = factories.TeamFactory(name="Support")
    other_team = factories.TeamFactory(name="Elsewhere")
    return {
        "team": team,
        "other_team": other_team,
        "requester": factories.RequesterFactory(),
        "assignee": factories.AgentFactory(teams=[team]),
        "team_agent": factories.AgentFactory(teams=[team]),
        "outsider_agent": factories.AgentFactory(teams=[other_team]),
        "other_requester": factories.RequesterFactory(),
        "supervisor": factories.SupervisorFactory(teams=[team]),
        "admin": factories.AdminFactory(),
    }
