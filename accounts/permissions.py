from rest_framework.permissions import SAFE_METHODS, BasePermission

from .choices import Role

WORKERS_AND_ADMINS = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


class RolePermission(BasePermission):
    """Which roles may read an endpoint and which may write to it.

    Writes to one object pass `has_permission` so that the object is looked up first: an object
    the user may not see is a 404, a visible one the role may not change is a 403.
    """

    read_roles: frozenset[str] = frozenset()
    write_roles: frozenset[str] = frozenset()

    def has_permission(self, request, view) -> bool:
        role = getattr(request.user, "role", None)
        if role not in self.read_roles:
            self.message = "Your role may not use this endpoint."
            return False
        if request.method in SAFE_METHODS or view.detail:
            return True
        self.message = f"The {role} role may not do this."
        return role in self.write_roles

    def has_object_permission(self, request, view, obj) -> bool:
        self.message = f"The {request.user.role} role may not do this."
        return request.method in SAFE_METHODS or request.user.role in self.write_roles


class UserPermission(RolePermission):
    """Agents and supervisors look people up to assign work; only admins manage users."""

    read_roles = WORKERS_AND_ADMINS
    write_roles = frozenset({Role.ADMIN})


class TeamPermission(RolePermission):
    read_roles = WORKERS_AND_ADMINS
    write_roles = frozenset({Role.SUPERVISOR, Role.ADMIN})
