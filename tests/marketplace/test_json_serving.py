"""Both JSON servers take a request's bytes the same way (`controller/http/serving.py`).

Each case speaks raw HTTP/1.1 over a socket to the simulated marketplace's server
and to the Partner Center emulator, since what matters is what happens to bytes
a client library would never send: a body that must not be left unread on a
kept-alive connection, a Content-Length `int()` would take, a chunked body.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from json_servers import KINDS, json_server

from controller.http.serving import content_length


def _exchange(host: str, port: int, request: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    """Send `request`; (status, headers, body, whether the server closed the connection)."""
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        while len(body) < int(headers.get("content-length", "0")):
            body += conn.recv(65536)
        conn.settimeout(2)
        try:
            closed = conn.recv(1) == b""
        except TimeoutError:
            closed = False
        return status, headers, body, closed


@pytest.mark.parametrize("kind", KINDS)
def test_a_get_that_carries_a_body_is_refused_and_the_connection_closed(
    kind: str, tmp_path: Path
) -> None:
    """Left unread, 'GET /x' in the body would be answered as a second request."""
    with json_server(kind, tmp_path) as (host, port, path):
        smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        request = (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            f"Content-Length: {len(smuggled)}\r\n\r\n"
        ).encode() + smuggled
        status, _, body, closed = _exchange(host, port, request)
    assert status == 400
    assert "takes no body" in json.loads(body)["error"]["message"]
    assert closed


@pytest.mark.parametrize("kind", KINDS)
def test_a_chunked_body_is_refused_and_the_connection_closed(kind: str, tmp_path: Path) -> None:
    with json_server(kind, tmp_path) as (host, port, path):
        request = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
            "2\r\n{}\r\n0\r\n\r\n"
        ).encode()
        status, _, body, closed = _exchange(host, port, request)
    assert status == 411
    assert json.loads(body)["error"]["code"] == "LengthRequired"
    assert closed


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("length", ["+2", "1_0", "²", "-1", "0x10"])
def test_a_content_length_that_is_not_plain_digits_is_a_400(
    kind: str, length: str, tmp_path: Path
) -> None:
    with json_server(kind, tmp_path) as (host, port, path):
        request = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{}}"
        ).encode()
        status, headers, body, closed = _exchange(host, port, request)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert "Content-Length" in json.loads(body)["error"]["message"]
    assert closed


def test_content_length_bounds_the_digits_before_converting() -> None:
    assert content_length(None, 10) == 0
    assert content_length(" 7 ", 10) == 7
    with pytest.raises(Exception, match="over 10 bytes"):
        content_length("9" * 5000, 10)  # int() of 5,000 digits raises ValueError, not 413
