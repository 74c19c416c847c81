"""One error shape for the whole API: `{"status", "code", "detail", "fields"}`.

`fields` maps a field name to its messages (empty when the error is not about a field); nested
fields are joined with dots (`teams.0`). Errors that DRF does not know become the right 4xx/5xx
instead of a bare 500.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

INVALID_MESSAGE = "The request is invalid; see `fields`."


class Conflict(exceptions.APIException):
    """The object's current state does not allow the request (e.g. a transition or a guard)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The object has changed since you read it (If-Match does not match)."
    default_code = "precondition_failed"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; try again shortly."
    default_code = "service_unavailable"


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into `{"field.sub": ["message", ...]}`."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            flat.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            if item:
                flat.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(message) for message in messages]}


def to_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is down or unreachable: retryable, not a bug.
        return ServiceUnavailable()
    return exc


def api_exception_handler(exc, context):
    exc = to_api_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error but a bug: let Django report it

    detail = exc.detail
    if isinstance(detail, dict) and {"code", "detail"} <= detail.keys():
        # simplejwt's token errors carry their own code and message.
        code, message, fields = str(detail["code"]), str(detail["detail"]), {}
    elif isinstance(detail, (dict, list)):
        is_invalid = isinstance(exc, exceptions.ValidationError)
        code = "invalid" if is_invalid else exc.default_code
        message = INVALID_MESSAGE if is_invalid else str(exc.default_detail)
        fields = flatten_errors(detail)
    else:
        code, message, fields = detail.code or exc.default_code, str(detail), {}

    response.data = {
        "status": response.status_code,
        "code": code,
        "detail": message,
        "fields": fields,
    }
    return response


def error_page(status_code: int, code: str, detail: str, fallback):
    """A Django error handler: the API's error shape under /api/, Django's page elsewhere."""

    def handler(request, *args, **kwargs):
        if request.path.startswith("/api/"):
            body = {"status": status_code, "code": code, "detail": detail, "fields": {}}
            return JsonResponse(body, status=status_code)
        return fallback(request, *args, **kwargs)

    return handler


not_found = error_page(404, "not_found", "Not found.", defaults.page_not_found)
server_error = error_page(500, "server_error", "Server error.", defaults.server_error)
bad_request = error_page(400, "bad_request", "Bad request.", defaults.bad_request)
