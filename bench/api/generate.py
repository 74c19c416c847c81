"""Fill an empty, migrated PostgreSQL database with N realistic tickets, for the API load test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dispatchdesk_bench_api \
        .venv/bin/python bench/api/generate.py --tickets 1000000

What it makes (the same every time: `setseed` fixes PostgreSQL's random()):
- 8 teams of uneven size (30% of the work goes to the biggest, 3% to the smallest), 12 agents
  and a supervisor each, one requester per 200 tickets (at least 200), an admin; and the two
  accounts the load test logs in with, `agent@bench.example.com` (an agent of "IT Support", the
  busiest agent of the second biggest team) and `supervisor@bench.example.com`, password
  `bench-password-123`.
- N tickets created evenly over two years (ids follow creation time, as in real life); tickets
  older than a month are mostly closed, recent ones spread over every status; priorities
  20/55/20/5% low/normal/high/urgent; due dates from the priority (3% without); a few busy
  agents and frequent requesters; titles and descriptions from a skewed vocabulary, so some
  words are common and others rare, as search terms are.
- about 2 comments (a quarter internal) and 4 to 5 history events per ticket; work orders on a
  fifth of the tickets plus standalone ones (2% of N), with checklist items and time entries.

Rows are made by the database itself (INSERT ... SELECT over generate_series) with the
secondary indexes dropped and foreign-key triggers off, then the indexes are rebuilt and the
tables vacuumed and analysed: a million tickets with their 8 million child rows in minutes.
"""

import argparse
import os
import random
import sys
import time
from importlib import import_module
from pathlib import Path

from faker.providers.lorem.en_US import Provider as FakerWords

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "bench-password-123"
AGENT_EMAIL = "agent@bench.example.com"
SUPERVISOR_EMAIL = "supervisor@bench.example.com"

# name: share of the tickets
TEAMS = {
    "General": 0.30,
    "IT Support": 0.22,
    "Facilities": 0.15,
    "Field Service": 0.10,
    "HR Services": 0.09,
    "Finance Ops": 0.07,
    "Security": 0.04,
    "Fleet": 0.03,
}
BENCH_AGENT_TEAM = "IT Support"
AGENTS_PER_TEAM = 12
TICKETS_PER_REQUESTER = 200


def listed(text: str) -> list[str]:
    """Space-separated items; a hyphen stands for a space inside one."""
    return [item.replace("-", " ") for item in text.split()]


THINGS = listed(
    "printer laptop VPN monitor keyboard mouse headset docking-station badge-reader door-lock "
    "air-conditioning heating elevator projector phone wifi email calendar payroll invoice "
    "expense-report password account license database server backup firewall router switch "
    "forklift conveyor scanner label-printer barcode-reader tablet camera alarm light toilet "
    "fridge coffee-machine window blind parking-gate shredder whiteboard chair desk cabinet"
)
PROBLEMS = [
    "does not work",
    "is very slow",
    "shows an error",
    "needs replacing",
    "makes a loud noise",
    "keeps disconnecting",
    "is requested for a new starter",
    "needs a permission change",
    "stopped after the update",
    "is broken",
    "will not start",
    "is leaking",
    "cannot connect",
    "is missing",
]
PLACES = listed(
    "reception lobby warehouse basement kitchen canteen lab workshop garage mailroom "
    "boardroom floor-1 floor-2 floor-3 floor-4 floor-5 north-wing south-wing annex depot"
)
# Domain words first (the most frequent), then a thousand everyday English words in a fixed
# shuffled order: drawn with a skew, they give the long tail of rare words that real text has.
WORDS = listed(
    "please urgent since yesterday morning again after the update room building client "
    "meeting tomorrow deadline screen cable power restart tried already colleague reported "
    "same issue office remote access blocked reset approval noise smell flicker overheating "
    "battery firmware driver certificate expired quota storage sync outlook teams sharepoint "
    "spreadsheet report audit contract supplier delivery shipment pallet inventory ladder "
    "leak water heating ventilation fuse socket bulb key card visitor contractor weekend"
)
_english = sorted(set(FakerWords.word_list) - set(WORDS))
random.Random(7).shuffle(_english)
WORDS += _english
RESOLUTIONS = [
    "Restarted the service and confirmed with the requester.",
    "Replaced the faulty part.",
    "Permissions granted.",
    "Configuration corrected; documented in the knowledge base.",
    "Duplicate of an earlier ticket.",
]


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to the PostgreSQL database to fill.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatchdesk.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def step(label: str, rows_sql: str | None = None):
    """Time a stage; print the rows it made per second."""

    class Step:
        def __enter__(self):
            self.started = time.perf_counter()
            return self

        def __exit__(self, *exc):
            if exc[0] is not None:
                return False
            seconds = time.perf_counter() - self.started
            rows = ""
            if rows_sql:
                from django.db import connection

                with connection.cursor() as cursor:
                    cursor.execute(rows_sql)
                    count = cursor.fetchone()[0]
                rows = f" {count:>10,} rows {count / max(seconds, 1e-9):>10,.0f}/s"
            print(f"  {label:<34}{seconds:7.1f} s{rows}", flush=True)
            return False

    return Step()


def make_people(tickets: int) -> dict:
    """Teams and users through the ORM (a few thousand rows); returns the ids the SQL needs."""
    from django.contrib.auth.hashers import make_password

    from accounts.choices import Role
    from accounts.models import Team, User

    if User.objects.exists() or Team.objects.exclude(name="General").exists():
        sys.exit("The database already has users: generate into a freshly migrated database.")
    teams = [Team.objects.get_or_create(name=name)[0] for name in TEAMS]
    unusable = make_password(None)
    users = []
    for t in range(len(teams)):
        for n in range(AGENTS_PER_TEAM):
            users.append(User(email=f"agent{t}-{n}@bench.example.com", role=Role.AGENT))
        users.append(User(email=f"supervisor{t}@bench.example.com", role=Role.SUPERVISOR))
    requesters = max(200, tickets // TICKETS_PER_REQUESTER)
    users += [
        User(email=f"requester{n}@bench.example.com", role=Role.REQUESTER)
        for n in range(requesters)
    ]
    users.append(User(email="admin@bench.example.com", role=Role.ADMIN))
    for user in users:
        user.password = unusable
        user.full_name = user.email.split("@")[0].replace("-", " ").title()
    User.objects.bulk_create(users, batch_size=2000)

    by_email = dict(User.objects.values_list("email", "pk"))
    membership = User.teams.through
    rows = []
    for t, team in enumerate(teams):
        for n in range(AGENTS_PER_TEAM):
            rows.append(membership(user_id=by_email[f"agent{t}-{n}@bench.example.com"], team=team))
        rows.append(membership(user_id=by_email[f"supervisor{t}@bench.example.com"], team=team))
    membership.objects.bulk_create(rows)

    # The accounts the load test logs in with: the busiest agent of IT Support, a supervisor.
    bench_team = list(TEAMS).index(BENCH_AGENT_TEAM)
    for email, login in [
        (f"agent{bench_team}-0@bench.example.com", AGENT_EMAIL),
        (f"supervisor{bench_team}@bench.example.com", SUPERVISOR_EMAIL),
    ]:
        User.objects.filter(email=email).update(email=login, password=make_password(PASSWORD))

    first_agent = by_email["agent0-0@bench.example.com"]
    first_requester = by_email["requester0@bench.example.com"]
    agent_ids = [by_email[f"agent{t}-{n}@bench.example.com"] for t in range(8) for n in range(12)]
    supervisor_ids = [by_email[f"supervisor{t}@bench.example.com"] for t in range(8)]
    # The SQL below computes agent ids by arithmetic: they must be consecutive, team by team.
    assert agent_ids == [first_agent + i + i // AGENTS_PER_TEAM for i in range(len(agent_ids))]
    return {
        "team_ids": [team.pk for team in teams],
        "first_agent": first_agent,
        "supervisors": supervisor_ids,
        "first_requester": first_requester,
        "requesters": requesters,
    }


# Tables this script fills, children first: emptied indexes are rebuilt once at the end.
TABLES = [
    "tickets_ticket",
    "tickets_comment",
    "workorders_workorder",
    "workorders_checklistitem",
    "workorders_timeentry",
    "dispatchdesk_event",
]

# Filled from the tickets (migration 0007), after them.
WORD_TABLES = ["tickets_ticketword", "tickets_searchvocabulary"]


def drop_secondary_indexes(cursor) -> list[str]:
    """Drop the indexes that back no constraint; return the statements that rebuild them,
    with the statistics targets the migrations set on their columns."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [TABLES],
    )
    found = cursor.fetchall()
    names = [name for name, _ in found]
    cursor.execute(
        """
        SELECT c.relname, a.attnum, a.attstattarget FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relname = ANY(%s) AND a.attstattarget > 0
        """,
        [names],
    )
    targets = [
        f'ALTER INDEX "{name}" ALTER COLUMN {column} SET STATISTICS {target}'
        for name, column, target in cursor.fetchall()
    ]
    for name in names:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in found] + targets


TICKETS_SQL = """
INSERT INTO tickets_ticket (
    id, title, description, priority, due_at, external_ref, created_at, updated_at, status,
    resolution, resolved_at, closed_at, assignee_id, created_by_id, requester_id, team_id,
    updated_by_id)
SELECT g, title, description, priority,
       CASE WHEN u_due < 0.03 THEN NULL
            ELSE created_at + make_interval(hours => (ARRAY[168, 72, 24, 4])[p]) END,
       NULL, created_at, LEAST(now(), created_at + (u_upd * 5) * interval '1 day'), status,
       CASE WHEN status IN ('resolved', 'closed')
            THEN (%(resolutions)s::text[])[1 + floor(u_upd * %(n_resolutions)s)::int]
            ELSE '' END,
       CASE WHEN status IN ('resolved', 'closed')
            THEN LEAST(now(), created_at + (u_upd * 3) * interval '1 day') END,
       CASE WHEN status = 'closed' THEN LEAST(now(), created_at + (u_upd * 5) * interval '1 day')
            END,
       assignee_id, requester_id, requester_id, (%(team_ids)s::bigint[])[team],
       COALESCE(assignee_id, requester_id)
FROM (
    SELECT *,
           CASE WHEN (status = 'new' AND u_asg < 0.75) OR (status = 'cancelled' AND u_asg < 0.5)
                     OR u_asg < 0.04
                THEN NULL
                -- a few busy agents: the first of each team gets the most
                ELSE %(first_agent)s + (team - 1) * (%(agents_per_team)s + 1)
                     + floor(power(u_who, 1.6) * %(agents_per_team)s)::int END AS assignee_id,
           (ARRAY['low', 'normal', 'high', 'urgent'])[p] AS priority,
           initcap((%(things)s::text[])[1 + floor(power(u_txt, 1.5) * %(n_things)s)::int])
               || ' ' || (%(problems)s::text[])[1 + floor(u_pb * %(n_problems)s)::int]
               || CASE WHEN u_pl < 0.6 THEN ' in the '
                       || (%(places)s::text[])[1 + floor(u_pl / 0.6 * %(n_places)s)::int]
                       ELSE '' END AS title,
           'Since ' || to_char(created_at, 'FMDay') || ' the '
               || (%(things)s::text[])[1 + floor(power(u_txt, 1.5) * %(n_things)s)::int]
               || ' ' || (%(problems)s::text[])[1 + floor(u_pb * %(n_problems)s)::int] || '. '
               || (SELECT string_agg(
                          (%(words)s::text[])[1 + floor(power(random(), 2.5)
                                                         * %(n_words)s)::int], ' ')
                   FROM generate_series(1, 6 + g %% 19))
               || CASE WHEN u_pb < 0.3 THEN '. Error E' || (1000 + floor(u_code * 9000))::int
                       ELSE '' END
               || '.' AS description
    FROM (
        SELECT g, created_at, u_due, u_upd, u_asg, u_who, u_txt, u_pb, u_pl, u_code,
               -- a few frequent requesters, a long tail of occasional ones
               %(first_requester)s + floor(power(u_req, 2) * %(requesters)s)::int
                   AS requester_id,
               width_bucket(u_team, %(team_cuts)s::float8[]) AS team,
               width_bucket(u_pri, ARRAY[0, 0.20, 0.75, 0.95]::float8[]) AS p,
               CASE WHEN now() - created_at > interval '30 days'
                    THEN (ARRAY['closed', 'cancelled', 'resolved', 'open', 'on_hold',
                                'in_progress', 'new'])
                         [width_bucket(u_st, ARRAY[0, 0.86, 0.93, 0.97, 0.98, 0.99, 0.995]
                                             ::float8[])]
                    ELSE (ARRAY['new', 'open', 'in_progress', 'on_hold', 'resolved', 'closed',
                                'cancelled'])
                         [width_bucket(u_st, ARRAY[0, 0.15, 0.40, 0.65, 0.75, 0.88, 0.98]
                                             ::float8[])]
               END AS status
        FROM (
            SELECT g,
                   now() - interval '730 days' * (1 - (g - 0.5) / %(n)s)
                         + random() * interval '20 minutes' AS created_at,
                   random() AS u_team, random() AS u_pri, random() AS u_st, random() AS u_due,
                   random() AS u_upd, random() AS u_asg, random() AS u_who, random() AS u_txt,
                   random() AS u_pb, random() AS u_pl, random() AS u_code,
                   random() AS u_req
            FROM generate_series(1, %(n)s) AS g
        ) AS draws
    ) AS picked
) AS ticket_rows
ORDER BY g
"""

# About 2 comments per ticket (0 to 4), a quarter of the agents' ones internal.
COMMENTS_SQL = """
INSERT INTO tickets_comment (ticket_id, author_id, body, internal, created_at)
SELECT t.id, a.author_id,
       (SELECT string_agg((%(words)s::text[])[1 + floor(power(random(), 2.5)
                                                       * %(n_words)s)::int], ' ')
        FROM generate_series(1, 4 + (t.id + k) %% 23)),
       a.author_id IS NOT DISTINCT FROM t.assignee_id AND abs(hashint8(t.id * 7 + k)) %% 4 = 0,
       LEAST(t.updated_at, t.created_at + k * interval '3 hours')
FROM tickets_ticket t
CROSS JOIN LATERAL generate_series(1, abs(hashint8(t.id)) %% 5) AS k
CROSS JOIN LATERAL (
    SELECT CASE WHEN k %% 2 = 0 AND t.assignee_id IS NOT NULL THEN t.assignee_id
                ELSE t.requester_id END AS author_id
) AS a
ORDER BY t.id, k
"""

TRANSITION = {
    "open": "triage",
    "in_progress": "start",
    "on_hold": "hold",
    "resolved": "resolve",
    "closed": "close",
    "cancelled": "cancel",
}

TICKET_EVENTS_SQL = """
INSERT INTO dispatchdesk_event (content_type_id, object_id, at, actor_id, type, data, public)
SELECT %(ct)s, id, at, actor_id, type, data, public FROM (
    SELECT id, created_at AS at, requester_id AS actor_id, 'created' AS type,
           jsonb_build_object('title', title, 'priority', priority, 'team', team_id,
                              'status', 'new') AS data,
           true AS public, 0 AS seq
    FROM tickets_ticket
    UNION ALL
    SELECT id, created_at + interval '10 minutes', assignee_id, 'assigned',
           jsonb_build_object('from', NULL, 'to', assignee_id), true, 1
    FROM tickets_ticket WHERE assignee_id IS NOT NULL
    UNION ALL
    SELECT id, updated_at, COALESCE(assignee_id, requester_id), 'status_changed',
           jsonb_build_object('transition', %(transition)s::jsonb ->> status, 'from', 'new',
                              'to', status, 'note', ''),
           true, 2
    FROM tickets_ticket WHERE status <> 'new'
    UNION ALL
    SELECT ticket_id, created_at, author_id, 'comment_added',
           jsonb_build_object('comment', id, 'internal', internal), NOT internal, 3
    FROM tickets_comment
) AS e
ORDER BY id, seq, at
"""

# Work orders on a fifth of the tickets, in a status that fits the ticket's, and standalone
# preventive maintenance (2% of N).
WORK_ORDERS_SQL = """
INSERT INTO workorders_workorder (
    title, description, priority, due_at, created_at, updated_at, status, scheduled_start,
    scheduled_end, location, estimated_minutes, completion_notes, assignee_id, created_by_id,
    team_id, ticket_id, updated_by_id)
SELECT title, description, priority, due_at, created_at, updated_at, status,
       CASE WHEN status <> 'open' THEN created_at + interval '1 day' END,
       CASE WHEN status <> 'open' THEN created_at + interval '1 day 2 hours' END,
       location, 30 * (1 + abs(hashint8(seed)) %% 8),
       CASE WHEN status IN ('completed', 'verified') THEN 'Done as planned.' ELSE '' END,
       assignee_id, created_by_id, team_id, ticket_id, created_by_id
FROM (
    SELECT t.id AS seed, 'Repair: ' || t.title AS title,
           'Go and look at it. ' || t.description AS description, t.priority,
           t.due_at, t.created_at + interval '1 hour' AS created_at, t.updated_at,
           CASE t.status WHEN 'new' THEN 'open'
                         WHEN 'open' THEN (ARRAY['open', 'scheduled'])[1 + t.id %% 2]
                         WHEN 'in_progress' THEN 'in_progress'
                         WHEN 'on_hold' THEN 'on_hold'
                         WHEN 'resolved' THEN 'completed'
                         WHEN 'closed' THEN 'verified'
                         ELSE 'cancelled' END AS status,
           (%(places)s::text[])[1 + abs(hashint8(t.id)) %% %(n_places)s] AS location,
           COALESCE(t.assignee_id, %(first_agent)s) AS assignee_id,
           COALESCE(t.assignee_id, t.requester_id) AS created_by_id, t.team_id,
           t.id AS ticket_id
    FROM tickets_ticket t
    WHERE abs(hashint8(t.id + 1)) %% 5 = 0
    UNION ALL
    SELECT -g, 'Preventive maintenance: ' || (%(things)s::text[])[1 + g %% %(n_things)s],
           'Check, clean and test.', 'low', now() - (g %% 700) * interval '1 day',
           now() - (g %% 700) * interval '1 day' - interval '7 days',
           now() - (g %% 700) * interval '1 day',
           CASE WHEN g %% 700 > 30 THEN 'verified' ELSE 'scheduled' END,
           (%(places)s::text[])[1 + g %% %(n_places)s],
           %(first_agent)s + g %% %(members)s, %(first_agent)s,
           (%(team_ids)s::bigint[])[1 + (g %% %(members)s) / (%(agents_per_team)s + 1)], NULL
    FROM generate_series(1, %(standalone)s) AS g
) AS w
ORDER BY created_at, seed
"""

CHECKLIST_SQL = """
INSERT INTO workorders_checklistitem (work_order_id, text, position, done, done_at, done_by_id)
SELECT w.id, (ARRAY['Check the power', 'Inspect for damage', 'Replace the part', 'Test it',
                    'Clean up', 'Tell the requester'])[1 + (k + w.id) %% 6],
       k - 1, w.status IN ('completed', 'verified'),
       CASE WHEN w.status IN ('completed', 'verified') THEN w.updated_at END,
       CASE WHEN w.status IN ('completed', 'verified') THEN w.assignee_id END
FROM workorders_workorder w
CROSS JOIN LATERAL generate_series(1, abs(hashint8(w.id)) %% 5) AS k
ORDER BY w.id, k
"""

TIME_ENTRIES_SQL = """
INSERT INTO workorders_timeentry (work_order_id, user_id, minutes, note, date, created_at)
SELECT w.id, w.assignee_id, 15 * (1 + abs(hashint8(w.id * 3 + k)) %% 12), '',
       (w.created_at + k * interval '1 day')::date, w.created_at + k * interval '1 day'
FROM workorders_workorder w
CROSS JOIN LATERAL generate_series(1, 1 + abs(hashint8(w.id)) %% 3) AS k
WHERE w.status IN ('in_progress', 'on_hold', 'completed', 'verified')
ORDER BY w.id, k
"""

WORK_ORDER_EVENTS_SQL = """
INSERT INTO dispatchdesk_event (content_type_id, object_id, at, actor_id, type, data, public)
SELECT ct, object_id, at, actor_id, type, data, public FROM (
    SELECT %(ticket_ct)s AS ct, ticket_id AS object_id, created_at AS at,
           created_by_id AS actor_id, 'work_order_linked' AS type,
           jsonb_build_object('work_order', id, 'title', title) AS data, false AS public
    FROM workorders_workorder WHERE ticket_id IS NOT NULL
    UNION ALL
    SELECT %(wo_ct)s, id, created_at, created_by_id, 'created',
           jsonb_build_object('title', title, 'priority', priority, 'team', team_id,
                              'status', 'open'), true
    FROM workorders_workorder
    UNION ALL
    SELECT %(wo_ct)s, id, updated_at, assignee_id, 'status_changed',
           jsonb_build_object('from', 'open', 'to', status, 'note', ''), true
    FROM workorders_workorder WHERE status <> 'open'
) AS e
ORDER BY at
"""


def generate(tickets: int, seed: float) -> None:
    import json

    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from tickets.models import Ticket
    from workorders.models import WorkOrder

    started = time.perf_counter()
    print(f"Generating {tickets:,} tickets into {connection.settings_dict['NAME']}", flush=True)
    with step("teams and users", "SELECT count(*) FROM accounts_user"):
        people = make_people(tickets)
    cuts, total = [], 0.0
    for share in TEAMS.values():
        cuts.append(total)
        total += share
    params = {
        "n": tickets,
        "team_ids": people["team_ids"],
        "team_cuts": cuts,
        "first_agent": people["first_agent"],
        "agents_per_team": AGENTS_PER_TEAM,
        "first_requester": people["first_requester"],
        "requesters": people["requesters"],
        "members": len(TEAMS) * (AGENTS_PER_TEAM + 1),
        "things": THINGS,
        "n_things": len(THINGS),
        "problems": PROBLEMS,
        "n_problems": len(PROBLEMS),
        "places": PLACES,
        "n_places": len(PLACES),
        "words": WORDS,
        "n_words": len(WORDS),
        "resolutions": RESOLUTIONS,
        "n_resolutions": len(RESOLUTIONS),
        "transition": json.dumps(TRANSITION),
        "ticket_ct": ContentType.objects.get_for_model(Ticket).pk,
        "wo_ct": ContentType.objects.get_for_model(WorkOrder).pk,
        "standalone": max(1, tickets // 50),
    }

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # no FK triggers
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SELECT setseed(%s)", [seed])
        rebuild = drop_secondary_indexes(cursor)
        with step("tickets", "SELECT count(*) FROM tickets_ticket"):
            cursor.execute(TICKETS_SQL, params)
        # The session's replica role keeps the tickets' triggers from writing their words one
        # ticket at a time: they are written at once, as the migration writes them.
        with step("search words", "SELECT count(*) FROM tickets_ticketword"):
            for statement in import_module("tickets.migrations.0007_search_words").FILL:
                cursor.execute(statement)
        with step("comments", "SELECT count(*) FROM tickets_comment"):
            cursor.execute(COMMENTS_SQL, params)
        with step("ticket history", "SELECT count(*) FROM dispatchdesk_event"):
            cursor.execute(TICKET_EVENTS_SQL, {"ct": params["ticket_ct"], **params})
        with step("work orders", "SELECT count(*) FROM workorders_workorder"):
            cursor.execute(WORK_ORDERS_SQL, params)
        with step("checklist items", "SELECT count(*) FROM workorders_checklistitem"):
            cursor.execute(CHECKLIST_SQL, params)
        with step("time entries", "SELECT count(*) FROM workorders_timeentry"):
            cursor.execute(TIME_ENTRIES_SQL, params)
        with step("work-order history", "SELECT count(*) FROM dispatchdesk_event"):
            cursor.execute(WORK_ORDER_EVENTS_SQL, params)
        for table in TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(max(id), 0) + 1 FROM {table}), false)"
            )
        with step(f"rebuild {len(rebuild)} indexes"):  # and their statistics targets
            for statement in rebuild:
                cursor.execute(statement)
    with step("vacuum analyze"), connection.cursor() as cursor:
        more = ["accounts_user", "accounts_user_teams", "accounts_team", *WORD_TABLES]
        for table in [*TABLES, *more]:
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"  {'total':<34}{time.perf_counter() - started:7.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--seed", type=float, default=0.42, help="for setseed(), in [-1, 1]")
    args = parser.parse_args()
    setup_django()
    generate(args.tickets, args.seed)


if __name__ == "__main__":
    main()
