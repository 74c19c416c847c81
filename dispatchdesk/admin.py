"""The back office for tickets and work orders, built on the same services as the API.

Status is read-only on every form. Transitions, assignment, edits, comments, checklist and time
go through dispatchdesk.workflow and the apps' services, so the admin applies the same rules
(roles, guards, row locks) and writes the same history as the API. Refusals become messages.
"""

import contextlib
import hashlib
import json
import secrets

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from rest_framework.exceptions import APIException
from rest_framework.serializers import as_serializer_error

from accounts.models import User

from . import workflow
from .datetimes import validate_has_a_date
from .etags import etag_for
from .exceptions import Conflict, PreconditionFailed, flatten_errors
from .idempotency import forget_expired_keys
from .models import Event, IdempotencyKey
from .pagination import CappedCountPaginator
from .search import search

# What a service may refuse with; the admin shows these as messages instead of failing.
REFUSALS = (APIException, DjangoValidationError)
# The history inline's box on a change page: its formset's prefix (app, model, generic keys).
HISTORY_ANCHOR = "dispatchdesk-event-content_type-object_id-group"


def describe_refusal(exc: Exception) -> str:
    detail = as_serializer_error(exc) if isinstance(exc, DjangoValidationError) else exc.detail
    if isinstance(detail, (dict, list)):
        return "; ".join(
            f"{field}: {' '.join(texts)}" if field != "non_field_errors" else " ".join(texts)
            for field, texts in flatten_errors(detail).items()
        )
    return str(detail)


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue()
        if self.value() == "no":
            return queryset.not_overdue()
        return queryset


class AssigneeFilter(admin.RelatedFieldListFilter):
    """The people work can be assigned to (active agents and supervisors), read from the users
    table: Django's related-only filter finds them with a scan of every assignment."""

    def field_choices(self, field, request, model_admin):
        return [(user.pk, str(user)) for user in User.objects.workers().order_by("email")]


class EventInline(GenericTabularInline):
    """History, read-only for everyone: nobody adds, edits or deletes events."""

    model = Event
    verbose_name = "history event"
    verbose_name_plural = "history"
    fields = ("at", "actor", "type", "data")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("id",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EditableRowsInline(admin.TabularInline):
    """An inline whose existing rows are edited in place (through a service: see `row_edit`).

    Every input also carries the value the page showed (Django's `show_hidden_initial`), so that
    a row's `changed_data` is what the user changed on the page. Compared with the database
    instead, a page opened before someone else ticked an item would untick it again when saved.
    """

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None:
            formfield.show_hidden_initial = True
        return formfield

    # Verified and cancelled work is shown read-only, its rows too (the services refuse them):
    # not as inputs whose save fails.
    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not is_terminal(obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not is_terminal(obj)


def is_terminal(obj) -> bool:
    return obj is not None and obj.is_terminal


def row_edit(row) -> tuple[dict, dict]:
    """The edit of an existing row of an EditableRowsInline: {field: new value} of the fields
    changed on the page, and {field: value the page showed} of the same fields, with which the
    service refuses the edit (412) when someone else has changed one of them since."""
    changes = {name: row.cleaned_data[name] for name in row.changed_data}
    shown = {}
    for name in changes:
        field = row.fields[name]
        posted = field.hidden_widget().value_from_datadict(
            row.data, row.files, row.add_initial_prefix(name)
        )
        shown[name] = field.to_python(posted)
    return changes, shown


def transition_action(name: str, description: str):
    """A bulk action firing `name` on each selected object; failures are reported one by one."""

    def action(modeladmin, request, queryset):
        modeladmin.for_each(
            request,
            queryset,
            lambda obj: workflow.fire(obj, name=name, by=request.user),
            done=f"Fired {name}",
        )

    action.__name__ = f"fire_{name}"
    action.short_description = description
    return action


class ChecksChangeListInput:
    """What a change list's query string and its actions' selection may hold, short of a 500.

    A NUL character in a filter's value (PostgreSQL's text cannot hold one) gets the admin's
    answer to a filter it cannot apply: the list again, unfiltered (`?e=1`). A lookup beyond the
    plain comparisons the filters use is refused (400): Django takes any lookup on a model's own
    fields from the query string, and some fail in the database or in Python rather than in the
    filter (`?title__regex=[`, `?due_at__year=99999`, `?id__range=1`). A selection that names
    no row by its id (`_selected_action=abc`) is said so, and nothing is done.
    """

    plain_lookups = frozenset({"exact", "iexact", "isnull", "in", "gt", "gte", "lt", "lte"})

    def get_changelist_instance(self, request):
        if any("\x00" in value for _, values in request.GET.lists() for value in values):
            raise IncorrectLookupParameters("A NUL character in the query string.")
        return super().get_changelist_instance(request)

    def lookup_allowed(self, lookup, value, request=None):
        model, parts = self.model, lookup.split(LOOKUP_SEP)
        for index, part in enumerate(parts):
            try:
                field = model._meta.get_field(part)
            except FieldDoesNotExist:
                # Not a field: the last part may be a plain comparison. A first part that is no
                # field at all is a filter's own parameter (`overdue`), alone, or an annotation
                # of the list (`actual_minutes`), compared as it is.
                if index == 0:
                    return len(parts) == 1 and super().lookup_allowed(lookup, value, request)
                if index < len(parts) - 1 or part not in self.plain_lookups:
                    return False
                break
            if field.related_model is not None:
                model = field.related_model
        return super().lookup_allowed(lookup, value, request)

    def response_action(self, request, queryset):
        chosen = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(value.isascii() and value.isdigit() for value in chosen):
            refusal = "Select rows by their boxes: nothing was done."
            self.message_user(request, refusal, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


class RefusalsAsMessages:
    """For a ModelAdmin that saves through the services: a refusal (a rule, or a race that the
    form's own check could not see) is an error message on the page shown again, never an error
    page. Nothing is saved: the admin's change view runs in one transaction."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except REFUSALS as exc:
            self.message_user(request, self.refusal_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except REFUSALS as exc:  # the object is kept: back to its page
            self.message_user(request, self.refusal_message(exc), messages.ERROR)
            opts = self.model._meta
            page = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            return HttpResponseRedirect(page)

    def response_action(self, request, queryset):
        # Django's deletion in one transaction, so that a refused one also takes back the log
        # entries it wrote before it. Not the other actions: each object is changed in a
        # transaction of its own (`for_each`), as one request would change it. One transaction
        # would hold a ticket locked by its first work order while waiting for the next one,
        # against the order every other path locks them in (work orders, then tickets).
        deleting = request.POST.get("action") == "delete_selected"
        try:
            with transaction.atomic() if deleting else contextlib.nullcontext():
                return super().response_action(request, queryset)
        except REFUSALS as exc:
            self.message_user(request, self.refusal_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def refusal_message(self, exc: Exception) -> str:
        if isinstance(exc, PreconditionFailed):
            name = self.model._meta.verbose_name
            return (
                f"Nothing was saved: this {name} was changed by someone else after you opened it. "
                "It is shown again as it is now; make your changes again."
            )
        return describe_refusal(exc)


def claim_page(request) -> None:
    """Refuse a change page saved a second time (sent twice: a double click, a reload that posts
    again), which would add its new comments, time entries or checklist items again, or file its
    new ticket again. Each showing of the page carries a token, recorded with the first save as an
    idempotency key is (IdempotencyKey, in the save's transaction); a page without one (made by
    hand) is not checked."""
    token = request.POST.get("page_token", "")
    if not token:
        return
    # After the page's transaction, in one of its own: deleted inside it, the expired keys
    # stayed locked behind the object's lock, against another page saved at the same moment.
    transaction.on_commit(forget_expired_keys)
    try:
        with transaction.atomic():  # a savepoint: the second save waits for the first's commit
            IdempotencyKey.objects.create(
                user=request.user, key=f"admin page {token}"[:255], path=request.path[:255]
            )
    except IntegrityError:
        raise Conflict(
            "This page was saved already (sent twice?): nothing more was written. "
            "It is shown again as it is now."
        ) from None


class RefusesStalePages(forms.Form):
    """For a ModelForm of a change page whose model has no ETag (users, teams): the page carries
    a digest of the `guarded` fields as it showed them (kept when the page is shown again with
    errors), and when someone else changed one of them since, the form raises
    PreconditionFailed, which RefusalsAsMessages turns into the page shown again as it is now.
    Otherwise a save from a stale page would write back what it showed: reactivate someone, undo
    a role, take a new member out again."""

    guarded: tuple[str, ...] = ()
    shown_version = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shown_version"].initial = self.version  # worked out when shown

    def version(self) -> str:
        """A digest of the guarded fields' values in the database (as the form reads them)."""
        values = []
        for name in self.guarded:
            if name not in self.fields:  # not on this page (read-only viewers)
                continue
            value = self.get_initial_for_field(self.fields[name], name)
            if isinstance(value, (list, tuple, QuerySet)):  # related objects: their ids
                value = sorted(getattr(item, "pk", item) for item in value)
            values.append(value)
        return hashlib.sha256(json.dumps(values, default=str).encode()).hexdigest()[:32]

    def clean(self):
        cleaned = super().clean()
        shown = cleaned.get("shown_version")  # none: a post that is not from the page
        if self.instance.pk and shown and shown != self.version():
            raise PreconditionFailed()
        return cleaned


class WorkItemAdmin(ChecksChangeListInput, RefusalsAsMessages, admin.ModelAdmin):
    """What the ticket and work-order admins share.

    The change lists stay fast at a million rows: the count is exact up to 1,000 and estimated
    beyond on PostgreSQL (as the API's lists), the unfiltered total is not counted, the filters'
    choices never scan the table, and search goes through the API's indexed search.
    """

    change_form_template = "admin/dispatchdesk/workitem_change_form.html"
    transition_serializer = None  # set by each subclass: validates the transition inputs
    list_per_page = 100
    list_display_links = ("id", "title")
    list_filter = (
        "status",
        "priority",
        "team",
        ("assignee", AssigneeFilter),
        OverdueFilter,
        # Rather than a date hierarchy, whose year links need every row's date.
        ("created_at", admin.DateFieldListFilter),
    )
    paginator = CappedCountPaginator
    show_full_result_count = False
    search_fields = ("title", "description")  # shows the search box; see get_search_results
    readonly_fields = (
        "status",
        "assignee",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
    )
    actions = ["assign_to_me"]
    # What a new object's empty team becomes (the create service's default): set by each subclass.
    team_when_empty = ""

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and obj.is_terminal:
            # Closed, cancelled and verified work is read-only (the services refuse edits):
            # shown so, not as a form whose save fails. Comments and transitions stay.
            return tuple(dict.fromkeys([*readonly, *self.fields]))
        return readonly

    def save_form(self, request, form, change):
        # A page shown while the object was editable, saved after it was closed, posts fields
        # that the form now leaves out: refuse them rather than drop them without a word.
        editable = set(self.fields) - set(super().get_readonly_fields(request, form.instance))
        if change and form.instance.is_terminal and editable.intersection(request.POST):
            workflow.ensure_editable(form.instance, None)  # says it is read-only (409)
        return super().save_form(request, form, change)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.DateTimeField) and formfield is not None:
            # As the API: a time without a date in UTC is refused, not a failure to store it.
            formfield.validators = [*formfield.validators, validate_has_a_date]
        return formfield

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)  # a class made for this request
        if obj is None and "team" in form.base_fields:
            form.base_fields["team"].required = False
            form.base_fields["team"].help_text = self.team_when_empty
        return form

    # Columns

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        label = obj.get_status_display()
        return format_html('<span class="dd-status dd-{}">{}</span>', obj.status, label)

    # By urgency, as the API's `ordering=priority`, not by the values' spelling.
    @admin.display(description="priority", ordering="priority_rank")
    def priority_level(self, obj):
        return obj.get_priority_display()

    @admin.display(description="due", ordering="due_at")
    def due(self, obj):
        if obj.due_at is None:
            return "-"
        when = timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M")  # DJANGO_TIME_ZONE
        if obj.is_overdue:
            return format_html(
                '<strong class="dd-overdue" style="color: #ba2121">⚠ overdue {}</strong>', when
            )
        return when

    # Search

    def get_search_results(self, request, queryset, search_term):
        """The API's search of title and description (its indexes on PostgreSQL), or an exact
        external reference, or what `search_also` adds for the kind of work."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = search(queryset, term) | queryset.filter(external_ref=term)
        return found | self.search_also(queryset, term), False

    def search_also(self, queryset, term: str):
        return queryset.none()

    # Permissions: work is cancelled, not deleted; only an admin may delete, to clean up data,
    # and only finished work: active work deleted would drop out of its ticket's resolve guard.
    # Django asks this of every selected row in a bulk deletion too.

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and (obj is None or obj.is_terminal)

    # Saving through the services, refusals as messages

    def history_view(self, request, object_id, extra_context=None):
        """The audit trail is the change page's history inline, not Django's log of admin edits
        (which misses everything done through the API)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_or_change_permission(request, obj):
            return super().history_view(request, object_id, extra_context)  # its 404 / 403
        return HttpResponseRedirect(f"{self.change_url(obj)}#{HISTORY_ANCHOR}")

    def edited_fields(self, form) -> dict:
        return {name: form.cleaned_data[name] for name in form.changed_data}

    def loaded_etag(self, request) -> str | None:
        """The ETag of the object as its change page showed it (a hidden field): the services
        refuse an edit made from a page that someone else's change has made stale, as the API
        answers 412 to a stale `If-Match`."""
        return request.POST.get("loaded_etag") or None

    def save_formset(self, request, form, formset, change):
        save_row = self.inline_savers().get(formset.model)
        if save_row is None:
            return super().save_formset(request, form, formset, change)
        # What formset.save() would have noted, for the admin's change message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in formset.forms:
            if row.has_changed() and row not in formset.deleted_forms:
                is_new = row.instance.pk is None
                saved = save_row(request, form.instance, row)
                if is_new:
                    formset.new_objects.append(saved)
                else:
                    formset.changed_objects.append((saved, row.changed_data))
        return None

    def inline_savers(self) -> dict:
        """{inline model: callable(request, parent, form) -> the saved row}, via a service."""
        return {}

    def save_related(self, request, form, formsets, change):
        claim_page(request)
        super().save_related(request, form, formsets, change)

    # The transition buttons and the assign form on the change page

    def get_urls(self):
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}"
        own = [
            path(
                "<path:object_id>/transition/",
                self.admin_site.admin_view(self.transition_view),
                name=f"{name}_transition",
            ),
            path(
                "<path:object_id>/assign/",
                self.admin_site.admin_view(self.assign_view),
                name=f"{name}_assign",
            ),
        ]
        return own + super().get_urls()

    def change_url(self, obj) -> str:
        opts = self.model._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])

    def editable_object(self, request, object_id):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        if not self.has_change_permission(request, obj):
            raise DjangoPermissionDenied
        return obj

    def transition_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.editable_object(request, object_id)
        data = {key: value for key, value in request.POST.items() if key != "csrfmiddlewaretoken"}
        serializer = self.transition_serializer(data=data)
        try:
            serializer.is_valid(raise_exception=True)
            inputs = {k: v for k, v in serializer.validated_data.items() if k != "name"}
            name = serializer.validated_data["name"]
            obj = workflow.fire(obj, name=name, by=request.user, inputs=inputs)
        except REFUSALS as exc:
            self.message_user(request, describe_refusal(exc), messages.ERROR)
        else:
            status = obj.get_status_display().lower()
            done = f"Fired {data['name']}: the {obj._meta.verbose_name} is now {status}."
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(self.change_url(obj))

    def assign_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.editable_object(request, object_id)
        assignee_id = request.POST.get("assignee") or None
        try:
            to = User.objects.get(pk=assignee_id) if assignee_id else None
            obj = workflow.assign(obj, by=request.user, to=to)
        except (User.DoesNotExist, ValueError):
            self.message_user(request, "No such user.", messages.ERROR)
        except REFUSALS as exc:
            self.message_user(request, describe_refusal(exc), messages.ERROR)
        else:
            who = obj.assignee or "nobody"
            self.message_user(request, f"Assigned to {who}.", messages.SUCCESS)
        return HttpResponseRedirect(self.change_url(obj))

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Names this showing of the page; a form shown again with errors keeps it.
        context["page_token"] = request.POST.get("page_token") or secrets.token_urlsafe(18)
        if obj is not None and obj.pk:
            # The version this page shows; a form shown again with errors keeps the first one.
            context["loaded_etag"] = self.loaded_etag(request) or etag_for(obj)
            context["transitions"], context["blocked_transitions"] = workflow.transition_choices(
                obj, request.user
            )
            context["assignable"] = User.objects.workers().filter(teams=obj.team_id)
            context["current_assignee"] = obj.assignee
            context["transition_url"] = reverse(
                f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_transition",
                args=[obj.pk],
            )
            context["assign_url"] = context["transition_url"].replace("/transition/", "/assign/")
        return super().render_change_form(request, context, add, change, form_url, obj)

    # Bulk actions

    def for_each(self, request, queryset, change, done: str):
        """Apply `change` to every selected object; report each failure, keep the successes."""
        succeeded = 0
        for obj in queryset.order_by("pk"):
            try:
                change(obj)
            except REFUSALS as exc:
                self.message_user(request, f"{obj}: {describe_refusal(exc)}", messages.ERROR)
            except Http404:  # deleted by someone else since the list was read
                self.message_user(request, f"{obj}: deleted meanwhile.", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            meta = self.model._meta
            kind = meta.verbose_name if succeeded == 1 else meta.verbose_name_plural
            self.message_user(request, f"{done}: {succeeded} {kind}.", messages.SUCCESS)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_worker:  # an admin holds no work: every row would fail
            actions.pop("assign_to_me", None)
        return actions

    @admin.action(description="Assign to me")
    def assign_to_me(self, request, queryset):
        self.for_each(
            request,
            queryset,
            lambda obj: workflow.assign(obj, by=request.user, to=request.user),
            done="Assigned to you",
        )
