"""Where a request's time goes: requests served one at a time, in this process, through
Django's WSGI handler (no server, no network, no concurrency), with production settings.

    .venv/bin/python bench/api/inprocess.py [--database-url URL] [--requests 1000]
                                           [--profile SCENARIO]

Reads the database that `bench/api/run.py` filled (it keeps it with `--reuse`). Next to the
scenarios it times the same stack with layers taken away (the views of `layers.py`), so that
each layer's cost shows:

- `django view`: a plain Django view answering `{}` through every middleware;
- `drf view, no auth`: a DRF APIView answering `{"ok": 1}` without authentication;
- `drf view, jwt`: the same view behind the API's authentication (the agent's JWT);
- `detail`, `list`, `list filtered`, `search` (`printer`): the requests of the load test, and
  `search rare` (`E4521`, found in a few tickets).

It prints the mean milliseconds per request of each (best of 3 runs). `--profile` runs one
scenario under cProfile and prints the 40 most expensive calls.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import secrets
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/dispatchdesk_bench_api"


def configure(url: str) -> None:
    sys.path.insert(0, str(REPO))
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="dispatchdesk.settings",
        DJANGO_DEBUG="0",
        DJANGO_HTTPS="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="localhost",
        # As in the load test, where one user sends every request: no throttles.
        DJANGO_USER_THROTTLE_RATE="",
        DJANGO_ANON_THROTTLE_RATE="",
    )
    # whitenoise warns that `collectstatic` has not run: no static file is asked for here.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


class Client:
    def __init__(self):
        from layers import application

        self.app = application
        self.token = None

    def call(self, method: str, path: str, query: str = "", body: bytes = b"") -> bytes:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "HTTP_HOST": "localhost",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
        }
        if self.token:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        status = []
        data = b"".join(self.app(environ, lambda code, headers, exc_info=None: status.append(code)))
        if not status[0].startswith("200"):
            sys.exit(f"{method} {path}?{query}: {status[0]} {data[:300]!r}")
        return data


def scenarios(client: Client, ids: list[int]) -> dict:
    def get(path, query=""):
        return lambda i: client.call("GET", path, query)

    return {
        "django view": get("/layers/django"),
        "drf view, no auth": get("/layers/drf"),
        "drf view, jwt": get("/layers/jwt"),
        "detail": lambda i: client.call("GET", f"/api/v1/tickets/{ids[i % len(ids)]}/"),
        "list": get("/api/v1/tickets/", "page_size=50"),
        "list filtered": get(
            "/api/v1/tickets/", "status=open&status=in_progress&assignee=me&page_size=50"
        ),
        "search": get("/api/v1/tickets/", "search=printer&page_size=50"),
        "search rare": get("/api/v1/tickets/", "search=E4521&page_size=50"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--requests", type=int, default=1000, help="per run (3 runs)")
    parser.add_argument("--profile", help="profile this scenario instead")
    args = parser.parse_args()
    configure(args.database_url)

    from django.db.models import F, Func

    from accounts.models import User
    from tickets.models import Ticket

    agent = User.objects.get(email="agent@bench.example.com")
    # As in the load test: tickets the agent sees, spread over the table, the same every time.
    visible = Ticket.objects.visible_to(agent).order_by(Func(F("pk"), function="hashint8"))
    ids = list(visible.values_list("pk", flat=True)[:200])
    client = Client()
    login = {"email": agent.email, "password": "bench-password-123"}
    tokens = client.call("POST", "/api/v1/auth/token/", body=json.dumps(login).encode())
    client.token = json.loads(tokens)["access"]
    runs = scenarios(client, ids)
    if args.profile:
        request = runs[args.profile]
        for i in range(50):
            request(i)
        profile = cProfile.Profile()
        profile.runcall(lambda: [request(i) for i in range(args.requests)])
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        return
    print(f"{Ticket.objects.count():,} tickets; ms per request, one at a time, best of 3 runs")
    for name, request in runs.items():
        for i in range(50):  # warm up: connections, caches, imports
            request(i)
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for i in range(args.requests):
                request(i)
            best = min(best, (time.perf_counter() - started) / args.requests)
        print(f"  {name:20s} {best * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
