"""The tests' webhook receiver behaves as a real server at the edges the fault tests hit."""

from __future__ import annotations

import socket

import httpx

from tests.handoffs.http_receiver import Receiver


def test_a_request_cut_off_mid_body_is_not_received():
    receiver = Receiver().start()
    try:
        with socket.create_connection(("127.0.0.1", receiver.port)) as sock:
            sock.sendall(
                b"POST /billing/ HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n" + b"{" * 40
            )
        # A whole request after it is received: the cut one left nothing behind.
        httpx.post(f"http://127.0.0.1:{receiver.port}/billing/", content=b"{}")
        assert [len(r.body) for r in receiver.requests()] == [2]
    finally:
        receiver.stop()
