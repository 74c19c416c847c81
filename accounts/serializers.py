from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from dispatchdesk.serializers import IdField

from .models import Team, User, no_semicolon
from .services import (
    EMAIL_TAKEN,
    TEAM_NAME_TAKEN,
    team_create,
    team_name_taken,
    team_update,
    user_change_problems,
    user_create,
    user_update,
)


class LoginEmailField(serializers.EmailField):
    """An email as logins look it up (`UserManager.normalize_email`: lower case, NFKC), folded
    before it is validated: folding may lengthen an address, or make it no address at all."""

    def to_internal_value(self, data):
        return User.objects.normalize_email(super().to_internal_value(data))


class UserSerializer(serializers.ModelSerializer):
    email = LoginEmailField(
        max_length=254,
        validators=[
            UniqueValidator(
                queryset=User.objects.all(),
                lookup="iexact",
                message=EMAIL_TAKEN,
            )
        ],
    )
    password = serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Checked by the password validators; never returned.",
    )
    teams = IdField(many=True, queryset=Team.objects.all(), required=False)

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "full_name",
            "role",
            "teams",
            "is_active",
            "date_joined",
            "password",
        ]
        read_only_fields = ["date_joined"]

    def validate(self, attrs):
        instance = self.instance
        errors = user_change_problems(by=self.context["request"].user, user=instance, changes=attrs)

        if "password" in attrs:
            candidate = User(
                email=attrs.get("email", instance.email if instance else ""),
                full_name=attrs.get("full_name", instance.full_name if instance else ""),
            )
            try:
                validate_password(attrs["password"], user=candidate)
            except DjangoValidationError as exc:
                errors["password"] = list(exc.messages)

        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data):
        return user_create(**validated_data)

    def update(self, instance, validated_data):
        request = self.context["request"]
        if_match = request.headers.get("If-Match")
        return user_update(user=instance, by=request.user, if_match=if_match, **validated_data)


class TeamSerializer(serializers.ModelSerializer):
    members = IdField(many=True, queryset=User.objects.all(), required=False)

    class Meta:
        model = Team
        fields = ["id", "name", "members", "is_default", "created_at"]
        read_only_fields = ["is_default", "created_at"]
        # The name's uniqueness, in any case, is validate_name's (the model's is exact only).
        extra_kwargs = {"name": {"validators": [no_semicolon]}}

    def validate_name(self, name: str) -> str:
        if team_name_taken(name, team=self.instance):
            raise serializers.ValidationError(TEAM_NAME_TAKEN)
        return name

    def create(self, validated_data):
        return team_create(**validated_data)

    def update(self, instance, validated_data):
        request = self.context["request"]
        if_match = request.headers.get("If-Match")
        return team_update(team=instance, by=request.user, if_match=if_match, **validated_data)
