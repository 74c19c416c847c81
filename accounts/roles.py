"""The Django-admin permissions each role carries.

Permissions come from the role alone (no groups, no per-user grants), so a user's role, staff
status and admin permissions can never disagree. Admins are superusers and hold every permission.
"""

from .choices import Role

SUPERVISOR_PERMISSIONS = frozenset(
    {
        "accounts.view_user",
        "accounts.view_team",
        "accounts.add_team",
        "accounts.change_team",
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.REQUESTER: frozenset(),
    Role.AGENT: frozenset(),
    Role.SUPERVISOR: SUPERVISOR_PERMISSIONS,
    Role.ADMIN: frozenset(),  # superuser: every permission
}
