"""One budget of login attempts per client IP, whichever way the password is sent: the API's
`auth/token/`, the admin's login form and the browsable API's.

The attempts are counted in the `shared` cache (the database), which every worker and every
server reads: a per-process cache would give each gunicorn worker a budget of its own.
"""

from functools import wraps

from django.core.cache import caches
from django.http import HttpResponse
from rest_framework.throttling import SimpleRateThrottle


class LoginRateThrottle(SimpleRateThrottle):
    """`DJANGO_LOGIN_THROTTLE_RATE` attempts per client IP (the `login` rate), then 429."""

    scope = "login"

    @property
    def cache(self):
        return caches["shared"]

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def login_throttled(view):
    """A Django login view whose form posts count against the same budget (429 beyond it)."""

    @wraps(view)
    def throttled_view(request, *args, **kwargs):
        if request.method == "POST":
            throttle = LoginRateThrottle()
            if not throttle.allow_request(request, None):
                wait = throttle.wait()
                seconds = max(1, round(wait or 0))
                response = HttpResponse(
                    f"Too many login attempts. Try again in {seconds} seconds.\n",
                    content_type="text/plain; charset=utf-8",
                    status=429,
                )
                response["Retry-After"] = str(seconds)
                return response
        return view(request, *args, **kwargs)

    return throttled_view
