"""Transitions over HTTP against a bare DRF PATCH, same server.

Starts gunicorn (production settings, PostgreSQL) and drives it with wrk on loopback:

* baseline — ``PATCH /bench/bare/<id>/`` (plain DRF ModelSerializer update of one row);
* ``POST /api/v1/opportunities/<id>/transitions/submit_for_approval/`` as the owner;
* ``POST /api/v1/opportunities/<id>/transitions/approve/`` as RevOps;

each for a fixed time with the same connections, every transition request on a deal of
its own (a pool prepared beforehand). Reports requests/s, latency and the ratios.

    uv run python bench/http_transitions.py [--seconds 10] [--connections 4]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    bench_env,
    empty_broker,
    peak_rss_mb,
    setup_django,
    table,
    write_section,
)

LUA_POOL = r"""
-- Each request takes the next id from the pool, so no deal is transitioned twice.
local ids = {}
local i = 0
local counter = 0
init = function(args)
  for id in string.gmatch(args[1], "%d+") do table.insert(ids, id) end
  -- threads take interleaved ids
  i = tonumber(args[2])
  step = tonumber(args[3])
end
request = function()
  local id = ids[(i % #ids) + 1]
  i = i + step
  return wrk.format(wrk.method, (string.gsub(wrk.path, "XID", id)), wrk.headers, wrk.body)
end
response = function(status, headers, body)
  if status >= 300 then counter = counter + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(pool: int):
    from knox.models import AuthToken

    from bench.common import ensure_users
    from opportunities import services
    from tests.factories import ready_opportunity

    rep, _rep2, ops, _admin = ensure_users()
    submit_ids, approve_ids = [], []
    for _ in range(pool):
        submit_ids.append(ready_opportunity(rep).pk)
    for _ in range(pool):
        opportunity = ready_opportunity(rep)
        services.opportunity_transition(
            opportunity=opportunity, name="submit_for_approval", actor=rep
        )
        approve_ids.append(opportunity.pk)
    bare_id = ready_opportunity(rep).pk
    return {
        "rep_token": AuthToken.objects.create(user=rep)[1],
        "ops_token": AuthToken.objects.create(user=ops)[1],
        "submit": submit_ids,
        "approve": approve_ids,
        "bare": bare_id,
    }


def wrk(
    url: str,
    *,
    method: str,
    token: str,
    body: str,
    seconds: int,
    connections: int,
    ids: list[int] | None,
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "pool.lua"
        header = f'wrk.method = "{method}"\nwrk.body = {json.dumps(body)}\n'
        header += 'wrk.headers["Content-Type"] = "application/json"\n'
        header += f'wrk.headers["Authorization"] = "Token {token}"\n'
        script.write_text(header + LUA_POOL)
        id_arg = ",".join(str(i) for i in (ids or [0]))
        cmd = [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            id_arg,
            "0",
            "1",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int(re.search(r"NON2XX (\d+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)

    def ms(m):
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {"rps": rps, "requests": total, "non2xx": non2xx, "p50": ms(p50), "p99": ms(p99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", type=int, default=2500, help="deals prepared per transition")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    setup_django()
    data = prepare(args.pool)
    port = free_port()
    broker = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")
    env = bench_env(ROOT_URLCONF="bench.urls", CELERY_BROKER_URL=broker)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "closedwon.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        common = {"seconds": args.seconds, "connections": args.connections}
        bare = wrk(
            f"{base}/bench/bare/{data['bare']}/",
            method="PATCH",
            token=data["rep_token"],
            body='{"name": "bench"}',
            ids=None,
            **common,
        )
        submit = wrk(
            base + "/api/v1/opportunities/XID/transitions/submit_for_approval/",
            method="POST",
            token=data["rep_token"],
            body="{}",
            ids=data["submit"],
            **common,
        )
        approve = wrk(
            base + "/api/v1/opportunities/XID/transitions/approve/",
            method="POST",
            token=data["ops_token"],
            body="{}",
            ids=data["approve"],
            **common,
        )
        # Peak RSS of the gunicorn master and each worker after all three runs.
        peaks = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(20)
        empty_broker(broker)  # no worker ran: the approvals' delivery tasks are left over
    ok = True
    rows = []
    for label, result in (
        ("bare DRF PATCH (baseline)", bare),
        ("submit_for_approval", submit),
        ("approve", approve),
    ):
        ratio = result["rps"] / bare["rps"]
        used_up = result["requests"] > args.pool and result is not bare
        met = result is bare or (ratio >= 0.8 and result["non2xx"] == 0 and not used_up)
        ok &= met
        rows.append(
            [
                label,
                f"{result['rps']:,.0f}",
                f"{result['p50']:.1f}",
                f"{result['p99']:.1f}",
                result["non2xx"],
                f"{ratio:.2f}×",
                "—" if result is bare else ("✅" if met else "❌"),
            ]
        )
    body = table(["request", "req/s", "p50 ms", "p99 ms", "non-2xx", "÷ baseline", "≥ 0.8×"], rows)
    heaviest = max(peaks.values(), default=0.0)
    memory_ok = 0 < heaviest < 200
    ok &= memory_ok
    body += (
        f"\n\nPeak RSS (VmHWM) after the three runs: gunicorn master and {len(peaks) - 1} workers "
        f"{' / '.join(f'{mb:.0f}' for mb in peaks.values())} MB; the largest {heaviest:.0f} MB "
        f"(< 200 MB per process) {'✅' if memory_ok else '❌'}."
    )
    body += (
        f"\n\ngunicorn {args.workers} sync workers, wrk 1 thread × {args.connections} connections × {args.seconds} s on loopback, "
        "PostgreSQL, token auth; every transition request on its own deal. `approve` also writes the four handoffs and the "
        "commission credit and publishes its delivery task after commit."
    )
    path = write_section("benchmarks-http.md", "Transitions over HTTP vs a bare DRF PATCH", body)
    print(body)
    print(f"\n(written to {path})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
