"""Hostile request framing against the shared JSON server I/O (`controller/http/serving.py`).

A request whose body length two headers disagree on (two Content-Length headers, or a
Transfer-Encoding header with an empty value next to a Content-Length) is the classic
request-smuggling shape: a front end that reads the other header forwards bytes this
server then parses as a second, unseen request on the kept-alive connection. Such a
request is refused and its connection closed, never answered as framed by the first
header alone.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from json_servers import KINDS, json_server

from controller.http.serving import JsonHandler


def _answers(host: str, port: int, request: bytes) -> list[int]:
    """Every status line the server sends back for `request` until it closes or goes quiet."""
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(request)
        conn.settimeout(1.0)
        data = b""
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    # An answer's body has no line break after it: the next status line follows it directly.
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", data)]


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("kind", KINDS)
def test_two_content_lengths_are_refused_and_nothing_is_smuggled(kind: str, tmp_path: Path) -> None:
    with json_server(kind, tmp_path) as (host, port, path):
        body = b"{}" + SMUGGLED
        request = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: 2\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        answers = _answers(host, port, request)
    assert answers == [400], answers  # one refusal; /smuggled never parsed as a request


@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_transfer_encoding_is_refused_and_nothing_is_smuggled(
    kind: str, tmp_path: Path
) -> None:
    with json_server(kind, tmp_path) as (host, port, path):
        body = b"{}" + SMUGGLED
        request = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding:\r\n"
            "Content-Length: 2\r\n\r\n"
        ).encode() + body
        answers = _answers(host, port, request)
    assert len(answers) == 1 and answers[0] in (400, 411), answers


@pytest.mark.parametrize("kind", KINDS)
def test_a_plain_request_is_still_answered(kind: str, tmp_path: Path) -> None:
    """The refusals above are about framing only: an ordinary request is answered."""
    with json_server(kind, tmp_path) as (host, port, path):
        request = (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        answers = _answers(host, port, request)
    assert len(answers) == 1 and answers[0] < 500, answers


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_declared_and_never_sent_does_not_hold_the_connection(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each held connection is a thread: one that never sends its body is let go."""
    default = JsonHandler.timeout
    assert default is not None and 0 < default <= 120, default
    monkeypatch.setattr(JsonHandler, "timeout", 0.3)  # the default's effect, sooner
    with json_server(kind, tmp_path) as (host, port, path):
        request = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        ).encode()
        with socket.create_connection((host, port), timeout=5) as conn:
            conn.sendall(request)
            try:
                closed = conn.recv(65536) == b""  # no answer: the server closes
            except TimeoutError:
                closed = False
    assert closed
