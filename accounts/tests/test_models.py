import pytest
from django.core.management import call_command

from accounts.choices import Role
from accounts.models import User

from .factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "staff", "superuser", "can_view_teams"),
    [
        (Role.REQUESTER, False, False, False),
        (Role.AGENT, False, False, False),
        (Role.SUPERVISOR, True, False, True),
        (Role.ADMIN, True, True, True),
    ],
)
def test_role_decides_staff_status_and_admin_permissions(role, staff, superuser, can_view_teams):
    user = UserFactory(role=role)

    assert user.is_staff is staff
    assert user.is_superuser is superuser
    assert user.has_perm("accounts.view_team") is can_view_teams
    assert user.has_module_perms("accounts") is can_view_teams
    assert user.has_perm("accounts.delete_user") is superuser


def test_a_role_change_changes_staff_status_with_it():
    user = UserFactory(role=Role.SUPERVISOR)

    user.role = Role.AGENT
    user.save()
    user.refresh_from_db()

    assert not user.is_staff
    assert not user.has_perm("accounts.view_team")


def test_inactive_supervisor_has_no_permissions():
    user = UserFactory(role=Role.SUPERVISOR, is_active=False)

    assert not user.has_perm("accounts.view_team")
    assert not user.has_module_perms("accounts")


def test_createsuperuser_noinput_makes_an_active_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Owner@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "owner-long-passphrase")

    call_command("createsuperuser", "--noinput", verbosity=0)

    owner = User.objects.get(email="owner@example.com")
    assert owner.role == Role.ADMIN
    assert owner.is_active and owner.is_staff and owner.is_superuser
    assert owner.check_password("owner-long-passphrase")


@pytest.mark.parametrize(
    ("role", "can_enter"),
    [("requester", False), ("agent", False), ("supervisor", True), ("admin", True)],
)
def test_only_supervisors_and_admins_enter_the_admin(client, role, can_enter):
    user = UserFactory(role=role)
    client.force_login(user)

    response = client.get("/admin/")

    assert (response.status_code == 200) is can_enter
