"""/api/v1/ — the REST API for other systems."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path

from api.views import EndpointNotFound, SchemaView, SwaggerView

app_name = "api"

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    # The Swagger page is for people in a browser: signed-out visitors go to the login
    # form (and come back), rather than getting a JSON 401.
    path("docs/", login_required(SwaggerView.as_view(url_name="api:schema")), name="docs"),
    path("", include("opportunities.api.urls")),
    path("", include("handoffs.api.urls")),
    path("", include("documents.api.urls")),
    path("", include("currencies.api.urls")),
    # Last: anything else under /api/v1/ is a 404 problem, not Django's HTML page.
    re_path(r"^.*$", EndpointNotFound.as_view(), name="not-found"),
]
