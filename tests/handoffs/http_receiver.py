"""A real local webhook receiver for the handoff tests: an ``http.server`` on 127.0.0.1
in a thread that verifies every request with ``standardwebhooks`` (as a downstream
would) and answers with scripted replies. It is the only stand-in in these tests: it
replaces billing, provisioning, CS and comp tools, not our code."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

KINDS = ("billing", "provisioning", "customer_success", "commission")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b'{"ok": true}'


@dataclass
class Received:
    kind: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str
    payload: dict[str, Any] | None
    at: float  # time.monotonic() when the request arrived
    status: int | None = None  # what we answered (None while still answering)


class Receiver:
    def __init__(self) -> None:
        self.secrets = {kind: new_secret() for kind in KINDS}
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.scripts: dict[str, list[Reply]] = {}
        self.defaults: dict[str, Reply] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                kind = self.path.strip("/").split("/")[-1]
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-body (a worker killed while sending): a real
                    # server never hands an incomplete request to its application, so it
                    # has no effect and gets no answer.
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified, error, payload = False, "", None
                try:
                    payload = Webhook(receiver.secrets[kind]).verify(body, headers)
                    verified = True
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                entry = Received(kind, headers, body, verified, error, payload, time.monotonic())
                with receiver.lock:
                    receiver.received.append(entry)
                    script = receiver.scripts.get(kind)
                    reply = script.pop(0) if script else receiver.defaults.get(kind, Reply())
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    entry.status = reply.status
                except OSError:  # the sender gave up (read timeout) or was killed
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.scripts.clear()
            self.defaults.clear()

    # --- configuration ---------------------------------------------------------------
    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{kind}/"

    def endpoints(self) -> dict[str, dict[str, str]]:
        return {kind: {"url": self.url(kind), "secret": self.secrets[kind]} for kind in KINDS}

    def env(self) -> dict[str, str]:
        out = {}
        for kind in KINDS:
            out[f"HANDOFF_{kind.upper()}_URL"] = self.url(kind)
            out[f"HANDOFF_{kind.upper()}_SECRET"] = self.secrets[kind]
        return out

    def script(self, kind: str, *replies: Reply) -> None:
        """The next requests for ``kind`` get these replies, in order."""
        with self.lock:
            self.scripts.setdefault(kind, []).extend(replies)

    def always(self, kind: str, reply: Reply) -> None:
        with self.lock:
            self.defaults[kind] = reply

    # --- observation -----------------------------------------------------------------
    def requests(self, kind: str | None = None, webhook_id: str | None = None) -> list[Received]:
        with self.lock:
            return [
                r
                for r in self.received
                if (kind is None or r.kind == kind)
                and (webhook_id is None or r.headers.get("webhook-id") == webhook_id)
            ]

    def wait_for(
        self, predicate: Callable[[Receiver], bool], timeout: float = 10.0, what: str = ""
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"receiver: timed out waiting for {what or predicate}; got "
                    + json.dumps([(r.kind, r.status, r.verified) for r in self.requests()])
                )
            time.sleep(0.02)
