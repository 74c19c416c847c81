"""Generate realistic rows for the import benchmark: teams' people, then N tickets.

    .venv/bin/python bench/import/generate.py users  users.csv
    .venv/bin/python bench/import/generate.py tickets tickets.csv --rows 100000

The same seed gives the same files. Tickets reference the users file's people by email and
its teams by name, so import the users first (the benchmark runner does).
"""

import argparse
import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

TEAMS = ["General", "IT Support", "Facilities", "HR Services", "Finance Ops", "Field Service"]
AGENTS_PER_TEAM = 12
REQUESTERS = 3000
USER_COLUMNS = ["email", "full_name", "role", "teams"]
TICKET_COLUMNS = [
    "external_ref",
    "title",
    "description",
    "priority",
    "status",
    "team",
    "requester_email",
    "assignee_email",
    "due_at",
    "created_at",
    "resolution",
]
FIRST = ["Ada", "Ben", "Chloe", "Dev", "Emil", "Fatima", "Gus", "Hana", "Ivo", "Jun", "Kemal"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski"]
THINGS = [
    "printer",
    "laptop",
    "VPN",
    "badge reader",
    "air conditioning",
    "payroll export",
    "meeting room screen",
    "email account",
    "forklift",
    "expense report",
    "door lock",
    "phone line",
]
PROBLEMS = [
    "does not work",
    "is very slow",
    "shows an error",
    "needs replacing",
    "makes a loud noise",
    "keeps disconnecting",
    "was requested for a new starter",
    "needs a permission change",
]
WORDS = [
    "please",
    "urgent",
    "since",
    "yesterday",
    "morning",
    "again",
    "after",
    "the",
    "update",
    "floor",
    "room",
    "building",
    "client",
    "meeting",
    "tomorrow",
    "deadline",
    "screen",
    "cable",
    "power",
    "restart",
    "tried",
    "already",
    "colleague",
    "reported",
    "same",
    "issue",
    "office",
    "remote",
    "access",
    "blocked",
    "password",
    "reset",
    "invoice",
    "approval",
]
# status: weight; roughly what a year of a small helpdesk looks like
STATUSES = {
    "new": 8,
    "open": 10,
    "in_progress": 7,
    "on_hold": 3,
    "resolved": 12,
    "closed": 55,
    "cancelled": 5,
}
PRIORITIES = {"low": 20, "normal": 55, "high": 20, "urgent": 5}
DUE_HOURS = {"urgent": 4, "high": 24, "normal": 72, "low": 168}
RESOLUTIONS = [
    "Restarted the service and confirmed with the requester.",
    "Replaced the faulty part.",
    "Permissions granted.",
    "Configuration corrected; documented in the knowledge base.",
]


def agent_email(team: int, n: int) -> str:
    return f"agent{team}-{n}@bench.example.com"


def requester_email(n: int) -> str:
    return f"requester{n}@bench.example.com"


def user_rows(rng: random.Random):
    for t, team in enumerate(TEAMS):
        for n in range(AGENTS_PER_TEAM):
            role = "supervisor" if n == 0 else "agent"
            yield {
                "email": agent_email(t, n),
                "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "role": role,
                "teams": team,
            }
    for n in range(REQUESTERS):
        yield {
            "email": requester_email(n),
            "full_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "role": "requester",
            "teams": "",
        }


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ticket_rows(rng: random.Random, rows: int, *, start: int = 0):
    now = datetime(2026, 11, 1, tzinfo=UTC)
    statuses, status_weights = list(STATUSES), list(STATUSES.values())
    priorities, priority_weights = list(PRIORITIES), list(PRIORITIES.values())
    for i in range(start, start + rows):
        status = rng.choices(statuses, status_weights)[0]
        priority = rng.choices(priorities, priority_weights)[0]
        t = rng.randrange(len(TEAMS))
        created = now - timedelta(seconds=rng.randrange(365 * 24 * 3600))
        assigned = status not in {"new", "cancelled"} and rng.random() < 0.9
        thing, problem = rng.choice(THINGS), rng.choice(PROBLEMS)
        words = " ".join(rng.choices(WORDS, k=rng.randrange(8, 40)))
        description = f"The {thing} {problem}. {words.capitalize()}."
        if rng.random() < 0.1:
            description += '\nSteps tried:\n- restarted\n- asked a colleague, "same here"'
        yield {
            "external_ref": f"LEGACY-{i:07d}",
            "title": f"{thing.capitalize()} {problem}",
            "description": description,
            "priority": priority,
            "status": status,
            "team": TEAMS[t],
            "requester_email": requester_email(rng.randrange(REQUESTERS)),
            "assignee_email": agent_email(t, rng.randrange(AGENTS_PER_TEAM)) if assigned else "",
            "due_at": iso(created + timedelta(hours=DUE_HOURS[priority])),
            "created_at": iso(created),
            "resolution": rng.choice(RESOLUTIONS) if status in {"resolved", "closed"} else "",
        }


def write(path: Path, columns: list[str], rows) -> int:
    if path.suffix == ".json":
        items = list(rows)
        path.write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")
        return len(items)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["users", "tickets"])
    parser.add_argument("path", type=Path, help="a .csv or .json file to write")
    parser.add_argument("--rows", type=int, default=100_000, help="tickets to generate")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.kind == "users":
        count = write(args.path, USER_COLUMNS, user_rows(rng))
    else:
        count = write(args.path, TICKET_COLUMNS, ticket_rows(rng, args.rows))
    print(f"wrote {count} {args.kind} to {args.path}")


if __name__ == "__main__":
    main()
