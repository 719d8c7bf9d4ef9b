"""Serializer fields the API shares."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers. DRF's CharField turns ``42`` into ``"42"``;
    the schema says "string", so a JSON number is a 400 (``invalid``)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
