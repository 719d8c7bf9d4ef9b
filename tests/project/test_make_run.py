"""Smoke test of `make run`: the embedded default comes up and answers."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_run_serves_the_app_with_demo_logins(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "STATIC_ROOT")
    }
    env.update(CLOSEDWON_DATA_DIR=str(tmp_path), PORT=str(port))
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    body = resp.read()
                    break
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        output = log.read()
        assert body == b'{"status": "ok"}', output[-3000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as resp:
            assert resp.status == 200
        assert "rita" in output and "closedwon-demo" in output
        # worker and beat came up too
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            log.seek(0)
            output = log.read()
            if re.search(r"celery@\S+ ready\.", output) and "beat: Starting" in output:
                break
            time.sleep(0.5)
        assert re.search(r"celery@\S+ ready\.", output), output[-3000:]
        assert "beat: Starting" in output, output[-3000:]
        # The seeded won deals' handoffs reach the built-in demo receiver, signed and verified.
        deadline = time.monotonic() + 60
        while (
            time.monotonic() < deadline
            and '"POST /demo/receiver/billing/ HTTP/1.1" 200' not in output
        ):
            time.sleep(0.5)
            log.seek(0)
            output = log.read()
        assert '"POST /demo/receiver/billing/ HTTP/1.1" 200' in output, output[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode is not None
