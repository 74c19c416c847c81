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
