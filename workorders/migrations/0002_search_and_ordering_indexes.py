"""Indexes for the lists at scale: "assigned to me, newest first" on every database; on
PostgreSQL only, full-text and trigram search and `ordering=-due_at`.

On other databases (SQLite in development) the PostgreSQL part does nothing: search there is a plain
`icontains` and the tables are small. The expressions are spelled as dispatchdesk.search
compiles its queries, so that the planner matches them.
"""

from django.db import migrations, models

TEXT = "(title || ' ' || description)"
INDEXES = {
    "workorder_search_words_idx": f"USING gin (to_tsvector('simple'::regconfig, {TEXT}))",
    "workorder_search_text_idx": f"USING gin (upper(({TEXT})::text) gin_trgm_ops)",
    # `ORDER BY due_at DESC NULLS LAST, id DESC`: the (due_at, id) index read backwards
    # would give the undated work orders first.
    "workorder_due_desc_idx": "(due_at DESC NULLS LAST, id DESC)",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON workorders_workorder {definition}"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("workorders", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="workorder",
            index=models.Index(
                fields=["assignee", "-created_at", "-id"], name="workorder_assignee_created_idx"
            ),
        ),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
