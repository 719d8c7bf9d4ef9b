from django.contrib import admin
from django.urls import include, path

from closedwon import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("closedwon.api_urls")),
    path("demo/receiver/", include("handoffs.receiver_urls")),
    path("", include("opportunities.web.urls")),
    path("documents/", include("documents.web.urls")),
]
