"""An unauthenticated Content-Length the server cannot parse is answered, not a traceback.

`str.isdigit()` accepts "²" (the byte 0xB2, as http.server reads headers as
Latin-1), which `int()` refuses, and `int()` refuses more than 4,300 ASCII
digits: either raised ValueError out of the handler, so anyone could make the
daemon drop the connection unanswered and print a traceback per request.
"""

from __future__ import annotations

import pytest
from test_robust_webhook import connect, serving


@pytest.mark.parametrize("length", ["\u00b2", "9" * 5000])
def test_a_malformed_content_length_gets_an_answer(length: str) -> None:
    with serving() as (port, recorder), connect(port) as sock:
        request = (
            "POST /hooks/git HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {length}\r\n"
            f"X-Hub-Signature-256: sha256={'0' * 64}\r\n\r\n"
        )
        sock.sendall(request.encode("latin-1"))
        sock.settimeout(10)
        try:
            answer = sock.recv(200)
        except (TimeoutError, ConnectionError):
            answer = b""
    assert answer.startswith((b"HTTP/1.1 411", b"HTTP/1.1 413")), answer
    assert recorder.pushes == []
