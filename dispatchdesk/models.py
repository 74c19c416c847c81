"""Project-wide records: the audit trail and the idempotency keys of API creates."""

from datetime import UTC, datetime

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class EventType(models.TextChoices):
    CREATED = "created", "Created"
    IMPORTED = "imported", "Imported"
    STATUS_CHANGED = "status_changed", "Status changed"
    ASSIGNED = "assigned", "Assigned"
    UNASSIGNED = "unassigned", "Unassigned"
    FIELDS_CHANGED = "fields_changed", "Fields changed"
    COMMENT_ADDED = "comment_added", "Comment added"
    WORK_ORDER_LINKED = "work_order_linked", "Work order linked"
    WORK_ORDER_DELETED = "work_order_deleted", "Work order deleted"
    CHECKLIST_TICKED = "checklist_ticked", "Checklist ticked"
    TIME_LOGGED = "time_logged", "Time logged"


class AppendOnlyError(Exception):
    pass


class EventQuerySet(models.QuerySet):
    def for_object(self, obj):
        return self.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
        ).order_by("id")

    def public(self):
        return self.filter(public=True)

    def update(self, **kwargs):
        raise AppendOnlyError("History events are never changed.")

    def delete(self):
        raise AppendOnlyError("History events are never deleted.")


class HistoryEncoder(DjangoJSONEncoder):
    """Django's, with times in full (it cuts them to milliseconds, so a change of a due date by
    less than that was recorded as from and to the same time), in UTC as `Z`."""

    def default(self, o):
        if isinstance(o, datetime) and o.tzinfo is not None:
            return o.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return super().default(o)


class Event(models.Model):
    """One change to a ticket or work order. Append-only: written with the change, never edited."""

    # Looked up through the (content_type, object_id, id) index of Meta, which leads with it.
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, db_index=False)
    object_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    type = models.CharField(max_length=32, choices=EventType.choices)
    data = models.JSONField(default=dict, blank=True, encoder=HistoryEncoder)
    # Requesters see only public events: no internal comments, no work orders.
    public = models.BooleanField(default=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id", "id"])]

    def __str__(self) -> str:
        return f"{self.get_type_display()} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("History events are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("History events are never deleted.")


class IdempotencyKey(models.Model):
    """The first response to a create sent with an `Idempotency-Key`, replayed on retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)  # JSON, its fields in the response's order
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.path})"
