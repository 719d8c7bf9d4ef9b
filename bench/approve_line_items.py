"""Approve with 1 vs 100 line items: wall time and SQL statements of the approve
transition (row lock, gate, snapshot, StageChange, four handoff payloads, commission
credit, decision e-mail, change-feed event), each inside a transaction rolled back.

Target: the 100-item approval ≤ 1.3 × the 1-item one, the same number of statements.

    uv run python bench/approve_line_items.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django, table, write_section  # noqa: E402

TARGET = 1.3


class _Rollback(Exception):
    pass


def approve_once(lines: int, rep, ops) -> tuple[float, int]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from opportunities.services import opportunity_transition
    from tests.factories import ready_deal

    result: tuple[float, int] = (0.0, 0)
    try:
        with transaction.atomic():
            deal = ready_deal(rep, lines=lines, seats=1, unit_price=Decimal("10.00"))
            opportunity_transition(opportunity=deal, name="submit_for_approval", actor=rep)
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as ctx:
                opportunity_transition(opportunity=deal.pk, name="approve", actor=ops)
            result = (time.perf_counter() - started, len(ctx.captured_queries))
            raise _Rollback
    except _Rollback:
        pass
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    setup_django()
    from bench.common import ensure_users

    rep, _rep2, ops, _admin = ensure_users()
    measured = {}
    for lines in (1, 100):
        approve_once(lines, rep, ops)  # warm-up
        runs = [approve_once(lines, rep, ops) for _ in range(args.repeat)]
        measured[lines] = (
            statistics.median(t for t, _ in runs),
            max(q for _, q in runs),
        )
    ratio = measured[100][0] / measured[1][0]
    ok = ratio <= TARGET and measured[1][1] == measured[100][1]
    body = table(
        ["line items", "median ms", "SQL statements"],
        [[n, f"{t * 1000:.1f}", q] for n, (t, q) in measured.items()],
    )
    body += (
        f"\n\n100 ÷ 1 = **{ratio:.2f}×** (target ≤ {TARGET}×, same statements): "
        f"{'✅' if ok else '❌'}. Median of {args.repeat} approvals each."
    )
    write_section("benchmarks-approve-lines.md", "Approve with 1 vs 100 line items", body)
    print(body)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
