"""Board, list API, approval queues and admin changelists at 1k, 10k and 100k deals.

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

from bench.common import load_deals, setup_django, table, timed, write_section  # noqa: E402

PAGES = [
    ("Pipeline board", "rep", "/pipeline/?scope=all"),
    ("Deal list", "rep", "/opportunities/"),
    ("List API", "rep", "/api/v1/opportunities/?limit=50"),
    ("Approval queue API", "ops", "/api/v1/approvals/?decision=pending&limit=50"),
    ("Admin approval queue", "ops", "/admin/opportunities/closedwonapproval/"),
    ("Admin opportunities", "ops", "/admin/opportunities/opportunity/"),
]
QUERY_TARGET = 8


def measure(sizes: list[int], repeat: int) -> tuple[str, bool]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.common import ensure_users

    results: dict[str, dict[int, tuple[int, float, float, int]]] = {
        name: {} for name, _, _ in PAGES
    }
    for size in sizes:
        load_deals(size)
        rep, _rep2, ops, _admin = ensure_users()
        clients = {"rep": Client(), "ops": Client()}
        clients["rep"].force_login(rep)
        clients["ops"].force_login(ops)
        for name, who, url in PAGES:
            client = clients[who]
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
                f"`{url}`",
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
    parser.add_argument("--sizes", default="1000,10000,100000")
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
