"""The container entrypoint, run for real: migrate a fresh database, then serve with gunicorn."""

import subprocess
import time
import urllib.request
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection

from .conftest import BASE_DIR, SECRET_KEY, clean_env

PORT = 18431  # fixed, below the ephemeral range


@contextmanager
def fresh_database(tmp_path):
    """A brand-new, empty database of the kind the suite runs on; its URL."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'entrypoint.sqlite3'}"
        return
    params = connection.settings_dict
    name = f"dispatchdesk_entrypoint_{uuid.uuid4().hex[:8]}"
    server = dict(host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"])
    with psycopg.connect(
        dbname="postgres", password=params["PASSWORD"], autocommit=True, **server
    ) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{params['USER']}:{params['PASSWORD']}@{server['host']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(
            dbname="postgres", password=params["PASSWORD"], autocommit=True, **server
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def get_json(path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=5) as response:
        return response.status, response.read()


@pytest.mark.django_db
def test_entrypoint_migrates_creates_the_admin_and_serves(tmp_path):
    with fresh_database(tmp_path) as database_url:
        env = clean_env(
            DATABASE_URL=database_url,
            DJANGO_DEBUG="0",
            DJANGO_HTTPS="0",
            DJANGO_SECRET_KEY=SECRET_KEY,
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_SUPERUSER_EMAIL="owner@example.com",
            DJANGO_SUPERUSER_PASSWORD="owner-long-passphrase",
            HOST="127.0.0.1",
            PORT=str(PORT),
            WEB_CONCURRENCY="1",
        )
        server = subprocess.Popen(
            ["sh", "docker/entrypoint.sh"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    health = get_json("/healthz")
                    break
                except OSError:
                    assert server.poll() is None, server.stdout.read()
                    assert time.monotonic() < deadline, "gunicorn did not start in 60 s"
                    time.sleep(0.2)
            assert health == (200, b'{"status": "ok"}')
            assert get_json("/readyz") == (200, b'{"status": "ok"}')
        finally:
            server.terminate()
            output, _ = server.communicate(timeout=30)

        assert "Created admin owner@example.com" in output
        token_check = subprocess.run(
            [
                "python",
                "manage.py",
                "shell",
                "--verbosity=0",
                "-c",
                "from accounts.models import User; u = User.objects.get(email='owner@example.com');"
                " print(u.role, u.check_password('owner-long-passphrase'))",
            ],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert token_check.stdout.split() == ["admin", "True"], token_check.stderr
