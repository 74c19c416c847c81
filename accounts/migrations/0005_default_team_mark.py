"""The default team is marked, not found by its name: renaming it keeps it the default.

The team the migrations made, "General" (in any letter case, as names are unique so), becomes
the default; where there is none, as `Team.objects.default()` would have, one is made.
"""

from django.db import migrations, models

DEFAULT_TEAM_NAME = "General"


def mark_default_team(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    team = Team.objects.filter(name__iexact=DEFAULT_TEAM_NAME).first()
    if team is None:
        Team.objects.create(name=DEFAULT_TEAM_NAME, is_default=True)
    else:
        Team.objects.filter(pk=team.pk).update(is_default=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_team_name_without_semicolons")]

    operations = [
        migrations.AddField(
            model_name="team",
            name="is_default",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Work filed without a team goes to this team.",
            ),
        ),
        migrations.RunPython(mark_default_team, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="team",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_default", True)),
                fields=("is_default",),
                name="team_one_default",
            ),
        ),
    ]
