"""On PostgreSQL, the full-text index of several-word searches in English: whole words by their
stems (`printers` finds "printer") instead of prefixes of words, which made GIN collect every
word that starts with each prefix (dispatchdesk.search). Other databases have no such index.

Rebuilding it reads every row: about 20 s a million workorders on two cores.
"""

from django.db import migrations

from dispatchdesk.postgresql.operations import run_on_postgresql

NAME = "workorder_search_words_idx"
TEXT = "(title || ' ' || description)"


def index_in(config: str) -> list[str]:
    return [
        f"DROP INDEX IF EXISTS {NAME}",
        f"CREATE INDEX {NAME} ON workorders_workorder USING gin (to_tsvector('{config}'::regconfig, {TEXT}))",
    ]


class Migration(migrations.Migration):
    dependencies = [("workorders", "0004_location_search_index")]

    operations = [run_on_postgresql(index_in("english"), index_in("simple"))]
