"""``ETag`` / ``If-Match`` / ``If-None-Match`` for opportunities (optimistic concurrency).

The ETag of an opportunity is its ``version`` (``"7"``), which every write bumps. A client
sends it back in ``If-Match`` on PATCH and transitions; the service compares it with the
row it has locked, so the check and the write are atomic (412 ``stale_version``).
"""

from __future__ import annotations

import re
from typing import Any

from core import errors
from core.parsing import ascii_int

_TAG_RE = re.compile(r'\s*(W/)?"([^"]*)"\s*')


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(raw: str) -> list[tuple[bool, str]]:
    tags = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        match = _TAG_RE.fullmatch(part)
        if match is None:
            continue  # not an entity-tag: matches nothing
        tags.append((bool(match.group(1)), match.group(2)))
    return tags


def if_match_version(request: Any) -> int | list[int] | None:
    """The version(s) ``If-Match`` asks for; None when absent or ``*``.

    A value that cannot be any version can never match: 412 at once, as RFC 9110 says
    for a failed precondition."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    versions = []
    # If-Match uses the strong comparison (RFC 9110 section 13.1.1): a weak tag W/"7" or
    # a bare 7 never matches, so the write is refused with 412.
    for weak, tag in _tags(raw):
        version = None if weak else ascii_int(tag, max_digits=9)
        if version is not None:
            versions.append(version)
    if not versions:
        raise errors.StaleVersion(
            "If-Match does not match the current ETag; GET the deal again.",
            errors=[
                {
                    "code": "stale_version",
                    "field": "If-Match",
                    "message": 'Send the ETag from your last GET, e.g. If-Match: "3".',
                }
            ],
        )
    return versions[0] if len(versions) == 1 else versions


def resolve_expected_version(requested: int | list[int] | None, current: int) -> int | None:
    """Several ETags in If-Match: any one matching is enough (RFC 9110 §13.1.1)."""
    if isinstance(requested, list):
        return current if current in requested else requested[0]
    return requested


def if_none_match(request: Any, version: int) -> bool:
    """True when the client already has this version (answer 304)."""
    raw = request.headers.get("If-None-Match")
    if raw is None:
        return False
    if raw.strip() == "*":
        return True
    # If-None-Match uses the weak comparison (RFC 9110 section 13.1.2).
    return str(version) in [tag for _weak, tag in _tags(raw)]
