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
        # Work is cancelled, never deleted: no delete permissions.
        "tickets.view_ticket",
        "tickets.add_ticket",
        "tickets.change_ticket",
        "tickets.view_comment",
        "tickets.add_comment",
        "workorders.view_workorder",
        "workorders.add_workorder",
        "workorders.change_workorder",
        "workorders.view_checklistitem",
        "workorders.add_checklistitem",
        "workorders.change_checklistitem",
        "workorders.view_timeentry",
        "workorders.add_timeentry",
        "workorders.change_timeentry",
        # History is read-only for everyone.
        "dispatchdesk.view_event",
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.REQUESTER: frozenset(),
    Role.AGENT: frozenset(),
    Role.SUPERVISOR: SUPERVISOR_PERMISSIONS,
    Role.ADMIN: frozenset(),  # superuser: every permission
}
