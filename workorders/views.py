from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from dispatchdesk.idempotency import HEADER_PARAMETER, idempotent
from dispatchdesk.serializers import AssignSerializer
from dispatchdesk.views import ID_IN_URL, WorkItemViewSet

from . import services
from .filtersets import WorkOrderFilterSet
from .models import WorkOrder
from .serializers import (
    ChecklistItemSerializer,
    TimeEntrySerializer,
    WorkOrderSerializer,
    WorkOrderTransitionSerializer,
)


class StaffOnly(BasePermission):
    """Requesters get 403 on the collection; a single work order is simply not there (404)."""

    message = "Work orders are for agents and supervisors."

    def has_permission(self, request, view) -> bool:
        return view.detail or not request.user.is_requester


@extend_schema_view(
    transitions=extend_schema(
        methods=["POST"], request=WorkOrderTransitionSerializer, responses=WorkOrderSerializer
    ),
    assign=extend_schema(request=AssignSerializer, responses=WorkOrderSerializer),
)
class WorkOrderViewSet(WorkItemViewSet):
    """Work orders of your teams and those assigned to you (supervisors and admins: all).
    `?ticket=ID` lists a ticket's. Work orders are cancelled, never deleted."""

    queryset = WorkOrder.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = WorkOrderSerializer
    filterset_class = WorkOrderFilterSet
    transition_request_serializer = WorkOrderTransitionSerializer

    def get_permissions(self):
        return [*super().get_permissions(), StaffOnly()]

    def get_queryset(self):
        return WorkOrder.objects.visible_to(self.request.user).with_actual_minutes()

    @extend_schema(methods=["GET"], responses=ChecklistItemSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=ChecklistItemSerializer,
        responses={201: ChecklistItemSerializer},
        parameters=[HEADER_PARAMETER],
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def checklist(self, request, pk=None):
        """The checklist in order. POST adds an item (at the end unless `position` is given)."""
        work_order = self.get_object()
        if request.method == "POST":
            return idempotent(request, lambda: self.add_checklist_item(work_order))
        page = self.paginate_queryset(work_order.checklist.all())
        return self.get_paginated_response(ChecklistItemSerializer(page, many=True).data)

    def add_checklist_item(self, work_order) -> Response:
        serializer = ChecklistItemSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        item = services.checklist_add(
            work_order=work_order, by=self.request.user, **serializer.validated_data
        )
        return Response(ChecklistItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ChecklistItemSerializer, responses=ChecklistItemSerializer)
    @action(
        detail=True,
        methods=["patch"],
        url_path=rf"checklist/(?P<item_pk>{ID_IN_URL})",
        serializer_class=ChecklistItemSerializer,
        filterset_class=None,
    )
    def checklist_item(self, request, pk=None, item_pk=None):
        """Tick or untick (`done`), reword (`text`) or move (`position`) one item."""
        item = get_object_or_404(self.get_object().checklist, pk=item_pk)
        serializer = ChecklistItemSerializer(item, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        item = services.checklist_update(item=item, by=request.user, **serializer.validated_data)
        return Response(ChecklistItemSerializer(item).data)

    @extend_schema(methods=["GET"], responses=TimeEntrySerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=TimeEntrySerializer,
        responses={201: TimeEntrySerializer},
        parameters=[HEADER_PARAMETER],
    )
    @action(detail=True, methods=["get", "post"], url_path="time-entries", filterset_class=None)
    def time_entries(self, request, pk=None):
        """Time logged on the work order. The assignee or a supervisor logs time."""
        work_order = self.get_object()
        if request.method == "POST":
            return idempotent(request, lambda: self.add_time_entry(work_order))
        page = self.paginate_queryset(work_order.time_entries.all())
        return self.get_paginated_response(TimeEntrySerializer(page, many=True).data)

    def add_time_entry(self, work_order) -> Response:
        serializer = TimeEntrySerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.time_entry_add(
            work_order=work_order, by=self.request.user, **serializer.validated_data
        )
        return Response(TimeEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TimeEntrySerializer, responses=TimeEntrySerializer)
    @action(
        detail=True,
        methods=["patch"],
        url_path=rf"time-entries/(?P<entry_pk>{ID_IN_URL})",
        serializer_class=TimeEntrySerializer,
        filterset_class=None,
    )
    def time_entry(self, request, pk=None, entry_pk=None):
        """Change a time entry: a supervisor, or its author while they are the assignee."""
        entry = get_object_or_404(self.get_object().time_entries, pk=entry_pk)
        serializer = TimeEntrySerializer(entry, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        entry = services.time_entry_update(
            entry=entry, by=request.user, **serializer.validated_data
        )
        return Response(TimeEntrySerializer(entry).data)
