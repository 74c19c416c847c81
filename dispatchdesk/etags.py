"""Optimistic concurrency: `ETag` on reads of one object, `If-Match` on writes (412 if stale)."""

import hashlib

from .exceptions import PreconditionFailed


def etag_for(obj) -> str:
    """From the time of the object's last change; for rows without one (users, teams), from
    the values they show (`etag_values()`)."""
    state = obj.etag_values() if hasattr(obj, "etag_values") else obj.updated_at.isoformat()
    version = f"{obj._meta.label}:{obj.pk}:{state}"
    return f'"{hashlib.sha256(version.encode()).hexdigest()[:32]}"'


def ensure_if_match(obj, if_match: str | None) -> None:
    """Raise 412 unless `If-Match` is absent, `*`, or names the object's current ETag."""
    if not if_match or if_match.strip() == "*":
        return
    current = etag_for(obj)
    offered = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if current not in offered:
        raise PreconditionFailed()


def ensure_unchanged(obj, read: dict | None) -> None:
    """Raise 412 unless `obj` still has the field values the caller read (`{field: value}`): the
    `If-Match` of rows without an ETag of their own (checklist items, time entries)."""
    if read and any(getattr(obj, field) != value for field, value in read.items()):
        raise PreconditionFailed()
