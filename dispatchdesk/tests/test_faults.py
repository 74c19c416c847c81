"""Real faults: the database goes away, a worker dies in the middle of a change."""

import csv
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tickets.imports import TICKET_COLUMNS

from .conftest import BASE_DIR
from .servers import ADMIN_EMAIL, AppServer, ThrowawayCluster, free_port

CLUSTER_PORT = free_port()
APP_PORT = free_port()


@pytest.fixture(scope="module")
def cluster():
    # Not under pytest's own temporary folder: the postgres user must be able to reach it.
    cluster = ThrowawayCluster(Path(tempfile.mkdtemp(prefix="dispatchdesk-pg-")), CLUSTER_PORT)
    cluster.create()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="module")
def app(cluster):
    server = AppServer(cluster.url, APP_PORT)
    server.start()
    yield server
    server.stop()


def test_an_unreachable_database_is_a_quick_503_and_the_app_recovers_by_itself(cluster, app):
    token = app.admin_token()
    assert app.request("GET", "/api/v1/tickets/", token=token)[0] == 200
    master = app.process.pid

    cluster.stop()
    try:
        started = time.monotonic()
        status, body = app.request("GET", "/api/v1/tickets/", token=token)
        elapsed = time.monotonic() - started
        assert status == 503, body
        assert body["code"] == "service_unavailable"
        assert set(body) == {"status", "code", "detail", "fields"}
        assert elapsed < 5
        assert app.request("POST", "/api/v1/tickets/", {"title": "x"}, token=token)[0] == 503
        assert app.request("GET", "/readyz")[0] == 503
        assert app.request("GET", "/healthz")[0] == 200
    finally:
        cluster.start()

    deadline = time.monotonic() + 30
    while app.request("GET", "/api/v1/tickets/", token=token)[0] != 200:
        assert time.monotonic() < deadline, "the app did not recover"
        time.sleep(0.5)
    assert app.request("GET", "/readyz")[0] == 200
    assert app.process.pid == master and app.process.poll() is None  # never restarted


def database(cluster, autocommit=False):
    return psycopg.connect(
        f"host=127.0.0.1 port={cluster.port} user=postgres dbname=dispatchdesk",
        autocommit=autocommit,
    )


def wait_for_a_blocked_backend(cluster, timeout=15, still_running=lambda: True):
    # Autocommit: inside one transaction pg_stat_activity would show the same snapshot forever.
    with database(cluster, autocommit=True) as connection:
        deadline = time.monotonic() + timeout
        while True:
            assert still_running(), "the process ended before it reached the lock"
            blocked = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            ).fetchone()[0]
            if blocked:
                return
            assert time.monotonic() < deadline, "the request never reached the lock"
            time.sleep(0.1)


def test_a_worker_killed_in_the_middle_of_a_transition_leaves_no_half_change(cluster, app):
    token = app.admin_token()
    status, ticket = app.request("POST", "/api/v1/tickets/", {"title": "Crash me"}, token=token)
    assert status == 201
    url = f"/api/v1/tickets/{ticket['id']}/transitions/"
    assert app.request("POST", url, {"name": "triage"}, token=token)[0] == 200

    # Hold the history table so that the transition blocks after it updated the ticket row
    # and before it could write its event and commit; then kill the worker right there.
    blocker = database(cluster)
    blocker.execute("LOCK TABLE dispatchdesk_event IN EXCLUSIVE MODE")
    outcome = {}
    cancel = threading.Thread(
        target=lambda: outcome.update(
            response=app.request("POST", url, {"name": "cancel", "note": "x"}, token=token)
        )
    )
    cancel.start()
    try:
        wait_for_a_blocked_backend(cluster)
        for pid in app.worker_pids():
            os.kill(pid, signal.SIGKILL)
    finally:
        blocker.rollback()
        blocker.close()
    cancel.join(timeout=30)

    assert outcome["response"][0] in (0, 502)  # the client saw the connection die
    with database(cluster) as connection:
        status = connection.execute(
            "SELECT status FROM tickets_ticket WHERE id = %s", [ticket["id"]]
        ).fetchone()[0]
        transitions = connection.execute(
            "SELECT data->>'transition' FROM dispatchdesk_event e JOIN django_content_type c"
            " ON c.id = e.content_type_id WHERE c.model = 'ticket' AND e.object_id = %s"
            " AND e.type = 'status_changed' ORDER BY e.id",
            [ticket["id"]],
        ).fetchall()
    assert status == "open"
    assert transitions == [("triage",)]

    # gunicorn replaces the dead worker and the ticket can still be cancelled.
    deadline = time.monotonic() + 30
    while app.request("GET", "/healthz")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert app.request("POST", url, {"name": "cancel", "note": "x"}, token=token)[0] == 200


def test_an_import_killed_in_the_middle_leaves_nothing(cluster, app, tmp_path):
    rows = [
        {column: "" for column in TICKET_COLUMNS}
        | {
            "external_ref": f"CRASH-{number}",
            "title": f"Imported {number}",
            "team": "General",
            "requester_email": ADMIN_EMAIL,
        }
        for number in range(200)
    ]
    source = tmp_path / "tickets.csv"
    with source.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=TICKET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    command = [sys.executable, "manage.py", "import_tickets", str(source)]

    # The tickets are written first, then their history: hold the history table, kill the
    # import while it waits there, inside its transaction.
    blocker = database(cluster)
    blocker.execute("LOCK TABLE dispatchdesk_event IN EXCLUSIVE MODE")
    log = tmp_path / "import.log"
    importer = subprocess.Popen(
        command, cwd=BASE_DIR, env=app.env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    try:
        wait_for_a_blocked_backend(cluster, still_running=lambda: importer.poll() is None)
        importer.send_signal(signal.SIGKILL)
        importer.wait(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()

    def imported() -> int:
        with database(cluster) as connection:
            return connection.execute(
                "SELECT count(*) FROM tickets_ticket WHERE external_ref LIKE 'CRASH-%%'"
            ).fetchone()[0]

    assert importer.returncode == -signal.SIGKILL, log.read_text()
    assert imported() == 0
    rerun = subprocess.run(command, cwd=BASE_DIR, env=app.env, capture_output=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert imported() == 200
