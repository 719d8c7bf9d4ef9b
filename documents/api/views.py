"""Documents, evidence requirements and the e-signature inbound endpoint over HTTP: thin
callers of ``documents.services`` / ``documents.selectors`` / ``documents.esign``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http.response import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import parsers, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.parsers import JSONParser
from api.views import ApiView
from core import errors
from opportunities.models import Opportunity
from opportunities.selectors import opportunity_get

from .. import esign, selectors, services
from ..downloads import file_response
from ..models import EvidenceRequirement
from . import examples
from .serializers import DocumentSerializer, DocumentUploadSerializer, EvidenceRequirementSerializer


def _opportunity(pk: Any) -> Opportunity:
    opportunity = opportunity_get(pk)
    if opportunity is None:
        raise errors.NotFound("No such opportunity.")
    return opportunity


def _document(pk: Any) -> Any:
    document = selectors.document_get(pk)
    if document is None:
        raise errors.NotFound("No such document.")
    return document


class OpportunityDocumentsView(ApiView):
    """A deal's documents: every reader of the deal lists them; its owner or RevOps add."""

    read_model = Opportunity
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="opportunities_documents_list",
        responses=DocumentSerializer(many=True),
        tags=["documents"],
        examples=examples.DOCUMENT_LIST,
    )
    def get(self, request: Request, pk: int) -> Response:
        _opportunity(pk)
        return self.paginated(selectors.documents_for_opportunity(pk), DocumentSerializer)

    @extend_schema(
        operation_id="opportunities_documents_create",
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={201: DocumentSerializer},
        tags=["documents"],
        description="Attach a PDF, PNG or JPEG (judged by content) of at most "
        "`DOCUMENT_MAX_BYTES`. 413 `file_too_large`, 415 `file_type_not_allowed`, 403 "
        "`permission_denied` (not the owner or RevOps); nothing is stored on any error.",
        examples=examples.DOCUMENT_CREATE,
    )
    def post(self, request: Request, pk: int) -> Response:
        opportunity = _opportunity(pk)
        form = DocumentUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        document = services.document_attach(
            opportunity=opportunity,
            actor=request.user,
            kind=form.validated_data["kind"],
            file=upload,
            name=upload.name or "",
            size=upload.size,
        )
        return Response(
            DocumentSerializer(document).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:document-detail", args=[document.pk])},
        )


class DocumentDetailView(ApiView):
    read_model = Opportunity

    @extend_schema(
        operation_id="documents_retrieve",
        responses=DocumentSerializer,
        tags=["documents"],
        examples=examples.DOCUMENT_RETRIEVE,
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(DocumentSerializer(_document(pk)).data)

    @extend_schema(
        operation_id="documents_destroy",
        responses={204: None},
        tags=["documents"],
        description="Remove a document (owner or RevOps). 409 `record_locked` while the "
        "deal is pending approval or won.",
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.document_remove(document=_document(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentDownloadView(ApiView):
    read_model = Opportunity

    @extend_schema(
        operation_id="documents_download",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        tags=["documents"],
        examples=examples.DOCUMENT_DOWNLOAD,
    )
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        return file_response(_document(pk))


class EvidenceRequirementListView(ApiView):
    read_model = EvidenceRequirement
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="evidence_requirements_list",
        responses=EvidenceRequirementSerializer(many=True),
        tags=["documents"],
        examples=examples.REQUIREMENT_LIST,
    )
    def get(self, request: Request) -> Response:
        rows = EvidenceRequirement.objects.order_by("kind", "min_amount", "id")
        return self.paginated(rows, EvidenceRequirementSerializer)

    @extend_schema(
        operation_id="evidence_requirements_create",
        request=EvidenceRequirementSerializer,
        responses={201: EvidenceRequirementSerializer},
        tags=["documents"],
        description="RevOps: require a document kind on Closed-Won requests, optionally "
        "only from `min_amount` (reporting currency) up.",
        examples=examples.REQUIREMENT_CREATE,
    )
    def post(self, request: Request) -> Response:
        form = EvidenceRequirementSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        row = services.evidence_requirement_create(
            actor=request.user,
            kind=form.validated_data["kind"],
            min_amount=form.validated_data.get("min_amount"),
        )
        return Response(EvidenceRequirementSerializer(row).data, status=status.HTTP_201_CREATED)


class EvidenceRequirementDetailView(ApiView):
    read_model = EvidenceRequirement

    @extend_schema(
        operation_id="evidence_requirements_retrieve",
        responses=EvidenceRequirementSerializer,
        tags=["documents"],
        examples=examples.REQUIREMENT_RETRIEVE,
    )
    def get(self, request: Request, pk: int) -> Response:
        row = EvidenceRequirement.objects.filter(pk=pk).first()
        if row is None:
            raise errors.NotFound("No such evidence requirement.")
        return Response(EvidenceRequirementSerializer(row).data)

    @extend_schema(
        operation_id="evidence_requirements_destroy", responses={204: None}, tags=["documents"]
    )
    def delete(self, request: Request, pk: int) -> Response:
        row = EvidenceRequirement.objects.filter(pk=pk).first()
        if row is None:
            raise errors.NotFound("No such evidence requirement.")
        services.evidence_requirement_delete(actor=request.user, requirement=row)
        return Response(status=status.HTTP_204_NO_CONTENT)


def esign_max_body() -> int:
    """A base64 PDF of DOCUMENT_MAX_BYTES plus room for the JSON around it."""
    return int(settings.DOCUMENT_MAX_BYTES) * 4 // 3 + 1024 * 1024


class PayloadTooLarge(errors.DomainError):
    code = "payload_too_large"
    status = 413
    title = "The request body is too large"


class EsignInboundView(APIView):
    """Signed by the sender, not by a user session or token (so no Idempotency-Key
    either: the event id plays that part)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    # Declared for the schema only: the view reads the raw body itself (the signature is
    # over the exact bytes).
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="inbound_esign",
        auth=[],
        request=inline_serializer(
            "EsignEvent",
            {
                "envelope_id": serializers.CharField(),
                "status": serializers.ChoiceField(choices=["completed", "declined", "voided"]),
                "opportunity_id": serializers.IntegerField(),
                "reason": serializers.CharField(required=False),
                "document": inline_serializer(
                    "EsignDocument",
                    {"name": serializers.CharField(), "content_base64": serializers.CharField()},
                    required=False,
                ),
            },
        ),
        responses={
            200: inline_serializer(
                "EsignResult",
                {
                    "status": serializers.CharField(),
                    "event": serializers.IntegerField(),
                    "document": serializers.IntegerField(allow_null=True),
                },
            ),
        },
        tags=["inbound"],
        description="E-signature events, signed with Standard Webhooks "
        "(`ESIGN_WEBHOOK_SECRET`) or DocuSign Connect HMAC (`X-DocuSign-Signature-1`). "
        "`completed` attaches the signed PDF as `signed_contract`; `declined` / `voided` "
        "withdraws a pending request that relies on it. A replayed event id answers 200 "
        '`{"status": "duplicate"}` and does nothing. Bad signature: 401.',
        examples=examples.ESIGN,
    )
    def post(self, request: Request) -> Response:
        limit = esign_max_body()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        # Read the stream directly: request.body would stop at DATA_UPLOAD_MAX_MEMORY_SIZE,
        # far below a signed PDF in base64.
        body = request._request.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        row, duplicate = esign.receive(
            body=body, headers=request.headers, remote_addr=request.META.get("REMOTE_ADDR")
        )
        return Response(
            {
                "status": "duplicate" if duplicate else row.status,
                "event": row.pk,
                "document": row.document_id,
            }
        )
