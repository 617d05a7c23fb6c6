"""A Marketplace served as JSON over HTTP: what `offerctl marketplace serve` runs.

The routes are those `http_client` documents; payload files travel base64 in
JSON. Error answers are `{"error": {"code", "message"}}` with 400 (malformed
request), 404 (NotFound or no such route), 405, 409 (InvalidState), 411,
413 (body over `max_body`), 415, 422 (refused), 503 (transient, with
Retry-After when known).

Faults (`faults.FaultConfig`) are applied per request here, at the HTTP layer,
so the HTTP client meets them as it would meet a real service: 503, 429 with
Retry-After, a request held past the client's timeout, or a connection
dropped after the call took effect.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from controller.core.model import Target
from controller.http.serving import BodyRefused, JsonHandler, JsonServer, serving

from . import wire
from .api import InvalidState, Marketplace, MarketplaceError, NotFound
from .faults import Fault, FaultConfig, FaultInjector, as_injector

DEFAULT_MAX_BODY = 64 * 1024 * 1024  # technical packages travel base64 inside the JSON

_SUBMISSION = re.compile(r"^/submissions/([^/]+)$")
_SUBMISSION_ACTION = re.compile(r"^/submissions/([^/]+)/(go-live|cancel)$")
_OFFER = re.compile(r"^/offers/([^/]+)$")
_OFFER_WITHDRAW = re.compile(r"^/offers/([^/]+)/withdraw$")


class _Reply(Exception):
    """An error answer, raised from deep inside a handler."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class MarketplaceServer(JsonServer):
    """A threading HTTP server bound to one Marketplace (usually a SimulatedMarketplace)."""

    def __init__(
        self,
        address: tuple[str, int],
        marketplace: Marketplace,
        *,
        faults: FaultConfig | FaultInjector | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.marketplace = marketplace
        self.faults = as_injector(faults)
        self.max_body = max_body
        self.log = log

    @property
    def url(self) -> str:
        return self.base_url


@contextmanager
def running_server(
    marketplace: Marketplace,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: FaultConfig | FaultInjector | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> Iterator[MarketplaceServer]:
    """A server on a background thread for the duration of the block (tests, demos)."""
    server = MarketplaceServer((host, port), marketplace, faults=faults, max_body=max_body)
    with serving(server, "marketplace-http"):
        yield server


# Error codes of a refused body (`serving.BodyRefused`), by status.
_BODY_CODES = {
    HTTPStatus.BAD_REQUEST: "BadRequest",
    HTTPStatus.LENGTH_REQUIRED: "LengthRequired",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "TooLarge",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "UnsupportedMediaType",
}


class _Handler(JsonHandler):
    server: MarketplaceServer
    server_version = "offerctl-marketplace"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")

    # --- dispatch -------------------------------------------------------------------------

    def answer(self, method: str) -> None:
        fault = self.server.faults.draw() if self.server.faults else None
        try:
            try:
                # The body first: an early (faulted) answer that left it unread would have
                # it parsed as the next request on a kept-alive connection.
                raw = self.read_body(self.server.max_body)
                body = self.json_body(raw) if method in ("POST", "PUT") else None
            except BodyRefused as refused:
                raise _Reply(refused.status, _BODY_CODES[refused.status], refused.message) from None
            if fault is not None and self._before(fault):
                return
            result = self._route(method, body)
        except _Reply as reply:
            self._send_error(reply)
            return
        if fault == Fault.RESET:
            self.drop()  # it happened; the caller will never know
            return
        self.send_json(HTTPStatus.OK, result)

    def _before(self, fault: Fault) -> bool:
        """Apply a fault that strikes before the call; True when the answer is sent."""
        config = self.server.faults.config if self.server.faults else FaultConfig()
        if fault == Fault.ERROR:
            raise _Reply(503, "Unavailable", "injected fault: service unavailable")
        if fault == Fault.THROTTLE:
            raise _Reply(429, "Throttled", "injected fault: too many requests", config.retry_after)
        if fault == Fault.TIMEOUT:
            # Hold the request past the client's timeout; shutdown wakes it early.
            self.server.stopping.wait(config.timeout_delay)
            raise _Reply(504, "Timeout", "injected fault: timed out")
        return False

    def _route(self, method: str, body: Any) -> Any:
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        mp = self.server.marketplace
        try:
            if path == "/healthz":
                self._expect(method, "GET")
                return {"ok": True}
            if path == "/submissions":
                if method == "POST":
                    return self._submit(body)
                self._expect(method, "GET")
                return self._find(urllib.parse.parse_qs(url.query))
            if m := _SUBMISSION.match(path):
                self._expect(method, "GET")
                return wire.submission_to_json(mp.get(_unquote(m[1])))
            if m := _SUBMISSION_ACTION.match(path):
                self._expect(method, "POST")
                sid = _unquote(m[1])
                done = mp.go_live(sid) if m[2] == "go-live" else mp.cancel(sid)
                return wire.submission_to_json(done)
            if m := _OFFER_WITHDRAW.match(path):
                self._expect(method, "POST")
                return wire.listing_to_json(mp.withdraw(_unquote(m[1])))
            if m := _OFFER.match(path):
                self._expect(method, "GET")
                return wire.listing_to_json(mp.listing(_unquote(m[1])))
        except NotFound as exc:
            raise _Reply(404, "NotFound", str(exc)) from None
        except InvalidState as exc:
            raise _Reply(409, "InvalidState", str(exc)) from None
        except wire.WireError as exc:
            raise _Reply(400, "BadRequest", str(exc)) from None
        except MarketplaceError as exc:
            if exc.transient:
                raise _Reply(503, "Unavailable", str(exc), exc.retry_after) from None
            raise _Reply(422, "Refused", str(exc)) from None
        raise _Reply(404, "NoRoute", f"no route {path}")

    def _submit(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise wire.WireError("submit: the body is not an object")
        key = body.get("idempotencyKey")
        header = self.headers.get("Idempotency-Key")
        if not isinstance(key, str) or not key:
            raise wire.WireError("submit: idempotencyKey is required")
        if header is not None and header != key:
            raise wire.WireError("submit: Idempotency-Key header and body disagree")
        offer, generation = body.get("offer"), body.get("generation")
        if not isinstance(offer, str) or not isinstance(generation, str):
            raise wire.WireError("submit: offer and generation must be strings")
        try:
            target = Target(str(body.get("target")))
        except ValueError:
            raise wire.WireError(f"submit: target {body.get('target')!r} is unknown") from None
        payload = wire.payload_from_json(body.get("payload"))
        submission = self.server.marketplace.submit(offer, generation, target, payload, key)
        return wire.submission_to_json(submission)

    def _find(self, query: dict[str, list[str]]) -> Any:
        keys = query.get("key", [])
        if len(keys) != 1:
            raise wire.WireError("GET /submissions needs exactly one key=... parameter")
        found = self.server.marketplace.find(keys[0])
        return {"items": [] if found is None else [wire.submission_to_json(found)]}

    @staticmethod
    def _expect(method: str, allowed: str) -> None:
        if method != allowed:
            raise _Reply(405, "MethodNotAllowed", f"use {allowed}")

    # --- I/O --------------------------------------------------------------------------------

    def _send_error(self, reply: _Reply) -> None:
        headers = {}
        if reply.retry_after is not None and math.isfinite(reply.retry_after):
            # delta-seconds is an integer; round up so a client never comes back early.
            headers["Retry-After"] = str(math.ceil(max(0.0, reply.retry_after)))
        self.send_json(reply.status, wire.error_to_json(reply.code, reply.message), headers)


def _unquote(segment: str) -> str:
    return urllib.parse.unquote(segment)
