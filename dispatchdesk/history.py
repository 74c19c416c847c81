"""Writing the audit trail. Call `record` inside the transaction that makes the change."""

from django.db import transaction

from .models import Event, EventType


def record(obj, actor, event_type: EventType, data: dict | None = None, *, public=True) -> Event:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("History must be written in the same transaction as the change.")
    return Event.objects.create(
        subject=obj, actor=actor, type=event_type, data=data or {}, public=public
    )


def history_visible_to(obj, user):
    """The events of `obj` that `user` may read, oldest first."""
    events = Event.objects.for_object(obj).select_related("actor")
    if user.is_requester:
        return events.public()
    if user.is_staff or not hasattr(obj, "events_unseen_by"):
        return events
    return events.exclude(obj.events_unseen_by(user))


def pk_or_none(obj) -> int | None:
    return obj.pk if obj is not None else None
