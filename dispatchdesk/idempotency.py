"""`Idempotency-Key` on API creates: a retry by the same user replays the first response."""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from .models import IdempotencyKey

HEADER = "Idempotency-Key"


def request_hash(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.path}\n{body}".encode()).hexdigest()


class IdempotentCreateMixin:
    """For viewsets: wraps `create()` so that a repeated key creates nothing new."""

    def create(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return super().create(request, *args, **kwargs)
        if not key.strip() or len(key) > 255:
            raise ValidationError({HEADER: ["Send 1 to 255 characters."]})

        fingerprint = request_hash(request)
        expired = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
        IdempotencyKey.objects.filter(user=request.user, key=key, created_at__lt=expired).delete()
        try:
            with transaction.atomic():
                # The unique (user, key) row is the lock: a concurrent retry waits here, then
                # fails the insert and replays what the first request stored.
                entry = IdempotencyKey.objects.create(
                    user=request.user, key=key, path=request.path, request_hash=fingerprint
                )
                response = super().create(request, *args, **kwargs)
                entry.response_status = response.status_code
                entry.response_body = response.data
                entry.save(update_fields=["response_status", "response_body"])
                return response
        except IntegrityError:
            entry = IdempotencyKey.objects.filter(user=request.user, key=key).first()
            if entry is None:
                raise
        if entry.request_hash != fingerprint:
            raise ValidationError({HEADER: ["This key was already used for a different request."]})
        return Response(entry.response_body, status=entry.response_status)
