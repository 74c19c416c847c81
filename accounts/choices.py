from django.db import models


class Role(models.TextChoices):
    REQUESTER = "requester", "Requester"
    AGENT = "agent", "Agent"
    SUPERVISOR = "supervisor", "Supervisor"
    ADMIN = "admin", "Admin"


# Roles that may log into the Django admin.
STAFF_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
# Roles that do the work: they can be team members and assignees.
WORKER_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
