from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from closedwon import health

# The app's 500 page (the 404 and 403 pages are the templates of the same names).
handler500 = "closedwon.errorpages.server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon.
    path("favicon.ico", RedirectView.as_view(url=static("app/favicon.svg"), permanent=False)),
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
