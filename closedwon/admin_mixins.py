"""Admin building blocks shared by the apps."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from opportunities import roles


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the services (logs, outbox rows): never added, edited or
    deleted by hand in the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RevOpsReadOnlyAdmin(ReadOnlyAdmin):
    """Read-only, and visible to RevOps only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return roles.is_revops(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return roles.is_revops(request.user)
