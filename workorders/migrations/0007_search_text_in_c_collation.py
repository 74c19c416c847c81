"""On PostgreSQL, the work orders' search indexes as tickets.0006 makes the tickets' (the text
in the "C" collation, a smaller pending list, half the statistics)."""

from django.db import migrations

from dispatchdesk.postgresql.operations import PENDING_LIST_KB, run_on_postgresql, search_text_index

NAME = "workorder_search_text_idx"
TEXT = "(title || ' ' || description)"
WORDS = "workorder_search_words_idx"


class Migration(migrations.Migration):
    dependencies = [("workorders", "0006_search_text_statistics")]

    operations = [
        run_on_postgresql(
            [
                *search_text_index(NAME, "workorders_workorder", f'({TEXT} COLLATE "C")', 500),
                f"ALTER INDEX {WORDS} SET (gin_pending_list_limit = {PENDING_LIST_KB})",
            ],
            [
                f"ALTER INDEX {WORDS} RESET (gin_pending_list_limit)",
                *search_text_index(NAME, "workorders_workorder", f"upper({TEXT}::text)", 1000),
            ],
        )
    ]
