"""Approve throughput: the transition service against a raw psycopg script that runs the
very same SQL statements.

How: one approval is recorded statement by statement (``connection.execute_wrapper``);
the raw script replays that list for other deals with their ids substituted, one
transaction per approval, on a plain psycopg connection — no ORM, no Python rules. The
service run approves the same number of deals through
``opportunities.services.opportunity_transition`` (row lock, permissions, gate, FSM,
history, StageChange, four handoffs, commission credit, on-commit publish).

    uv run python bench/approve_sql.py [--deals 300]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_DATABASE_URL, setup_django, table, write_section  # noqa: E402


def prepare(count: int):
    from bench.common import ensure_users
    from opportunities import services
    from tests.factories import ready_opportunity

    rep, _rep2, ops, _admin = ensure_users()
    # Deal and approval ids far from every other id, so that substituting them in the
    # recorded parameters can never hit an account, contact or line item id by chance.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ALTER SEQUENCE opportunities_opportunity_id_seq RESTART WITH 10000000")
        cursor.execute("ALTER SEQUENCE opportunities_approval_id_seq RESTART WITH 20000000")
        cursor.execute("ALTER SEQUENCE opportunities_stagechange_id_seq RESTART WITH 30000000")
    opportunities = []
    for _ in range(count):
        opportunity = ready_opportunity(rep)
        services.opportunity_transition(
            opportunity=opportunity, name="submit_for_approval", actor=rep
        )
        opportunities.append(opportunity.pk)
    return opportunities, ops


def record_one(opportunity_id: int, ops) -> list[tuple[str, tuple]]:
    from django.db import connection

    from opportunities import services

    statements: list[tuple[str, tuple]] = []

    def recorder(execute, sql, params, many, context):
        statements.append((sql, tuple(params) if params else ()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(recorder):
        services.opportunity_transition(opportunity=opportunity_id, name="approve", actor=ops)
    return statements


def substitute(value, mapping, uuids):
    if isinstance(value, list | tuple):  # bulk_create on PostgreSQL sends UNNEST arrays
        return type(value)(substitute(v, mapping, uuids) for v in value)
    if isinstance(value, uuid.UUID):
        return uuids.setdefault(str(value), uuid.uuid4())
    if isinstance(value, str) and (
        len(value) == 32 or (len(value) == 36 and value.count("-") == 4)
    ):
        try:
            new = uuids.setdefault(str(uuid.UUID(value)), uuid.uuid4())
            return new.hex if len(value) == 32 else str(new)
        except ValueError:
            pass
    if isinstance(value, int | str) and not isinstance(value, bool):
        return mapping.get(value, value)
    return value


def replay(
    statements, sample_opportunity, sample_approval, sample_contract, sample_change, targets
) -> float:
    """Run ``statements`` once per target deal with ids substituted; returns seconds."""
    import psycopg

    from handoffs.models import WebhookEndpoint
    from opportunities.gate import normalize_key

    endpoint_ids = [str(pk) for pk in WebhookEndpoint.objects.values_list("pk", flat=True)]

    with psycopg.connect(BENCH_DATABASE_URL, cursor_factory=psycopg.ClientCursor) as conn:
        started = time.perf_counter()
        for opportunity_id, approval_id, contract in targets:
            mapping = {
                sample_opportunity: opportunity_id,
                sample_approval: approval_id,
                sample_contract: contract,
                normalize_key(sample_contract): normalize_key(contract),
            }
            # Each approval gets new handoff and event ids, consistently; the webhook
            # endpoints' ids stay (rows every approval refers to).
            uuids: dict[str, uuid.UUID] = {key: uuid.UUID(key) for key in endpoint_ids}
            with conn.transaction(), conn.cursor() as cur:
                for sql, params in statements:
                    if sql.strip().upper() in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT"):
                        continue
                    if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
                        continue
                    new_params = tuple(substitute(p, mapping, uuids) for p in params)
                    cur.execute(sql, new_params)
                    rows = cur.fetchall() if cur.description else []
                    if sql.startswith('INSERT INTO "opportunities_stagechange"') and rows:
                        # Later statements (the decision email) refer to the new row's id.
                        mapping[sample_change] = rows[0][0]
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opportunities", "--deals", type=int, default=300)
    args = parser.parse_args()
    setup_django()
    from opportunities.models import Approval, Opportunity

    opportunities, ops = prepare(args.opportunities + 1)
    sample, rest = opportunities[0], opportunities[1:]
    sample_approval = Approval.objects.get(opportunity_id=sample, decision="pending").pk
    sample_contract = Opportunity.objects.get(pk=sample).contract_id
    if sample == sample_approval:
        raise SystemExit("sample deal id equals its approval id; re-run")
    statements = record_one(sample, ops)
    half = len(rest) // 2
    service_opportunities, raw_opportunities = rest[:half], rest[half : 2 * half]

    from opportunities import services

    started = time.perf_counter()
    for opportunity_id in service_opportunities:
        services.opportunity_transition(opportunity=opportunity_id, name="approve", actor=ops)
    service_seconds = time.perf_counter() - started

    targets = [
        (
            d,
            Approval.objects.get(opportunity_id=d, decision="pending").pk,
            Opportunity.objects.get(pk=d).contract_id,
        )
        for d in raw_opportunities
    ]
    from opportunities.models import StageChange

    sample_change = StageChange.objects.get(opportunity_id=sample, transition="approve").pk
    raw_seconds = replay(
        statements, sample, sample_approval, sample_contract, sample_change, targets
    )
    won = Opportunity.objects.filter(pk__in=raw_opportunities, stage="closed_won").count()
    if won != len(raw_opportunities):
        raise SystemExit(
            f"raw replay approved {won} of {len(raw_opportunities)} deals: the substitution is wrong"
        )

    service_rate = len(service_opportunities) / service_seconds
    raw_rate = len(raw_opportunities) / raw_seconds
    fraction = service_rate / raw_rate
    body = table(
        ["path", "approvals", "seconds", "approvals/s", "SQL statements per approval"],
        [
            [
                "raw psycopg, same statements",
                len(raw_opportunities),
                f"{raw_seconds:.2f}",
                f"{raw_rate:,.0f}",
                len(statements),
            ],
            [
                "opportunity_transition (service)",
                len(service_opportunities),
                f"{service_seconds:.2f}",
                f"{service_rate:,.0f}",
                len(statements),
            ],
        ],
    )
    body += f"\n\nService ÷ raw: **{fraction:.0%}** (target ≥ 15 %). One process, sequential, PostgreSQL on loopback."
    path = write_section("benchmarks-approve-sql.md", "Approve: service vs raw SQL", body)
    print(body)
    print(f"\n(written to {path})")
    return 0 if fraction >= 0.15 else 1


if __name__ == "__main__":
    raise SystemExit(main())
