"""Admin building blocks shared by the apps: read-only bases, saving through the services,
RevOps-only import and export."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.functional import cached_property

from core import errors, export_formats

from .. import policies


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
        return policies.is_revops(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return policies.is_revops(request.user)


# --- saving through the services ------------------------------------------------------------


class ServiceSaveMixin:
    """Admin saves go through the domain services; a refusal is shown, nothing is saved."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except errors.DomainError as exc:
            lines = error_lines(exc) if exc.errors else []
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"Not saved: {exc.detail} {' '.join(lines)}".strip(),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())


# Below this many rows (by the planner's estimate) an unfiltered list is counted exactly.
ESTIMATE_ABOVE = 100_000


class EstimatedCountPaginator(Paginator):
    """The admin paginator, but an unfiltered list of a large PostgreSQL table takes its
    row count from the planner's statistics (``pg_class.reltuples``, kept fresh by
    autovacuum and by ``seed_demo``'s ANALYZE) instead of ``COUNT(*)``, which reads the
    whole table: at 1,000,000 deals the count alone cost more than the page. A filtered
    or small list is counted exactly, so "3 results" stays exact.

    One query at every size: the exact count is a branch of the same statement, which
    PostgreSQL only runs when the estimate is at most ESTIMATE_ABOVE rows."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if (
            isinstance(queryset, QuerySet)
            and connection.vendor == "postgresql"
            and not queryset.query.where
        ):
            table = connection.ops.quote_name(queryset.model._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(
                    # Only the quoted table name is formatted in.
                    "SELECT CASE WHEN reltuples > %s THEN reltuples::bigint"  # noqa: S608
                    f" ELSE (SELECT COUNT(*) FROM {table}) END"
                    " FROM pg_class WHERE oid = %s::regclass",
                    [ESTIMATE_ABOVE, queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row:
                return int(row[0])
        return super().count


class RevOpsImportExport(export_formats.StreamedExportMixin):
    """Import and export are RevOps tools; CSV and TSV exports are streamed."""

    def has_import_permission(self, request):
        return policies.is_revops(request.user)

    def has_export_permission(self, request):
        return policies.is_revops(request.user)


# --- accounts, contacts, products -------------------------------------------------------------


def error_lines(exc: errors.DomainError) -> list[str]:
    """The messages of a domain error, one per problem (its detail when it has none)."""
    return [e.message for e in exc.errors if e.message] or [exc.detail]
