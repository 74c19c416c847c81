import django_filters
from django.db.models import Q

from .choices import Role
from .models import Team, User


class UserFilterSet(django_filters.FilterSet):
    role = django_filters.MultipleChoiceFilter(choices=Role.choices)
    team = django_filters.ModelChoiceFilter(field_name="teams", queryset=Team.objects.all())
    # `true` or `false`; anything else is a 400 (django-filter's own boolean filter ignores it).
    is_active = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_is_active"
    )
    search = django_filters.CharFilter(method="filter_search", help_text="Email or name contains.")

    class Meta:
        model = User
        fields = ["role", "team", "is_active"]

    def filter_is_active(self, queryset, name, value):
        return queryset.filter(is_active=value == "true")

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(email__icontains=value) | Q(full_name__icontains=value))


class TeamFilterSet(django_filters.FilterSet):
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Team
        fields = ["search"]
