from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from dispatchdesk.idempotency import HEADER_PARAMETER, idempotent
from dispatchdesk.serializers import AssignSerializer
from dispatchdesk.views import WorkItemViewSet

from .filtersets import TicketFilterSet
from .models import Ticket
from .serializers import CommentSerializer, TicketSerializer, TicketTransitionSerializer
from .services import comment_add
from .word_search import WordSearch


@extend_schema_view(
    transitions=extend_schema(
        methods=["POST"], request=TicketTransitionSerializer, responses=TicketSerializer
    ),
    assign=extend_schema(request=AssignSerializer, responses=TicketSerializer),
)
class TicketViewSet(WorkItemViewSet):
    """Tickets you may see: requesters their own; agents their teams', their own and those
    assigned to them; supervisors and admins all. Tickets are cancelled, never deleted."""

    queryset = Ticket.objects.none()  # for the schema; requests use get_queryset()
    serializer_class = TicketSerializer
    filterset_class = TicketFilterSet
    transition_request_serializer = TicketTransitionSerializer

    def get_queryset(self):
        tickets = Ticket.objects.visible_to(self.request.user)
        if self.request.user.is_requester:
            return tickets  # requesters never see work orders
        # Only the work orders this user may open: the summary must not leak the others.
        # Read in the tickets' own query (a JSON column), not a second one.
        return tickets.with_work_order_summaries(self.request.user)

    def ordered_ids(self, queryset):
        return WordSearch.for_list(self.request, queryset.db)

    @extend_schema(methods=["GET"], responses=CommentSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=CommentSerializer,
        responses={201: CommentSerializer},
        parameters=[HEADER_PARAMETER],
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def comments(self, request, pk=None):
        """Comments, oldest first. Requesters see and write public comments only."""
        ticket = self.get_object()
        if request.method == "POST":
            return idempotent(request, lambda: self.add_comment(ticket))
        comments = ticket.comments.all()
        if request.user.is_requester:
            comments = comments.filter(internal=False)
        page = self.paginate_queryset(comments)
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    def add_comment(self, ticket) -> Response:
        serializer = CommentSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        comment = comment_add(ticket=ticket, by=self.request.user, **serializer.validated_data)
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)
