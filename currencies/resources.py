"""CSV (and TSV, JSON, YAML) import and export of exchange rates in the admin.

A row is matched on (currency, valid_from): importing a rate for a day that has one
updates it. Every row is validated like the admin form (ISO 4217 code, not the reporting
currency, rate above zero)."""

from __future__ import annotations

from typing import Any

from import_export import fields, resources

from .models import ExchangeRate


class ExchangeRateResource(resources.ModelResource):
    created_by = fields.Field(
        attribute="created_by__username", column_name="created_by", readonly=True
    )

    class Meta:
        model = ExchangeRate
        fields = ("currency", "rate", "valid_from", "created_by", "created_at")
        export_order = fields
        import_id_fields = ("currency", "valid_from")
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True

    def get_import_fields(self) -> list[Any]:
        # Who and when are recorded by the import itself, never read from the file.
        return [f for f in super().get_import_fields() if f.column_name not in ("created_at",)]

    def before_save_instance(self, instance: ExchangeRate, row: Any, **kwargs: Any) -> None:
        user = kwargs.get("user")
        if instance.pk is None and user is not None and user.is_authenticated:
            instance.created_by = user

    def get_queryset(self) -> Any:
        return ExchangeRate.objects.select_related("created_by").order_by("currency", "valid_from")
