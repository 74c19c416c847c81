"""On PostgreSQL, ten times the statistics for the text that one-term searches look in.

PostgreSQL estimates how many tickets contain a word from the statistics of the trigram index's
expression: with the default target (100) a word in one ticket of seventy is estimated from one
or two of a hundred sampled values, anywhere from half to twice what it is. The lists decide on
that estimate whether to count the matches (dispatchdesk/pagination.py); a thousand values make
it right to about a tenth. `ANALYZE` of the table then samples 300,000 rows rather than 30,000
(about 8 s a million tickets, in the background by autovacuum).
"""

from django.db import migrations

from dispatchdesk.postgresql.operations import run_on_postgresql

COLUMN = "ticket_search_text_idx ALTER COLUMN 1"


class Migration(migrations.Migration):
    dependencies = [("tickets", "0004_search_words_in_english")]

    operations = [
        run_on_postgresql(
            [f"ALTER INDEX {COLUMN} SET STATISTICS 1000"],
            [f"ALTER INDEX {COLUMN} SET STATISTICS -1"],
        )
    ]
