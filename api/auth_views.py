"""``POST /api/v1/auth/logout/`` and ``/auth/logoutall/``: revoke tokens."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import get_token_model
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from .views import ApiView


class LogoutView(ApiView):
    """Revoke the token this request was made with."""

    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="auth_logout",
        summary="Revoke this token",
        description="The token in `Authorization` stops working at once (401 afterwards). "
        "A browser session is not a token: 400 `invalid`; sign out at /accounts/logout/.",
        request=None,
        responses={204: OpenApiResponse(description="Revoked.")},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        token = request.auth
        if token is None or not hasattr(token, "digest"):
            raise exceptions.ValidationError(
                {"Authorization": ["Send the token to revoke in `Authorization: Token <key>`."]}
            )
        token.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(ApiView):
    """Revoke every token of the calling user."""

    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="auth_logoutall",
        summary="Revoke every token of yours",
        description="Every API token of the calling user stops working at once.",
        request=None,
        responses={204: OpenApiResponse(description="Revoked.")},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        get_token_model().objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
