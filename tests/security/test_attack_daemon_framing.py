"""Request framing on the daemon's HTTP endpoints (`controller/daemon/http.py`).

The daemon speaks HTTP/1.1 with kept-alive connections, usually behind an ingress
that reuses its upstream connections for many clients. A body the daemon does not
read (a GET's, or the part beyond a first Content-Length) would be parsed as the
next request on that connection: request smuggling, whose answers a proxy may hand
to another client. Such a request is answered once and its connection closed.
"""

from __future__ import annotations

import json
import re
import socket

import pytest
from test_robust_webhook import SECRET, connect, serving

from controller.daemon import webhook

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


def _answers(sock: socket.socket, request: bytes) -> list[int]:
    """The status of every answer to `request`, until the server closes or goes quiet."""
    sock.sendall(request)
    sock.settimeout(1.0)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        pass
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/nowhere"])
def test_a_get_with_a_body_is_answered_once(path: str) -> None:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(SMUGGLED)}\r\n\r\n"
    ).encode() + SMUGGLED
    with serving() as (port, _), connect(port) as sock:
        answers = _answers(sock, request)
    assert len(answers) == 1, answers


def test_a_get_with_transfer_encoding_is_answered_once() -> None:
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    with serving() as (port, _), connect(port) as sock:
        answers = _answers(sock, request)
    assert len(answers) == 1, answers


def _signed_push(extra_headers: str, tail: bytes) -> bytes:
    body = json.dumps({"ref": "refs/heads/main", "commits": []}).encode()
    head = (
        "POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: push\r\n{webhook.SIGNATURE_HEADER}: {webhook.sign(SECRET, body)}\r\n"
        f"Content-Length: {len(body)}\r\n{extra_headers}\r\n"
    ).encode()
    return head + body + tail


def test_two_content_lengths_on_the_webhook_are_refused() -> None:
    request = _signed_push(f"Content-Length: {len(SMUGGLED) + 80}\r\n", SMUGGLED)
    with serving() as (port, recorder), connect(port) as sock:
        answers = _answers(sock, request)
    assert answers == [400], answers
    assert recorder.pushes == []


def test_transfer_encoding_on_the_webhook_is_refused() -> None:
    request = _signed_push("Transfer-Encoding: chunked\r\n", SMUGGLED)
    with serving() as (port, recorder), connect(port) as sock:
        answers = _answers(sock, request)
    assert len(answers) == 1 and answers[0] in (400, 411), answers
    assert recorder.pushes == []


def test_an_ordinary_signed_push_still_keeps_the_connection() -> None:
    request = _signed_push("", b"")
    with serving() as (port, recorder), connect(port) as sock:
        assert _answers(sock, request) == [202]
        assert _answers(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") == [200]
    assert len(recorder.pushes) == 1
