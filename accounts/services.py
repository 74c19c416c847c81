from collections.abc import Iterable

from django.db import transaction

from .choices import WORKER_ROLES, Role
from .models import Team, User

NOT_A_WORKER = "Only active agents and supervisors can be team members."


def user_change_problems(*, by: User, user: User | None, changes: dict) -> dict[str, list[str]]:
    """Why `by` may not give `user` (None: a new user) these `changes` of `role`, `teams` and
    `is_active`: messages per field, empty when nothing stops it. The API and the admin both ask."""
    role = changes.get("role", user.role if user else Role.REQUESTER)
    problems = {}
    if changes.get("teams") and role not in WORKER_ROLES:
        problems["teams"] = [NOT_A_WORKER]
    if user is not None and user.pk == by.pk:
        # An admin who demotes or deactivates themselves may lock everyone out.
        if "role" in changes and changes["role"] != user.role:
            problems["role"] = ["You cannot change your own role."]
        if changes.get("is_active") is False:
            problems["is_active"] = ["You cannot deactivate yourself."]
    return problems


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    full_name: str = "",
    role: str = Role.REQUESTER,
    teams: Iterable[Team] = (),
) -> User:
    """Create a user; a `None` password leaves the account without a usable password."""
    user = User.objects.create_user(email=email, password=password, full_name=full_name, role=role)
    if role in WORKER_ROLES:
        user.teams.set(teams)
    return user


@transaction.atomic
def user_update(
    *, user: User, password: str | None = None, teams: Iterable[Team] | None = None, **fields
) -> User:
    """Change a user's profile, role, status or password.

    Only agents and supervisors belong to teams: a user who moves to another role leaves them.
    """
    for name, value in fields.items():
        setattr(user, name, value)
    if "email" in fields:
        user.email = User.objects.normalize_email(user.email)
    if password:
        user.set_password(password)
    user.save()
    if user.role not in WORKER_ROLES:
        user.teams.clear()
    elif teams is not None:
        user.teams.set(teams)
    return user
