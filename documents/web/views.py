"""Browser routes: upload and remove on the deal page, the permission-checked download,
and the signed link that works without a session."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from core import errors
from opportunities.selectors import opportunity_get

from .. import selectors, services
from ..downloads import file_response
from ..signing import read_token


def _refuse(request: HttpRequest, headline: str, exc: errors.DomainError) -> None:
    lines = [str(e.get("message")) for e in exc.errors if e.get("message")] or [exc.detail]
    messages.error(request, "\n".join([headline, *lines]))


def _back(pk: int) -> str:
    return reverse("opportunity-detail", args=[pk]) + "#documents"


@login_required
@require_POST
def document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """The deal page's upload form (``kind``, ``file``); back to the deal with a message."""
    opportunity = opportunity_get(pk)
    if opportunity is None:
        raise Http404("No such deal.")
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a file to upload.")
        return HttpResponseRedirect(_back(pk))
    try:
        document = services.document_attach(
            opportunity=opportunity,
            actor=request.user,
            kind=request.POST.get("kind", ""),
            file=upload,
            name=upload.name or "",
            size=upload.size,
        )
    except errors.DomainError as exc:
        _refuse(request, "The document was not attached.", exc)
    else:
        messages.success(request, f"Attached {document.name} ({document.get_kind_display()}).")
    return HttpResponseRedirect(_back(pk))


@login_required
@require_POST
def document_remove(request: HttpRequest, pk: int) -> HttpResponse:
    document = selectors.document_get(pk)
    if document is None or document.removed_at is not None:
        raise Http404("No such document.")
    try:
        services.document_remove(document=document, actor=request.user)
    except errors.DomainError as exc:
        _refuse(request, f"{document.name} was not removed.", exc)
    else:
        messages.success(request, f"Removed {document.name}.")
    return HttpResponseRedirect(_back(document.opportunity_id))


@login_required
@require_GET
@xframe_options_sameorigin  # the admin queue shows the document in a frame beside the values
def document_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The bytes, for a signed-in reader of the deal; ``?inline=1`` to view in the page."""
    if not services.can_read(request.user):
        raise PermissionDenied("You may not read deals.")
    document = selectors.document_get(pk)
    if document is None:
        raise Http404("No such document.")
    return file_response(document, inline=request.GET.get("inline") == "1")


@require_GET
def signed_download(request: HttpRequest, token: str) -> HttpResponseBase:
    """An expiring signed link (billing payloads): no session needed. A bad or expired
    token is 410 Gone, whoever asks."""
    document_id = read_token(token)
    document = selectors.document_get(document_id) if document_id is not None else None
    if document is None:
        return HttpResponse(
            "This download link is invalid or has expired.",
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    return file_response(document)
