from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from accounts.models import Team, User
from dispatchdesk.serializers import (
    DateTimeFieldsMixin,
    FastReadMixin,
    IdField,
    RedirectedFieldsMixin,
    TransitionRequestSerializer,
    names_someone_else,
)
from workorders.models import WorkOrder

from .models import Comment, Ticket
from .services import ticket_create, ticket_update


class WorkOrderSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField()


class TicketSerializer(
    FastReadMixin, RedirectedFieldsMixin, DateTimeFieldsMixin, serializers.ModelSerializer
):
    team = IdField(
        queryset=Team.objects.all(), required=False, help_text="Defaults to the default team."
    )
    requester = IdField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="Defaults to you. Only agents and supervisors file tickets for others.",
    )
    is_overdue = serializers.BooleanField(read_only=True)
    work_orders = serializers.SerializerMethodField(
        help_text="Summary of the linked work orders (always empty for requesters)."
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "title",
            "description",
            "status",
            "priority",
            "team",
            "requester",
            "assignee",
            "due_at",
            "is_overdue",
            "work_orders",
            "resolution",
            "resolved_at",
            "closed_at",
            "external_ref",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
        ]
        read_only_fields = [
            "status",
            "assignee",
            "resolution",
            "resolved_at",
            "closed_at",
            "external_ref",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
        ]
        extra_kwargs = {"due_at": {"help_text": "Defaults from the priority."}}

    @cached_property
    def _shows_work_orders(self) -> bool:
        """Decided once per response, not per ticket: requesters never see work orders."""
        request = self.context.get("request")
        return request is not None and not request.user.is_requester

    @extend_schema_field(WorkOrderSummarySerializer(many=True))
    def get_work_orders(self, ticket) -> list[dict]:
        if not self._shows_work_orders:
            return []
        summaries = getattr(ticket, "work_order_summaries", None)  # see TicketViewSet
        if summaries is not None:
            return summaries
        # A ticket read without the list's annotation (one its user just moved out of their
        # sight): the work orders they may see, as the annotation has them; what
        # WorkOrderSummarySerializer gives, without a serializer per row.
        visible = WorkOrder.objects.visible_to(self.context["request"].user)
        return [
            {"id": w.id, "title": w.title, "status": w.status}
            for w in visible.filter(ticket=ticket).order_by("id")
        ]

    def to_internal_value(self, data):
        request = self.context.get("request")
        user = request and request.user
        if user and user.is_requester and names_someone_else(data, "requester", user):
            raise PermissionDenied("Requesters file tickets for themselves.")
        return super().to_internal_value(data)

    def create(self, validated_data):
        return ticket_create(by=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        request = self.context["request"]
        return ticket_update(
            ticket=instance,
            by=request.user,
            changes=validated_data,
            if_match=request.headers.get("If-Match"),
        )


class TicketTransitionSerializer(TransitionRequestSerializer):
    resolution = serializers.CharField(required=False, allow_blank=True)


class CommentSerializer(FastReadMixin, serializers.ModelSerializer):
    class Meta:
        model = Comment
        fields = ["id", "author", "body", "internal", "created_at"]
        read_only_fields = ["author", "created_at"]
