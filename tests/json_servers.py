"""Our two JSON servers (`controller/http/serving.py`) on loopback ports, for raw-HTTP tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from controller.marketplace.pcemu.server import API_PREFIX, running_emulator
from controller.marketplace.server import running_server
from controller.marketplace.simulated import SimulatedMarketplace

KINDS = ["simulated", "pcemu"]


@contextmanager
def json_server(kind: str, tmp_path: Path) -> Iterator[tuple[str, int, str]]:
    """(host, port, a GET path that answers) of the simulated marketplace's server or the
    Partner Center emulator, serving a fresh simulated marketplace."""
    sim = SimulatedMarketplace(tmp_path / "m.sqlite3")
    if kind == "simulated":
        with running_server(sim, max_body=10_000) as server:
            host, port = server.server_address[:2]
            yield str(host), int(port), "/healthz"
    else:
        with running_emulator(sim) as emulator:
            host, port = emulator.server_address[:2]
            yield str(host), int(port), API_PREFIX + "/products"
