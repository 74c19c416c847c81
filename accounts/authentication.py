from functools import cache
from time import monotonic as clock

from django.conf import settings
from django.db import connections, router
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from .models import User


@cache
def _user_by_id_sql(database: str) -> str:
    """SELECT of one user's row by id, with one row per team (the team's id last): written once
    per process."""
    quote = connections[database].ops.quote_name
    membership = User.teams.through._meta
    user_column = quote(membership.get_field("user").column)
    team_column = quote(membership.get_field("team").column)
    table, pk = quote(User._meta.db_table), quote(User._meta.pk.column)
    columns = ", ".join(f"{table}.{quote(field.column)}" for field in User._meta.concrete_fields)
    return (
        f"SELECT {columns}, m.{team_column} FROM {table}"
        f" LEFT JOIN {quote(membership.db_table)} m ON m.{user_column} = {table}.{pk}"
        f" WHERE {table}.{pk} = %s"
    )


# {(database, user id): (when read, the row's values and team ids, or None: no such user)}
_recent_rows: dict = {}
# More users than this active in one process within the time a row is kept: start afresh.
MAX_RECENT_USERS = 10_000


def forget_recent_users(**signal_kwargs) -> None:
    """Drop the rows `user_by_id` keeps: a user or a team membership changed in this process
    (connected to the models' signals in AccountsConfig.ready)."""
    _recent_rows.clear()


def _read_user_row(database: str, user_id: int) -> tuple[list, tuple] | None:
    connection = connections[database]
    with connection.cursor() as cursor:
        cursor.execute(_user_by_id_sql(database), [user_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    values = []
    for field, value in zip(User._meta.concrete_fields, rows[0], strict=False):
        # The database's and the field's conversions, as the ORM applies them (SQLite gives
        # naive datetimes, for one).
        column = field.get_col(User._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + field.get_db_converters(
            connection
        ):
            value = convert(value, column, connection)
        values.append(value)
    return values, tuple(sorted(row[-1] for row in rows if row[-1] is not None))


def user_by_id(user_id) -> User | None:
    """The user with this id, as `User.objects.get(pk=...)` gives it, with `loaded_team_ids`,
    in one query written once per process: every API request reads its user (building and
    compiling that query each time cost as much as running it), and its visibility rules need
    the user's teams.

    The row is kept for `JWT_USER_CACHE_SECONDS` in this process, so that a client sending
    many requests does not pay a round trip to the database for its user on each: a change to
    the user (deactivated, another role or teams) reaches this process's next request when made
    here, and at the latest that many seconds later when made elsewhere. Each request gets an
    instance of its own."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    database = router.db_for_read(User)
    key, now = (database, user_id), clock()
    remembered = _recent_rows.get(key)
    if remembered is None or now - remembered[0] >= settings.JWT_USER_CACHE_SECONDS:
        remembered = (now, _read_user_row(database, user_id))
        if settings.JWT_USER_CACHE_SECONDS > 0:
            if len(_recent_rows) >= MAX_RECENT_USERS:
                _recent_rows.clear()
            _recent_rows[key] = remembered
    row = remembered[1]
    if row is None:
        return None
    values, team_ids = row
    user = User.from_db(database, [field.attname for field in User._meta.concrete_fields], values)
    user.loaded_team_ids = team_ids
    return user


class JWTAuthentication(authentication.JWTAuthentication):
    """simplejwt's bearer-token authentication, with its checks, reading the user through
    `user_by_id` (the token's `user_id` claim holds the user's primary key)."""

    def get_user(self, validated_token):
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as error:
            raise InvalidToken(_("Token contained no recognizable user identification")) from error
        user = user_by_id(user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                _("The user's password has been changed."), code="password_changed"
            )
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of simplejwt's class, for this one."""

    target_class = JWTAuthentication
