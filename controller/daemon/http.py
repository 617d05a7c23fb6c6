"""The daemon's HTTP face on `--listen`: /, /healthz, /readyz, /metrics and POST /hooks/git.

- `/`: the read-only timeline page (`present.page`): every offer's phase,
  stages against their documented maximums, ETA, findings and sign-off.
  GET and HEAD only; served with a strict Content-Security-Policy (no script
  at all) and `nosniff`; a failure to build it answers 503, never a trace.
- `/healthz`: 200 while the loop is alive and its last iteration is recent
  (a wedged pass turns it 503, so an orchestrator restarts the process).
- `/readyz`: 200 once a pass has succeeded, 503 before.
- `/metrics`: Prometheus exposition of the daemon's own registry.
- `POST /hooks/git`: a GitHub push delivery. The signature is checked before
  the body is parsed; unsigned or mis-signed deliveries get 401 and change
  nothing; without a configured secret the endpoint answers 503 to everyone.

The endpoint faces the network, so every resource a client can hold is
bounded (`Limits`): at most `max_connections` connections at once (one more
is closed at once with a 503, so idle sockets cannot pile up threads); each
socket read or write times out after `io_timeout` seconds, and a whole request (line, headers and
body) must arrive within `request_deadline`, so a client trickling a byte at
a time cannot keep its slot (a reaper thread closes it); a delivery without a well-formed
signature header, or declaring more than `webhook.MAX_BODY`, is refused
before a byte of its body is read; a body is hashed as it arrives and at most
`webhook.MAX_KEPT` bytes of it are held in memory.

The server knows nothing about the daemon beyond the callables in `HttpApp`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import BoundedSemaphore, Event, Lock, Thread
from typing import Any

from controller.core.errors import FatalError, UsageError
from controller.daemon import webhook
from controller.http.serving import BodyRefused, check_framing
from controller.present import page as timeline_page

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:9464"
HOOK_PATH = "/hooks/git"
_CHUNK = 64 * 1024
_REFUSAL_LOG_INTERVAL = 10.0  # seconds between "refused over the cap" warnings
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
    b"Connection: close\r\nRetry-After: 1\r\n\r\n"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client may hold: connections at once, and how long a socket may sit idle."""

    max_connections: int = 64
    io_timeout: float = 10.0  # seconds any one read or write may wait
    request_deadline: float = 30.0  # seconds a whole request (headers and body) may take


@dataclass(frozen=True, slots=True)
class HttpApp:
    """What the endpoints need from the daemon."""

    healthy: Callable[[], tuple[bool, str]]
    ready: Callable[[], tuple[bool, str]]
    metrics: Callable[[], bytes]
    metrics_content_type: str
    on_push: Callable[[webhook.PushEvent], str]  # returns a short note for the response
    webhook_secret: bytes | None = None
    limits: Limits = field(default_factory=Limits)
    page: Callable[[], str] | None = None  # the timeline page's HTML; None: `/` is not served


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[V6]:PORT` or `:PORT` (all interfaces) -> (host, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"--listen must be HOST:PORT (for example {DEFAULT_LISTEN}), not {text!r}")
    host = host.removeprefix("[").removesuffix("]") or "0.0.0.0"  # noqa: S104 - ":PORT" asks for it
    return host, int(port_text)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never holds up shutdown
    allow_reuse_address = True  # a restarted daemon rebinds at once despite TIME_WAIT
    request_queue_size = 128  # the accept backlog: connections over the cap are answered, not lost

    def __init__(self, address: tuple[str, int], app: HttpApp) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self._slots = BoundedSemaphore(app.limits.max_connections)
        self._deadlines: dict[socket.socket, float] = {}
        self._deadlines_lock = Lock()
        self._refused = 0  # since the last warning
        self._refused_logged = -_REFUSAL_LOG_INTERVAL
        super().__init__(address, _Handler)

    def arm(self, connection: socket.socket, deadline: float | None) -> None:
        """The time by which `connection`'s request must be in; None: no request under way."""
        with self._deadlines_lock:
            if deadline is None:
                self._deadlines.pop(connection, None)
            else:
                self._deadlines[connection] = deadline

    def reap(self, now: float) -> int:
        """Shut down connections whose request is past its deadline; how many."""
        with self._deadlines_lock:
            late = [c for c, deadline in self._deadlines.items() if deadline < now]
            for connection in late:
                del self._deadlines[connection]
        for connection in late:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)  # the handler's read returns at once
        return len(late)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Hand the connection to a thread only while under the cap; else 503 and close."""
        if not self._slots.acquire(blocking=False):
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: socket.socket) -> None:
        # One warning per interval with a count, so a flood does not flood the log too.
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged >= _REFUSAL_LOG_INTERVAL:
            log.warning(
                "http: refused %d connection(s) over the cap of %d",
                self._refused,
                self.app.limits.max_connections,
            )
            self._refused, self._refused_logged = 0, now
        try:
            request.setblocking(False)  # never wait on a client from the accepting thread
            request.send(_BUSY)
        except OSError:
            pass
        self.shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "offerctl"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        # Every socket operation times out, so an idle keep-alive or a stalled
        # sender frees its thread and its slot.
        self.connection.settimeout(self.server.app.limits.io_timeout)
        self._deadline = 0.0
        self._head_only = False  # HEAD: send GET's headers, not its body

    def handle_one_request(self) -> None:
        # The clock starts while waiting for the request line: an idle keep-alive is
        # ended by io_timeout first, a trickling request by the reaper.
        self._deadline = time.monotonic() + self.server.app.limits.request_deadline
        self._head_only = False  # a keep-alive connection reuses this handler
        self.server.arm(self.connection, self._deadline)
        try:
            super().handle_one_request()
        finally:
            self.server.arm(self.connection, None)

    def do_HEAD(self) -> None:
        """GET's status and headers without the body (curl -I, uptime checks)."""
        self._head_only = True
        self.do_GET()

    def do_GET(self) -> None:
        if "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
            # A GET's body is never read: left on a kept-alive connection, it would be
            # parsed as the next request (smuggled past a proxy that shares connections).
            self.close_connection = True
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path == "/" and app.page is not None:
            self._page(app.page)
        elif path == "/healthz":
            ok, why = app.healthy()
            self._text(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, why)
        elif path == "/readyz":
            ok, why = app.ready()
            self._text(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, why)
        elif path == "/metrics":
            self._send(HTTPStatus.OK, app.metrics(), app.metrics_content_type)
        else:
            self._text(HTTPStatus.NOT_FOUND, "not found")

    def do_POST(self) -> None:
        try:
            check_framing(self.headers)
        except BodyRefused as refused:
            self._text(refused.status, refused.message)
            return
        path = self.path.split("?", 1)[0]
        if path == "/" and self.server.app.page is not None:
            self._text(HTTPStatus.METHOD_NOT_ALLOWED, "the page is read-only: GET or HEAD")
            return
        if path != HOOK_PATH:
            self._text(HTTPStatus.NOT_FOUND, "not found")
            return
        app = self.server.app
        if not app.webhook_secret:
            self._text(HTTPStatus.SERVICE_UNAVAILABLE, "webhook disabled: no secret configured")
            return
        length = self.headers.get("Content-Length", "").strip()
        # ASCII digits only: str.isdigit() takes "²", and int() refuses it (or more than
        # 4,300 digits) with a ValueError that dropped the connection with a traceback.
        if not (length.isascii() and length.isdigit()):
            self._text(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return
        if len(length) > len(str(webhook.MAX_BODY)) or int(length) > webhook.MAX_BODY:
            self._text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload too large")
            return
        check = webhook.SignatureCheck.start(
            app.webhook_secret, self.headers.get(webhook.SIGNATURE_HEADER)
        )
        if check is None:  # refused before reading the body: nothing could verify it
            log.warning(
                "webhook refused: no valid signature header from %s", self.client_address[0]
            )
            self._text(HTTPStatus.UNAUTHORIZED, "bad signature")
            return
        kept = self._read_body(int(length), check)
        if kept is None:
            return  # the sender stalled or vanished; the connection is closed
        if not check.valid():
            log.warning("webhook refused: bad signature from %s", self.client_address[0])
            self._text(HTTPStatus.UNAUTHORIZED, "bad signature")
            return
        body, complete = kept
        event = self.headers.get(webhook.EVENT_HEADER, "push")
        if event == "ping":
            self._text(HTTPStatus.OK, "pong")
            return
        if event != "push":
            self._text(HTTPStatus.ACCEPTED, f"ignored event {event}")
            return
        try:
            push = webhook.parse_push(body) if complete else webhook.parse_truncated_push(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self._text(HTTPStatus.BAD_REQUEST, f"not a push payload: {exc}")
            return
        self._text(HTTPStatus.ACCEPTED, app.on_push(push))

    def _read_body(self, length: int, check: webhook.SignatureCheck) -> tuple[bytes, bool] | None:
        """Hash `length` bytes as they arrive, keeping at most MAX_KEPT of them.

        (kept bytes, whether that is the whole body); None when the sender is too
        slow (the body deadline passed) or the connection broke.
        """
        deadline = self._deadline
        kept = bytearray()
        left = length
        try:
            while left:
                if time.monotonic() > deadline:
                    raise TimeoutError("request body deadline passed")
                chunk = self.rfile.read1(min(left, _CHUNK))
                if not chunk:
                    raise ConnectionError("connection closed mid-body")
                left -= len(chunk)
                check.update(chunk)
                room = webhook.MAX_KEPT - len(kept)
                if room > 0:
                    kept += chunk[:room]
        except OSError as exc:
            log.info("webhook body from %s abandoned: %s", self.client_address[0], exc)
            self.close_connection = True
            return None
        return bytes(kept), length <= webhook.MAX_KEPT

    def _page(self, render: Callable[[], str]) -> None:
        try:
            html = render()
        except Exception:  # a broken read must not take the endpoint down, nor show a trace
            log.exception("timeline page failed")
            self._text(HTTPStatus.SERVICE_UNAVAILABLE, "timeline unavailable; see the daemon log")
            return
        self._send(
            HTTPStatus.OK,
            html.encode("utf-8"),
            timeline_page.CONTENT_TYPE,
            timeline_page.SECURITY_HEADERS,
        )

    def _text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        if status >= HTTPStatus.BAD_REQUEST:
            # An unread or refused body must not be parsed as the next request.
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if not self._head_only:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("http %s", format % args)


class HttpServer:
    """The endpoints served from a background thread; `address` is the bound (host, port)."""

    def __init__(self, listen: tuple[str, int], app: HttpApp) -> None:
        try:
            self._server = _Server(listen, app)
        except OSError as exc:
            raise FatalError(f"cannot listen on {listen[0]}:{listen[1]}: {exc.strerror}") from exc
        # A short poll interval bounds how long shutdown waits: SIGTERM must exit in seconds.
        self._thread = Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="offerctl-http",
            daemon=True,
        )
        self._stopped = Event()
        self._reaper = Thread(target=self._reap_forever, name="offerctl-http-reaper", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        self._reaper.start()

    def _reap_forever(self) -> None:
        period = min(1.0, self._server.app.limits.request_deadline / 4)
        while not self._stopped.wait(period):
            self._server.reap(time.monotonic())

    def stop(self) -> None:
        self._stopped.set()
        if self._reaper.is_alive():
            self._reaper.join(timeout=5)
        if self._thread.is_alive():  # shutdown() waits forever for a loop that never ran
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
