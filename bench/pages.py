"""Board, list API (first page and a cursor page 95 % deep), approval queues and admin
changelists at growing sizes (``make bench``: 10k, 100k and 1,000,000 deals).

Target: a constant number of queries (≤ 8) whatever the number of deals, and
page time at 100k ≤ 2 × at 1k. Pages are rendered in-process with Django's test client
(production settings, PostgreSQL), so the figures are server time without network.

    uv run python bench/pages.py [--sizes 1000,10000,100000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_opportunities, setup_django, table, timed, write_section  # noqa: E402

PAGES = [
    ("Pipeline board", "rep", "/pipeline/?scope=all"),
    ("Deal list", "rep", "/opportunities/"),
    ("List API", "rep", "/api/v1/opportunities/?limit=50"),
    ("Approval queue API", "ops", "/api/v1/approvals/?decision=pending&limit=50"),
    ("Admin approval queue", "ops", "/admin/opportunities/closedwonapproval/"),
    ("Admin opportunities", "ops", "/admin/opportunities/opportunity/"),
    ("List API, first page of 200", "rep", "/api/v1/opportunities/?limit=200"),
    ("List API, deep cursor page", "rep", "DEEP"),
]
QUERY_TARGET = 8


def deep_cursor_url(client) -> str:
    """``/api/v1/opportunities/?limit=200&cursor=…`` positioned 95 % of the way through the
    rep's list: the cursor a sync client holds near the end of a full walk, made by signing
    the position of that row (walking there page by page would take minutes at 1M)."""
    from urllib.parse import parse_qs, urlsplit

    from django.core import signing

    from api import pagination
    from opportunities.models import Opportunity

    first = client.get("/api/v1/opportunities/?limit=200").json()
    token = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    ordering = signing.loads(token, salt=pagination._SALT)["o"]
    visible = Opportunity.objects.all()  # a rep reads every deal through the API
    total = visible.count()
    depth = max(0, min(int(total * 0.95), total - 201))
    row = visible.order_by(*ordering)[depth : depth + 1].get()
    keys = [o.lstrip("-") for o in ordering]
    position = [pagination._encode(pagination._value(row, k)) for k in keys]
    cursor = signing.dumps({"b": False, "o": ordering, "p": position}, salt=pagination._SALT)
    url = f"/api/v1/opportunities/?limit=200&cursor={cursor}"
    assert len(client.get(url).json()["results"]) == 200, "the deep page should be full"
    return url


def measure(sizes: list[int], repeat: int) -> tuple[str, bool]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.common import ensure_users

    results: dict[str, dict[int, tuple[int, float, float, int]]] = {
        name: {} for name, _, _ in PAGES
    }
    for size in sizes:
        load_opportunities(size)
        rep, _rep2, ops, _admin = ensure_users()
        clients = {"rep": Client(), "ops": Client()}
        clients["rep"].force_login(rep)
        clients["ops"].force_login(ops)
        for name, who, url in PAGES:
            client = clients[who]
            if url == "DEEP":
                url = deep_cursor_url(client)
            # Warm: what a process reads once and keeps (the admin's currency choices,
            # the session) is not a cost of every page.
            client.get(url)
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(url)
            # Read now: the next request's request_started signal clears the query log.
            query_count = len(ctx.captured_queries)
            status = response.status_code
            median, p95 = timed(lambda c=client, u=url: c.get(u), repeat)
            results[name][size] = (query_count, median, p95, status)
            print(
                f"  {size:>7,} {name:<22} {status} {query_count:>3} queries {median * 1000:7.1f} ms",
                file=sys.stderr,
            )

    ok = True
    rows = []
    for name, _, url in PAGES:
        per = results[name]
        counts = [per[s][0] for s in sizes]
        ratio = per[sizes[-1]][1] / per[sizes[0]][1]
        constant = len(set(counts)) == 1 and max(counts) <= QUERY_TARGET
        fast = ratio <= 2.0
        page_ok = all(per[s][3] == 200 for s in sizes)
        ok &= constant and fast and page_ok
        rows.append(
            [
                name,
                f"`{url}`"
                if url != "DEEP"
                else "`/api/v1/opportunities/?limit=200&cursor=<95 % deep>`",
                " / ".join(str(c) for c in counts),
                " / ".join(f"{per[s][1] * 1000:.1f}" for s in sizes),
                f"{ratio:.2f}×",
                "✅" if constant and fast and page_ok else "❌",
            ]
        )
    sizes_label = " / ".join(f"{s:,}" for s in sizes)
    body = table(
        [
            "page",
            "url",
            f"queries at {sizes_label}",
            f"median ms at {sizes_label}",
            "largest ÷ smallest",
            "target met",
        ],
        rows,
    )
    body += (
        f"\n\nTargets: the same number of queries at every size and ≤ {QUERY_TARGET}; page time at the largest size "
        f"≤ 2 × at the smallest. Median of {repeat} requests after a warm-up, in-process Django test client, "
        "production settings."
    )
    return body, ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    setup_django()
    body, ok = measure(sizes, args.repeat)
    path = write_section("benchmarks-pages.md", "Pages and lists at growing data", body)
    print(body)
    print(
        f"\n(written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
