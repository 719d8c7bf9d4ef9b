"""/api/v1/ — the REST API for other systems."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path

from api.auth_views import LogoutAllView, LogoutView
from api.views import EndpointNotFound, SchemaView, SwaggerView

app_name = "api"

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="schema"),
    # The Swagger page is for people in a browser: signed-out visitors go to the login
    # form (and come back), rather than getting a JSON 401.
    path("docs/", login_required(SwaggerView.as_view(url_name="api:schema")), name="docs"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("auth/logoutall/", LogoutAllView.as_view(), name="auth-logoutall"),
    path("", include("opportunities.api.urls")),
    path("", include("handoffs.api.urls")),
    path("", include("documents.api.urls")),
    path("", include("currencies.api.urls")),
    path("", include("approvals.api.urls")),
    path("", include("events.urls")),
    path("", include("amendments.api.urls")),
    # Last: anything else under /api/v1/ is a 404 problem, not Django's HTML page.
    # [\s\S], not ".": a path with an encoded newline (%0A) is still answered here.
    re_path(r"^[\s\S]*$", EndpointNotFound.as_view(), name="not-found"),
]
