"""DispatchDesk's WSGI application with three stripped-down views added, for the benchmarks.

Each answers a constant and does no work of its own, so that what it costs is the stack in
front of it:

    /layers/django   a plain Django view answering `{}` through every middleware
    /layers/drf      a DRF APIView answering `{"ok": 1}`, without authentication
    /layers/jwt      the same view behind the API's authentication (a JWT; the user's row as
                     authentication reads or keeps it)

The views come after the project's own URLs, so the project's requests are resolved as they are
in production. `bench/api/run.py` serves this application instead of `dispatchdesk.wsgi`, and
`bench/api/inprocess.py` calls it in process.
"""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()  # sets Django up: DRF's views need the apps loaded


def add_layer_views() -> None:
    from django.http import HttpResponse
    from django.urls import path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    import dispatchdesk.urls

    class Authenticated(APIView):
        def get(self, request):
            return Response({"ok": 1})

    class Anonymous(Authenticated):
        authentication_classes = []
        permission_classes = []

    dispatchdesk.urls.urlpatterns += [
        path("layers/django", lambda request: HttpResponse(b"{}")),
        path("layers/drf", Anonymous.as_view()),
        path("layers/jwt", Authenticated.as_view()),
    ]


add_layer_views()
