"""The container entrypoint, run for real: migrate a fresh database, then serve with gunicorn."""

import subprocess

import pytest

from .conftest import BASE_DIR
from .servers import ADMIN_EMAIL, ADMIN_PASSWORD, AppServer, fresh_database

PORT = 18431  # fixed, below the ephemeral range


@pytest.mark.django_db
def test_entrypoint_migrates_creates_the_admin_and_serves(tmp_path):
    with fresh_database(tmp_path, "entrypoint") as database_url:
        server = AppServer(database_url, PORT)
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
