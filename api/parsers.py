"""The one request body format: JSON, strictly.

DRF's parser lets through a few inputs that blow up later with a 500 — nesting deep
enough to exhaust the recursion limit, lone UTF-16 surrogates (``"\\ud800"``), which
PostgreSQL cannot store — and reads bodies of any size. All are malformed: 400.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.exceptions import ParseError


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "payload_too_large"
    default_detail = "The request body is too large."
    problem_title = "Payload too large"


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        # DRF reads the stream itself, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check.
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise PayloadTooLarge(f"The body may be at most {limit} bytes.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        except ParseError as exc:
            # Python's own wording (e.g. the int-to-str digit limit and the function that
            # lifts it) is no business of the client.
            if "digits" in str(exc.detail) or "sys." in str(exc.detail):
                raise ParseError("JSON parse error - a number has too many digits.") from None
            raise
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - the body contains invalid Unicode.") from None
        except ValueError:  # e.g. an Infinity that slipped through as a huge exponent
            raise ParseError("JSON parse error - the body contains an invalid number.") from None
        return data
