"""`offerctl marketplace serve`: the simulated marketplace over HTTP, until SIGTERM/SIGINT.

Other processes then reach it with `--marketplace http://HOST:PORT`; with
`--api partnercenter` it speaks the Partner Center ingestion API v1 instead
(`controller.marketplace.pcemu`), reached with
`--marketplace partnercenter+http://HOST:PORT/v1.0/ingestion`. The
state file defaults to the one the embedded simulator uses
(`<repo>/.git/offerctl/marketplace.sqlite3`), so switching a repository
between the embedded and the served marketplace keeps its submissions.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from controller.core.errors import EXIT_FAIL, EXIT_OK, UsageError
from controller.http.serving import JsonServer, serve_until
from controller.marketplace.api import MarketplaceError
from controller.marketplace.factory import default_db_path, find_git_dir, resolve_time_scale
from controller.marketplace.faults import FaultConfig, FaultConfigError
from controller.marketplace.pcemu.server import PartnerCenterEmulator
from controller.marketplace.server import MarketplaceServer
from controller.marketplace.simulated import SimulatedMarketplace

DEFAULT_LISTEN = "127.0.0.1:8765"


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[::1]:PORT` or `:PORT` (loopback)."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise UsageError(f"--listen {text!r}: port is not a number") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"--listen {text!r}: port out of range")
    return host, port


def run_serve(args: argparse.Namespace) -> int:
    host, port = parse_listen(args.listen)
    db = Path(args.db) if args.db else _default_db(Path(args.repo))
    scale = resolve_time_scale(args.time_scale)
    try:
        faults = FaultConfig().with_settings(list(args.faults))
    except FaultConfigError as exc:
        raise UsageError(f"--fault-rate: {exc}") from None
    if args.max_body <= 0:
        raise UsageError("--max-body must be positive")
    try:
        marketplace = SimulatedMarketplace(db, time_scale=scale, seed=args.seed)
    except MarketplaceError as exc:
        raise UsageError(str(exc)) from None
    log = None if args.quiet else _log
    if args.api == "partnercenter":
        return _serve_partnercenter(args, (host, port), marketplace, faults, log, db, scale)
    try:
        server = MarketplaceServer(
            (host, port),
            marketplace,
            faults=faults if faults.enabled else None,
            max_body=args.max_body,
            log=log,
        )
    except OSError as exc:
        raise UsageError(f"--listen {args.listen}: {exc.strerror or exc}") from None
    return _serve(server, server.url, f"state {db}, time scale {scale:g}", faults)


def _serve_partnercenter(  # noqa: PLR0917 - the composition root of one command
    args: argparse.Namespace,
    address: tuple[str, int],
    engine: SimulatedMarketplace,
    faults: FaultConfig,
    log: Any,
    db: Path,
    scale: float,
) -> int:
    if args.publisher_id is not None and not args.publisher_id.isdigit():
        raise UsageError("--publisher-id must be a positive number, as Partner Center's seller id")
    try:
        server = PartnerCenterEmulator(
            address,
            engine,
            token=args.token,
            publisher_id=args.publisher_id,
            faults=faults,
            certification_after_signoff=args.certification_after_signoff,
            check_requests=args.contract_check,
            log=log,
        )
    except OSError as exc:
        raise UsageError(f"--listen {args.listen}: {exc.strerror or exc}") from None
    about = f"Partner Center v1 emulator, state {db}, time scale {scale:g}"
    return _serve(server, server.url, about, faults)


def _serve(server: JsonServer, url: str, about: str, faults: FaultConfig) -> int:
    """Serve until SIGTERM or SIGINT, saying where and what first; EXIT_FAIL when the
    server thread ended on its own (a supervisor must see that it did not stop cleanly)."""
    stop = threading.Event()
    ended: list[bool] = []
    with _signals_set(stop):
        fault_note = f", faults {_describe(faults)}" if faults.enabled else ""
        print(f"offerctl marketplace: serving {url} ({about}{fault_note})", flush=True)
        serve_until(server, stop, "marketplace-http", on_thread_end=lambda: ended.append(True))
    if ended:
        print("offerctl marketplace: the server thread ended on its own", file=sys.stderr)
        return EXIT_FAIL
    print("offerctl marketplace: stopped", flush=True)
    return EXIT_OK


@contextmanager
def _signals_set(stop: threading.Event) -> Iterator[None]:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _default_db(repo: Path) -> Path:
    git_dir = find_git_dir(repo)
    if git_dir is None:
        raise UsageError(f"{repo} is not a git repository; pass --db PATH")
    return default_db_path(git_dir)


def _describe(faults: FaultConfig) -> str:
    parts = [f"{k}={getattr(faults, k):g}" for k in ("error", "timeout", "throttle", "reset")]
    return " ".join(p for p in parts if not p.endswith("=0"))


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
