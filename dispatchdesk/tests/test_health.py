import json

import pytest

from .conftest import run_python

PROBE = (
    "from django.test import Client\n"
    "response = Client().get('/readyz', HTTP_HOST='localhost')\n"
    "print(response.status_code, response.content.decode())"
)


@pytest.mark.django_db
def test_healthz_and_readyz_answer_ok(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_does_not_touch_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_by_any_address_and_over_plain_http(client, settings, path):
    """Docker's HEALTHCHECK asks 127.0.0.1, an orchestrator the container's own address; the
    installation names its real host in DJANGO_ALLOWED_HOSTS and redirects HTTP to HTTPS."""
    settings.ALLOWED_HOSTS = ["desk.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    probe = client.get(path, HTTP_HOST="10.1.2.3:8000")

    assert (probe.status_code, probe.json()) == (200, {"status": "ok"})
    assert client.get("/api/v1/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    assert client.get("/api/v1/", HTTP_HOST="desk.example.com").status_code == 301


def probe_readyz(database_url: str) -> tuple[int, dict]:
    result = run_python(PROBE, DJANGO_DEBUG="1", DATABASE_URL=database_url)
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(status), json.loads(body)


def test_readyz_is_503_when_the_database_is_unreachable():
    # Nothing listens on port 9 of the loopback interface: the connection is refused.
    status, body = probe_readyz("postgres://postgres@127.0.0.1:9/dispatchdesk")

    assert status == 503
    assert body["status"] == "unavailable"
    assert "database unreachable" in body["detail"]


def test_readyz_is_503_when_migrations_are_missing(tmp_path):
    status, body = probe_readyz(f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}")

    assert status == 503
    assert "migration(s) not applied" in body["detail"]


def test_readyz_is_ok_once_migrated(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    migrate = run_python(
        "from django.core.management import call_command; call_command('migrate', verbosity=0)",
        DJANGO_DEBUG="1",
        DATABASE_URL=database_url,
    )
    assert migrate.returncode == 0, migrate.stderr

    assert probe_readyz(database_url) == (200, {"status": "ok"})
