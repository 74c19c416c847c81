"""The viewset that tickets and work orders share: CRUD without delete, ETags, idempotent
creates, and the transitions/, assign/ and history/ actions."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import workflow
from .compiled import CompiledGet, compiled
from .etags import etag_for
from .history import history_visible_to
from .idempotency import IdempotentCreateMixin
from .pagination import PAGING_PARAMETERS, LargeListPagination
from .serializers import (
    AssignSerializer,
    EventSerializer,
    TransitionOptionSerializer,
    names_someone_else,
)


class OfferedMethodsFirst:
    """A method the endpoint does not offer (DELETE, PUT) answers 405 to everyone: DRF checks
    the permissions first, so a role without write access got a 403 instead."""

    def initial(self, request, *args, **kwargs):
        method = request.method.lower()
        if method not in self.http_method_names or getattr(self, method, None) is None:
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


# An object's id in its URL as written once: not `0002`, nor digits of other scripts, which
# int() reads as the same id (a path then names an object many ways, and a key's stored path
# could outgrow its column). At most 19 digits: a bigint.
ID_IN_URL = r"[1-9][0-9]{0,18}"


class FiltersTheListOnly:
    """For viewsets: the list's query parameters do not apply to one object's URL, where
    `?role=requester` on an agent's is no reason to answer 404 (nor `?role=nonsense` a 400)."""

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset


class ETagMixin:
    """For viewsets: one object's GET answers its `ETag`; PATCH takes `If-Match` (which the
    serializer hands to the service, 412 when stale) and answers the new ETag."""

    def with_etag(self, obj, data, status_code=status.HTTP_200_OK) -> Response:
        return Response(data, status=status_code, headers={"ETag": etag_for(obj)})

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        return self.with_etag(obj, self.get_serializer(obj).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "If-Match",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The ETag you read; a stale one answers 412.",
            )
        ]
    )
    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        obj = serializer.save()
        return self.with_etag(obj, self.represent(obj))

    def represent(self, obj) -> dict:
        """The object as its GET shows it."""
        return self.get_serializer(obj).data


class WorkItemViewSet(
    ETagMixin,
    OfferedMethodsFirst,
    IdempotentCreateMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    # Nothing is deleted through the API (DELETE answers 405); PATCH only, no PUT.
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = ID_IN_URL
    pagination_class = LargeListPagination
    transition_request_serializer = None  # set by each subclass

    def sql_key(self) -> tuple | None:
        """What the SQL of this request's queryset depends on, paging aside, for SQL compiled
        once (dispatchdesk.compiled); None when the query string may change it (filters,
        ordering, search). `get_queryset()` depends on the user alone: their id, role (staff
        status follows it) and teams."""
        if not PAGING_PARAMETERS.issuperset(self.request.query_params):
            return None
        return self.user_key()

    def user_key(self) -> tuple:
        user = self.request.user
        return (type(self), user.pk, user.role, user.loaded_team_ids)

    def get_object(self):
        """The object of the URL among those the user may see, its SQL compiled once per user.
        Unlike DRF's, the list's filters do not apply: `?status=closed` on the URL of an open
        ticket the user sees is no reason to answer 404 (nor `?status=nonsense` a 400)."""
        found = compiled((*self.user_key(), "get"), lambda: CompiledGet(self.get_queryset()))
        obj = found.get(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        if obj is None:
            raise Http404
        self.check_object_permissions(self.request, obj)
        return obj

    def filter_queryset(self, queryset):
        # Kept for the pagination, which may read a page of found rows again by id.
        self.unfiltered_queryset = queryset
        return super().filter_queryset(queryset)

    def ordered_ids(self, queryset):
        """What finds the list's ids in order faster than `queryset` (the list filtered) for
        this request, if anything does (see dispatchdesk.pagination)."""
        return None

    def perform_create(self, serializer):
        obj = serializer.save()
        # Answer with the object as the detail shows it (annotations included).
        serializer.instance = self.get_queryset().filter(pk=obj.pk).first() or obj

    def fire(self, obj, name: str, inputs: dict):
        return workflow.fire(obj, name=name, by=self.request.user, inputs=inputs)

    def assign_to(self, obj, to):
        return workflow.assign(obj, by=self.request.user, to=to)

    def represent(self, obj) -> dict:
        """The object as the detail shows it (annotations and relations included)."""
        # A user who just moved the object out of their sight still gets what they saved.
        fresh = self.get_queryset().filter(pk=obj.pk).first() or obj
        # The class's own serializer: actions such as assign/ set another for their input.
        serializer_class = type(self).serializer_class
        return serializer_class(fresh, context=self.get_serializer_context()).data

    @extend_schema(methods=["GET"], responses=TransitionOptionSerializer(many=True))
    @action(detail=True, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def transitions(self, request, pk=None):
        """GET: the transitions you may fire now. POST: fire one; answers the updated object."""
        obj = self.get_object()
        if request.method == "GET":
            return Response(workflow.available_transitions(obj, request.user))
        serializer = self.transition_request_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        inputs = {k: v for k, v in serializer.validated_data.items() if k != "name"}
        obj = self.fire(obj, serializer.validated_data["name"], inputs)
        return self.with_etag(obj, self.represent(obj))

    @action(detail=True, methods=["post"], serializer_class=AssignSerializer)
    def assign(self, request, pk=None):
        """Set (`{"assignee": id}`) or clear (`{"assignee": null}`) the assignee."""
        obj = self.get_object()
        if not request.user.is_staff and names_someone_else(request.data, "assignee", request.user):
            raise workflow.only_take_or_drop(obj)
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self.assign_to(obj, serializer.validated_data["assignee"])
        return self.with_etag(obj, self.represent(obj))

    @extend_schema(responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"], serializer_class=EventSerializer, filterset_class=None)
    def history(self, request, pk=None):
        """The audit trail, oldest first."""
        events = history_visible_to(self.get_object(), request.user)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)
