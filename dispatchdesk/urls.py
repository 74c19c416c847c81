from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from accounts import urls as accounts_urls
from accounts.admin import OwnPasswordChangeView
from accounts.throttling import login_throttled
from tickets import urls as tickets_urls
from workorders import urls as workorders_urls

# One router gives the browsable API a single root listing every app's resources.
api_router = DefaultRouter()
for app_urls in (accounts_urls, tickets_urls, workorders_urls):
    api_router.registry.extend(app_urls.router.registry)

api_v1 = [*accounts_urls.urlpatterns, *api_router.urls]

urlpatterns = [
    path("", RedirectView.as_view(url="/api/v1/", permanent=False)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="dispatchdesk/redoc.html"),
        name="redoc",
    ),
    # The two login forms, throttled like the API's login, and the admin's own password change:
    # these come before the includes that define the same paths, so they are the ones that answer.
    path(
        "api-auth/login/",
        login_throttled(LoginView.as_view(template_name="rest_framework/login.html")),
    ),
    path("admin/login/", login_throttled(admin.site.login)),
    # Django's own view, with a form that writes the password alone (see there).
    path("admin/password_change/", admin.site.admin_view(OwnPasswordChangeView.as_view())),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]

# Outside DRF's views (no route matched, a crash): the API's error shape under /api/.
handler400 = "dispatchdesk.exceptions.bad_request"
handler404 = "dispatchdesk.exceptions.not_found"
handler500 = "dispatchdesk.exceptions.server_error"
