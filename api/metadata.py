"""OPTIONS answers: what the endpoint renders and parses, not a form description.

DRF's SimpleMetadata describes the POST/PUT serializer of generic views; ours declare
their serializers per method (and in the OpenAPI schema), so it would fail on them.
The schema at /api/v1/schema/ is the description."""

from __future__ import annotations

from typing import Any

from rest_framework.metadata import SimpleMetadata


class Metadata(SimpleMetadata):
    def determine_metadata(self, request: Any, view: Any) -> dict[str, Any]:
        metadata = super().determine_metadata(request, view)
        metadata["schema"] = "/api/v1/schema/"
        return metadata

    def determine_actions(self, request: Any, view: Any) -> dict[str, Any]:
        return {}
