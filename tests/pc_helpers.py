"""The Partner Center emulator in a subprocess on a free loopback port, and a client for it.

`emulator()` starts `offerctl marketplace serve --api partnercenter`, yields an
`Emulator` (base URL, admin calls), and kills it afterwards. `client()` opens
the real adapter through the factory, exactly as `--marketplace
partnercenter+http://…` does, with fast retries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.http import RetryPolicy
from controller.marketplace.partnercenter import PartnerCenterMarketplace, open_partnercenter
from controller.marketplace.partnercenter.package import BlobPackageStore

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-7c1e9d0b5f"


FAST_RETRIES = RetryPolicy(
    timeout=10, max_attempts=8, backoff=0.01, max_backoff=0.05, max_retry_after=5
)


@dataclass
class Emulator:
    proc: subprocess.Popen[str]
    url: str  # the API base, .../v1.0/ingestion

    @property
    def root(self) -> str:
        return self.url.split("/v1.0/", 1)[0]

    def admin(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback test server
            f"{self.root}/_emulator/{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.admin("stats")
        return result


@contextmanager
def emulator(tmp_path: Path, *extra: str, time_scale: str = "1e7",
             env_extra: dict[str, str] | None = None) -> Iterator[Emulator]:  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO), **(env_extra or {}))
    for name in ("OFFERCTL_TIME_SCALE", "OFFERCTL_FAULTS"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", "marketplace", "serve", "--api", "partnercenter",
         "--listen", "127.0.0.1:0", "--quiet", "--db", str(tmp_path / "pc-emulator.db"),
         "--time-scale", time_scale, "--token", TOKEN, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else line
        yield Emulator(proc, line.split("serving ", 1)[1].split()[0])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def client(emu: Emulator, tmp_path: Path, *, poll_interval: float = 0.0,
           env: dict[str, str] | None = None, state: str = "pc-state.json",
           package_store: BlobPackageStore | None = None,
           ) -> PartnerCenterMarketplace:  # fmt: skip
    environ = {"OFFERCTL_PARTNERCENTER_TOKEN": TOKEN,
               "OFFERCTL_PARTNERCENTER_STATE": str(tmp_path / state), **(env or {})}  # fmt: skip
    return open_partnercenter(
        f"partnercenter+{emu.url}",
        repo_git_dir=None,
        env=environ,
        poll_interval=poll_interval,
        policy=FAST_RETRIES,
        package_store=package_store,
    )


@contextmanager
def file_server(files: dict[str, bytes]) -> Iterator[str]:
    """A loopback HTTP server answering GET /NAME with files[NAME]; yields its base URL.

    Stands in for a blob container where a test gives `packageLocationUrl`
    directly (the emulator fetches the package from there, as Partner Center does).
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.split("?", 1)[0].lstrip("/")
            body = files.get(name)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
