"""`offerctl marketplace serve --api partnercenter` as a real process: serves v1, logs no secret."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pcemu_helpers import shared_http

from controller.cli import main

REPO = Path(__file__).resolve().parents[2]
SECRET_TOKEN = "s3cret-bearer-d0-not-log"  # the test greps the logs for it
pytestmark = pytest.mark.slow  # a Python subprocess (about a second on a busy machine)


def test_serves_the_v1_api_logs_without_the_token_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("OFFERCTL_TIME_SCALE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller", "marketplace", "serve", "--api", "partnercenter",
         "--listen", "127.0.0.1:0", "--db", str(tmp_path / "engine.sqlite3"),
         "--token", SECRET_TOKEN, "--publisher-id", "4242"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split("serving ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1.0/ingestion")
        http = shared_http()
        good = {"Authorization": f"Bearer {SECRET_TOKEN}", "x-ms-publisherId": "4242"}
        assert http.get(f"{url}/products", headers=good).json() == {"value": []}
        wrong = {"Authorization": "Bearer other", "x-ms-publisherId": "4242"}
        assert http.get(f"{url}/products", headers=wrong).status_code == 401
        no_seller = {"Authorization": f"Bearer {SECRET_TOKEN}"}
        assert http.get(f"{url}/products", headers=no_seller).status_code == 400
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "GET /v1.0/ingestion/products 401" in err  # requests are logged...
    assert SECRET_TOKEN not in line + out + err  # ...but never the token


@pytest.mark.parametrize(
    "argv",
    [["--publisher-id", "seller-x"], ["--fault-rate", "retry_after_date=-1"]],
    ids=["publisher-id-not-a-number", "negative-retry-after-date"],
)
def test_bad_emulator_arguments_are_usage_errors(tmp_path: Path, argv: list[str]) -> None:
    code = main(["marketplace", "serve", "--api", "partnercenter", "--listen", "127.0.0.1:0",
                 "--db", str(tmp_path / "engine.sqlite3"), *argv])  # fmt: skip
    assert code == 2
