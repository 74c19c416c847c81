"""The times DispatchDesk takes: those that have a date in UTC, where they are stored, and in
DJANGO_TIME_ZONE, where the API and the admin show them.

Dates run from year 1 to 9999 (Python's calendar, and what the API reads back). A time near
either end has none in a zone far enough from it: 9999-12-31 23:59 in New York is in year 10000
in UTC, and 0001-01-01 00:00 UTC is in year 0 in New York. Converting it raises OverflowError,
where it is stored or shown. Every input of a time refuses it here, in DRF's words for it: the
API's fields, the admin's forms and the imports.
"""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

OUT_OF_RANGE = "Datetime value out of range."  # DRF's DateTimeField says so of the others


def has_a_date(moment: datetime) -> bool:
    """Whether an aware `moment` falls on a date in UTC and in the installation's time zone."""
    try:
        moment.astimezone(UTC)
        moment.astimezone(timezone.get_default_timezone())
    except OverflowError:
        return False
    return True


def validate_has_a_date(moment: datetime | None) -> None:
    """A form field's validator."""
    if moment is not None and not has_a_date(moment):
        raise ValidationError(OUT_OF_RANGE, code="overflow")
