"""The one way our JSON servers take a request's bytes and send their answers.

Two servers speak JSON over HTTP: the simulated marketplace
(`marketplace/server.py`, what `offerctl marketplace serve` runs) and the
Partner Center emulator (`marketplace/pcemu/server.py`). Their routes and error
documents differ; what they do with the bytes is the same and lives here:

- the whole body is read before any answer, or the connection is closed: an
  answer that left a body unread would have it parsed as the next request on a
  kept-alive connection (a chunked body, a body on a GET, one over the limit);
- `Content-Length` is ASCII digits only (`int()` takes "+1", "1_0" and " 1 "), and
  sent once; a `Transfer-Encoding` header, even empty, is refused: two headers that
  could frame one body differently would let a body smuggle a second request;
- a JSON body must say `application/json`, and is refused (not crashed on) when
  it is not JSON or nests too deep;
- answers carry Content-Length, and a client that left is not an error; one that
  stalls (a body declared and not sent, an idle connection) is let go (`IO_TIMEOUT`);
- a server stops by waking held requests, ending `serve_forever`, closing its socket.

A refused body raises `BodyRefused` with the status to answer; each server
words it as its own error document.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

BODY_METHODS = ("POST", "PUT")
IO_TIMEOUT = 60.0  # seconds one read or write of a connection may wait


class BodyRefused(Exception):
    """A request body the server will not take: answer `status` (400, 411, 413, 415)."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class JsonServer(ThreadingHTTPServer):
    """A threading HTTP server whose held requests wait on `stopping`."""

    daemon_threads = True  # a held (timed-out) request must not block shutdown

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.stopping = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving: wake held requests, end serve_forever, close the socket."""
        self.stopping.set()
        self.shutdown()
        self.server_close()


Server = TypeVar("Server", bound=JsonServer)


@contextmanager
def serving(server: Server, name: str) -> Iterator[Server]:
    """`server` on a background thread for the duration of the block (tests, demos)."""
    # A short poll interval: shutdown waits up to one interval, and tests start many servers.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=5)


def serve_until(
    server: JsonServer,
    stop: threading.Event,
    name: str,
    on_thread_end: Callable[[], None] | None = None,
) -> None:
    """Serve on a thread until `stop` is set (signal handlers set it), then stop cleanly."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
    )
    thread.start()
    try:
        while not stop.wait(0.1):
            if not thread.is_alive():
                if on_thread_end is not None:
                    on_thread_end()
                break
    finally:
        server.stop()
        thread.join(timeout=5)


def check_framing(headers: Message) -> None:
    """BodyRefused unless a body is framed by one Content-Length alone. A second length,
    or a Transfer-Encoding (present at all, even empty) a front end may frame the body by
    instead, would leave part of it to be read as another request."""
    if "Transfer-Encoding" in headers:
        raise BodyRefused(HTTPStatus.LENGTH_REQUIRED, "send Content-Length, not Transfer-Encoding")
    if len(headers.get_all("Content-Length") or []) > 1:
        raise BodyRefused(HTTPStatus.BAD_REQUEST, "Content-Length is sent more than once")


def content_length(text: str | None, limit: int) -> int:
    """The body's length from a Content-Length header (absent: 0); BodyRefused past `limit`."""
    text = (text or "0").strip()
    if not (text.isascii() and text.isdigit()):
        raise BodyRefused(HTTPStatus.BAD_REQUEST, "Content-Length is not a number")
    if len(text) > len(str(limit)) or int(text) > limit:
        raise BodyRefused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
    return int(text)


class JsonHandler(BaseHTTPRequestHandler):
    """Every method goes to `answer(method)`; the I/O both JSON servers share."""

    # Every socket read and write times out (socketserver applies it in `setup`): a
    # client that declares a body and never sends it, or leaves a kept-alive connection
    # idle, would otherwise hold its thread for good. The clients keep idle connections
    # for seconds, and an injected timeout waits on `stopping`, not on the socket.
    timeout = IO_TIMEOUT

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK hold every answer on a kept-alive connection for ~40 ms.
        with suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.answer("GET")

    def do_POST(self) -> None:
        self.answer("POST")

    def do_PUT(self) -> None:
        self.answer("PUT")

    def do_DELETE(self) -> None:
        self.answer("DELETE")

    def answer(self, method: str) -> None:
        raise NotImplementedError

    def read_body(self, limit: int) -> bytes:
        """The whole body (b"" when none). A body that cannot be read whole, or that a
        method without one carries, is refused and the connection closed after the answer."""
        try:
            check_framing(self.headers)
            length = content_length(self.headers.get("Content-Length"), limit)
            if length and self.command not in BODY_METHODS:
                raise BodyRefused(HTTPStatus.BAD_REQUEST, f"{self.command} takes no body")
        except BodyRefused:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise
        return self.rfile.read(length) if length else b""

    def json_body(self, raw: bytes) -> Any:
        """`raw` (a POST or PUT body) as JSON; an empty body is `{}`."""
        if not raw:
            return {}
        ctype = self.headers.get("Content-Type", "application/json").split(";")[0].strip()
        if ctype.lower() != "application/json":
            raise BodyRefused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise BodyRefused(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None

    def send_json(
        self,
        status: int,
        document: Any,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> None:
        """`document` as JSON (None: an empty body), or `raw` bytes as they are."""
        if raw is not None:
            data = raw
        elif document is None:
            data = b""
        else:
            data = json.dumps(document, separators=(",", ":")).encode("utf-8")
        try:
            self.send_response(status)
            if document is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left (e.g. it timed out first)

    def drop(self) -> None:
        """Close the connection without an answer (an injected reset)."""
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
