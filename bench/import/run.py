"""Time `import_tickets` against PostgreSQL's own COPY of the same file.

    .venv/bin/python bench/import/run.py [--rows 100000] [--repeat 3] [--batch-size N]
                                         [--migrate-to APP:MIGRATION] [--keep]

Creates (and at the end drops) the database BENCH_DATABASE_URL names (default
postgres://postgres@127.0.0.1:5432/dispatchdesk_bench; a name without `bench` is refused, as
it would be dropped), migrates it, generates the people and N tickets
(bench/import/generate.py), imports the people, then times, `--repeat` times each, with a
CHECKPOINT before every timed step:

- bare COPY: PostgreSQL's COPY of the tickets file into a plain table of the same columns
  (no indexes, constraints or history): the fastest PostgreSQL stores that file;
- import_tickets: the whole command on that file into the empty tickets table (reading,
  checking, writing, history, commit);
- re-run: the same command again, every row unchanged;
- floor: what any importer has to pay PostgreSQL for the same result: the rows, already
  checked and resolved to ids, copied into the real tickets and history tables (indexes,
  foreign keys and WAL included).

It prints the medians and the ratios import / bare COPY and import / floor.
"""

import argparse
import csv
import io
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402 - bench/import/generate.py, next to this file

from bench.database import drop_database  # noqa: E402 - bench/database.py, from the root

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dispatchdesk_bench"
BARE_TABLE = "bench_bare_tickets"
BARE_COLUMNS = {
    "external_ref": "text",
    "title": "text",
    "description": "text",
    "priority": "text",
    "status": "text",
    "team": "text",
    "requester_email": "text",
    "assignee_email": "text",
    "due_at": "timestamptz",
    "created_at": "timestamptz",
    "resolution": "text",
}


def checkpoint(conn) -> None:
    """Start each timed step with no dirty pages of the previous one pending (needs the
    superuser or the pg_checkpoint role; without it the numbers are just noisier)."""
    try:
        conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        conn.rollback()


def timed(step) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def bare_copy(conn, path: Path) -> float:
    columns = ", ".join(f"{name} {kind}" for name, kind in BARE_COLUMNS.items())
    conn.execute(f"DROP TABLE IF EXISTS {BARE_TABLE}")
    conn.execute(f"CREATE TABLE {BARE_TABLE} ({columns})")
    conn.commit()
    checkpoint(conn)

    def copy():
        with conn.cursor() as cursor:
            query = f"COPY {BARE_TABLE} FROM STDIN (FORMAT csv, HEADER true)"
            with cursor.copy(query) as copy, path.open("rb") as source:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
        conn.commit()

    return timed(copy)


def empty_tickets(conn) -> None:
    conn.execute("TRUNCATE tickets_ticket, dispatchdesk_event RESTART IDENTITY CASCADE")
    conn.commit()
    checkpoint(conn)


def run_command(*args: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def floor_rows(conn, path: Path):
    """The file's tickets resolved to ids, as the import would write them (not timed)."""
    from dispatchdesk.workflow import default_due_at

    teams = dict(conn.execute("SELECT name, id FROM accounts_team").fetchall())
    users = dict(conn.execute("SELECT email, id FROM accounts_user").fetchall())
    now = datetime.now(UTC)
    rows = []
    with path.open(encoding="utf-8", newline="") as source:
        for row in csv.DictReader(source):
            created = datetime.fromisoformat(row["created_at"])
            due = datetime.fromisoformat(row["due_at"]) if row["due_at"] else None
            rows.append(
                (
                    row["title"],
                    row["description"],
                    row["priority"],
                    row["status"],
                    teams[row["team"]],
                    users[row["requester_email"]],
                    users.get(row["assignee_email"]),
                    due or default_due_at(row["priority"], created),
                    row["external_ref"],
                    created,
                    now,
                    row["resolution"],
                )
            )
    return rows


def floor_copy(conn, rows) -> float:
    """COPY the resolved rows and one history event each into the real tables, and commit
    (as one COPY each: no batches, no checks, no lookups)."""
    content_type = conn.execute(
        "SELECT id FROM django_content_type WHERE app_label = 'tickets' AND model = 'ticket'"
    ).fetchone()[0]
    columns = (
        "id, title, description, priority, status, team_id, requester_id, assignee_id, due_at, "
        "external_ref, created_at, updated_at, resolution"
    )
    types = ["int8", "varchar", "text", "varchar", "varchar", "int8", "int8", "int8"]
    types += ["timestamptz", "varchar", "timestamptz", "timestamptz", "text"]
    event_types = ["int4", "int8", "timestamptz", "varchar", "jsonb", "bool"]
    conn.commit()
    checkpoint(conn)

    def copy():
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('tickets_ticket', 'id')) "
                "FROM generate_series(1, %s)",
                [len(rows)],
            )
            ids = [pk for (pk,) in cursor.fetchall()]
            query = f"COPY tickets_ticket ({columns}) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(query) as copy:
                copy.set_types(types)
                for pk, row in zip(ids, rows, strict=True):
                    copy.write_row((pk, *row))
            query = (
                "COPY dispatchdesk_event (content_type_id, object_id, at, type, data, public) "
                "FROM STDIN (FORMAT BINARY)"
            )
            with cursor.copy(query) as copy:
                copy.set_types(event_types)
                now = datetime.now(UTC)
                for pk, row in zip(ids, rows, strict=True):
                    data = {"created": True, "external_ref": row[8], "status": row[3]}
                    copy.write_row((content_type, pk, now, "imported", json.dumps(data), True))
        conn.commit()

    return timed(copy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", help="passed to import_tickets (default: its own)")
    parser.add_argument("--keep", action="store_true", help="Keep the database and the files.")
    parser.add_argument(
        "--migrate-to",
        action="append",
        default=[],
        metavar="APP:MIGRATION",
        help="After migrating, take APP back to MIGRATION (e.g. tickets:0001 to time the "
        "tables without the indexes of later migrations); repeatable.",
    )
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="dispatchdesk.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_LOG_LEVEL="WARNING",
    )
    print(f"Creating {url} and migrating it...", flush=True)
    drop_database(url, create=True)
    import django

    django.setup()
    from django.db import connection

    from accounts.models import Team
    from dispatchdesk.bulk import DEFAULT_BATCH_SIZE

    run_command("migrate", "--noinput")
    for target in args.migrate_to:
        app, _, migration = target.partition(":")
        run_command("migrate", app, migration, "--noinput")
    workdir = Path(tempfile.mkdtemp(prefix="dispatchdesk-bench-"))
    users, tickets = workdir / "users.csv", workdir / "tickets.csv"
    rng = generate.random.Random(2026)
    generate.write(users, generate.USER_COLUMNS, generate.user_rows(rng))
    count = generate.write(tickets, generate.TICKET_COLUMNS, generate.ticket_rows(rng, args.rows))
    size = tickets.stat().st_size / 2**20
    print(f"Generated {count:,} tickets ({size:.1f} MiB) in {tickets}", flush=True)
    for name in generate.TEAMS:
        Team.objects.get_or_create(name=name)
    print(run_command("import_users", str(users)))
    connection.close()

    results: dict[str, list[float]] = {"bare": [], "import": [], "rerun": [], "floor": []}
    import_args = ["import_tickets", str(tickets)]
    if args.batch_size:
        import_args += ["--batch-size", args.batch_size]
    with psycopg.connect(url) as conn:
        resolved = floor_rows(conn, tickets)
        for round_ in range(1, args.repeat + 1):
            results["bare"].append(bare_copy(conn, tickets))
            empty_tickets(conn)
            results["import"].append(timed(lambda: print("  " + run_command(*import_args))))
            conn.commit()
            checkpoint(conn)
            results["rerun"].append(timed(lambda: print("  " + run_command(*import_args))))
            empty_tickets(conn)
            results["floor"].append(floor_copy(conn, resolved))
            empty_tickets(conn)
            print(
                f"round {round_}: "
                + ", ".join(f"{key} {values[-1]:.2f} s" for key, values in results.items()),
                flush=True,
            )
        conn.execute(f"DROP TABLE IF EXISTS {BARE_TABLE}")
        conn.commit()
        version = conn.execute("SHOW server_version").fetchone()[0]
    connection.close()

    median = {key: statistics.median(values) for key, values in results.items()}
    print()
    schema = f" (migrated to {', '.join(args.migrate_to)})" if args.migrate_to else ""
    print(
        f"{count:,} tickets{schema}, batch size {args.batch_size or DEFAULT_BATCH_SIZE}, "
        f"median of {args.repeat}; "
        f"PostgreSQL {version}, Python {platform.python_version()}, {os.cpu_count()} cores"
    )
    print("| step | seconds | rows/s | × bare COPY |")
    print("|---|---:|---:|---:|")
    labels = {
        "bare": "PostgreSQL COPY of the file into a bare table",
        "floor": "PostgreSQL COPY of the resolved rows + history into the real tables",
        "import": "`import_tickets` (new tickets: read, check, write, history, commit)",
        "rerun": "`import_tickets` again (every row unchanged)",
    }
    for key in ("bare", "floor", "import", "rerun"):
        seconds = median[key]
        print(
            f"| {labels[key]} | {seconds:.2f} | {count / seconds:,.0f} | "
            f"{seconds / median['bare']:.1f}× |"
        )
    print()
    print(
        f"import_tickets / bare COPY = {median['import'] / median['bare']:.1f}×; "
        f"import_tickets / floor = {median['import'] / median['floor']:.2f}×"
    )
    if args.keep:
        print(f"Kept the database {url} and the files in {workdir}.")
    else:
        drop_database(url)
        for path in (users, tickets):
            path.unlink()
        workdir.rmdir()


if __name__ == "__main__":
    main()
