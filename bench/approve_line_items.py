"""Approve with 1 vs 100 line items: wall time and SQL statements of the approve
transition (row lock, gate, snapshot, StageChange, four handoff payloads, commission
credit, decision e-mail, change-feed event), each inside a transaction rolled back.

Target: the 100-item approval ≤ 1.3 × the 1-item one, the same number of statements.
The two sizes alternate (1, 100, 1, 100, …) so that the load of a shared machine weighs
on both medians alike; the process CPU time of the approve call is reported beside the
wall time (CPU is what the code controls; wall also waits for PostgreSQL and the cores).

Each line sells a different product of a catalog written once, as a real price book is;
every deal is written and rolled back per approval. Rolled-back rows stay in the tables
as dead rows until a VACUUM, which autovacuum runs on a live database but not on a
cluster with it turned off (as CI's is): the benchmark vacuums and analyzes between
rounds, so neither size is measured against its own leftovers or without statistics.

    uv run python bench/approve_line_items.py [--repeat 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import nullcontext
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django, table, write_section  # noqa: E402

TARGET = 1.3


class _Rollback(Exception):
    pass


def catalog(size: int) -> list:
    """``size`` products, committed: the price book every benchmark deal sells from."""
    from tests.factories import ProductFactory

    return [ProductFactory() for _ in range(size)]


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def approve_once(
    lines: int, rep, ops, products: list, *, count: bool = False
) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, SQL statements) of one approve.

    The statements are counted only with ``count`` (then the times are not meant to be
    used): Django's query log renders every bound parameter into the SQL text, a cost the
    production path never pays, so the timed approvals run without it."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from opportunities.services import opportunity_transition
    from tests.factories import LineItemFactory, ready_opportunity

    result: tuple[float, float, int] = (0.0, 0.0, 0)
    try:
        with transaction.atomic():
            price = Decimal("10.00")
            opportunity = ready_opportunity(rep, lines=0, amount=price * lines)
            for product in products[:lines]:
                LineItemFactory(opportunity=opportunity, product=product, seats=1, unit_price=price)
            opportunity_transition(opportunity=opportunity, name="submit_for_approval", actor=rep)
            with CaptureQueriesContext(connection) if count else nullcontext() as ctx:
                started, cpu = time.perf_counter(), time.process_time()
                opportunity_transition(opportunity=opportunity.pk, name="approve", actor=ops)
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            result = (wall, cpu, len(ctx.captured_queries) if ctx is not None else 0)
            raise _Rollback
    except _Rollback:
        pass
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    # 40: the machine's noise moves a median of 15 by more than the target's margin.
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    setup_django()
    from bench.common import ensure_users

    rep, _rep2, ops, _admin = ensure_users()
    sizes = (1, 100)
    products = catalog(max(sizes))
    for lines in sizes:
        # Warm-up (the first approval also writes endpoints).
        approve_once(lines, rep, ops, products)
    statements = {lines: approve_once(lines, rep, ops, products, count=True)[2] for lines in sizes}
    runs: dict[int, list[tuple[float, float, int]]] = {lines: [] for lines in sizes}
    for round_ in range(args.repeat):
        if round_ % 10 == 0:
            vacuum()
        for lines in sizes:
            runs[lines].append(approve_once(lines, rep, ops, products))
    measured = {
        lines: (
            statistics.median(t for t, _, _ in runs[lines]),
            statements[lines],
            statistics.median(c for _, c, _ in runs[lines]),
        )
        for lines in sizes
    }
    ratio = measured[100][0] / measured[1][0]
    cpu_ratio = measured[100][2] / measured[1][2]
    ok = ratio <= TARGET and measured[1][1] == measured[100][1]
    body = table(
        ["line items", "median ms", "median CPU ms (this process)", "SQL statements"],
        [[n, f"{t * 1000:.1f}", f"{c * 1000:.1f}", q] for n, (t, q, c) in measured.items()],
    )
    body += (
        f"\n\n100 ÷ 1 = **{ratio:.2f}×** (CPU {cpu_ratio:.2f}×; target ≤ {TARGET}×, same "
        f"statements): {'✅' if ok else '❌'}. Median of {args.repeat} approvals each, the "
        f"two sizes alternating; load average {os.getloadavg()[0]:.1f} at the end."
    )
    write_section("benchmarks-approve-lines.md", "Approve with 1 vs 100 line items", body)
    print(body)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
