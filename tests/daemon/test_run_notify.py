"""`offerctl run --notify` as a real process: a rejection reaches a webhook once, across a
restart, and the log names each transition (offer, from, to, why) as one JSON line."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from daemon_helpers import http, wait_until
from test_run_process import Daemon, World

pytestmark = pytest.mark.slow(budget=90)


@contextmanager
def receiver() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], bodies
    finally:
        server.shutdown()
        server.server_close()


def ready(daemon: Daemon) -> None:
    # With --notify the daemon loads apprise's plugins before it listens: seconds on a busy
    # machine, so a wait longer than the other process tests' 10 s.
    wait_until(
        lambda: any("listening on" in line for line in daemon.lines), timeout=45, what="listen"
    )
    port = daemon.port()
    wait_until(
        lambda: http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200, timeout=20, what="ready"
    )


def test_a_rejection_is_sent_once_across_a_restart_and_logged_as_a_transition(
    tmp_path: Path,
) -> None:
    world = World(tmp_path)
    with receiver() as (port, bodies):
        url = f"json://127.0.0.1:{port}/offerctl"
        first = Daemon(world, "--notify", url)
        try:
            ready(first)
            world.add_offer("tailspin-quote-builder")
            wait_until(lambda: bool(bodies), timeout=30, what="the rejection to be sent")
        finally:
            assert first.stop(signal.SIGTERM) == 0
        second = Daemon(world, "--notify", url)  # the same state seen again after a restart
        try:
            ready(second)
        finally:
            assert second.stop(signal.SIGTERM) == 0
    assert [b["title"] for b in bodies] == [
        "offerctl: tailspin-quote-builder rejected by certification"
    ]
    lines = [json.loads(line) for line in first.lines if line.startswith("{")]
    moved = [x for x in lines if x.get("to") == "Rejected"]
    assert len(moved) == 1
    assert moved[0]["offer"] == "tailspin-quote-builder"
    assert moved[0]["why"].startswith("CertificationRejected: ")
    assert moved[0]["msg"] == f"moved {moved[0]['from']} -> Rejected: {moved[0]['why']}"
    passes = [x for x in lines if x["msg"].startswith("pass done")]
    assert passes and all("pass_seconds" in x and "seconds" not in x for x in passes)
