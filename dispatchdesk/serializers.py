"""Serializers shared by tickets and work orders."""

from rest_framework import serializers

from accounts.models import User

from .models import Event

# Fields that only change through their own endpoints: writing them is a 400 that says where.
OWN_ENDPOINTS = {
    "status": "Change the status through POST transitions/.",
    "assignee": "Change the assignee through POST assign/.",
}


class RedirectedFieldsMixin:
    def to_internal_value(self, data):
        if isinstance(data, dict):
            misplaced = {field: [hint] for field, hint in OWN_ENDPOINTS.items() if field in data}
            if misplaced:
                raise serializers.ValidationError(misplaced)
        return super().to_internal_value(data)


class TransitionRequestSerializer(serializers.Serializer):
    """What POST transitions/ takes; each kind of object adds the inputs its transitions need."""

    name = serializers.CharField(help_text="A transition listed by GET transitions/.")
    note = serializers.CharField(required=False, allow_blank=True)


class TransitionOptionSerializer(serializers.Serializer):
    name = serializers.CharField()
    target = serializers.CharField()
    needs = serializers.ListField(
        child=serializers.CharField(), help_text="Inputs to send with this transition."
    )


class AssignSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), allow_null=True, help_text="A user id, or null to unassign."
    )


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "at", "actor", "type", "data"]
