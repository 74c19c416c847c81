"""On PostgreSQL, the trigram index of one-term searches on the text in the "C" collation, which
dispatchdesk.search compares there (`ILIKE`, or a regular expression for a term that is not
ASCII) rather than upper-casing it in the database's locale; a smaller pending list for both
search indexes; and half the statistics of before, which still estimate a word in one ticket of
seventy steadily and take half the time to plan a search with (docs/benchmarks.md).

Rebuilding the index reads every row: about a minute a million tickets on two cores, during which
tickets cannot be written. Other databases have no such index.
"""

from django.db import migrations

from dispatchdesk.postgresql.operations import PENDING_LIST_KB, run_on_postgresql, search_text_index

NAME = "ticket_search_text_idx"
TEXT = "(title || ' ' || description)"
WORDS = "ticket_search_words_idx"


class Migration(migrations.Migration):
    dependencies = [("tickets", "0005_search_text_statistics")]

    operations = [
        run_on_postgresql(
            [
                *search_text_index(NAME, "tickets_ticket", f'({TEXT} COLLATE "C")', 500),
                f"ALTER INDEX {WORDS} SET (gin_pending_list_limit = {PENDING_LIST_KB})",
            ],
            [
                f"ALTER INDEX {WORDS} RESET (gin_pending_list_limit)",
                *search_text_index(NAME, "tickets_ticket", f"upper({TEXT}::text)", 1000),
            ],
        )
    ]
