"""`Idempotency-Key` on API creates: a retry by the same user replays the first response."""

import json
import re
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
# 1 to 255 characters, none a control character (a NUL cannot be stored in PostgreSQL's text).
VALID_KEY = re.compile(r"(?=.*\S)[^\x00-\x1f\x7f]{1,255}", re.DOTALL)


def request_hash(request) -> str:
    """A fingerprint of the request, keyed with the secret key: a body may hold a password (a
    new user's), which a plain hash in the table would let anyone with a copy of it guess."""
    body = json.dumps(request.data, sort_keys=True, default=str)
    return salted_hmac(HEADER, f"{request.path}\n{body}", algorithm="sha256").hexdigest()


# The header's place in the OpenAPI schema, for every operation that honours it.
HEADER_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Retrying with the same key returns the first response.",
)


def forget_expired_keys() -> None:
    """Every key past IDEMPOTENCY_KEY_HOURS goes, whoever sent it (an index on created_at: a few
    rows a time). Run by whatever records a key: a keyed create, an admin page's save."""
    expired = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    IdempotencyKey.objects.filter(created_at__lt=expired).delete()


def idempotent(request, create: Callable[[], Response]) -> Response:
    """`create()`'s response, or with an `Idempotency-Key` already used by this user for the
    same request, the response it gave then (nothing is created again)."""
    key = request.headers.get(HEADER)
    if key is None:
        return create()
    if not VALID_KEY.fullmatch(key):
        raise ValidationError({HEADER: ["Send 1 to 255 characters, none a control character."]})

    fingerprint = request_hash(request)
    forget_expired_keys()
    try:
        with transaction.atomic():
            # The unique (user, key) row is the lock: a concurrent retry waits here, then
            # fails the insert and replays what the first request stored.
            entry = IdempotencyKey.objects.create(
                user=request.user, key=key, path=request.path, request_hash=fingerprint
            )
            response = create()
            entry.response_status = response.status_code
            # As JSON text, not `jsonb`, which would sort the fields of the replayed response.
            entry.response_body = json.dumps(response.data, cls=DjangoJSONEncoder)
            entry.save(update_fields=["response_status", "response_body"])
            return response
    except IntegrityError:
        entry = IdempotencyKey.objects.filter(user=request.user, key=key).first()
        if entry is None:
            raise
    if entry.request_hash != fingerprint:
        raise ValidationError({HEADER: ["This key was already used for a different request."]})
    return Response(json.loads(entry.response_body), status=entry.response_status)


class IdempotentCreateMixin:
    """For viewsets: `create()` honours `Idempotency-Key`."""

    @extend_schema(parameters=[HEADER_PARAMETER])
    def create(self, request, *args, **kwargs):
        create = super().create
        return idempotent(request, lambda: create(request, *args, **kwargs))
