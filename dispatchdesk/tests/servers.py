"""Real servers for fault tests: a throwaway PostgreSQL cluster and the app under gunicorn."""

import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.db import connection

from .conftest import BASE_DIR, SECRET_KEY, clean_env

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
ADMIN_EMAIL = "owner@example.com"
ADMIN_PASSWORD = "owner-long-passphrase"
# Below Linux's ephemeral range (32768 and up), where a client socket could take a server's port.
SERVER_PORTS = range(20000, 32000)


def free_port() -> int:
    """A port that nothing listens on now, picked at random: runs of the suite side by side
    (CI and a developer's, say) do not take each other's servers for their own."""
    for port in random.sample(SERVER_PORTS, 100):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {SERVER_PORTS}")


@contextmanager
def fresh_database(tmp_path, label: str):
    """A brand-new, empty database of the kind the suite runs on; yields its URL."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / f'{label}.sqlite3'}"
        return
    params = connection.settings_dict
    name = f"dispatchdesk_{label}_{uuid.uuid4().hex[:8]}"
    host, port, user = params["HOST"], params["PORT"] or 5432, params["USER"]
    server = {"host": host, "port": port, "user": user, "password": params["PASSWORD"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{user}:{params['PASSWORD']}@{host}:{port}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ThrowawayCluster:
    """A PostgreSQL cluster of our own, so that tests may stop and start it at will."""

    def __init__(self, directory: Path, port: int):
        self.directory, self.port = directory, port
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/dispatchdesk"

    def run(self, *command: str) -> None:
        subprocess.run([*self.as_postgres, *command], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        assert (POSTGRES_BIN / "initdb").exists(), (
            f"install PostgreSQL 15's server programs ({POSTGRES_BIN}; Debian: postgresql-15)"
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.directory, "postgres", "postgres")
        self.run(
            str(POSTGRES_BIN / "initdb"),
            "-D",
            str(self.directory),
            "-U",
            "postgres",
            "--auth=trust",
        )
        self.start()
        self.run(
            str(POSTGRES_BIN / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "dispatchdesk",
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory}"
        self.run(
            str(POSTGRES_BIN / "pg_ctl"),
            "-D",
            str(self.directory),
            "-o",
            options,
            "-l",
            str(self.directory / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self.run(
            str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.directory), "-m", "fast", "-w", "stop"
        )

    def destroy(self) -> None:
        subprocess.run(
            [
                *self.as_postgres,
                str(POSTGRES_BIN / "pg_ctl"),
                "-D",
                str(self.directory),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


class AppServer:
    """DispatchDesk run by its container entrypoint (migrate, first admin, gunicorn)."""

    def __init__(self, database_url: str, port: int, workers: int = 1, **env: str):
        self.port = port
        self.env = (
            clean_env(
                DATABASE_URL=database_url,
                DJANGO_DEBUG="0",
                DJANGO_HTTPS="0",
                DJANGO_SECRET_KEY=SECRET_KEY,
                DJANGO_ALLOWED_HOSTS="127.0.0.1",
                DJANGO_SUPERUSER_EMAIL=ADMIN_EMAIL,
                DJANGO_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
                DJANGO_DB_CONNECT_TIMEOUT="3",
                DJANGO_USER_THROTTLE_RATE="",
                HOST="127.0.0.1",
                PORT=str(port),
                WEB_CONCURRENCY=str(workers),
            )
            | env
        )
        self.process = None

    def start(self, timeout: float = 60) -> None:
        # A server that took the port since free_port() chose it would answer instead.
        with socket.socket() as probe:
            taken = probe.connect_ex(("127.0.0.1", self.port)) == 0
        assert not taken, f"port {self.port} already serves something: stop it first"
        # A file, not a pipe: a pipe nobody reads fills up and blocks the access log.
        self.log = tempfile.NamedTemporaryFile(prefix="dispatchdesk-app-", suffix=".log")  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            ["sh", "docker/entrypoint.sh"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while self.request("GET", "/healthz")[0] != 200:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.2)

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> str:
        """Stop the server; what it printed."""
        if self.process is None:
            return ""
        self.process.terminate()
        self.process.wait(timeout=30)
        output = self.output()
        self.log.close()
        return output

    def worker_pids(self) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in found.stdout.split()]

    def request(self, method, path, body=None, token=None, timeout=15):
        """(status, parsed JSON or None); (0, None) when the server cannot be reached."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, None

    def admin_token(self) -> str:
        status, tokens = self.request(
            "POST", "/api/v1/auth/token/", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert status == 200, tokens
        return tokens["access"]
