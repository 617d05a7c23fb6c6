"""The webhook endpoint bounds what an unauthenticated client can hold: threads, time, memory.

Each test starts the real HTTP server on a free loopback port and talks to it
with raw sockets, the way a hostile client would: idle connections, a body
declared but never sent, slow senders, many large unsigned bodies at once.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest

from controller.daemon import webhook
from controller.daemon.http import HttpApp, HttpServer, Limits

SECRET = b"correct horse battery staple"


class Recorder:
    def __init__(self) -> None:
        self.pushes: list[webhook.PushEvent] = []

    def __call__(self, push: webhook.PushEvent) -> str:
        self.pushes.append(push)
        return "queued"


@contextmanager
def serving(limits: Limits | None = None) -> Iterator[tuple[int, Recorder]]:
    recorder = Recorder()
    app = HttpApp(
        healthy=lambda: (True, "ok"),
        ready=lambda: (True, "ok"),
        metrics=lambda: b"",
        metrics_content_type="text/plain",
        on_push=recorder,
        webhook_secret=SECRET,
        **({"limits": limits} if limits is not None else {}),
    )
    server = HttpServer(("127.0.0.1", 0), app)
    server.start()
    try:
        yield server.address[1], recorder
    finally:
        server.stop()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def head(length: int, signature: str | None, event: str = "push") -> bytes:
    lines = [
        "POST /hooks/git HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        f"X-GitHub-Event: {event}",
    ]
    if signature is not None:
        lines.append(f"{webhook.SIGNATURE_HEADER}: {signature}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_line(sock: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def test_idle_connections_beyond_the_cap_hold_no_threads() -> None:
    limits = Limits()
    with serving() as (port, recorder), ExitStack() as stack:
        baseline = threading.active_count()
        socks = [stack.enter_context(connect(port)) for _ in range(limits.max_connections + 40)]
        # The last one is answered once the server has accepted all the others.
        assert status_line(socks[-1]).startswith("HTTP/1.1 503")

        assert threading.active_count() - baseline <= limits.max_connections

        for sock in socks:
            sock.close()
        assert wait_for(lambda: threading.active_count() - baseline <= 1, timeout=5)
        body = json.dumps({"ref": "refs/heads/main", "commits": []}).encode()
        with connect(port) as sock:
            sock.sendall(head(len(body), webhook.sign(SECRET, body)) + body)
            assert status_line(sock).startswith("HTTP/1.1 202")
        assert len(recorder.pushes) == 1


def test_an_idle_connection_is_closed_after_the_io_timeout() -> None:
    with serving(Limits(io_timeout=0.3)) as (port, _), connect(port) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""  # the server hung up on us
        assert time.monotonic() - started < 5


def test_an_unsigned_large_body_is_refused_before_it_is_sent() -> None:
    with serving() as (port, recorder), connect(port) as sock:
        sock.sendall(head(webhook.MAX_BODY - 1, signature=None))  # headers only, no body
        sock.settimeout(3)
        assert status_line(sock).startswith("HTTP/1.1 401")
        assert recorder.pushes == []


def test_a_declared_length_over_the_cap_is_refused_before_it_is_sent() -> None:
    with serving() as (port, _), connect(port) as sock:
        sock.sendall(head(webhook.MAX_BODY + 1, webhook.sign(SECRET, b"")))
        sock.settimeout(3)
        assert status_line(sock).startswith("HTTP/1.1 413")


def test_a_slow_body_is_dropped_at_the_deadline() -> None:
    with serving(Limits(io_timeout=2, request_deadline=0.5)) as (port, recorder):
        with connect(port) as sock:
            sock.sendall(head(1000, webhook.sign(SECRET, b"x" * 1000)))
            started = time.monotonic()
            closed = False
            while time.monotonic() - started < 5:
                try:
                    sock.sendall(b"x")
                except OSError:
                    closed = True
                    break
                sock.settimeout(0.2)
                try:
                    if sock.recv(1) == b"":
                        closed = True
                        break
                except TimeoutError:
                    continue
            assert closed
            assert time.monotonic() - started < 3
        assert recorder.pushes == []


def test_headers_trickled_a_byte_at_a_time_are_cut_off_at_the_deadline() -> None:
    with serving(Limits(io_timeout=2, request_deadline=0.8)) as (port, _), connect(port) as sock:
        sock.sendall(b"POST /hooks/git HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        sock.settimeout(0.2)
        while time.monotonic() - started < 6:
            try:
                sock.sendall(b"X")  # one more byte of an endless header line
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed
        assert time.monotonic() - started < 4


def test_many_large_mis_signed_bodies_are_hashed_not_buffered() -> None:
    size = 4 * 1024 * 1024
    body = b" " * size
    wrong = webhook.sign(b"not the secret", body)
    senders = 8
    tracemalloc.start()
    try:
        with serving() as (port, recorder):
            tracemalloc.reset_peak()
            answers: list[str] = []

            def send() -> None:
                with connect(port) as sock:
                    sock.sendall(head(size, wrong))
                    sock.sendall(body)  # no copy: only the server's memory is measured
                    answers.append(status_line(sock))

            threads = [threading.Thread(target=send) for _ in range(senders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert answers == ["HTTP/1.1 401 Unauthorized"] * senders
    assert recorder.pushes == []
    # Buffering each body would be 32 MiB; hashing as it arrives keeps a few chunks each.
    assert peak < senders * (webhook.MAX_KEPT + 256 * 1024) + 2 * 1024 * 1024, peak


def test_an_authentic_push_larger_than_kept_asks_for_a_full_pass() -> None:
    commits = [{"id": f"c{i}", "modified": [f"offers/a/file{i}"]} for i in range(5)]
    payload = {"ref": "refs/heads/main", "commits": commits, "pad": "x" * (webhook.MAX_KEPT * 2)}
    body = json.dumps(payload).encode()
    with serving() as (port, recorder), connect(port) as sock:
        sock.sendall(head(len(body), webhook.sign(SECRET, body)) + body)
        assert status_line(sock).startswith("HTTP/1.1 202")
    assert recorder.pushes == [
        webhook.PushEvent(ref="refs/heads/main", keys=frozenset({webhook.ALL}))
    ]


@pytest.mark.parametrize("header", ["sha256=", "sha256=zz", "sha1=" + "0" * 40, ""])
def test_a_malformed_signature_header_is_refused_without_reading(header: str) -> None:
    with serving() as (port, _), connect(port) as sock:
        sock.sendall(head(1024 * 1024, header))
        sock.settimeout(3)
        assert status_line(sock).startswith("HTTP/1.1 401")
