"""The container entrypoint, run for real: migrate a fresh database, then serve with gunicorn."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from .conftest import BASE_DIR
from .servers import ADMIN_EMAIL, ADMIN_PASSWORD, AppServer, free_port, fresh_database

PORT = free_port()


@pytest.mark.django_db
def test_entrypoint_migrates_creates_the_admin_and_serves(tmp_path):
    with fresh_database(tmp_path, "entrypoint") as database_url:
        # As in the image, whose user has no home folder (/proc: not even root may make one).
        server = AppServer(database_url, PORT, HOME="/proc/nohome")
        server.start()
        try:
            assert server.request("GET", "/healthz") == (200, {"status": "ok"})
            assert server.request("GET", "/readyz") == (200, {"status": "ok"})
            # The first admin logs in (the attempt counts in the table of the shared cache,
            # which migrate creates).
            server.admin_token()
        finally:
            output = server.stop()

        assert f"Created admin {ADMIN_EMAIL}" in output
        assert "[ERROR]" not in output  # gunicorn's control socket, which it cannot make
        check = subprocess.run(
            [
                "python",
                "manage.py",
                "shell",
                "--verbosity=0",
                "-c",
                f"from accounts.models import User; u = User.objects.get(email='{ADMIN_EMAIL}');"
                f" print(u.role, u.is_active, u.check_password('{ADMIN_PASSWORD}'))",
            ],
            cwd=BASE_DIR,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.stdout.split() == ["admin", "True", "True"], check.stderr


@pytest.mark.django_db
def test_entrypoint_restarts_with_its_admin_and_stops_on_an_admin_it_cannot_create(tmp_path):
    with fresh_database(tmp_path, "entrypoint") as database_url:
        server = AppServer(database_url, PORT)
        server.start()
        server.stop()
        server.start()  # the admin exists now
        assert f"Admin {ADMIN_EMAIL} already exists" in server.stop()

        bad = AppServer(database_url, PORT, DJANGO_SUPERUSER_EMAIL="not-an-email")
        started = run_entrypoint(bad.env)

    assert started.returncode != 0
    assert "Enter a valid email address." in started.stderr
    assert "already exists" not in started.stdout


@pytest.mark.django_db
def test_entrypoint_restarts_when_the_admin_email_is_written_in_another_form(tmp_path):
    """The admin is stored with their email folded (NFKC, lower case); a later start looked the
    address up as written, found no one, tried to create them again and stopped."""
    with fresh_database(tmp_path, "entrypoint") as database_url:
        server = AppServer(database_url, PORT, DJANGO_SUPERUSER_EMAIL="Owner@ｅxample.com")
        server.start()
        server.stop()
        server.start()
        assert "already exists" in server.stop()


@pytest.mark.parametrize("port", ["70000", "99999999999999999999"])
def test_entrypoint_stops_at_once_on_a_port_beyond_the_last(port):
    """gunicorn stopped with a traceback, after the migrations (and a number too long for the
    shell's comparison passed it)."""
    env = {"PATH": "/usr/bin:/bin", "PORT": port, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/x"}

    result = run_entrypoint(env)

    assert result.returncode == 1
    assert result.stderr.strip() == f"PORT must be at most 65535, got '{port}'."


def run_entrypoint(env: dict[str, str]) -> subprocess.CompletedProcess:
    """The entrypoint to its end: it stops, or it serves until the timeout (a failure)."""
    return subprocess.run(
        ["sh", "docker/entrypoint.sh"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "is_active", "holder"),
    [("requester", True, "requester"), ("admin", False, "admin inactive")],
)
def test_entrypoint_stops_when_the_admin_email_belongs_to_a_user_who_is_not_an_active_admin(
    tmp_path, role, is_active, holder
):
    with fresh_database(tmp_path, "entrypoint") as database_url:
        server = AppServer(database_url, PORT)
        create_user = (
            "from accounts.models import User; "
            f"User.objects.create_user({ADMIN_EMAIL!r}, role={role!r}, is_active={is_active})"
        )
        for command in (["migrate", "--noinput"], ["shell", "-c", create_user]):
            subprocess.run(
                ["python", "manage.py", *command],
                cwd=BASE_DIR,
                env=server.env,
                check=True,
                capture_output=True,
                timeout=120,
            )

        started = run_entrypoint(server.env)

    assert started.returncode != 0
    assert (
        f"DJANGO_SUPERUSER_EMAIL {ADMIN_EMAIL} belongs to an existing user who is not an "
        f"active admin ({holder})"
    ) in started.stderr
    assert "already exists" not in started.stdout


@pytest.mark.django_db
def test_entrypoint_stops_on_a_first_admin_password_that_djangos_validators_refuse(tmp_path):
    with fresh_database(tmp_path, "entrypoint") as database_url:
        server = AppServer(database_url, PORT, DJANGO_SUPERUSER_PASSWORD="password")

        started = run_entrypoint(server.env)
        admins = subprocess.run(
            [
                "python",
                "manage.py",
                "shell",
                "--verbosity=0",
                "-c",
                "from accounts.models import User; print(User.objects.count())",
            ],
            cwd=BASE_DIR,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert started.returncode != 0
    assert "DJANGO_SUPERUSER_PASSWORD: This password is too common." in started.stderr
    assert admins.stdout.split() == ["0"], admins.stderr


def test_the_images_healthcheck_passes_whatever_host_the_installation_names(tmp_path):
    """The Dockerfile's HEALTHCHECK command, run as Docker runs it, against the entrypoint's
    server with a real host name in DJANGO_ALLOWED_HOSTS."""
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    [command] = re.findall(r"^HEALTHCHECK .*? CMD (.*)$", dockerfile, flags=re.MULTILINE)
    with fresh_database(tmp_path, "healthcheck") as database_url:
        server = AppServer(database_url, PORT, DJANGO_ALLOWED_HOSTS="desk.example.com")
        server.start()
        try:
            check = subprocess.run(
                ["sh", "-c", command],
                env=server.env,
                capture_output=True,
                text=True,
                timeout=30,
            )
        finally:
            server.stop()

    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(("port", "url"), [("", "http://127.0.0.1:8000/healthz"), ("9000", None)])
def test_the_images_healthcheck_asks_the_port_the_entrypoint_serves_on(port, url):
    """An empty PORT is served on 8000 (the entrypoint's default), and the healthcheck asked
    port 80: the container stayed unhealthy. Here the command prints the address it would open."""
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    [command] = re.findall(r"^HEALTHCHECK .*? CMD (.*)$", dockerfile, flags=re.MULTILINE)
    shown = command.replace("urllib.request.urlopen(", "(lambda url, timeout: print(url))(")

    result = subprocess.run(
        ["sh", "-c", shown],
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PORT": port},
        capture_output=True,
    )

    assert result.stdout.decode().split()[0] == (url or f"http://127.0.0.1:{port}/healthz")


def test_the_image_leaves_out_local_secrets():
    """The README has docker compose read its secrets from `.env` beside the Dockerfile, and
    the Dockerfile copies the whole folder."""
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    assert {".env", ".env.*"} <= set(ignored)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEB_CONCURRENCY", "0"),
        ("WEB_CONCURRENCY", "abc"),
        ("PORT", "80a"),
        ("GUNICORN_TIMEOUT", "-5"),
    ],
)
def test_entrypoint_stops_at_once_on_a_server_setting_gunicorn_cannot_use(name, value):
    """gunicorn took `WEB_CONCURRENCY=0` and listened with no worker to answer (the container
    only turned unhealthy minutes later), and `abc` was a traceback. Checked before anything
    else, the database included."""
    env = {"PATH": "/usr/bin:/bin", name: value, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/x"}

    result = run_entrypoint(env)

    assert result.returncode == 1
    assert result.stderr.strip() == f"{name} must be a whole number of at least 1, got '{value}'."


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="replicas share a PostgreSQL database; not SQLite"
)
@pytest.mark.django_db
def test_two_replicas_migrating_a_new_database_at_once_both_start(tmp_path):
    """Both found the migrations to apply and applied them together: the second failed on a
    column the first had just added (a crash and a traceback on a first deploy of two)."""
    with fresh_database(tmp_path, "replicas") as database_url:
        env = {
            "PATH": os.environ["PATH"],
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": database_url,
        }
        migrations = [
            subprocess.Popen(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outcomes = [(m.wait(timeout=300), m.stderr.read()) for m in migrations]

    assert [code for code, _ in outcomes] == [0, 0], outcomes
