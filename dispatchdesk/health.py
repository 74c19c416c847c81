"""Probes for load balancers and orchestrators. Plain Django views: no auth, no DRF."""

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
