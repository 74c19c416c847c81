"""The times DispatchDesk takes: those that have a date in UTC, as they are stored in UTC.

UTC dates run from year 1 to 9999 (Python's calendar, and what the API reads back). A time near
either end given in another zone, such as 9999-12-31 23:59 in New York or 0001-01-01 00:00 in
Tokyo (without an offset: in DJANGO_TIME_ZONE), has none: converting it raises OverflowError,
where it is stored or shown. Every input of a time refuses it here, in DRF's words for it: the
API's fields, the admin's forms and the imports.
"""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError

OUT_OF_RANGE = "Datetime value out of range."  # DRF's DateTimeField says so of the others


def has_utc_date(moment: datetime) -> bool:
    """Whether an aware `moment` falls on a date in UTC."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def validate_has_utc_date(moment: datetime | None) -> None:
    """A form field's validator."""
    if moment is not None and not has_utc_date(moment):
        raise ValidationError(OUT_OF_RANGE, code="overflow")
