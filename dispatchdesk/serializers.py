"""Serializers shared by tickets and work orders."""

from collections.abc import Mapping
from operator import attrgetter

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework import ISO_8601, serializers
from rest_framework.fields import SkipField
from rest_framework.relations import MANY_RELATION_KWARGS, PKOnlyObject
from rest_framework.settings import api_settings

from accounts.models import User

from .datetimes import has_a_date
from .filters import MAX_ID
from .models import Event

# Fields that only change through their own endpoints: writing them is a 400 that says where.
OWN_ENDPOINTS = {
    "status": "Change the status through POST transitions/.",
    "assignee": "Change the assignee through POST assign/.",
}


# Field types whose representation of a plain attribute is the attribute itself.
VERBATIM = (
    serializers.IntegerField,
    serializers.CharField,
    serializers.BooleanField,
    serializers.ReadOnlyField,
)
# ... when it is of this type already (the field's own code handles the others).
CASTS = {
    serializers.IntegerField: int,
    serializers.CharField: str,
    serializers.BooleanField: bool,
}


def _generic(field):
    """What `Serializer.to_representation` does for one field (raises SkipField to leave it out)."""

    def read(instance):
        attribute = field.get_attribute(instance)
        value = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        return None if value is None else field.to_representation(attribute)

    return read


def names_someone_else(data, field: str, user) -> bool:
    """Whether the request body `data` gives `field` another user's id than `user`'s. Checked
    where a role may name only itself, before the id is looked up: the refusal is then the same
    whether that id exists or not, and says nothing of who does."""
    named = data.get(field) if isinstance(data, Mapping) else None
    return named is not None and str(named) != str(user.pk)


class IdField(serializers.PrimaryKeyRelatedField):
    """An object by its id, which must be a whole number: DRF's own field hands `2.5` to the
    database lookup, which reads it as 2, and the wrong user is assigned without a word.
    With `many=True`, a list of them (`IdListField`).

    On an update, the id the object holds now is taken even where the field would refuse it as
    a new one (a requester deactivated since, a ticket the user may not see): a client sends
    back what it read, and that changes nothing."""

    def to_internal_value(self, data):
        pk = self.whole_number(data)
        instance = getattr(self.parent, "instance", None)
        held = getattr(instance, f"{self.source}_id", None)  # a foreign key's id: `<name>_id`
        if isinstance(instance, models.Model) and pk == held:
            return getattr(instance, self.source)
        return super().to_internal_value(pk)

    def whole_number(self, data):
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type="bool")
        try:
            return serializers.IntegerField().to_internal_value(data)
        except serializers.ValidationError:
            self.fail("incorrect_type", data_type=type(data).__name__)

    @classmethod
    def many_init(cls, *args, **kwargs):  # as DRF's, with the list field of our own
        shared = {key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS}
        return IdListField(child_relation=cls(*args, **kwargs), **shared)


class IdListField(serializers.ManyRelatedField):
    """Objects by their ids, found in one query (DRF's field looks them up one at a time), at
    most `max_length` of them."""

    max_length = 1000
    default_error_messages = {"too_many": f"Send at most {max_length:,} ids."}

    def to_internal_value(self, data):
        if isinstance(data, str | Mapping) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        data = list(data)
        if len(data) > self.max_length:
            self.fail("too_many")
        child = self.child_relation
        ids = list(dict.fromkeys(child.whole_number(item) for item in data))
        in_range = [pk for pk in ids if -MAX_ID - 1 <= pk <= MAX_ID]
        found = child.get_queryset().in_bulk(in_range)
        for pk in ids:
            if pk not in found:
                child.fail("does_not_exist", pk_value=pk)
        return [found[pk] for pk in ids]


class DateTimeField(serializers.DateTimeField):
    """DRF's, refusing every time that has no date in UTC (dispatchdesk.datetimes) with its own
    message: DRF's check of a time without an offset (9999-12-31T23:59 in New York) converts it
    to UTC unguarded, an OverflowError."""

    def enforce_timezone(self, value):
        try:
            moment = super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")
        if timezone.is_aware(moment) and not has_a_date(moment):
            self.fail("overflow")
        return moment


class DateTimeFieldsMixin:
    """For model serializers: their model's time fields become the DateTimeField above."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: DateTimeField,
    }


class _Timestamp:
    """DRF's ISO 8601 DateTimeField output: in the current time zone, UTC as `Z`."""

    def __init__(self, field, attribute: str):
        self.field, self.get = field, attrgetter(attribute)

    @classmethod
    def of(cls, field, attribute: str):
        """None when the field is set up otherwise and needs DRF's own code."""
        if getattr(field, "format", api_settings.DATETIME_FORMAT) != ISO_8601:
            return None
        if not hasattr(field, "timezone") and not settings.USE_TZ:
            return None
        return cls(field, attribute)

    def bind(self):
        """The reader for one serializer (one request): the time zone is looked up once."""
        field, get = self.field, self.get
        zone = getattr(field, "timezone", None) or timezone.get_current_timezone()

        def read(instance):
            value = get(instance)
            if value is None:
                return None
            if isinstance(value, str) or value.tzinfo is None:
                return field.to_representation(value)
            text = value.astimezone(zone).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return read


def _reader(model, field):
    """A function of the instance that gives what DRF gives for `field` (a _Timestamp to bind to
    the request's time zone); a method name for a SerializerMethodField; None when only DRF's
    own code will do."""
    if isinstance(field, serializers.SerializerMethodField):
        return field.method_name
    if len(field.source_attrs) != 1:
        return None
    (source,) = field.source_attrs
    kind = type(field)
    if kind in (serializers.PrimaryKeyRelatedField, IdField) and field.pk_field is None:
        model_field = next((f for f in model._meta.concrete_fields if f.name == source), None)
        if model_field is not None and model_field.is_relation:
            return attrgetter(model_field.attname)  # the id, without loading the object
        return None
    if kind in (serializers.DateTimeField, DateTimeField):  # the same output
        return _Timestamp.of(field, source)
    if kind is serializers.ChoiceField:
        get, choices = attrgetter(source), field.choice_strings_to_values

        def choice(instance):
            value = get(instance)
            return value if value is None else choices.get(str(value), value)

        return choice
    if kind is serializers.BigIntegerField and not getattr(
        field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING
    ):
        kind = serializers.IntegerField  # a 64-bit id, given as a number
    if kind in VERBATIM:
        get, cast = attrgetter(source), CASTS.get(kind)

        def verbatim(instance):
            value = get(instance)
            if value is None or cast is None or type(value) is cast:
                return value
            return field.to_representation(value)

        return verbatim
    return None


class FastReadMixin:
    """Reads a model serializer's fields with one small function each instead of DRF's field
    machinery at every value; the functions are worked out once per serializer class, so a read
    does not even build the serializer's fields.

    The output is the same, key for key; validation, writes, the browsable API and the OpenAPI
    schema still come from the declared fields. Ids of related objects come from the
    `<field>_id` column, as DRF reads them; a field DRF would leave out (an annotation that is
    not there) is left out. For serializers whose readable fields are the same for every
    instance and request (fields that need the context go through DRF's code).
    """

    _read_plans: dict = {}

    def _read_plan(self) -> list:
        cls = type(self)
        plan = FastReadMixin._read_plans.get(cls)
        if plan is None:
            model = self.Meta.model
            plan = [(f.field_name, _reader(model, f)) for f in self._readable_fields]
            FastReadMixin._read_plans[cls] = plan
        return plan

    @cached_property
    def _readers(self) -> list:
        readers = []
        for name, read in self._read_plan():
            if isinstance(read, str):
                read = getattr(self, read)
            elif isinstance(read, _Timestamp):
                read = read.bind()
            elif read is None:
                read = _generic(self.fields[name])
            readers.append((name, read))
        return readers

    def to_representation(self, instance):
        try:
            return {name: read(instance) for name, read in self._readers}
        except (AttributeError, KeyError, SkipField):
            pass  # a field to fill in or leave out as DRF does: read field by field
        ret = {}
        for name, read in self._readers:
            try:
                ret[name] = read(instance)
            except (AttributeError, KeyError):
                # As DRF: a default, None or nothing, else its error.
                try:
                    ret[name] = _generic(self.fields[name])(instance)
                except SkipField:
                    continue
            except SkipField:
                continue
        return ret


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
    assignee = IdField(
        queryset=User.objects.all(), allow_null=True, help_text="A user id, or null to unassign."
    )


class EventSerializer(FastReadMixin, serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "at", "actor", "type", "data"]
