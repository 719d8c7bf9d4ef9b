"""A real ``celery -A closedwon worker`` in a subprocess, for integration tests.

The worker talks to the pytest-django *test* database (so rows committed by a
``django_db(transaction=True)`` test are visible to it) and to the test's broker. It runs
in its own session so that :meth:`CeleryWorker.kill` can SIGKILL the main process and its
pool children at once, the way a crashed machine would.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def worker_database_url() -> str:
    """The URL of the database pytest-django created (``test_<name>``)."""
    s = connection.settings_dict
    engine = s["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = quote(s.get("USER") or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


def redis_client():
    import redis

    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def _queued(task: str | None):
    """(queue length, or None per message of ``task``) over the Redis lists named celery*."""
    client = redis_client()
    for key in client.scan_iter("celery*"):
        if client.type(key) != b"list":
            continue
        if task is None:
            yield client.llen(key), None
            continue
        for raw in client.lrange(key, 0, -1):
            message = json.loads(raw)
            if message.get("headers", {}).get("task") == task:
                yield 1, message


def queued_messages(task: str | None = None) -> int:
    """Messages waiting in the broker's task queues (Redis lists named celery*), only
    those of ``task`` when given."""
    return sum(count for count, _ in _queued(task))


def queued_task_args(task: str) -> list[list]:
    """The positional arguments of each queued message of ``task`` (protocol 2 bodies)."""
    return [
        json.loads(base64.b64decode(message["body"]))[0] for _, message in _queued(task) if message
    ]


def purge_queues() -> None:
    client = redis_client()
    for key in list(client.scan_iter("celery*")):
        if client.type(key) == b"list":
            client.delete(key)


class CeleryWorker:
    def __init__(
        self,
        *,
        env: dict[str, str],
        log_dir: Path,
        concurrency: int = 2,
        beat: bool = True,
        name: str = "testworker",
    ) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CLOSEDWON_DATA_DIR": str(log_dir),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "closedwon.settings",
            **env,
        }
        self.log_dir = log_dir
        self.concurrency = concurrency
        self.beat = beat
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.starts = 0

    def start(self, timeout: float = 45.0) -> CeleryWorker:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.log_path = self.log_dir / f"{self.name}-{self.starts}.log"
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "closedwon",
            "worker",
            "--loglevel=INFO",
            "--pool=prefork",
            f"--concurrency={self.concurrency}",
            f"--hostname={self.name}-{self.starts}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if self.beat:
            cmd += ["--beat", f"--schedule={self.log_dir / 'beat-schedule'}"]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if " ready." in text:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        output = self.log()[-4000:]
        self.kill()
        raise RuntimeError(f"celery worker did not start:\n{output}")

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Warm shutdown (SIGTERM: finish running tasks), SIGKILL if it takes too long."""
        if not self.running:
            return
        assert self.proc is not None
        # To the main process only: it stops its pool children itself, after their tasks.
        self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):  # then SIGKILL below
            self.proc.wait(timeout)
        self.kill()  # whatever is left of the group

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once: no cleanup, no acks."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
