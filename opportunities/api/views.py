"""Sales resources over HTTP: thin callers of ``opportunities.services`` (writes)
and ``opportunities.selectors`` (reads). The API adds no rule of its own."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.conditional import (
    etag,
    if_match_version,
    if_none_match,
    resolve_expected_version,
)
from api.filters import StrictOrderingFilter
from api.views import ApiView
from core import errors
from opportunities import filters, selectors, services
from opportunities.models import Account, Approval, Contact, Opportunity, Product
from opportunities.stages import TRANSITIONS, Source

from . import examples
from .serializers import (
    AccountSerializer,
    AccountWriteSerializer,
    ApprovalSerializer,
    ContactSerializer,
    ContactWriteSerializer,
    OpportunitySerializer,
    OpportunityWriteSerializer,
    ProductSerializer,
    ProductWriteSerializer,
    StageChangeSerializer,
    TransitionOptionSerializer,
    TransitionRequestSerializer,
)

LIST_FILTERS = [DjangoFilterBackend, StrictOrderingFilter]

ETAG_HEADER = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=["200", "201"],
    required=True,
    description='The deal\'s version as an entity tag (`"3"`); send it back in If-Match.',
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description='The ETag you last saw (`"3"`): the write happens only if the deal is still '
    "at that version, else 412 `stale_version`.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="An ETag you have: 304 Not Modified (no body) if the deal is still at it.",
)


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> Any:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def get_or_404(model: type[Model], pk: Any) -> Any:
    obj = model._default_manager.filter(pk=pk).first()
    if obj is None:
        raise errors.NotFound(f"No such {model._meta.verbose_name}.")
    return obj


def reject_stage(data: Any) -> None:
    """the stage is read-only outside transitions (the service says the same; this
    answers before the body is validated, so the client learns the real reason)."""
    if isinstance(data, dict) and "stage" in data:
        raise errors.StageReadOnly(
            "The stage changes only through POST /opportunities/{id}/transitions/{name}/.",
            errors=[
                errors.FieldError(
                    "stage_read_only", "stage", "Use a transition to change the stage."
                )
            ],
        )


# --- accounts, contacts, products ------------------------------------------------------------


class _CatalogList(ApiView):
    # List + create for a simple resource (account, contact, product).

    filter_backends = LIST_FILTERS
    output: type[serializers.Serializer]
    write: type[serializers.Serializer]
    create_service: Any
    detail_route: str

    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), self.output)

    def post(self, request: Request) -> Response:
        data = validated(self.write, request.data)
        obj = type(self).create_service(actor=request.user, data=data)
        return Response(
            self.output(obj).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse(self.detail_route, args=[obj.pk])},
        )


class _CatalogDetail(ApiView):
    output: type[serializers.Serializer]
    write: type[serializers.Serializer]
    update_service: Any
    instance_kwarg: str

    def get(self, request: Request, pk: int) -> Response:
        return Response(self.output(get_or_404(self.read_model, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        obj = get_or_404(self.read_model, pk)
        data = validated(self.write, request.data, partial=True)
        obj = type(self).update_service(**{self.instance_kwarg: obj}, actor=request.user, data=data)
        return Response(self.output(obj).data)


def _catalog_schema(cls: type[ApiView], name: str, one: Any, write: Any) -> None:
    """Document a list/detail pair (request and response bodies, operation ids).
    extend_schema_view copies inherited methods, so each view gets its own annotations."""
    if issubclass(cls, _CatalogList):
        extend_schema_view(
            get=extend_schema(
                operation_id=f"{name}_list",
                responses=one(many=True),
                tags=[name],
                examples=examples.catalog_list_examples(name),
            ),
            post=extend_schema(
                operation_id=f"{name}_create",
                request=write,
                responses={201: one},
                tags=[name],
                examples=[
                    OpenApiExample(
                        "Create", value=examples.CATALOG_REQUESTS[name], request_only=True
                    ),
                    *examples.catalog_one_examples(name, status_code=201),
                ],
            ),
        )(cls)
    else:
        extend_schema_view(
            get=extend_schema(
                operation_id=f"{name}_retrieve",
                responses=one,
                tags=[name],
                examples=examples.catalog_one_examples(name),
            ),
            patch=extend_schema(
                operation_id=f"{name}_partial_update",
                request=write,
                responses=one,
                tags=[name],
                examples=[
                    OpenApiExample(
                        "Change one field",
                        value=dict(list(examples.CATALOG_REQUESTS[name].items())[-1:]),
                        request_only=True,
                    ),
                    *examples.catalog_one_examples(name),
                ],
            ),
        )(cls)


class AccountListView(_CatalogList):
    """Accounts. Any rep may create one (it is owned by them unless `owner` says otherwise)."""

    read_model = Account
    queryset = Account.objects.all()
    filterset_class = filters.AccountFilter
    ordering_fields = ("name", "created_at", "updated_at", "id")
    ordering = ("name",)
    output, write = AccountSerializer, AccountWriteSerializer
    create_service = staticmethod(services.account_create)
    detail_route = "api:account-detail"


class AccountDetailView(_CatalogDetail):
    """One account. PATCH changes any subset of its fields."""

    read_model = Account
    output, write = AccountSerializer, AccountWriteSerializer
    update_service = staticmethod(services.account_update)
    instance_kwarg = "account"


class ContactListView(_CatalogList):
    """Contacts of the accounts. Any rep may create one."""

    read_model = Contact
    queryset = Contact.objects.all()
    filterset_class = filters.ContactFilter
    ordering_fields = ("last_name", "first_name", "created_at", "updated_at", "id")
    ordering = ("last_name", "first_name")
    output, write = ContactSerializer, ContactWriteSerializer
    create_service = staticmethod(services.contact_create)
    detail_route = "api:contact-detail"


class ContactDetailView(_CatalogDetail):
    """One contact. PATCH changes any subset of its fields; moving it to another account
    or clearing its email while it is the primary contact of a pending or won deal is 409
    `record_locked`."""

    read_model = Contact
    output, write = ContactSerializer, ContactWriteSerializer
    update_service = staticmethod(services.contact_update)
    instance_kwarg = "contact"


class ProductListView(_CatalogList):
    """The product catalog. Everyone reads it; only RevOps change it."""

    read_model = Product
    queryset = Product.objects.all()
    filterset_class = filters.ProductFilter
    ordering_fields = ("sku", "name", "created_at", "updated_at", "id")
    ordering = ("sku",)
    output, write = ProductSerializer, ProductWriteSerializer
    create_service = staticmethod(services.product_create)
    detail_route = "api:product-detail"


class ProductDetailView(_CatalogDetail):
    """One product. Only RevOps change it."""

    read_model = Product
    output, write = ProductSerializer, ProductWriteSerializer
    update_service = staticmethod(services.product_update)
    instance_kwarg = "product"


for _cls, _name, _out, _write in (
    (AccountListView, "accounts", AccountSerializer, AccountWriteSerializer),
    (AccountDetailView, "accounts", AccountSerializer, AccountWriteSerializer),
    (ContactListView, "contacts", ContactSerializer, ContactWriteSerializer),
    (ContactDetailView, "contacts", ContactSerializer, ContactWriteSerializer),
    (ProductListView, "products", ProductSerializer, ProductWriteSerializer),
    (ProductDetailView, "products", ProductSerializer, ProductWriteSerializer),
):
    _catalog_schema(_cls, _name, _out, _write)


# --- opportunities ---------------------------------------------------------------------------


def opportunity_response(
    pk: int,
    *,
    status_code: int = 200,
    location: bool = False,
    instance: Opportunity | None = None,
) -> Response:
    """The deal as the selectors load it (or ``instance``, the service's own locked and
    updated copy, which already holds the same relations), with its ETag (and Location
    after a create)."""
    if instance is not None:
        selectors.line_items_loaded(instance)  # what the serializer shows, read once
    opportunity = instance if instance is not None else selectors.opportunity_get(pk)
    if opportunity is None:  # pragma: no cover - deleted between the write and the read
        raise errors.NotFound("No such opportunity.")
    headers = {"ETag": etag(opportunity.version)}
    if location:
        headers["Location"] = reverse("api:opportunity-detail", args=[pk])
    return Response(OpportunitySerializer(opportunity).data, status=status_code, headers=headers)


def _expected_version(request: Request, pk: int) -> int | None:
    requested = if_match_version(request)
    if isinstance(requested, list):
        current = Opportunity.objects.filter(pk=pk).values_list("version", flat=True).first()
        return resolve_expected_version(requested, current or 0)
    return requested


class OpportunityListView(ApiView):
    """Deals. To keep another system in step, follow the change feed (`GET /events/`):
    `updated_since` is a convenience filter, not a sync mechanism."""

    read_model = Opportunity
    filter_backends = LIST_FILTERS
    filterset_class = filters.OpportunityFilter
    ordering_fields = ("updated_at", "created_at", "close_date", "amount", "name", "id")
    ordering = ("-updated_at",)

    def get_queryset(self) -> Any:
        return selectors.opportunity_list()

    @extend_schema(
        operation_id="opportunities_list",
        responses=OpportunitySerializer(many=True),
        tags=["opportunities"],
        examples=examples.OPPORTUNITY_LIST,
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), OpportunitySerializer)

    @extend_schema(
        operation_id="opportunities_create",
        request=OpportunityWriteSerializer,
        responses={201: OpportunitySerializer},
        parameters=[ETAG_HEADER],
        tags=["opportunities"],
        examples=[
            examples.OPPORTUNITY_CREATE_REQUEST,
            *examples.OPPORTUNITY_CREATED_RESPONSE,
            examples.STAGE_READ_ONLY,
        ],
        description="Create a deal in Prospecting, optionally with its line items. "
        "Sending `stage` is a 400 `stage_read_only`.",
    )
    def post(self, request: Request) -> Response:
        reject_stage(request.data)
        data = validated(OpportunityWriteSerializer, request.data)
        line_items = data.pop("line_items", None)
        opportunity = services.opportunity_create(
            actor=request.user, data=data, line_items=line_items, source=Source.API
        )
        return opportunity_response(
            opportunity.pk, status_code=status.HTTP_201_CREATED, location=True
        )


class OpportunityDetailView(ApiView):
    """One deal, with its `ETag` (its version)."""

    read_model = Opportunity
    honours_if_match = True

    @extend_schema(
        operation_id="opportunities_retrieve",
        parameters=[IF_NONE_MATCH, ETAG_HEADER],
        responses={
            200: OpportunitySerializer,
            304: OpenApiResponse(description="Not modified: your ETag is current."),
        },
        tags=["opportunities"],
        examples=examples.OPPORTUNITY_RETRIEVE,
    )
    def get(self, request: Request, pk: int) -> Response:
        opportunity = selectors.opportunity_get(pk)
        if opportunity is None:
            raise errors.NotFound("No such opportunity.")
        headers = {"ETag": etag(opportunity.version)}
        if if_none_match(request, opportunity.version):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(OpportunitySerializer(opportunity).data, headers=headers)

    @extend_schema(
        operation_id="opportunities_partial_update",
        request=OpportunityWriteSerializer,
        responses=OpportunitySerializer,
        parameters=[IF_MATCH, ETAG_HEADER],
        tags=["opportunities"],
        examples=[
            examples.OPPORTUNITY_PATCH_REQUEST,
            *examples.OPPORTUNITY_UPDATED,
            examples.STAGE_READ_ONLY,
            examples.RECORD_LOCKED,
        ],
        description="Change any subset of the fields. `line_items`, when sent, replaces "
        "all line items (keep one by sending its `id`). Gated fields are locked while the "
        "deal is pending approval or won (409 `record_locked`).",
    )
    def patch(self, request: Request, pk: int) -> Response:
        reject_stage(request.data)
        data = validated(OpportunityWriteSerializer, request.data, partial=True)
        line_items = data.pop("line_items", None)
        # After the body: a malformed request is a 400 whatever its precondition.
        expected = _expected_version(request, pk)
        services.opportunity_update(
            opportunity=pk,
            actor=request.user,
            data=data,
            line_items=line_items,
            expected_version=expected,
            source=Source.API,
        )
        return opportunity_response(pk)


class OpportunityTransitionsView(ApiView):
    """The dry run: every transition, whether you may run it and what is missing."""

    read_model = Opportunity
    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="opportunities_transitions_list",
        responses=TransitionOptionSerializer(many=True),
        tags=["transitions"],
        examples=examples.TRANSITIONS_LIST,
    )
    def get(self, request: Request, pk: int) -> Response:
        opportunity = selectors.opportunity_get(pk)
        if opportunity is None:
            raise errors.NotFound("No such opportunity.")
        options = selectors.opportunity_transition_options(opportunity, request.user)
        return Response(TransitionOptionSerializer(options, many=True).data)


class OpportunityTransitionRunView(ApiView):
    read_model = Opportunity
    honours_if_match = True

    @extend_schema(
        operation_id="opportunities_transitions_run",
        request=TransitionRequestSerializer,
        responses={200: OpportunitySerializer},
        parameters=[
            OpenApiParameter(
                "name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(TRANSITIONS),
                description="The transition (see GET …/transitions/).",
            ),
            IF_MATCH,
            ETAG_HEADER,
        ],
        examples=[
            *examples.TRANSITION_REQUESTS,
            *examples.TRANSITION_RUN,
            *examples.TRANSITION_PROBLEMS,
        ],
        tags=["transitions"],
        description="Run a transition. 409 `transition_not_allowed` from the wrong stage, "
        "403 `permission_denied` / `self_approval_forbidden`, 422 `gate_failed` with every "
        "unmet requirement, 422 `reason_required` (reject, mark_lost).",
    )
    def post(self, request: Request, pk: int, name: str) -> Response:
        if name not in TRANSITIONS:
            raise errors.NotFound(f"There is no transition called {name!r}.")
        body = validated(TransitionRequestSerializer, request.data)
        expected = _expected_version(request, pk)
        opportunity = services.opportunity_transition(
            opportunity=pk,
            name=name,
            actor=request.user,
            source=Source.API,
            expected_version=expected,
            **body,
        )
        return opportunity_response(pk, instance=opportunity)


class OpportunityHistoryView(ApiView):
    """Stage changes of one deal, newest first."""

    read_model = Opportunity
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="opportunities_history_list",
        responses=StageChangeSerializer(many=True),
        tags=["opportunities"],
        examples=examples.HISTORY_LIST,
    )
    def get(self, request: Request, pk: int) -> Response:
        opportunity = get_or_404(Opportunity, pk)
        return self.paginated(selectors.opportunity_history(opportunity), StageChangeSerializer)


class ApprovalListView(ApiView):
    """The Closed-Won approval queue (`?decision=pending`), oldest first."""

    read_model = Approval
    filterset_class = filters.ApprovalFilter

    def get_queryset(self) -> Any:
        return selectors.queue_queryset(
            decision=None, with_line_items=False, overdue_first=False
        ).prefetch_related("decisions")

    @extend_schema(
        operation_id="approvals_list",
        responses=ApprovalSerializer(many=True),
        tags=["approvals"],
        examples=examples.APPROVAL_LIST,
    )
    def get(self, request: Request) -> Response:
        return self.paginated(self.get_queryset(), ApprovalSerializer, now=timezone.now())
