"""Login, refresh and logout as the API does them, around simplejwt's serializers.

A refresh token whose claims are not the ones DispatchDesk issues, or whose user is gone, answers
401 like any other bad token (simplejwt's own serializers look the user up unguarded and read the
token's id without checking that it is there). And each keeps apart from what it could race: a
login or a refresh from a deactivation of the same person (accounts.services.hold_sessions), a
refresh or a logout from another use of the same token (its row locked)."""

from django.db import transaction
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from .models import User
from .services import hold_sessions


def checked_refresh(raw: str) -> jwt_serializers.RefreshToken:
    """The refresh token `raw`, signed by us and with an id and a user id of the right types."""
    try:
        refresh = jwt_serializers.RefreshToken(raw)  # TokenError: not ours, expired or revoked
    except KeyError as missing:  # a claim the blacklist check reads (the token's id)
        raise TokenError("Token has no id") from missing
    user_id = refresh.get(api_settings.USER_ID_CLAIM)
    if not isinstance(refresh.get(api_settings.JTI_CLAIM), str):
        raise TokenError("Token has no id")
    # simplejwt writes the user's id as a string of digits.
    if not (isinstance(user_id, str) and user_id.isascii() and user_id.isdigit()):
        raise TokenError("Token contained no recognizable user identification")
    return refresh


class TokenObtainPairSerializer(jwt_serializers.TokenObtainPairSerializer):
    def validate(self, attrs):
        """simplejwt's login, apart from a deactivation of the same person (hold_sessions): the
        deactivation either waits and ends the tokens this makes too, or goes first and the
        login is refused."""
        # Found as the authentication backend finds it (get_by_natural_key): another spelling
        # that the backend takes (a Kelvin sign for a `k`) would otherwise skip the lock.
        email = User.objects.normalize_email(attrs.get(self.username_field))
        with transaction.atomic():
            for user_id in User.objects.filter(email=email).values_list("pk", flat=True):
                hold_sessions(user_id)
            return super().validate(attrs)


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    def validate(self, attrs):
        refresh = checked_refresh(attrs["refresh"])
        user_id = int(refresh[api_settings.USER_ID_CLAIM])
        with transaction.atomic():
            # Apart from a deactivation of the same person (hold_sessions): it either waits for
            # this rotation and ends the token it makes too, or goes first and this finds the
            # account inactive.
            hold_sessions(user_id)
            person = User.objects.filter(pk=user_id, is_active=True)
            password = list(person.values_list("password", flat=True))
            if not password:
                # A deleted user is no different from a deactivated one.
                raise AuthenticationFailed(
                    self.error_messages["no_active_account"], "no_active_account"
                )
            # simplejwt checks this for access tokens only: a refresh token from before a
            # password change would otherwise go on making new ones.
            if refresh.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(password[0]):
                raise AuthenticationFailed(
                    "The user's password has been changed.", "password_changed"
                )
            # simplejwt checks the blacklist, then blacklists the token it rotates: the same
            # token sent twice at once (a stolen copy replayed) would make two sessions. The
            # token's row is locked and the check made again behind the lock.
            locked = lock_outstanding(refresh)
            if BlacklistedToken.objects.filter(token_id__in=locked).exists():
                raise TokenError("Token is blacklisted")
            return super().validate(attrs)


class TokenBlacklistSerializer(jwt_serializers.TokenBlacklistSerializer):
    def validate(self, attrs):
        refresh = checked_refresh(attrs["refresh"])
        with transaction.atomic():
            # The token's row locked as a refresh locks it: a logout and a refresh of one token
            # at once take turns (the second finds it blacklisted), rather than each waiting for
            # the other's blacklist entry (a deadlock: the logout answered 503, the refresh went
            # on with a new token).
            lock_outstanding(refresh)
            return super().validate(attrs)


def lock_outstanding(refresh: jwt_serializers.RefreshToken) -> list[int]:
    """Lock the outstanding row of `refresh` until the transaction ends; its ids (one, or none
    for a token never recorded). `order_by()`: the model's own order joins its nullable user."""
    token = OutstandingToken.objects.filter(jti=refresh[api_settings.JTI_CLAIM])
    return list(token.order_by().select_for_update().values_list("pk", flat=True))
