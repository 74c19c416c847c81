"""The floor: what serving the same JSON costs with no framework at all.

A plain WSGI function, one persistent psycopg connection per worker, one hand-written query
per request, `json.dumps`. It serves what DispatchDesk serves to the load test's agent:

    /list        the 50 newest tickets the agent may see, with the summary of their visible
                 work orders (as GET /api/v1/tickets/?page_size=50 without the count)
    /tickets/ID  one ticket, the same fields (as GET /api/v1/tickets/ID/)

No authentication, no middleware, no pagination count, no validation: a framework can approach
this, not beat it. Run it under the same gunicorn settings as the application:

    FLOOR_DATABASE_URL=postgres://... FLOOR_USER_ID=... \
        gunicorn --chdir bench/api floor:application
"""

import json
import os

import psycopg

FIELDS = (
    "id, title, description, status, priority, team_id, requester_id, assignee_id, due_at, "
    "resolution, resolved_at, closed_at, external_ref, created_at, updated_at, created_by_id, "
    "updated_by_id"
)
# The work orders the agent may see (their teams' or assigned to them), as a JSON array.
WORK_ORDERS = """
    COALESCE((SELECT json_agg(json_build_object('id', w.id, 'title', w.title,
                                                'status', w.status) ORDER BY w.id)
              FROM workorders_workorder w
              WHERE w.ticket_id = t.id
                AND (w.team_id IN (SELECT team_id FROM accounts_user_teams WHERE user_id = %(me)s)
                     OR w.assignee_id = %(me)s)), '[]')
"""
LIST_SQL = f"""
    SELECT {FIELDS}, {WORK_ORDERS} FROM tickets_ticket t
    WHERE t.team_id IN (SELECT team_id FROM accounts_user_teams WHERE user_id = %(me)s)
       OR t.assignee_id = %(me)s OR t.requester_id = %(me)s
    ORDER BY t.created_at DESC, t.id DESC
    LIMIT 50
"""
DETAIL_SQL = f"SELECT {FIELDS}, {WORK_ORDERS} FROM tickets_ticket t WHERE t.id = %(id)s"
TERMINAL = {"closed", "cancelled"}

_connection = None


def connection() -> psycopg.Connection:
    global _connection
    if _connection is None or _connection.closed:
        _connection = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True)
    return _connection


def iso(moment) -> str | None:
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def as_dict(row, now) -> dict:
    (pk, title, description, status, priority, team, requester, assignee, due_at) = row[:9]
    (resolution, resolved_at, closed_at, external_ref, created_at, updated_at) = row[9:15]
    (created_by, updated_by, work_orders) = row[15:]
    return {
        "id": pk,
        "title": title,
        "description": description,
        "status": status,
        "priority": priority,
        "team": team,
        "requester": requester,
        "assignee": assignee,
        "due_at": iso(due_at),
        "is_overdue": bool(due_at and due_at < now and status not in TERMINAL),
        "work_orders": work_orders,
        "resolution": resolution,
        "resolved_at": iso(resolved_at),
        "closed_at": iso(closed_at),
        "external_ref": external_ref,
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "created_by": created_by,
        "updated_by": updated_by,
    }


def respond(start_response, status: str, body) -> list[bytes]:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(status, headers)
    return [data]


def application(environ, start_response):
    from datetime import UTC, datetime

    path = environ.get("PATH_INFO", "")
    me = int(os.environ["FLOOR_USER_ID"])
    now = datetime.now(UTC)
    with connection().cursor() as cursor:
        if path == "/list":
            cursor.execute(LIST_SQL, {"me": me})
            rows = [as_dict(row, now) for row in cursor.fetchall()]
            return respond(start_response, "200 OK", {"results": rows})
        if path.startswith("/tickets/") and path[9:].strip("/").isdigit():
            cursor.execute(DETAIL_SQL, {"me": me, "id": int(path[9:].strip("/"))})
            row = cursor.fetchone()
            if row is not None:
                return respond(start_response, "200 OK", as_dict(row, now))
    return respond(start_response, "404 Not Found", {"detail": "Not found."})
