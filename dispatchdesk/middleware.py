from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat


class RequestSizeLimitMiddleware:
    """Refuse a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413, before it is read.

    Django checks the limit only for forms and `request.body`; DRF's parsers read the stream,
    so the API needs this check of its own. The API answers with its error shape; other pages
    (the admin's import upload) with a line of text.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is None or length <= limit:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "status": 413,
                    "code": "request_too_large",
                    "detail": f"The request body is larger than {limit} bytes.",
                    "fields": {},
                },
                status=413,
            )
        return HttpResponse(
            f"The request is larger than {filesizeformat(limit)}. Larger files are imported "
            "with manage.py import_tickets, import_workorders or import_users.",
            status=413,
            content_type="text/plain; charset=utf-8",
        )
