"""The app's own 404, 403 and 500 pages, with DEBUG on as well as off.

With DEBUG off Django already renders ``404.html``, ``403.html`` and ``500.html``. With
DEBUG on it shows its technical pages instead (settings, URL patterns, tracebacks), which
a user of ``make run`` must not see for a missing deal. This middleware renders the app's
pages in both modes for HTML responses; JSON answers (the API's problem+json) are left
alone, and the traceback of a 500 still goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template import loader

logger = logging.getLogger("closedwon.errors")

PAGES = {403: "403.html", 404: "404.html", 500: "500.html"}


def _wants_html(request: HttpRequest) -> bool:
    if request.path.startswith("/api/"):
        return False
    accept = request.headers.get("Accept", "")
    return not accept or "text/html" in accept or "*/*" in accept


def render_error_page(request: HttpRequest, status: int) -> HttpResponse:
    """The app's page for ``status`` (404, 403 or 500), marked as already rendered."""
    template = loader.get_template(PAGES[status])
    # The 500 page renders without a request context: whatever broke may break again.
    if status == 500:
        content = template.render({})
    else:
        content = template.render({"request_path": request.path}, request)
    response = HttpResponse(content, status=status)
    response.app_error_page = True  # type: ignore[attr-defined]
    return response


class AppErrorPagesMiddleware:
    """Replace Django's technical 404/403/500 pages by the app's own when DEBUG is on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code in (403, 404)
            and not getattr(response, "app_error_page", False)
            and response.get("Content-Type", "").startswith("text/html")
            and _wants_html(request)
            and _is_technical(response)
        ):
            return render_error_page(request, response.status_code)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG or not _wants_html(request):
            return None
        if isinstance(exception, Http404):
            return render_error_page(request, 404)
        if isinstance(exception, PermissionDenied):
            return render_error_page(request, 403)
        logger.exception("Unhandled error on %s", request.path, exc_info=exception)
        return render_error_page(request, 500)


def _is_technical(response: HttpResponse) -> bool:
    """Django's DEBUG pages (the URL resolver's 404) say so in their markup."""
    body = getattr(response, "content", b"")
    return b"DEBUG = True" in body or b'id="summary"' in body


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the app's 500 page without a request context."""
    return render_error_page(request, 500)
