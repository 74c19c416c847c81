from django.db import migrations

DEFAULT_TEAM_NAME = "General"


def create_default_team(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    Team.objects.get_or_create(name=DEFAULT_TEAM_NAME)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_default_team, migrations.RunPython.noop)]
