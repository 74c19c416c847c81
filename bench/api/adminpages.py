"""The admin's change lists on the benchmark's data: milliseconds and queries per page.

    .venv/bin/python bench/api/adminpages.py [--database-url URL] [--rounds 3]

Reads the database that `bench/api/run.py` filled (it keeps it with `--reuse`) and opens each
page as the bench supervisor (a real session, Django's test client, in this process), once to
warm up and then `--rounds` times; it prints the best time, the number of queries and the
slowest query of each. Debug settings, so that the admin's static files need no
`collectstatic`; debug mode adds a little to rendering a page, not to its queries.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[2]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dispatchdesk_bench_api"
SUPERVISOR = "supervisor@bench.example.com"


def pages(requester_email: str) -> list[str]:
    tickets, work_orders = "/admin/tickets/ticket/", "/admin/workorders/workorder/"
    return [
        tickets,
        f"{tickets}?status__exact=open",
        f"{tickets}?q=printer",
        f"{tickets}?q=E4521",
        f"{tickets}?q={quote('wifi slow')}",
        f"{tickets}?q={quote(requester_email)}",
        work_orders,
        f"{work_orders}?q=pump",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    os.environ.update(
        DATABASE_URL=args.database_url,
        DJANGO_SETTINGS_MODULE="dispatchdesk.settings",
        DJANGO_DEBUG="1",
    )
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from tickets.models import Ticket

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(email=SUPERVISOR))
    requester = Ticket.objects.order_by("id").values_list("requester__email", flat=True)[0]
    print(f"{Ticket.objects.count():,} tickets; the admin as {SUPERVISOR}, best of {args.rounds}")
    for url in pages(requester):
        client.get(url)
        best = float("inf")
        for _ in range(args.rounds):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                status = client.get(url).status_code
                best = min(best, time.perf_counter() - started)
        slowest = max(queries.captured_queries, key=lambda query: float(query["time"]))
        print(
            f"  {best * 1000:7.0f} ms  {len(queries)} queries  {status}  {url}\n"
            f"             slowest {float(slowest['time']) * 1000:.0f} ms: {slowest['sql'][:90]}"
        )


if __name__ == "__main__":
    main()
