"""Migration operations for what exists on PostgreSQL only (the search indexes and their
statistics): other databases, SQLite in development, have no such thing and skip them."""

from django.db import migrations


def run_on_postgresql(forwards: list[str], backwards: list[str]) -> migrations.RunPython:
    """Runs the statements of `forwards` (migrating) or `backwards` (unapplying) on PostgreSQL."""

    def runner(statements):
        def run(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                for statement in statements:
                    schema_editor.execute(statement)

        return run

    return migrations.RunPython(runner(forwards), runner(backwards), elidable=False)


# GIN puts new entries in a pending list that every search reads whole until it is merged into
# the index, by default once it passes 4 MB: after a few hundred edited tickets, a search read
# 300 pages of it (docs/benchmarks.md). A smaller list is merged more often, by the write that
# fills it.
PENDING_LIST_KB = 256


def search_text_index(name: str, table: str, expression: str, statistics: int) -> list[str]:
    """(Re)creates the trigram index `name` of the search text, with its statistics target."""
    return [
        f"DROP INDEX IF EXISTS {name}",
        f"CREATE INDEX {name} ON {table} USING gin ({expression} gin_trgm_ops)"
        f" WITH (gin_pending_list_limit = {PENDING_LIST_KB})",
        f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS {statistics}",
        f"ANALYZE {table}",
    ]
