"""The table of the `shared` cache (settings.CACHES), where login attempts are counted.

`createcachetable` is what Django offers for it; running it here means that `migrate`, which
every deployment runs, is all a new installation needs. It does nothing when the table exists.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("dispatchdesk", "0002_event_index_diet")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
