from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from closedwon import health


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico on pages that name no icon: 302 to the app's icon.
    Its hashed name is looked up per request: a look-up when the URLconf is imported made
    every manage.py command in production mode (migrate too) fail until collectstatic."""
    return HttpResponseRedirect(static("app/favicon.svg"))


# The app's 500 page (the 404 and 403 pages are the templates of the same names).
handler500 = "closedwon.errorpages.server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("closedwon.api_urls")),
    path("demo/receiver/", include("handoffs.receiver_urls")),
    path("approvals/", include("approvals.urls")),
    path("", include("amendments.web.urls")),
    path("", include("opportunities.web.urls")),
    path("documents/", include("documents.web.urls")),
]
