from django.conf import settings
from django.http import JsonResponse


class RequestSizeLimitMiddleware:
    """Refuse a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413, before it is read.

    Django checks the limit only for forms and `request.body`; DRF's parsers read the stream,
    so the API needs this check of its own.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return JsonResponse(
                {
                    "status": 413,
                    "code": "request_too_large",
                    "detail": f"The request body is larger than {limit} bytes.",
                    "fields": {},
                },
                status=413,
            )
        return self.get_response(request)
