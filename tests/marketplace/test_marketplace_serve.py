"""`offerctl marketplace serve` as a real process: serves, answers, stops on signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from marketplace_helpers import payload

from controller.cli import main
from controller.commands import marketplace as marketplace_command
from controller.core.errors import EXIT_FAIL
from controller.core.model import Target
from controller.http.serving import JsonHandler, JsonServer
from controller.marketplace.api import SubmissionResult, idempotency_key
from controller.marketplace.faults import FaultConfig
from controller.marketplace.http_client import HttpMarketplace
from controller.marketplace.simulated import SimulatedMarketplace

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@contextmanager
def serve(*extra: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("OFFERCTL_TIME_SCALE", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "controller",
            "marketplace",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--quiet",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else line
        url = line.split("serving ", 1)[1].split()[0]
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # reaps the process and closes its pipes


class TestServe:
    """The served marketplace is the simulated one, end to end, and shuts down cleanly."""

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
    def test_serves_until_a_signal_then_exits_zero(self, tmp_path: Path, sig: int) -> None:
        db = tmp_path / "m.sqlite3"
        with serve("--db", str(db), "--time-scale", "1e9") as (proc, url):
            client = HttpMarketplace(url, timeout=5)
            key = idempotency_key("o", "g")
            made = client.submit("o", "g", Target.LIVE, payload(), key)
            assert client.find(key) == client.get(made.id)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "stopped" in out
        # The state outlives the server: it is the simulated marketplace's file.
        stored = SimulatedMarketplace(db).get(made.id)
        assert stored.result == SubmissionResult.PENDING  # awaiting sign-off forever

    def test_injected_faults_are_absorbed_by_the_client(self, tmp_path: Path) -> None:
        faults = ["--fault-rate", "error=0.3", "--fault-rate", "throttle=0.2,retry_after=0"]
        with serve("--db", str(tmp_path / "m.db"), *faults) as (proc, url):
            client = HttpMarketplace(url, timeout=5, max_retries=30, sleep=lambda _: None)
            for _ in range(5):
                assert client.listing("o").offer == "o"
            assert client.retries > 0
            proc.terminate()
            proc.communicate(timeout=10)
        assert proc.returncode == 0


class TestServeUsage:
    """Bad command lines exit 2 with a message."""

    @pytest.mark.parametrize(
        "argv",
        [
            ["--listen", "nope"],
            ["--listen", "127.0.0.1:99999"],
            ["--fault-rate", "error=5"],
            ["--fault-rate", "bogus"],
            ["--time-scale", "0"],
        ],
    )
    def test_bad_arguments(self, tmp_path: Path, argv: list[str]) -> None:
        code = main(["marketplace", "serve", "--db", str(tmp_path / "m.db"), *argv])
        assert code == 2

    def test_default_state_file_needs_a_git_repository(self, tmp_path: Path) -> None:
        assert main(["marketplace", "serve", "--repo", str(tmp_path)]) == 2

    def test_marketplace_without_a_verb_is_a_usage_error(self) -> None:
        assert main(["marketplace"]) == 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_server_thread_that_ends_on_its_own_exits_non_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A supervisor restarts a server that died; it must not read its end as a clean stop."""

    class Dying(JsonServer):
        def service_actions(self) -> None:  # runs in serve_forever's loop, on its thread
            raise OSError("the listening socket went away")

    server = Dying(("127.0.0.1", 0), JsonHandler)
    code = marketplace_command._serve(server, server.base_url, "test", FaultConfig())
    assert code == EXIT_FAIL
    assert "ended on its own" in capsys.readouterr().err
