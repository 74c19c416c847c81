from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from dispatchdesk.admin_imports import ImportAdminMixin

from .imports import UserImport
from .models import Team, User


class UserCreationForm(auth_forms.BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "role")


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(ImportAdminMixin, DjangoUserAdmin):
    """Supervisors may look people up; only admins (superusers) change users and roles."""

    importer_class = UserImport

    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("email", "full_name", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active", "teams")
    search_fields = ("email", "full_name")
    ordering = ("email",)
    filter_horizontal = ("teams",)
    readonly_fields = ("date_joined", "last_login")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
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
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )

    def has_delete_permission(self, request, obj=None):
        # People are deactivated, not deleted; only an admin may delete, to clean up data.
        return request.user.is_superuser

    def has_import_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser  # roles are for admins


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
