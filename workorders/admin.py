from django.contrib import admin
from django.db import transaction

from dispatchdesk.admin import (
    EditableRowsInline,
    EventInline,
    WorkItemAdmin,
    row_edit,
    transition_action,
)
from dispatchdesk.admin_imports import ImportAdminMixin
from tickets.models import Ticket

from . import services
from .imports import WorkOrderImport
from .models import MAX_MINUTES_PER_ENTRY, ChecklistItem, TimeEntry, WorkOrder
from .serializers import WorkOrderTransitionSerializer


class ChecklistItemInline(EditableRowsInline):
    """Items are added, reworded, moved and ticked through the services, with history."""

    model = ChecklistItem
    fields = ("position", "text", "done", "done_by", "done_at")
    readonly_fields = ("done_by", "done_at")
    extra = 1
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("done_by")


class TimeEntryInline(EditableRowsInline):
    model = TimeEntry
    fields = ("date", "user", "minutes", "note")
    readonly_fields = ("user",)
    extra = 1
    can_delete = False

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "minutes":  # the API's range, in the input too (not 0 and up)
            kwargs.update(min_value=1, max_value=MAX_MINUTES_PER_ENTRY)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(WorkOrder)
class WorkOrderAdmin(ImportAdminMixin, WorkItemAdmin):
    importer_class = WorkOrderImport
    transition_serializer = WorkOrderTransitionSerializer
    team_when_empty = "Empty: the ticket's team, or the default team without a ticket."
    list_display = (
        "id",
        "title",
        "status_badge",
        "priority_level",
        "team",
        "assignee",
        "ticket",
        "scheduled_start",
        "due",
        "actual_minutes",
    )
    list_select_related = ("team", "assignee", "ticket")
    search_help_text = (
        "Words of the title or description, part of the location, or an exact external reference."
    )
    fields = (
        "title",
        "description",
        "priority",
        "team",
        "ticket",
        "location",
        "scheduled_start",
        "scheduled_end",
        "due_at",
        "estimated_minutes",
        "status",
        "assignee",
        "completion_notes",
        "external_ref",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
    )
    readonly_fields = (*WorkItemAdmin.readonly_fields, "completion_notes", "external_ref")
    raw_id_fields = ("ticket",)
    inlines = (ChecklistItemInline, TimeEntryInline, EventInline)
    actions = (
        *WorkItemAdmin.actions,
        transition_action("start", "Start"),
        transition_action("verify", "Verify completed work orders"),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).with_actual_minutes()

    def search_also(self, queryset, term: str):
        return queryset.filter(location__icontains=term)

    @admin.display(description="actual min", ordering="actual_minutes")
    def actual_minutes(self, obj):
        return obj.actual_minutes

    def save_model(self, request, obj, form, change):
        if change:
            changes = {k: v for k, v in self.edited_fields(form).items() if k in services.EDITABLE}
            # Saving only inlines, or nothing, must not touch (or be refused on) the work order:
            # its ETag says nothing of its inlines, and a read-only one saved unchanged is fine.
            if changes:
                services.work_order_update(
                    work_order=obj,
                    by=request.user,
                    changes=changes,
                    if_match=self.loaded_etag(request),
                )
        else:
            created = services.work_order_create(by=request.user, **self.edited_fields(form))
            obj.pk = created.pk

    def delete_model(self, request, obj):
        services.work_order_delete(obj, by=request.user)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            # Every work order first, then each one's ticket as it is deleted: the order of
            # locks every request takes (work orders before tickets).
            chosen = list(queryset.select_for_update(of=("self",)).order_by("pk"))
            # Their tickets next, by id: locked one by one as each work order goes, they were
            # taken in work-order order, against release_work and the rest (tickets by id).
            tickets = Ticket.objects.filter(pk__in=[wo.ticket_id for wo in chosen if wo.ticket_id])
            list(tickets.select_for_update().order_by("pk"))
            for work_order in chosen:
                services.work_order_delete(work_order, by=request.user)

    def inline_savers(self):
        def save_item(request, work_order, form):
            data = form.cleaned_data
            if form.instance.pk is None:
                return services.checklist_add(
                    work_order=work_order,
                    by=request.user,
                    text=data["text"],
                    # The blank row's default position is not a wish to go first.
                    position=data["position"] if "position" in form.changed_data else None,
                    done=data.get("done", False),
                )
            changes, shown = row_edit(form)
            # Not the position: moving one item renumbers the others (this page's own moves
            # too), and an item goes where it is put.
            shown.pop("position", None)
            return services.checklist_update(
                item=form.instance, by=request.user, if_unchanged=shown, **changes
            )

        def save_entry(request, work_order, form):
            data = form.cleaned_data
            if form.instance.pk is None:
                return services.time_entry_add(
                    work_order=work_order,
                    by=request.user,
                    minutes=data["minutes"],
                    note=data.get("note", ""),
                    date=data.get("date"),
                )
            changes, shown = row_edit(form)
            return services.time_entry_update(
                entry=form.instance, by=request.user, if_unchanged=shown, **changes
            )

        return {ChecklistItem: save_item, TimeEntry: save_entry}
