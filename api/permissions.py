"""Who may call what. Writes are decided by the services (owner, RevOps, segregation of
duties); the API only requires a signed-in user and, for reads, the model's view
permission, which every role has."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions


class ReadWithViewPermission(permissions.IsAuthenticated):
    """Signed in and active; safe methods also need ``<app>.view_<model>`` of the view's
    ``read_model`` (when it declares one)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not super().has_permission(request, view) or not request.user.is_active:
            return False
        model = getattr(view, "read_model", None)
        if request.method in permissions.SAFE_METHODS and model is not None:
            meta = model._meta
            return bool(request.user.has_perm(f"{meta.app_label}.view_{meta.model_name}"))
        return True
