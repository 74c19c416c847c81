"""Migrations of teams, on data made before them: names unique in any letter case, the default
team marked."""

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


def migrate_to_the_latest():
    """Every app's last migration again, for the tests that follow."""
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())


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
        migrate_to_the_latest()


@pytest.mark.parametrize("renamed", ["general", None])
def test_the_default_team_is_marked_as_it_was_found_by_name(renamed):
    """Renamed in letter case (which made work filed without a team fail), or gone: the team
    named General in any case becomes the default, or one is made as before."""
    old_apps = migrate([("accounts", "0004_team_name_without_semicolons")])
    Team = old_apps.get_model("accounts", "Team")
    general = Team.objects.get_or_create(name="General")[0]  # as migration 0002 made it
    Team.objects.create(name="Field")
    if renamed:
        Team.objects.filter(pk=general.pk).update(name=renamed)
    else:
        general.delete()
    try:
        new_apps = migrate([("accounts", "0005_default_team_mark")])
        Team = new_apps.get_model("accounts", "Team")

        default = Team.objects.get(is_default=True)
        assert default.name == (renamed or "General")
        assert (default.pk == general.pk) == bool(renamed)
        assert Team.objects.filter(is_default=False).count() == 1
    finally:
        migrate_to_the_latest()


def test_emails_are_folded_to_the_form_logins_look_up_unless_another_has_it():
    old_apps = migrate([("accounts", "0006_sessions_ended_at")])
    User = old_apps.get_model("accounts", "User")
    made = {
        email: User.objects.create(email=email, role="requester").pk
        for email in ["kim@\uff45xample.com", "ann@exa\u0308mple.com", "bob@\uff45xample.com"]
    }
    made["bob@example.com"] = User.objects.create(email="bob@example.com", role="requester").pk
    try:
        migrate([("accounts", "0007_emails_in_compatibility_form")])

        now = dict(User.objects.values_list("pk", "email"))
        assert now[made["kim@\uff45xample.com"]] == "kim@example.com"
        assert now[made["ann@exa\u0308mple.com"]] == "ann@ex\u00e4mple.com"
        assert now[made["bob@\uff45xample.com"]] == "bob@\uff45xample.com"  # taken: left
        assert now[made["bob@example.com"]] == "bob@example.com"
    finally:
        User.objects.filter(pk__in=made.values()).delete()
        migrate_to_the_latest()
