"""The migration that makes team names unique in any letter case, on data made before it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", "0002_default_team")]
AFTER = [("accounts", "0003_team_name_unique_in_any_case")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_teams_differing_only_in_case_stop_the_migration_with_their_names():
    old_apps = migrate(BEFORE)
    Team = old_apps.get_model("accounts", "Team")
    night = Team.objects.create(name="Night")
    Team.objects.create(name="NIGHT")
    try:
        with pytest.raises(RuntimeError, match="rename all but one of: 'NIGHT', 'Night'"):
            migrate(AFTER)
        Team.objects.filter(pk=night.pk).update(name="Night (old)")

        migrate(AFTER)  # once renamed
    finally:
        migrate(AFTER)
