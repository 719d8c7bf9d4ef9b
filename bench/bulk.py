"""Bulk paths: CSV import of new deals with line items, CSV export of every deal.

Each measurement runs in a child process (its own peak RSS, VmHWM), against the
bench database with ``--deals`` deals loaded:

* **import**: ``--import-rows`` new deals (3 line items each, no id, no stage) through
  ``opportunities.services.imports.import_rows`` — the path of the admin's import, the
  ``import_opportunities`` command and the background job — inside a transaction rolled
  back at the end, so every run starts from the same data. Rows/s (wall and this
  process's CPU), SQL statements per row, peak RSS.
* **export**: every deal through the admin's CSV export path (``--tree`` code decides
  which: the streamed ``core.export_formats.stream_resource`` when present, else the
  library's in-memory ``Resource.export`` + ``SafeCSV.export_data``), written to a file.
  Seconds, peak RSS, SQL statements.

``--tree DIR`` runs the children on another checkout (e.g. ``git archive <commit>`` of the
code before a change) with this environment, for a before/after table.

    uv run python bench/bulk.py [--deals 100000] [--import-rows 10000] [--tree DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent.parent))

from bench.common import bench_env, load_opportunities, setup_django, table, write_section  # noqa: E402

IMPORT_TARGET_ROWS_S = 1000
EXPORT_TARGET_S = 10.0
EXPORT_TARGET_MB = 150.0


def _child_setup(tree: str) -> None:
    os.chdir(tree)
    sys.path.insert(0, tree)
    os.environ.update(bench_env())
    import django

    django.setup()


def _counter():
    count = [0]

    def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        count[0] += 1
        return execute(sql, params, many, context)

    return count, wrapper


def child_import(path: str) -> dict:
    from django.db import connection, transaction

    from bench.common import ensure_users
    from opportunities.services import imports

    _rep, _rep2, ops, _admin = ensure_users()
    count, wrapper = _counter()

    class Rollback(Exception):
        pass

    result = {}
    try:
        with transaction.atomic(), connection.execute_wrapper(wrapper):
            started, cpu = time.perf_counter(), time.process_time()
            with open(path, encoding="utf-8", newline="") as handle:
                report = imports.import_rows(
                    kind="opportunities", actor=ops, rows=csv.DictReader(handle)
                )
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            failed = len(report.failed)
            result = {
                "rows": report.rows,
                "new": report.new,
                "failed": failed,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "statements": count[0],
            }
            raise Rollback
    except Rollback:
        pass
    return result


def child_export(out: str) -> dict:
    from django.db import connection

    from opportunities.admin.resources import OpportunityResource

    count, wrapper = _counter()
    started = time.perf_counter()
    with connection.execute_wrapper(wrapper), open(out, "w", encoding="utf-8", newline="") as fh:
        resource = OpportunityResource()
        try:
            from core.export_formats import stream_resource
        except ImportError:
            from core.export_formats import SafeCSV

            fh.write(SafeCSV().export_data(resource.export()))
        else:
            for chunk in stream_resource(resource, resource.get_queryset()):
                fh.write(chunk)
    with open(out, encoding="utf-8") as written:
        rows = sum(1 for _ in written) - 1
    return {"rows": rows, "seconds": time.perf_counter() - started, "statements": count[0]}


def run_child(tree: str, *args: str) -> dict:
    proc = subprocess.Popen(
        [sys.executable, str(HERE), "--child", *args, "--tree", tree],
        stdout=subprocess.PIPE,
        env=bench_env(),
        cwd=tree,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    # The child reports its own VmHWM: wait4's ru_maxrss starts from the parent's at fork.
    if proc.wait() != 0:
        raise SystemExit(f"child {args} failed")
    return json.loads(output.decode().strip().splitlines()[-1])


def import_file(rows: int) -> str:
    from opportunities.models import Account

    accounts = list(
        Account.objects.filter(external_id__startswith="bench-")
        .order_by("id")
        .values_list("external_id", "contacts__email")[:200]
    )
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept for the child to read)
        "w", suffix=".csv", delete=False, encoding="utf-8", newline=""
    )
    writer = csv.writer(handle)
    writer.writerow(
        [
            "name",
            "account_external_id",
            "owner",
            "amount",
            "currency",
            "close_date",
            "primary_contact_email",
            "line_items",
        ]
    )
    for n in range(rows):
        external, email = accounts[n % len(accounts)]
        writer.writerow(
            [
                f"Imported deal {n}",
                external,
                "bench_rep",
                "3600.00",
                "USD",
                "2031-01-31",
                email,
                "BENCH-1 x 1 @ 1200.00; BENCH-1 x 1 @ 1200.00; BENCH-1 x 1 @ 1200.00",
            ]
        )
    handle.close()
    return handle.name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opportunities", "--deals", type=int, default=100_000)
    parser.add_argument("--import-rows", type=int, default=10_000)
    parser.add_argument("--tree", default=str(HERE.parent.parent))
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "PATH"))
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--keep-db", action="store_true", help="reuse the loaded bench database")
    args = parser.parse_args()
    if args.child:
        _child_setup(args.tree)
        what, path = args.child
        result = child_import(path) if what == "import" else child_export(path)
        with open("/proc/self/status") as status:
            hwm = next(line for line in status if line.startswith("VmHWM:"))
        result["peak_mb"] = int(hwm.split()[1]) / 1024
        print(json.dumps(result))
        return 0
    setup_django(recreate=not args.keep_db)
    load_opportunities(args.opportunities)
    path = import_file(args.import_rows)
    out = tempfile.mktemp(suffix=".csv")
    imp = run_child(args.tree, "import", path)
    print(f"import: {imp}", file=sys.stderr)
    exp = run_child(args.tree, "export", out)
    print(f"export: {exp}", file=sys.stderr)
    os.unlink(path)
    os.unlink(out)
    rate = imp["rows"] / imp["seconds"]
    import_ok = rate >= IMPORT_TARGET_ROWS_S and imp["failed"] == 0
    export_ok = exp["seconds"] <= EXPORT_TARGET_S and exp["peak_mb"] <= EXPORT_TARGET_MB
    rows = [
        [
            f"CSV import, {imp['rows']:,} new deals × 3 line items ({args.label})",
            f"{rate:,.0f} rows/s ({imp['seconds']:.1f} s; this process's CPU "
            f"{imp['cpu_seconds']:.1f} s = {imp['rows'] / imp['cpu_seconds']:,.0f} rows/s)",
            f"{imp['statements'] / max(imp['rows'], 1):.2f}",
            f"{imp['peak_mb']:.0f} MB",
            f"≥ {IMPORT_TARGET_ROWS_S:,} rows/s",
            "✅" if import_ok else "❌",
        ],
        [
            f"CSV export, {exp['rows']:,} deals ({args.label})",
            f"{exp['seconds']:.1f} s ({exp['rows'] / exp['seconds']:,.0f} rows/s)",
            f"{exp['statements']} in all",
            f"{exp['peak_mb']:.0f} MB",
            f"≤ {EXPORT_TARGET_S:.0f} s, ≤ {EXPORT_TARGET_MB:.0f} MB",
            "✅" if export_ok else "❌",
        ],
    ]
    body = table(["path", "time", "SQL statements per row", "peak RSS", "target", "met"], rows)
    body += (
        "\n\nEach path in its own process (peak RSS: the process's VmHWM). The import runs inside a "
        "transaction rolled back at the end. The import's CPU time is the process's own "
        f"(PostgreSQL's work and waiting for a core are outside it); load average "
        f"{os.getloadavg()[0]:.1f} at the end."
    )
    print(body)
    if args.tree == str(HERE.parent.parent):
        write_section("benchmarks-bulk.md", "Bulk import and export", body)
    return 0 if import_ok and export_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
