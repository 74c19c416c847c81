"""Serializers shared by tickets and work orders."""

from rest_framework import serializers

from accounts.models import User

from .models import Event


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
