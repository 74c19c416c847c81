from functools import cache

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


def user_by_id(user_id) -> User | None:
    """The user with this id, as `User.objects.get(pk=...)` gives it, with `loaded_team_ids`,
    in one query written once per process: every API request reads its user (building and
    compiling that query each time cost as much as running it), and its visibility rules need
    the user's teams."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return None
    database = router.db_for_read(User)
    connection = connections[database]
    with connection.cursor() as cursor:
        cursor.execute(_user_by_id_sql(database), [user_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    fields = User._meta.concrete_fields
    values = []
    for field, value in zip(fields, rows[0], strict=False):
        # The database's and the field's conversions, as the ORM applies them (SQLite gives
        # naive datetimes, for one).
        column = field.get_col(User._meta.db_table)
        for convert in connection.ops.get_db_converters(column) + field.get_db_converters(
            connection
        ):
            value = convert(value, column, connection)
        values.append(value)
    user = User.from_db(database, [field.attname for field in fields], values)
    user.loaded_team_ids = tuple(sorted(row[-1] for row in rows if row[-1] is not None))
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
