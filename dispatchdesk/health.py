"""Probes for load balancers and orchestrators: plain functions, no auth, no DRF.

`ProbeMiddleware` answers them first, before any other middleware: a probe comes by the
server's own address (`Host: 10.0.0.7:8000`, or 127.0.0.1 from Docker's HEALTHCHECK), which
ALLOWED_HOSTS rightly refuses for every other request, and over plain HTTP, which the HTTPS
redirect would send elsewhere.
"""

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse


def healthz(request):
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """The database is reachable and every migration is applied; 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return JsonResponse(
            {"status": "unavailable", "detail": f"database unreachable: {exc.__class__.__name__}"},
            status=503,
        )
    if pending:
        return JsonResponse(
            {"status": "unavailable", "detail": f"{len(pending)} migration(s) not applied"},
            status=503,
        )
    return JsonResponse({"status": "ok"})


PROBES = {"/healthz": healthz, "/readyz": readyz}


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        return probe(request)
