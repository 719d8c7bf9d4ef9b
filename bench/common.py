"""Shared plumbing for the benchmarks: a dedicated PostgreSQL database, bulk data loading,
machine facts and markdown tables.

Every benchmark runs against ``BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/closedwon_bench``), which it drops and recreates,
so a run never touches your data and anyone can re-run it.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BENCH_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/closedwon_bench"
)
BENCH_SECRET = "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-closedwon"


def bench_env(**extra: str) -> dict[str, str]:
    """Environment for Django processes of a benchmark (production mode, bench database)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=BENCH_DATABASE_URL,
        SECRET_KEY=env.get("SECRET_KEY") or BENCH_SECRET,
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="closedwon.settings",
        API_THROTTLE_USER="1000000/min",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
    )
    env.update(extra)
    return env


def setup_django(recreate: bool = True) -> None:
    """Point this process at the bench database (recreated and migrated) and set Django up."""
    os.environ.update(bench_env())
    sys.path.insert(0, str(ROOT))
    if recreate:
        import psycopg

        name = BENCH_DATABASE_URL.rsplit("/", 1)[1]
        admin_url = BENCH_DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    if recreate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)


def empty_broker(url: str) -> None:
    """Drop every message in the benchmark's own Redis database (a benchmark uses one that
    no other worker listens on): messages a run left without a worker — the HTTP bench
    approves deals with no worker running — would otherwise be the next run's backlog."""
    if url.startswith(("redis://", "rediss://")):
        import redis

        redis.Redis.from_url(url).flushdb()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    todo += [int(child) for child in fh.read().split()]
        except OSError:
            continue
    return found


def peak_rss_mb(pid: int) -> dict[int, float]:
    """Peak resident memory (VmHWM) in MB of ``pid`` and each of its descendants, read
    while they still run."""
    peaks = {}
    for proc in process_tree(pid):
        try:
            with open(f"/proc/{proc}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peaks[proc] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return peaks


def machine() -> str:
    cores = os.cpu_count()
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{platform.machine()}, {cores} cores, {mem_gib:.0f} GiB RAM, Python {platform.python_version()}, "
        f"{pg}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(filename: str, title: str, body: str) -> Path:
    DOCS.mkdir(exist_ok=True)
    path = DOCS / filename
    path.write_text(f"# {title}\n\nMachine: {machine()}\n\n{body}\n")
    return path


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, p95) seconds of ``repeat`` calls after one warm-up."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), percentile(samples, 95)


def ensure_users():
    from opportunities.management.commands.create_user import ensure_user

    rep, _ = ensure_user("bench_rep", "rep", "bench-pass-123", "rep@bench.local")
    rep2, _ = ensure_user("bench_rep2", "rep", "bench-pass-123", "rep2@bench.local")
    ops, _ = ensure_user("bench_ops", "revops", "bench-pass-123", "ops@bench.local")
    admin, _ = ensure_user("bench_admin", "admin", "bench-pass-123", "admin@bench.local")
    return rep, rep2, ops, admin


def load_opportunities(
    total: int, *, pending_share: float = 0.05, batch: int = 5000, progress: bool = True
) -> None:
    """Bulk-load deals until there are ``total``: open stages plus a share pending approval
    (each with its Approval row, as the queue needs). Bench data only: rows are inserted
    directly, in batches, so memory stays flat; every row meets its stage's requirements."""
    from django.db import transaction

    from opportunities.models import Account, Approval, Contact, LineItem, Opportunity, Product
    from opportunities.stages import OPEN_STAGES, Stage

    rep, rep2, _ops, _admin = ensure_users()
    product, _ = Product.objects.get_or_create(sku="BENCH-1", defaults={"name": "Bench seat"})
    existing = Opportunity.objects.count()
    if existing >= total:
        return
    accounts = list(Account.objects.filter(external_id__startswith="bench-")[:200])
    if not accounts:
        Account.objects.bulk_create(
            [
                Account(name=f"Bench account {i}", external_id=f"bench-{i}", billing_country="US")
                for i in range(200)
            ]
        )
        accounts = list(Account.objects.filter(external_id__startswith="bench-"))
        Contact.objects.bulk_create(
            [
                Contact(
                    account=a,
                    first_name="Bench",
                    last_name=f"Buyer {a.pk}",
                    email=f"b{a.pk}@bench.local",
                )
                for a in accounts
            ]
        )
    contacts = {c.account_id: c.pk for c in Contact.objects.filter(account__in=accounts)}
    today = dt.date.today()
    started = time.monotonic()
    n = existing
    while n < total:
        size = min(batch, total - n)
        rows = []
        for i in range(n, n + size):
            account = accounts[i % len(accounts)]
            pending = (i % int(1 / pending_share)) == 0 if pending_share else False
            rows.append(
                Opportunity(
                    stage=Stage.PENDING_APPROVAL if pending else OPEN_STAGES[i % 4],
                    name=f"Bench deal {i}",
                    account=account,
                    owner=rep if i % 2 else rep2,
                    amount=Decimal("1200.00"),
                    close_date=today - dt.timedelta(days=1)
                    if pending
                    else today + dt.timedelta(days=30 + i % 90),
                    primary_contact_id=contacts[account.pk],
                    contract_id=f"BENCH-{i}",
                )
            )
        for row in rows:
            row.set_keys()  # bulk_create skips save(), which computes them
        with transaction.atomic():
            created = Opportunity.objects.bulk_create(rows)
            LineItem.objects.bulk_create(
                [
                    LineItem(opportunity=o, product=product, seats=1, unit_price=Decimal("1200.00"))
                    for o in created
                ]
            )
            Approval.objects.bulk_create(
                [
                    Approval(opportunity=o, submitted_by_id=o.owner_id, snapshot={})
                    for o in created
                    if o.stage == Stage.PENDING_APPROVAL
                ]
            )
        n += size
        if progress:
            rate = (n - existing) / max(time.monotonic() - started, 1e-6)
            print(
                f"\r  loaded {n:,}/{total:,} deals ({rate:,.0f}/s)",
                end="",
                file=sys.stderr,
                flush=True,
            )
    if progress:
        print(file=sys.stderr)
    from django.db import connection

    with connection.cursor() as cursor:
        # As autovacuum leaves a table some minutes after a bulk load: statistics, and the
        # pages marked all-visible (index-only scans skip the rows).
        cursor.execute("VACUUM (ANALYZE)" if connection.vendor == "postgresql" else "ANALYZE")
