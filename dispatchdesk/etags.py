"""Optimistic concurrency: `ETag` on reads of one object, `If-Match` on writes (412 if stale)."""

import hashlib

from .exceptions import PreconditionFailed


def etag_for(obj) -> str:
    version = f"{obj._meta.label}:{obj.pk}:{obj.updated_at.isoformat()}"
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
