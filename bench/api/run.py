"""Load-test DispatchDesk's API on PostgreSQL with wrk, next to the floor, and print the tables.

    .venv/bin/python bench/api/run.py                                # `make bench`: 10k, 10 s
    .venv/bin/python bench/api/run.py --tickets 10000 --tickets 1000000 --duration 30

For each size N it (re)creates the database `dispatchdesk_bench_api`, migrates it, fills it with
bench/api/generate.py, starts DispatchDesk and the floor (bench/api/floor.py) under gunicorn with
the same settings (sync workers, as many as cores, on 127.0.0.1), logs in as the bench agent
(JWT), and runs each scenario with wrk for a fixed time at a fixed concurrency, after a short
warm-up. Reads are measured in slices that alternate with the floor serving the same data, so
that both see the same machine. It reports requests/s, p50, p99, errors, the CPU time a request
(the servers' processes and PostgreSQL's, from /proc), the ratio to the floor and the workers'
memory. Everything it starts is stopped at the end, also on Ctrl-C. Only
127.0.0.1 is ever contacted.
"""

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.database import drop_database  # noqa: E402 - bench/database.py, from the root

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
APP_PORT = 8101
FLOOR_PORT = 8102
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/dispatchdesk_bench_api"
AGENT_EMAIL = "agent@bench.example.com"
PASSWORD = "bench-password-123"
TERMINAL = ("closed", "cancelled")
# Requests still queued when wrk stops are served after it: let them finish before the next run.
DRAIN_SECONDS = 2
# Words of the generator's vocabulary, from frequent to rare, one and two at a time.
SEARCH_TERMS = ["printer", "forklift", "shredder", "E4521", "E1307", "wifi slow", "projector leak"]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- database -----------------------------------------------------------------------------


def database_exists(url: str) -> bool:
    info = psycopg.conninfo.conninfo_to_dict(url)
    with psycopg.connect(**{**info, "dbname": "postgres"}) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [info["dbname"]])
        return found.fetchone() is not None


def django_env(url: str, **extra) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "dispatchdesk.settings"}
    return {**env, **extra}


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=django_env(url, DJANGO_DEBUG="1"),
        check=True,
    )


def fill(url: str, tickets: int) -> None:
    say(f"\n== {tickets:,} tickets: create, migrate and fill {url.rsplit('/', 1)[-1]}")
    drop_database(url, create=True)
    migrate(url)
    env = django_env(url, DJANGO_DEBUG="1")
    subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--tickets", str(tickets)],
        cwd=REPO,
        env=env,
        check=True,
    )


class Fixtures:
    """What the scenarios need from the database: the agent, their team, tickets to work on."""

    def __init__(self, url: str):
        self.url = url
        with psycopg.connect(url) as conn:
            self.agent, self.team = conn.execute(
                "SELECT u.id, m.team_id FROM accounts_user u "
                "JOIN accounts_user_teams m ON m.user_id = u.id WHERE u.email = %s",
                [AGENT_EMAIL],
            ).fetchone()
            # Tickets the agent sees, spread over the whole table (the hash makes it repeatable).
            self.detail_ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM tickets_ticket WHERE team_id = %s "
                    "ORDER BY hashint8(id) LIMIT 1000",
                    [self.team],
                )
            ]
            # The newest 400 of the team: 200 to move on and off hold, 200 to comment on.
            newest = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM tickets_ticket WHERE team_id = %s "
                    "ORDER BY created_at DESC, id DESC LIMIT 400",
                    [self.team],
                )
            ]
            self.work_ids, self.comment_ids = newest[:200], newest[200:]
            self.search_counts = {
                term: conn.execute(
                    "SELECT count(*) FROM tickets_ticket WHERE upper(title || ' ' || description)"
                    " LIKE upper(%s)",
                    [f"%{term}%"],
                ).fetchone()[0]
                if " " not in term
                else conn.execute(
                    "SELECT count(*) FROM tickets_ticket WHERE to_tsvector('english', title || ' '"
                    " || description) @@ plainto_tsquery('english', %s)",
                    [term],
                ).fetchone()[0]
                for term in SEARCH_TERMS
            }

    def reset(self) -> None:
        """Put the tickets the write scenarios use back where they start (data set-up only).

        Only the tickets that moved are written: an UPDATE that changes nothing still leaves a
        dead row and index entries behind, which the scenarios that follow would then read."""
        with psycopg.connect(self.url) as conn:
            conn.execute(
                "UPDATE tickets_ticket SET status = 'in_progress', assignee_id = %s, "
                "resolution = '', resolved_at = NULL, closed_at = NULL WHERE id = ANY(%s) AND ("
                "status, assignee_id, resolution, resolved_at, closed_at) IS DISTINCT FROM "
                "('in_progress', %s, '', NULL, NULL)",
                [self.agent, self.work_ids, self.agent],
            )
            conn.execute(
                "UPDATE tickets_ticket SET status = 'open', resolution = '', resolved_at = NULL, "
                "closed_at = NULL WHERE id = ANY(%s) AND (status, resolution, resolved_at, "
                "closed_at) IS DISTINCT FROM ('open', '', NULL, NULL)",
                [self.comment_ids],
            )


def scenario_requests(fx: Fixtures) -> dict[str, list[str]]:
    """Per scenario, the requests wrk replays in a loop: `METHOD\\tPATH[\\tBODY]`."""
    api = "/api/v1/tickets/"

    def get(path: str) -> str:
        return f"GET\t{path}"

    def post(path: str, body: dict) -> str:
        return f"POST\t{path}\t{json.dumps(body)}"

    def search(term: str) -> str:
        return get(f"{api}?search={urllib.request.quote(term)}&page_size=50")

    priorities = ["low", "normal", "high", "urgent"]
    return {
        "floor list": [get("/list")],
        "floor detail": [get(f"/tickets/{pk}") for pk in fx.detail_ids],
        "list": [get(f"{api}?page_size=50")],
        "list filtered": [get(f"{api}?status=open&status=in_progress&assignee=me&page_size=50")],
        "search": [search(term) for term in SEARCH_TERMS],
        # Each term alone (not run unless named): which terms make search's tail.
        **{f"search {term}": [search(term)] for term in SEARCH_TERMS},
        "detail": [get(f"{api}{pk}/") for pk in fx.detail_ids],
        # What the framework and the authentication cost by themselves: no query of its own.
        "empty view": [get("/layers/jwt")],
        "create": [
            post(
                api,
                {
                    "title": f"Bench ticket {n}",
                    "description": "The load test filed this ticket.",
                    "priority": priorities[n % 4],
                    "team": fx.team,
                },
            )
            for n in range(100)
        ],
        # Each ticket goes on hold, then every other one does; then each resumes: with 200
        # tickets and fewer connections, a ticket is never fired at twice at the same time.
        "transition": [
            post(f"{api}{pk}/transitions/", {"name": "hold", "note": "Waiting for a part."})
            for pk in fx.work_ids
        ]
        + [post(f"{api}{pk}/transitions/", {"name": "resume"}) for pk in fx.work_ids],
        "comment": [
            post(f"{api}{pk}/comments/", {"body": "Still happening.", "internal": n % 4 == 0})
            for n, pk in enumerate(fx.comment_ids)
        ],
    }


# --- servers ------------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, app: str, port: int, env: dict, workers: int, logs: Path):
        self.name, self.port = name, port
        self.log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            app,
            f"--bind={HOST}:{port}",
            f"--workers={workers}",
            "--worker-class=sync",
            "--log-level=warning",
            f"--pythonpath={HERE}",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited; see {self.log.name}")
            try:
                urllib.request.urlopen(f"http://{HOST}:{self.port}{path}", timeout=2).read()
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        sys.exit(f"{self.name} did not answer on {self.port}; see {self.log.name}")

    def worker_pids(self) -> list[int]:
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def worker_rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
            sizes.append(round(int(kb) / 1024, 1))
        return sizes

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def login(port: int) -> str:
    request = urllib.request.Request(
        f"http://{HOST}:{port}/api/v1/auth/token/",
        data=json.dumps({"email": AGENT_EMAIL, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    return json.load(urllib.request.urlopen(request, timeout=30))["access"]


# --- CPU ----------------------------------------------------------------------------------


def cpu_seconds(root: int) -> float | None:
    """CPU time (user + system) of a process tree on Linux: the process, its children alive now
    and those already reaped (counted in the parent's `cutime`/`cstime`), so that a difference
    of two readings holds the work of children that started or ended in between. None when
    /proc does not show the process (a server on another machine)."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(pid: int) -> list[int]:
        # After the command's closing parenthesis: state, ppid, ... utime is field 14 of stat.
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return [int(value) for value in stat[11:15]]  # utime, stime, cutime, cstime

    try:
        total = sum(fields(root))
        children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            total += sum(fields(int(child)))
        except OSError:  # ended since the list was read: its time is in the root's cutime now
            continue
    return total / tick


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine (not in a container
    or elsewhere, where the backend's pid names no process here, or another one)."""
    with psycopg.connect(url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        try:  # while the connection, so the backend, is alive
            status = Path(f"/proc/{backend}/status").read_text()
        except OSError:
            return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    parent = int(fields["PPid"])
    try:
        parent_name = Path(f"/proc/{parent}/comm").read_text().strip()
    except OSError:
        return None
    both_postgres = fields["Name"].strip().startswith("postgres") and parent_name == "postgres"
    return parent if both_postgres else None


# --- load ---------------------------------------------------------------------------------


def wrk(port: int, lines: list[str], token: str, seconds: float, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as file:
        file.write("\n".join(lines) + "\n")
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout=10s",
                f"--script={HERE / 'wrk.lua'}",
                f"http://{HOST}:{port}",
            ],
            env={**os.environ, "BENCH_REQUESTS": file.name, "BENCH_TOKEN": token},
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(file.name)
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    stats["errors"] = sum(
        stats[key]
        for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return stats


def measured_wrk(
    server: Server, postgresql: int | None, lines: list[str], token: str, *load
) -> dict:
    """wrk's results, with the CPU time the server and PostgreSQL spent meanwhile (None where
    /proc does not show them)."""
    processes = {"server_cpu_s": server.process.pid, "postgresql_cpu_s": postgresql}
    before = {key: pid and cpu_seconds(pid) for key, pid in processes.items()}
    stats = wrk(server.port, lines, token, *load)
    for key, pid in processes.items():
        after = pid and cpu_seconds(pid)
        stats[key] = None if before[key] is None or after is None else after - before[key]
    return stats


def combine(slices: list[dict]) -> dict:
    """One result from consecutive slices: requests and errors add up; p50 is the median of the
    slices' medians and p99 the worst of their p99s (percentiles do not add)."""
    requests = sum(s["requests"] for s in slices)
    seconds = sum(s["duration_us"] for s in slices) / 1e6
    p50s = sorted(s["p50_us"] for s in slices)
    combined = {
        "requests": requests,
        "rps": requests / seconds,
        "errors": sum(s["errors"] for s in slices),
        "p50_us": p50s[len(p50s) // 2],
        "p99_us": max(s["p99_us"] for s in slices),
        "max_us": max(s["max_us"] for s in slices),
        "slices": slices,
    }
    # CPU a request: the server's processes, and PostgreSQL's (every process of the server).
    for key in ("server_cpu_s", "postgresql_cpu_s"):
        spent = [s.get(key) for s in slices]
        if requests and None not in spent:
            combined[key.replace("_s", "_ms_per_request")] = 1000 * sum(spent) / requests
    return combined


def bench_size(args, tickets: int, logs: Path) -> dict:
    url = args.database_url
    if args.reuse and database_exists(url):
        migrate(url)  # the code's own migrations, on the data kept
    else:
        fill(url, tickets)
    fx = Fixtures(url)
    requests = scenario_requests(fx)
    workers = args.workers
    app_env = django_env(
        url,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS=HOST,
        DJANGO_HTTPS="0",
        # One agent sends every request: per-user throttling would turn the load into 429s.
        DJANGO_USER_THROTTLE_RATE="",
        DJANGO_ANON_THROTTLE_RATE="",
        JWT_ACCESS_TOKEN_MINUTES="240",
        DJANGO_LOG_LEVEL="WARNING",
    )
    floor_env = {**os.environ, "FLOOR_DATABASE_URL": url, "FLOOR_USER_ID": str(fx.agent)}
    postgresql = postmaster_pid(url)
    # The project's application plus the do-nothing views of layers.py (after its own URLs).
    app = Server("dispatchdesk", "layers:application", APP_PORT, app_env, workers, logs)
    floor = Server("floor", "floor:application", FLOOR_PORT, floor_env, workers, logs)
    results: dict = {"tickets": tickets, "search_counts": fx.search_counts, "scenarios": {}}
    try:
        app.wait_ready("/healthz")
        floor.wait_ready("/list")
        token = login(APP_PORT)
        results["rss_start_mb"] = app.worker_rss_mb()
        for name in args.scenarios:
            # A read is measured in slices that alternate with its floor, so that both see the
            # same machine: whatever else runs on it slows them down alike.
            floor_name = FLOOR_OF.get(name)
            parts = [(name, app)] + ([(floor_name, floor)] if floor_name else [])
            for part, server in parts:
                fx.reset()
                wrk(server.port, requests[part], token, args.warmup, args.connections)
                time.sleep(DRAIN_SECONDS)
            slices: dict[str, list] = {part: [] for part, _ in parts}
            for _ in range(args.rounds):
                for part, server in reversed(parts):
                    fx.reset()
                    seconds = args.duration / args.rounds
                    slices[part].append(
                        measured_wrk(
                            server, postgresql, requests[part], token, seconds, args.connections
                        )
                    )
                    time.sleep(DRAIN_SECONDS)
            stats = combine(slices[name])
            stats["rss_mb"] = app.worker_rss_mb()
            if floor_name:
                stats["floor"] = combine(slices[floor_name])
                stats["floor_name"] = floor_name
                stats["ratio"] = stats["rps"] / stats["floor"]["rps"]
            results["scenarios"][name] = stats
            say(
                f"  {name:<14}{stats['rps']:7.0f} req/s  p50 {stats['p50_us'] / 1000:6.1f} ms  "
                f"p99 {stats['p99_us'] / 1000:6.1f} ms (median {p99_median(stats)})  "
                f"errors {stats['errors']}  "
                + (
                    f"floor {stats['floor']['rps']:.0f} req/s, ratio {stats['ratio']:.2f}  "
                    if floor_name
                    else ""
                )
                + f"CPU {cpu_per_request(stats)} ms/req  RSS {stats['rss_mb']} MB"
            )
        results["rss_end_mb"] = app.worker_rss_mb()
    finally:
        app.stop()
        floor.stop()
    return results


# --- report -------------------------------------------------------------------------------


def report(runs: list[dict], args) -> str:
    lines = []
    for run in runs:
        lines += [
            f"### {run['tickets']:,} tickets",
            "",
            "| scenario | req/s | p50 ms | p99 ms | p99, median of slices | errors "
            "| CPU ms a request | floor req/s | ÷ floor |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, stats in run["scenarios"].items():
            floor = stats.get("floor")
            lines.append(
                f"| {name} | {stats['rps']:.0f} | {stats['p50_us'] / 1000:.1f} "
                f"| {stats['p99_us'] / 1000:.1f} | {p99_median(stats)} | {stats['errors']} "
                f"| {cpu_per_request(stats)} "
                + (
                    f"| {floor['rps']:.0f} ({stats['floor_name']}) | {stats['ratio']:.2f} |"
                    if floor
                    else "| | |"
                )
            )
        start = " / ".join(f"{mb:.0f}" for mb in run.get("rss_start_mb", []))
        after = [
            f"{name} {' / '.join(f'{mb:.0f}' for mb in s['rss_mb'])}"
            for name, s in run["scenarios"].items()
        ]
        searched = ", ".join(f"`{t}` {n:,}" for t, n in run["search_counts"].items())
        lines += [
            "",
            "CPU ms a request: the time DispatchDesk's gunicorn processes + PostgreSQL's processes "
            "spent, divided by the requests served (the first alone when PostgreSQL runs "
            "elsewhere).",
            "",
            f"DispatchDesk workers' memory (RSS, MB): {start} after start-up; after each "
            f"scenario: {'; '.join(after)}.",
            "",
            f"Search terms, with the number of tickets each matches: {searched}.",
            "",
        ]
    if len(runs) > 1:
        small, large = runs[0], runs[-1]
        lines += [
            f"### p99 at {large['tickets']:,} ÷ p99 at {small['tickets']:,} tickets",
            "",
            "The two sizes run minutes apart: the last column divides each p99 by the p99 of the",
            "floor measured in the alternating slices, which takes out some of what else ran.",
            "",
            "| scenario | p99 small ms | p99 large ms | ratio | ratio, each ÷ its floor's p99 |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in [n for n in small["scenarios"] if n in large["scenarios"]]:
            a, b = small["scenarios"][name], large["scenarios"][name]
            ratio = b["p99_us"] / a["p99_us"]
            if "floor" in a and "floor" in b:
                versus_floor = (b["p99_us"] / b["floor"]["p99_us"]) / (
                    a["p99_us"] / a["floor"]["p99_us"]
                )
                versus_floor = f"{versus_floor:.2f}"
            else:
                versus_floor = ""
            lines.append(
                f"| {name} | {a['p99_us'] / 1000:.1f} | {b['p99_us'] / 1000:.1f} "
                f"| {ratio:.2f} | {versus_floor} |"
            )
        lines.append("")
    return "\n".join(lines)


def p99_median(stats: dict) -> str:
    """The median of the slices' p99: one noisy slice makes the worst, the median is typical."""
    p99s = sorted(s["p99_us"] for s in stats["slices"])
    return f"{p99s[len(p99s) // 2] / 1000:.1f}"


def cpu_per_request(stats: dict) -> str:
    """`server + PostgreSQL` CPU milliseconds a request, or what of it was measured."""
    server = stats.get("server_cpu_ms_per_request")
    postgresql = stats.get("postgresql_cpu_ms_per_request")
    if server is None:
        return ""
    return f"{server:.1f}" if postgresql is None else f"{server:.1f} + {postgresql:.1f}"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    with psycopg.connect(DEFAULT_DATABASE_URL.rsplit("/", 1)[0] + "/postgres") as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{os.cpu_count()} cores ({cpu}), "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
        f"Python {platform.python_version()}, PostgreSQL {pg}, {versions.split(' [')[0].strip()}"
    )


SCENARIOS = [
    "list",
    "list filtered",
    "search",
    "detail",
    "empty view",
    "create",
    "transition",
    "comment",
]
SEARCH_TERM_SCENARIOS = [f"search {term}" for term in SEARCH_TERMS]
# The floor each read is compared with: the same 50-ticket page, or the same single ticket.
FLOOR_OF = {
    "list": "floor list",
    "list filtered": "floor list",
    "search": "floor list",
    **dict.fromkeys(SEARCH_TERM_SCENARIOS, "floor list"),
    "detail": "floor detail",
    "empty view": "floor detail",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, action="append", help="repeatable; 10000")
    parser.add_argument("--duration", type=float, default=12, help="seconds per scenario")
    parser.add_argument("--rounds", type=int, default=3, help="slices, alternating with floor")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before each")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=SCENARIOS,
        choices=SCENARIOS + SEARCH_TERM_SCENARIOS,
        metavar="SCENARIO",
        help=f"of {', '.join(SCENARIOS)} (all by default), and 'search TERM' for each search "
        "term alone",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use the filled database again (made if missing; its migrations applied)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--logs", type=Path, help="keep the servers' logs in this folder")
    parser.add_argument("--report", type=Path, help="only print the tables of a --json file")
    args = parser.parse_args()
    if args.report:
        print(report(json.loads(args.report.read_text())["runs"], args))
        return
    args.tickets = args.tickets or [10_000]
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    say(f"Machine: {machine()}")
    say(
        f"Each scenario: {args.warmup:g} s warm-up, then {args.duration:g} s at "
        f"{args.connections} connections; gunicorn with {args.workers} sync workers."
    )
    runs = []
    with tempfile.TemporaryDirectory(prefix="dispatchdesk-bench-") as logs:
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
        for tickets in args.tickets:
            runs.append(bench_size(args, tickets, args.logs or Path(logs)))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=2))
    print(report(runs, args))


if __name__ == "__main__":
    main()
