"""Schema-driven fuzzing: schemathesis against /api/schema/ of the app served by gunicorn.

Every operation, as a requester, an agent and a supervisor: no 5xx, and every response (error
shapes included) as the schema documents it. Each operation alone (examples, coverage,
fuzzing), then chains of them that carry what one response returned into the next request
(stateful: an id created by a POST read, edited and transitioned; the links are inferred from
the schema). CI runs a short budget; `make fuzz` a long one (FUZZ_MAX_EXAMPLES, FUZZ_SEED;
FUZZ_PHASES to run fewer phases).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .servers import AppServer, free_port, fresh_database

PORT = free_port()
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)
PASSWORD = "fuzzing-passphrase-2026"
ROLES = ["requester", "agent", "supervisor"]


@pytest.fixture(scope="module")
def served(tmp_path_factory, django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        fresh_database(tmp_path_factory.mktemp("fuzz"), "fuzz") as url,
    ):
        server = AppServer(
            url,
            PORT,
            workers=2,
            DJANGO_LOGIN_THROTTLE_RATE="",
            DJANGO_ANON_THROTTLE_RATE="",
        )
        server.start()
        try:
            yield server, seed(server)
        finally:
            server.stop()


def seed(server) -> dict[str, str]:
    """People of every role and some work, created through the API; a token per role."""
    admin = server.admin_token()
    status, team = server.request("POST", "/api/v1/teams/", {"name": "Fuzz"}, token=admin)
    assert status == 201, team
    tokens = {}
    for role in ROLES:
        email = f"{role}@fuzz.example.com"
        user = {"email": email, "role": role, "password": PASSWORD}
        if role != "requester":
            user["teams"] = [team["id"]]
        status, created = server.request("POST", "/api/v1/users/", user, token=admin)
        assert status == 201, created
        status, pair = server.request(
            "POST", "/api/v1/auth/token/", {"email": email, "password": PASSWORD}
        )
        tokens[role] = pair["access"]
    for title in ("Printer jammed", "VPN drops"):
        status, _ = server.request(
            "POST", "/api/v1/tickets/", {"title": title}, token=tokens["requester"]
        )
        assert status == 201
    status, work_order = server.request(
        "POST",
        "/api/v1/work-orders/",
        {"title": "Service the lift", "team": team["id"]},
        token=tokens["supervisor"],
    )
    assert status == 201, work_order
    return tokens


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_no_server_errors_and_every_response_as_documented(served, role, tmp_path):
    server, tokens = served
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"http://127.0.0.1:{PORT}/api/schema/",
        "--header",
        f"Authorization: Bearer {tokens[role]}",
        "--checks",
        CHECKS,
        "--max-examples",
        os.environ.get("FUZZ_MAX_EXAMPLES", "6"),
        "--seed",
        os.environ.get("FUZZ_SEED", "42"),
        "--workers",
        "1",
        "--phases",
        os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing,stateful"),
        "--generation-database",
        "none",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]

    hooks = {"SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("fuzz_hooks.py"))}
    result = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **hooks},
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
