from contextlib import contextmanager

from django import forms
from django.contrib import admin
from django.contrib.admin import forms as admin_forms
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError, transaction
from django.db.models import ProtectedError
from django.urls import reverse_lazy
from psycopg.errors import LockNotAvailable

from dispatchdesk.admin import ChecksChangeListInput, RefusalsAsMessages, RefusesStalePages
from dispatchdesk.admin_imports import ImportAdminMixin

from .imports import UserImport
from .models import Team, User
from .services import (
    EMAIL_TAKEN,
    TEAM_NAME_TAKEN,
    claiming,
    hold_sessions,
    team_name_taken,
    team_update,
    user_change_problems,
    user_update,
)


class LoginEmailField(forms.EmailField):
    """An email as logins look it up (`UserManager.normalize_email`: lower case, NFKC), so that
    a user added as `Kim@Example.com` logs in and a second `kim@example.com` is refused. Folded
    before it is validated: folding may lengthen an address, or make it no address at all."""

    def to_python(self, value):
        return User.objects.normalize_email(super().to_python(value))


class UserCreationForm(auth_forms.AdminUserCreationForm):
    """Email, name, role, teams and a password, or none yet (the admin's "usable password"
    switch), as the API creates users."""

    actor: User  # who is adding the user: set per request by UserAdmin.get_form

    class Meta:
        model = User
        fields = ("email", "full_name", "role", "teams")
        field_classes = {"email": LoginEmailField}

    def clean(self):
        cleaned = super().clean()
        changes = {name: cleaned[name] for name in ("role", "teams") if cleaned.get(name)}
        add_problems(self, user_change_problems(by=self.actor, user=None, changes=changes))
        return cleaned


class UserChangeForm(RefusesStalePages, auth_forms.UserChangeForm):
    """The API's rules for a change of role, teams or status (accounts.services)."""

    actor: User  # who is changing the user: set per request by UserAdmin.get_form
    guarded = ("email", "full_name", "role", "teams", "is_active")

    class Meta:
        model = User
        fields = "__all__"
        field_classes = {"email": LoginEmailField}

    def clean(self):
        cleaned = super().clean()
        changes = {name: cleaned[name] for name in ("role", "is_active") if name in cleaned}
        # The form sends the teams the user has as well: only a changed choice asks for teams,
        # so that a role given up leaves its teams behind, as through the API.
        if "teams" in cleaned and set(cleaned["teams"]) != set(self.instance.teams.all()):
            changes["teams"] = cleaned["teams"]
        add_problems(self, user_change_problems(by=self.actor, user=self.instance, changes=changes))
        return cleaned


def add_problems(form, problems: dict[str, list[str]]) -> None:
    """The API's refusals (accounts.services.user_change_problems) as the form's errors."""
    for field, messages in problems.items():
        for message in messages:
            form.add_error(field, message)


# What a user may do follows from their role alone: groups would grant nothing.
admin.site.unregister(Group)


class WritesThePasswordAlone:
    """For Django's password forms, which save the whole user as the page read them: a change
    made meanwhile (a deactivation, a new role) was undone. They write the password alone."""

    def set_password_and_save(self, user, *args, commit=True, **kwargs):
        user = super().set_password_and_save(user, *args, commit=False, **kwargs)
        if commit:
            user.save(update_fields=["password"])
        return user


class PasswordForm(WritesThePasswordAlone, auth_forms.AdminPasswordChangeForm):
    """Another user's password, set by an admin (the user's page)."""


class OwnPasswordForm(WritesThePasswordAlone, admin_forms.AdminPasswordChangeForm):
    """One's own password (the admin's "Change password" link)."""


class OwnPasswordChangeView(PasswordChangeView):
    """The admin site's own view (`AdminSite.password_change`), with `OwnPasswordForm`: the
    site offers no way to give it another form. Routed before the admin's URLs."""

    form_class = OwnPasswordForm
    success_url = reverse_lazy("admin:password_change_done")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **admin.site.each_context(self.request)}


@admin.register(User)
class UserAdmin(ChecksChangeListInput, RefusalsAsMessages, ImportAdminMixin, DjangoUserAdmin):
    """Supervisors may look people up; only admins (superusers) change users and roles."""

    importer_class = UserImport

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = PasswordForm
    list_display = ("email", "full_name", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active", "teams")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    filter_horizontal = ("teams",)
    readonly_fields = ("date_joined", "last_login")
    # The fields of the change page that user_update writes (teams it takes on its own).
    profile_fields = ("email", "full_name", "role", "is_active")
    fieldsets = (
        (None, {"fields": ("email", "password", "shown_version")}),
        ("Profile", {"fields": ("full_name", "role", "teams", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "full_name",
                    "role",
                    "teams",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)  # a class made for this request
        form.actor = request.user
        return form

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        # Read-only viewers (supervisors) get no "Reset password" link to a page they may not open.
        (name, options), *rest = fieldsets
        fields = tuple(f for f in options["fields"] if f not in ("password", "shown_version"))
        return ((name, {**options, "fields": fields}), *rest)

    def save_model(self, request, obj, form, change):
        if change:
            return  # the whole change goes through the API's service, in save_related
        others = User.objects.exclude(pk=obj.pk).filter(email=obj.email)
        with claiming("email", EMAIL_TAKEN, others.exists):  # one added meanwhile: a message
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        # Through the same service as the API: the fields the page changed, written to the user
        # as they are now, in the order every other path takes its locks; only agents and
        # supervisors keep teams.
        changed = [name for name in self.profile_fields if change and name in form.changed_data]
        user_update(
            user=form.instance,
            by=request.user,
            teams=form.cleaned_data.get("teams"),
            **{name: form.cleaned_data[name] for name in changed},
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        hold_sessions(obj.pk)  # a login or refresh at that moment would record a token for them
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():  # the bulk action has no transaction of its own
            for pk in sorted(queryset.values_list("pk", flat=True)):
                hold_sessions(pk)
            super().delete_queryset(request, queryset)

    def has_delete_permission(self, request, obj=None):
        # People are deactivated, not deleted; only an admin may delete, to clean up data, and
        # never themselves (which could also remove the last admin).
        return request.user.is_superuser and obj != request.user

    def has_import_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser  # roles are for admins


class TeamForm(RefusesStalePages, forms.ModelForm):
    """A team's name and members, as `PATCH teams/{id}/` takes them."""

    guarded = ("name", "members")

    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.workers().order_by("email"),
        required=False,
        widget=FilteredSelectMultiple("members", is_stacked=False),
        help_text="Active agents and supervisors. Work of anyone taken out goes back to the "
        "team's queue.",
    )

    class Meta:
        model = Team
        fields = ("name",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            members = self.instance.members.all()
            self.fields["members"].initial = list(members)
            # Someone deactivated stays a member until taken out, as through the API.
            workers = self.fields["members"].queryset
            self.fields["members"].queryset = (workers | members).distinct().order_by("email")

    def clean_name(self):
        name = self.cleaned_data["name"]
        if team_name_taken(name, team=self.instance):
            raise forms.ValidationError(TEAM_NAME_TAKEN)
        return name


TEAM_IN_USE = (
    "Nothing was deleted: someone is putting people or work in this team right now. "
    "Try again in a moment."
)


def lock_for_deletion(team_ids) -> None:
    """Lock the teams to delete and their memberships (FOR UPDATE, by id), without waiting.

    Someone putting people or work in a team holds it (accounts.services.hold_teams,
    dispatchdesk.workflow.hold_team) until they commit, and may lock their work or people
    first or after: a deletion that waited for one of those teams, holding another team or a
    membership, could close a circle of waits with them (a deadlock). So the deletion waits for
    nobody: it is refused while someone holds what it would delete, and they go on."""
    ids = sorted(team_ids)
    Membership = User.teams.through
    try:
        list(Team.objects.select_for_update(nowait=True).filter(pk__in=ids).order_by("pk"))
        memberships = Membership.objects.select_for_update(nowait=True).filter(team_id__in=ids)
        list(memberships.order_by("pk").values_list("pk", flat=True))
    except OperationalError as exc:  # the transaction is rolled back
        if not isinstance(exc.__cause__, LockNotAvailable):
            raise
        raise DjangoValidationError(TEAM_IN_USE) from None


@contextmanager
def refused_if_given_work():
    """A team given tickets or work orders after the page offered to delete it is kept, with a
    message (RefusalsAsMessages); work is never deleted with its team."""
    try:
        yield
    except ProtectedError:
        raise DjangoValidationError(
            "Nothing was deleted: work was filed in the team since the page was shown. A team "
            "with tickets or work orders is kept; move them to another team first."
        ) from None


@admin.register(Team)
class TeamAdmin(ChecksChangeListInput, RefusalsAsMessages, admin.ModelAdmin):
    form = TeamForm
    list_display = ("name", "is_default", "created_at")
    search_fields = ("name",)

    def save_model(self, request, obj, form, change):
        if change:
            return  # by team_update (save_related), after the people it locks: see there
        with claiming("name", TEAM_NAME_TAKEN, lambda: team_name_taken(obj.name, team=obj)):
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Through the same service as the API: whoever leaves gives their work back.
        renamed = {"name": form.cleaned_data["name"]} if "name" in form.changed_data else {}
        team_update(
            team=form.instance,
            by=request.user,
            members=form.cleaned_data["members"],
            **(renamed if change else {}),
        )

    def delete_model(self, request, obj):
        lock_for_deletion([obj.pk])  # in the delete view's transaction
        with refused_if_given_work():
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        lock_for_deletion(queryset.values_list("pk", flat=True))  # the deletion's transaction
        with refused_if_given_work():
            super().delete_queryset(request, queryset)

    def has_delete_permission(self, request, obj=None):
        # The default team stays: work filed without a team goes to it. (The bulk deletion asks
        # this of every chosen team too, and refuses them all.)
        return request.user.is_superuser and not (obj is not None and obj.is_default)
