"""On PostgreSQL, a trigram index on a work order's location: the admin finds work orders by
part of their location (`icontains`, spelled as Django compiles it), which without it reads
every work order (643 ms at 220,000, 24 ms with it; docs/benchmarks.md)."""

from django.db import migrations

NAME = "workorder_location_text_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {NAME} ON workorders_workorder "
        "USING gin (upper((location)::text) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("workorders", "0003_index_diet")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
