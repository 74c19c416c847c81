from rest_framework import serializers

from accounts.models import Team
from dispatchdesk.serializers import (
    DateTimeField,
    DateTimeFieldsMixin,
    FastReadMixin,
    IdField,
    RedirectedFieldsMixin,
    TransitionRequestSerializer,
)
from tickets.models import Ticket

from .models import (
    MAX_ESTIMATED_MINUTES,
    MAX_MINUTES_PER_ENTRY,
    ChecklistItem,
    TimeEntry,
    WorkOrder,
)
from .services import work_order_create, work_order_update


class WorkOrderSerializer(
    FastReadMixin, RedirectedFieldsMixin, DateTimeFieldsMixin, serializers.ModelSerializer
):
    ticket = IdField(queryset=Ticket.objects.none(), required=False, allow_null=True)
    team = IdField(
        queryset=Team.objects.all(),
        required=False,
        help_text="Defaults to the ticket's team, or the default team.",
    )
    estimated_minutes = serializers.IntegerField(
        min_value=0, max_value=MAX_ESTIMATED_MINUTES, required=False, allow_null=True
    )
    actual_minutes = serializers.IntegerField(
        read_only=True, help_text="The sum of the time entries."
    )
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = WorkOrder
        fields = [
            "id",
            "ticket",
            "team",
            "title",
            "description",
            "status",
            "priority",
            "assignee",
            "scheduled_start",
            "scheduled_end",
            "due_at",
            "is_overdue",
            "location",
            "estimated_minutes",
            "actual_minutes",
            "completion_notes",
            "external_ref",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
        ]
        read_only_fields = [
            "status",
            "assignee",
            "completion_notes",
            "external_ref",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # Only tickets the user can see can be linked; others "do not exist".
            self.fields["ticket"].queryset = Ticket.objects.visible_to(request.user)

    def create(self, validated_data):
        return work_order_create(by=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        request = self.context["request"]
        return work_order_update(
            work_order=instance,
            by=request.user,
            changes=validated_data,
            if_match=request.headers.get("If-Match"),
        )


class WorkOrderTransitionSerializer(TransitionRequestSerializer):
    completion_notes = serializers.CharField(required=False, allow_blank=True)
    scheduled_start = DateTimeField(required=False)


class ChecklistItemSerializer(FastReadMixin, serializers.ModelSerializer):
    position = serializers.IntegerField(
        min_value=0, max_value=10_000, required=False, help_text="0-based place in the list."
    )

    class Meta:
        model = ChecklistItem
        fields = ["id", "text", "position", "done", "done_by", "done_at"]
        read_only_fields = ["done_by", "done_at"]


class TimeEntrySerializer(FastReadMixin, serializers.ModelSerializer):
    minutes = serializers.IntegerField(min_value=1, max_value=MAX_MINUTES_PER_ENTRY)

    class Meta:
        model = TimeEntry
        fields = ["id", "user", "minutes", "note", "date", "created_at"]
        read_only_fields = ["user", "created_at"]
