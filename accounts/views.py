from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views

from dispatchdesk.idempotency import IdempotentCreateMixin
from dispatchdesk.views import ID_IN_URL, ETagMixin, FiltersTheListOnly, OfferedMethodsFirst

from . import tokens
from .filtersets import TeamFilterSet, UserFilterSet
from .models import Team, User
from .permissions import TeamPermission, UserPermission
from .serializers import TeamSerializer, UserSerializer
from .throttling import LoginRateThrottle


class UserViewSet(
    FiltersTheListOnly,
    ETagMixin,
    OfferedMethodsFirst,
    IdempotentCreateMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """People. Agents and supervisors see active agents and supervisors; admins manage everyone.

    Users are never deleted: deactivate them with `is_active: false`.
    """

    serializer_class = UserSerializer
    permission_classes = [UserPermission]
    filterset_class = UserFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = ID_IN_URL

    def get_queryset(self):
        return User.objects.visible_to(self.request.user).prefetch_related("teams")


class TeamViewSet(
    FiltersTheListOnly,
    ETagMixin,
    OfferedMethodsFirst,
    IdempotentCreateMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Teams (queues). Supervisors and admins manage them; teams are renamed, never deleted."""

    queryset = Team.objects.prefetch_related("members")
    serializer_class = TeamSerializer
    permission_classes = [TeamPermission]
    filterset_class = TeamFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = ID_IN_URL


class MeView(generics.RetrieveAPIView):
    """The logged-in user."""

    serializer_class = UserSerializer

    def get_object(self):
        # Read afresh: the user authentication gives may be a few seconds old
        # (JWT_USER_CACHE_SECONDS), and a user looking at themselves expects the truth.
        return User.objects.prefetch_related("teams").get(pk=self.request.user.pk)


class TokenObtainPairView(jwt_views.TokenObtainPairView):
    """Log in with email and password; answers an access and a refresh token."""

    serializer_class = tokens.TokenObtainPairSerializer
    throttle_classes = [LoginRateThrottle]


class TokenRefreshView(jwt_views.TokenRefreshView):
    """Trade a refresh token for a new access token and a new refresh token.

    The refresh token sent is blacklisted: using it again answers 401.
    """

    serializer_class = tokens.TokenRefreshSerializer


class LogoutView(jwt_views.TokenBlacklistView):
    """Blacklist a refresh token so that it can no longer be used."""

    serializer_class = tokens.TokenBlacklistSerializer

    @extend_schema(responses={204: None})
    def post(self, request, *args, **kwargs):
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)
