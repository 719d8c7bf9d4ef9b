"""`make bench`: every benchmark in one run, then docs/benchmarks.md.

Each benchmark also runs on its own (see its docstring). Targets are ratios measured in
one run (the machine is noisy). Needs PostgreSQL and Redis (the
Makefile's `bench` target makes sure they are up) and `wrk` (installed with apt when
missing and root).

    uv run python bench/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import DOCS, machine  # noqa: E402

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")


def run(args: list[str], **env: str) -> int:
    print(f"\n$ {' '.join(args)}", flush=True)
    return subprocess.call(
        [sys.executable, *args], cwd=ROOT, env={**os.environ, "CELERY_BROKER_URL": BROKER, **env}
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    if not shutil.which("wrk") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.call("apt-get install -y -qq wrk >/dev/null", shell=True)
    quick = args.quick
    results = {
        "pages": run(
            ["bench/pages.py", *(["--sizes", "1000,3000", "--repeat", "5"] if quick else [])]
            # the default sizes are 10k, 100k and 1,000,000 deals (about 6 min to load 1M)
        ),
        "http": run(
            ["bench/http_transitions.py", *(["--seconds", "3", "--pool", "800"] if quick else [])]
        ),
        "approve_sql": run(["bench/approve_sql.py", *(["--deals", "60"] if quick else [])]),
        "approve_lines": run(
            ["bench/approve_line_items.py", *(["--repeat", "5"] if quick else [])]
        ),
        "bulk": run(
            [
                "bench/bulk.py",
                *(["--deals", "5000", "--import-rows", "1000"] if quick else []),
            ]
        ),
        "handoffs": run(
            [
                "bench/handoff_latency.py",
                *(["--approvals", "30", "--rates", "10,max,80%"] if quick else []),
            ],
            DATABASE_URL=os.environ.get(
                "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/closedwon"
            ),
        ),
    }
    parts = [
        "# Benchmarks",
        "",
        f"Machine: {machine()}. Re-run with `make bench` (PostgreSQL + Redis on loopback).",
        "Every target is a ratio or a bound measured within one run.",
        "",
    ]
    for name, filename in (
        ("pages", "benchmarks-pages.md"),
        ("http", "benchmarks-http.md"),
        ("approve_sql", "benchmarks-approve-sql.md"),
        ("approve_lines", "benchmarks-approve-lines.md"),
        ("bulk", "benchmarks-bulk.md"),
        ("handoffs", "benchmarks-handoffs.md"),
    ):
        path = DOCS / filename
        if path.exists():
            text = path.read_text().strip().splitlines()
            parts.append("#" + text[0] if text and text[0].startswith("# ") else f"## {name}")
            parts += text[1:]
            parts.append(
                f"\n(exit status {results[name]}: {'target met' if results[name] == 0 else 'target missed or error'})\n"
            )
    for hand_recorded in (
        "benchmarks-profiling.md",
        "benchmarks-scale.md",
        "benchmarks-handoff-cpu.md",
    ):
        profiling = DOCS / hand_recorded
        if profiling.exists():  # hand-recorded before/after figures, kept as they are
            text = profiling.read_text().strip().splitlines()
            parts.append("#" + text[0])
            parts += text[1:]
    (DOCS / "benchmarks.md").write_text("\n".join(parts) + "\n")
    print((DOCS / "benchmarks.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
