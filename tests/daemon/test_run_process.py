"""`offerctl run` as a real process (issue #6, item 7): status arrives, signals, SIGKILL storms.

Each test starts the daemon on a clone of a bare "remote" with the simulated
marketplace in a SQLite file the test can read, a time scale of 1,000,000
(a week in 0.6 s), and bounded waits everywhere. A second clone plays the
person who pushes manifests.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from daemon_helpers import http, wait_until

from controller.daemon.webhook import sign
from controller.marketplace.simulated import SimulatedMarketplace

pytestmark = pytest.mark.slow(budget=60)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "offers"
SCALE = "1000000"
# Where each shipped example settles without anyone signing off: northwind is a draft,
# fabrikam a preview, contoso waits for sign-off and tailspin's package fails certification.
SETTLED = {"Draft", "Preview", "AwaitingSignOff", "Rejected"}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


class World:
    """A bare remote, the daemon's clone, a person's clone and a marketplace database."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.remote = root / "remote.git"
        self.db = root / "marketplace.sqlite3"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.remote))
        self.person = root / "person"
        git(root, "clone", "-q", str(self.remote), str(self.person))
        (self.person / "README.md").write_text("offers\n")
        self.person_commits = [self.commit("Start the offers repository")]
        self.checkout = root / "daemon"
        git(root, "clone", "-q", str(self.remote), str(self.checkout))

    def commit(self, message: str) -> str:
        git(self.person, "add", "-A")
        git(self.person, "commit", "-q", "--allow-empty", "-m", message)
        for _ in range(20):  # the daemon pushes status too: rebase, never force
            if (
                subprocess.run(
                    ["git", "push", "-q", "origin", "HEAD:main"],
                    cwd=self.person,
                    capture_output=True,
                    check=False,
                ).returncode
                == 0
            ):
                break
            git(self.person, "pull", "-q", "--rebase", "origin", "main")
        else:
            raise AssertionError("the person could not push in 20 tries")
        return git(self.person, "rev-parse", "HEAD").strip()

    def add_offer(self, name: str) -> str:
        shutil.copytree(EXAMPLES / name, self.person / "offers" / name)
        sha = self.commit(f"Add {name}")
        self.person_commits.append(sha)
        return sha

    def remote_status(self, offer: str) -> dict[str, object] | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.remote), "show", f"main:offers/{offer}/status.yaml"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return None
        loaded = yaml.safe_load(done.stdout)
        return loaded if isinstance(loaded, dict) else None

    def submissions_per_generation(self) -> Counter[tuple[str, str]]:
        market = SimulatedMarketplace(self.db, time_scale=float(SCALE))
        return Counter((s.offer, s.generation) for s in market.submissions())


class Daemon:
    """`offerctl run` in a subprocess, its log lines collected as they come."""

    def __init__(self, world: World, *extra: str, env: dict[str, str] | None = None) -> None:
        argv = [
            sys.executable,
            "-m",
            "controller",
            "run",
            "--repo",
            str(world.checkout),
            "--remote",
            "origin",
            "--branch",
            "main",
            "--interval",
            "0.2",
            "--listen",
            "127.0.0.1:0",
            "--marketplace",
            f"sqlite://{world.db}",
            "--time-scale",
            SCALE,
            "--log-format",
            "json",
            *extra,
        ]
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def port(self) -> int:
        def found() -> bool:
            return any("listening on" in line for line in self.lines)

        wait_until(found, timeout=10, what="the daemon to listen")
        line = next(line for line in self.lines if "listening on" in line)
        match = re.search(r":(\d+)\b", json.loads(line)["msg"])
        assert match is not None
        return int(match.group(1))

    def stop(self, sig: int | None = signal.SIGTERM, timeout: float = 10) -> int:
        """Send `sig` (None: just wait) and return the exit status."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return code

    def log(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.fixture
def daemon(world: World) -> Iterator[Daemon]:
    running = Daemon(world)
    try:
        yield running
    finally:
        running.stop(signal.SIGKILL)


def wait_settled(world: World, daemon: Daemon, offers: list[str], timeout: float) -> None:
    try:
        wait_until(lambda: settled(world, offers), timeout=timeout, what="offers to settle")
    except AssertionError as exc:
        states = {o: (world.remote_status(o) or {}).get("phase") for o in offers}
        raise AssertionError(f"{exc}; phases {states}; log:\n{daemon.log()[-4000:]}") from None


def settled(world: World, offers: list[str]) -> bool:
    for offer in offers:
        found = world.remote_status(offer)
        if found is None or found.get("phase") not in SETTLED:
            return False
    return True


def test_a_pushed_manifest_gets_its_status_on_the_remote(world: World, daemon: Daemon) -> None:
    port = daemon.port()
    wait_until(
        lambda: http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200, timeout=15, what="ready"
    )
    world.add_offer("fabrikam-case-triage")
    wait_settled(world, daemon, ["fabrikam-case-triage"], timeout=20)
    assert world.remote_status("fabrikam-case-triage")["phase"] == "Preview"  # type: ignore[index]
    _, metrics = http("GET", f"http://127.0.0.1:{port}/metrics")
    assert 'offerctl_passes_total{outcome="ok"}' in metrics
    # The timeline page at `/` shows the committed status (the tip is recorded after the push).
    wait_until(
        lambda: (
            '<span class="phase ok">Preview</span>' in http("GET", f"http://127.0.0.1:{port}/")[1]
        ),
        timeout=5,
        what="the timeline page to show the offer's phase",
    )


def test_sigterm_exits_zero_within_seconds(world: World, daemon: Daemon) -> None:
    port = daemon.port()
    wait_until(
        lambda: http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200, timeout=15, what="ready"
    )
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5
    assert "stopped" in daemon.log()


def test_a_second_daemon_on_the_same_checkout_exits_1_naming_the_first(
    world: World, daemon: Daemon
) -> None:
    daemon.port()
    second = Daemon(world)
    assert second.stop(None, timeout=15) == 1
    assert f"another offerctl daemon (pid {daemon.proc.pid}) holds" in second.log()


def test_a_mis_signed_webhook_is_refused(world: World) -> None:
    running = Daemon(world, env={"OFFERCTL_WEBHOOK_SECRET": "s3cret-for-tests"})
    try:
        port = running.port()
        body = json.dumps({"ref": "refs/heads/main", "commits": []}).encode()
        url = f"http://127.0.0.1:{port}/hooks/git"
        headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(b"wrong", body)}
        assert http("POST", url, body, headers)[0] == 401
        assert http("POST", url, body, {"X-GitHub-Event": "push"})[0] == 401
        headers["X-Hub-Signature-256"] = sign(b"s3cret-for-tests", body)
        assert http("POST", url, body, headers)[0] == 202
    finally:
        running.stop(signal.SIGTERM)
    assert "s3cret-for-tests" not in running.log()


def test_twenty_sigkills_with_pushes_in_between_converge_without_duplicates(
    world: World,
) -> None:
    rng = random.Random(6)  # noqa: S311 - timing jitter, not security
    offers = sorted(p.name for p in EXAMPLES.iterdir() if (p / "offer.yaml").is_file())
    pending = list(offers)
    for kill in range(20):
        running = Daemon(world)
        time.sleep(rng.uniform(0.3, 1.2))  # past start-up, somewhere inside a pass
        running.stop(signal.SIGKILL)
        if pending:
            world.add_offer(pending.pop(0))
        else:
            (world.person / "README.md").write_text(f"offers, edit {kill}\n")
            world.person_commits.append(world.commit(f"Edit the README ({kill})"))
    final = Daemon(world)
    try:
        # Ready means a pass has succeeded: the offers may have settled under an earlier
        # daemon, and a SIGTERM before the signal handlers exist would only test Python.
        port = final.port()
        wait_until(
            lambda: http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200,
            timeout=15,
            what="the final daemon to be ready",
        )
        wait_settled(world, final, offers, timeout=30)
    finally:
        assert final.stop(signal.SIGTERM) == 0
    assert {o: (world.remote_status(o) or {}).get("phase") for o in offers} == {
        "contoso-field-insights": "AwaitingSignOff",
        "fabrikam-case-triage": "Preview",
        "northwind-loyalty-hub": "Draft",
        "tailspin-quote-builder": "Rejected",
    }
    duplicates = {k: n for k, n in world.submissions_per_generation().items() if n > 1}
    assert duplicates == {}
    git(world.person, "fetch", "-q", "origin")
    for sha in world.person_commits:
        git(world.person, "merge-base", "--is-ancestor", sha, "origin/main")
    assert not (world.checkout / ".git" / "index.lock").exists()
