"""Team names unique in any letter case, held by the database: the API, the admin and imports
checked it already, but two requests that check at the same moment could both pass.

Teams made before the checks that differ only in case stop the migration with their names, to be
renamed first (merging two queues is a decision, not a migration's)."""

import django.db.models.functions.text
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower


def refuse_names_differing_only_in_case(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    teams = Team.objects.using(schema_editor.connection.alias).annotate(folded=Lower("name"))
    clashes = teams.values("folded").annotate(count=Count("id")).filter(count__gt=1)
    folded = [clash["folded"] for clash in clashes]
    if folded:
        names = sorted(teams.filter(folded__in=folded).values_list("name", flat=True))
        raise RuntimeError(
            "Team names must differ in more than letter case; rename all but one of: "
            + ", ".join(repr(name) for name in names)
            + " (in the admin or with PATCH teams/{id}/), then migrate again."
        )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_default_team'),
    ]

    operations = [
        migrations.RunPython(refuse_names_differing_only_in_case, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='team',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Lower('name'), name='team_name_unique_in_any_case', violation_error_message='A team with this name already exists.'),
        ),
    ]
