from django.contrib import admin
from django.db import transaction
from django.db.models import Q

from accounts.models import User
from dispatchdesk.admin import EventInline, WorkItemAdmin, transition_action
from dispatchdesk.admin_imports import ImportAdminMixin
from workorders.models import WorkOrder

from .imports import TicketImport
from .models import Comment, Ticket
from .serializers import TicketTransitionSerializer
from .services import WORKER_EDITABLE, comment_add, ticket_create, ticket_delete, ticket_update


class CommentInline(admin.TabularInline):
    """Comments are added here (through the service, with history) and never edited."""

    model = Comment
    fields = ("created_at", "author", "internal", "body")
    readonly_fields = ("created_at", "author")
    extra = 1
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")

    def has_change_permission(self, request, obj=None):
        return False


class WorkOrderInline(admin.TabularInline):
    """The ticket's work orders, read-only here; each opens in its own admin."""

    model = WorkOrder
    fields = ("title", "status", "assignee", "scheduled_start", "due_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assignee")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(ImportAdminMixin, WorkItemAdmin):
    importer_class = TicketImport

    # A deletion locks its tickets first, as every change to a ticket does (ticket_delete).
    # Otherwise it read their comments before it waited for a comment being added, which then
    # committed and made the deletion fail at its own commit, on a comment left pointing at
    # nothing; and a ticket reopened meanwhile was deleted.

    def delete_model(self, request, obj):
        ticket_delete(obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            chosen = list(queryset.select_for_update(of=("self",)).order_by("pk"))
            for ticket in chosen:
                ticket_delete(ticket)

    transition_serializer = TicketTransitionSerializer
    team_when_empty = "Empty: the default team."
    list_display = (
        "id",
        "title",
        "status_badge",
        "priority_level",
        "team",
        "assignee",
        "requester",
        "due",
        "created_at",
    )
    list_select_related = ("team", "assignee", "requester")
    search_help_text = (
        "Words of the title or description, an exact external reference, or a requester's email."
    )
    fields = (
        "title",
        "description",
        "priority",
        "team",
        "requester",
        "due_at",
        "status",
        "assignee",
        "resolution",
        "resolved_at",
        "closed_at",
        "external_ref",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    )
    readonly_fields = (
        *WorkItemAdmin.readonly_fields,
        "resolution",
        "resolved_at",
        "closed_at",
        "external_ref",
    )
    raw_id_fields = ("requester",)
    inlines = (CommentInline, WorkOrderInline, EventInline)
    actions = (
        *WorkItemAdmin.actions,
        transition_action("triage", "Triage (new → open)"),
        transition_action("start", "Start (open → in progress)"),
        transition_action("close", "Close resolved tickets"),
    )

    # Up to this many people matching an email are looked up by their ids (see search_also).
    requester_ids_up_to = 1000

    def search_also(self, queryset, term: str):
        if "@" not in term:
            return queryset.none()
        # The people first (a small table), then their tickets through the requester index:
        # a condition on the joined users table would have PostgreSQL read every ticket. When
        # many match (a whole domain), a subquery instead of thousands of parameters.
        people = User.objects.filter(email__icontains=term).values_list("pk", flat=True)
        ids = list(people[: self.requester_ids_up_to])
        return queryset.filter(requester__in=ids if len(ids) < self.requester_ids_up_to else people)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)  # a class made for this request
        if "requester" in form.base_fields:
            # Tickets are filed for active users, as the API takes them. The requester a ticket
            # has stays acceptable (as in an import): the page posts it back with every save.
            people = Q(is_active=True)
            if obj is not None:
                people |= Q(pk=obj.requester_id)
            requester = form.base_fields["requester"]
            requester.queryset = User.objects.filter(people)
            requester.error_messages["invalid_choice"] = (
                "Select an active user: this one is inactive or does not exist."
            )
        return form

    def save_model(self, request, obj, form, change):
        if change:
            changes = {k: v for k, v in self.edited_fields(form).items() if k in WORKER_EDITABLE}
            if changes:  # saving only inlines must not touch (or be refused on) the ticket
                ticket_update(
                    ticket=obj, by=request.user, changes=changes, if_match=self.loaded_etag(request)
                )
        else:
            created = ticket_create(by=request.user, **self.edited_fields(form))
            obj.pk = created.pk

    def inline_savers(self):
        def add_comment(request, ticket, form):
            return comment_add(
                ticket=ticket,
                by=request.user,
                body=form.cleaned_data["body"],
                internal=form.cleaned_data["internal"],
            )

        return {Comment: add_comment}
