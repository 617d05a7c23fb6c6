"""Statuses in the shapes the pipeline writes, and local receivers for notifications."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from controller.core.model import (
    Condition,
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    Stage,
    StageState,
    StageStatus,
    SubmissionRef,
    Target,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GEN = "sha256:" + "ab" * 32


def submission(sub: str = "sub-1", target: Target = Target.LIVE) -> SubmissionRef:
    return SubmissionRef(sub, GEN, f"key-{sub}", target)


def rejected(offer: str = "contoso-x", sub: str = "sub-1", message: str = "") -> OfferStatus:
    return OfferStatus(
        offer=offer,
        phase=Phase.REJECTED,
        target=Target.LIVE,
        observed_generation=GEN,
        observed_commit="c" * 40,
        submission=submission(sub),
        conditions=(
            Condition(
                ConditionType.READY,
                ConditionStatus.FALSE,
                "CertificationRejected",
                "certification returned 2 findings",
                NOW,
            ),
        ),
        feedback=(
            Finding(
                "ListingNameTooLong",
                message or "the name is longer than 50 characters",
                "$.spec.listings.en-us.name",
                stage="Certification",
            ),
            Finding(
                "BrokenLink",
                "link answers 404",
                "$.spec.listings.en-us.usefulLinks[0].url",
                stage="Certification",
                file="offers/contoso-x/offer.yaml",
                line=17,
            ),
        ),
    )


def awaiting(offer: str = "contoso-x") -> OfferStatus:
    return OfferStatus(
        offer=offer,
        phase=Phase.AWAITING_SIGNOFF,
        target=Target.LIVE,
        observed_generation=GEN,
        submission=submission(),
        preview_url="https://preview.example/contoso-x",
    )


def live(offer: str = "contoso-x", generation: str = GEN) -> OfferStatus:
    return OfferStatus(
        offer=offer,
        phase=Phase.LIVE,
        target=Target.LIVE,
        observed_generation=generation,
        live_generation=generation,
    )


def certifying(offer: str = "contoso-x", started: datetime = NOW) -> OfferStatus:
    return OfferStatus(
        offer=offer,
        phase=Phase.CERTIFYING,
        target=Target.LIVE,
        observed_generation=GEN,
        submission=submission(),
        stages=(
            StageStatus(Stage.VALIDATION, StageState.SUCCEEDED, started, started),
            StageStatus(
                Stage.CERTIFICATION, StageState.RUNNING, started, None, started + timedelta(days=9)
            ),
        ),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refused_port() -> int:
    """A port nothing listens on (bound, then closed): connecting is refused at once."""
    return free_port()


@dataclass
class Mailbox:
    port: int
    messages: list[str] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        self.arrived.set()
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1: a real SMTP server receiving what apprise sends."""
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Hooks:
    port: int
    bodies: list[dict[str, Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@contextmanager
def webhook_receiver(port: int = 0) -> Iterator[Hooks]:
    """An HTTP server on 127.0.0.1 that records each JSON body POSTed to it."""
    hooks = Hooks(port)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            hooks.bodies.append(json.loads(self.rfile.read(length)))
            hooks.arrived.set()
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    hooks.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield hooks
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=2)
