"""HAZARDS.md's "Marketplace" and "Process" lists, tried end to end against the real product.

Each test builds a real git repository in a tmp dir with offers copied from the
shipped examples, reconciles it against the simulated marketplace (served over
HTTP with injected faults, or behind a tiny hand-written server that answers
nonsense), and checks what a user would see: status.yaml, commits, log lines.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from git_helpers import GitRepos, git
from market_helpers import Clock, Interposed

from controller.core.errors import OfferctlError
from controller.core.model import Target
from controller.daemon import logging as daemon_logging
from controller.git.repo import GitRepo
from controller.marketplace import wire
from controller.marketplace.api import (
    Marketplace,
)
from controller.marketplace.faults import FaultConfig
from controller.marketplace.http_client import HttpMarketplace
from controller.marketplace.server import running_server
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import (
    PassResult,
    Reconciler,
    Watch,
    default_validate,
)

# chaos: injected marketplace faults over many passes per test
pytestmark = pytest.mark.slow(budget=30)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "offers"
TEMPLATE = "fabrikam-case-triage"


def offer_files(offer: str, target: str = "preview", template: str = TEMPLATE) -> dict[str, bytes]:
    """A shipped example's folder as offers/<offer>/..., renamed, with the given target."""
    folder = EXAMPLES / template
    files: dict[str, bytes] = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
            files[f"offers/{offer}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    text = files[f"offers/{offer}/offer.yaml"].decode()
    text = text.replace(f"name: {template}", f"name: {offer}", 1)
    text = re.sub(r"^  target: \w+$", f"  target: {target}", text, count=1, flags=re.M)
    files[f"offers/{offer}/offer.yaml"] = text.encode()
    return files


def run_pass(
    repo: Path, market: Marketplace, clock: Clock, watch: Watch | None = None
) -> PassResult:
    with GitRepo(repo) as git_repo:
        reconciler = Reconciler(
            git_repo,
            market,
            validate=default_validate,
            watch=watch,
            clock=clock,
            sleep=lambda _: None,
        )
        return reconciler.run_pass()


def status_of(repo: Path, offer: str, rev: str = "HEAD") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(git(repo, "show", f"{rev}:offers/{offer}/status.yaml"))
    return data


def marketplace_error(status: dict[str, Any]) -> dict[str, Any] | None:
    for condition in status.get("conditions", []):
        if condition["type"] == "MarketplaceError" and condition["status"] == "True":
            return dict(condition)
    return None


def fast_client(url: str, *, timeout: float = 0.15, retries: int = 8) -> HttpMarketplace:
    """An HTTP client that retries without really waiting (Retry-After is honoured, not slept)."""
    return HttpMarketplace(
        url, timeout=timeout, max_retries=retries, backoff=0.0, sleep=lambda _: None
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def simulated(tmp_path: Path, clock: Clock) -> SimulatedMarketplace:
    return SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=clock)


OFFERS = ("alpha-offer", "beta-offer", "gamma-offer")


@pytest.fixture
def repo(gitrepos: GitRepos) -> Path:
    files: dict[str, bytes] = {}
    for offer in OFFERS:
        files.update(offer_files(offer))
    return gitrepos.init("work", files)


# ---------------------------------------------------------------- 1. faults over HTTP


def test_offers_converge_over_a_flaky_http_marketplace_with_one_submission_each(
    repo: Path, simulated: SimulatedMarketplace, clock: Clock
) -> None:
    faults = FaultConfig(
        error=0.12, throttle=0.12, timeout=0.04, reset=0.12, retry_after=0.5,
        timeout_delay=2.0, seed=11,
    )  # fmt: skip
    with running_server(simulated, faults=faults) as server:
        client = fast_client(server.url)
        for _ in range(8):
            run_pass(repo, client, clock)
            clock.advance(days=3)
            phases = {o: status_of(repo, o)["phase"] for o in OFFERS}
            if set(phases.values()) == {"Preview"}:
                break
        assert set(phases.values()) == {"Preview"}, phases
        assert server.faults is not None
        counts = server.faults.counts
    assert all(counts[kind] > 0 for kind in counts), counts  # every fault kind was met
    per_key = Counter(s.idempotency_key for s in simulated.submissions())
    per_generation = Counter((s.offer, s.generation) for s in simulated.submissions())
    assert set(per_key.values()) == {1} and set(per_generation.values()) == {1}
    assert sorted(o for o, _ in per_generation) == sorted(OFFERS)
    for offer in OFFERS:
        assert marketplace_error(status_of(repo, offer)) is None


def test_a_persistent_outage_flags_only_the_affected_offer_and_repeats_make_no_commit(
    repo: Path, simulated: SimulatedMarketplace, clock: Clock
) -> None:
    outage = Interposed(simulated)
    outage.down.add("beta-offer")
    with running_server(outage) as server:
        client = fast_client(server.url, retries=2)
        first = run_pass(repo, client, clock)
        assert set(first.errors) == {"beta-offer"}
        flagged = marketplace_error(status_of(repo, "beta-offer"))
        assert flagged is not None and flagged["reason"] == "MarketplaceUnavailable"
        assert "503" in flagged["message"]
        for offer in ("alpha-offer", "gamma-offer"):
            assert status_of(repo, offer)["phase"] in {"Validating", "Certifying"}
            assert marketplace_error(status_of(repo, offer)) is None
        head = git(repo, "rev-parse", "HEAD")
        clock.advance(seconds=5)  # within Validation: the healthy offers have nothing new
        for _ in range(2):
            again = run_pass(repo, client, clock)
            assert set(again.errors) == {"beta-offer"}
            assert again.commit is None
        assert git(repo, "rev-parse", "HEAD") == head
        outage.down.clear()
        run_pass(repo, client, clock)
    assert marketplace_error(status_of(repo, "beta-offer")) is None
    assert status_of(repo, "beta-offer")["phase"] in {"Validating", "Certifying"}


# ---------------------------------------------------------------- 2. malformed answers


class _Nonsense(BaseHTTPRequestHandler):
    """A marketplace that works for every offer but `bad-offer`, whose submission is nonsense.

    Good answers carry an unknown field too: a newer API adding fields must not break us.
    """

    server: _NonsenseServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        market = self.server.market
        if self.path.startswith("/offers/"):
            offer = self.path.removeprefix("/offers/")
            self._reply({**wire.listing_to_json(market.listing(offer)), "rating": 5})
            return
        if self.path.startswith("/submissions?"):
            key = self.path.partition("key=")[2].replace("%40", "@")
            found = market.find(key)
            items = [] if found is None else [self._mangle(wire.submission_to_json(found))]
            self._reply({"items": items, "nextLink": None})
            return
        sid = self.path.removeprefix("/submissions/")
        self._reply(self._mangle(wire.submission_to_json(market.get(sid))))

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        submitted = self.server.market.submit(
            body["offer"],
            body["generation"],
            Target(body["target"]),
            wire.payload_from_json(body["payload"]),
            body["idempotencyKey"],
        )
        self._reply(self._mangle(wire.submission_to_json(submitted)))

    @staticmethod
    def _mangle(data: dict[str, Any]) -> dict[str, Any]:
        data = {**data, "priority": "high"}  # an unknown field on every answer
        if data["offer"] == "bad-offer":
            data["result"] = "exploded"  # an enum value we have never heard of
        return data


class _NonsenseServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, market: SimulatedMarketplace) -> None:
        super().__init__(("127.0.0.1", 0), _Nonsense)
        self.market = market


@pytest.fixture
def nonsense(simulated: SimulatedMarketplace) -> Iterator[str]:
    server = _NonsenseServer(simulated)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_unknown_enum_in_an_answer_is_an_error_in_that_offers_status_only(
    gitrepos: GitRepos, simulated: SimulatedMarketplace, clock: Clock, nonsense: str
) -> None:
    repo = gitrepos.init(
        "work", {**offer_files("good-offer"), **offer_files("bad-offer"), **offer_files("ok-offer")}
    )
    client = fast_client(nonsense, retries=0)
    result = run_pass(repo, client, clock)
    assert set(result.errors) == {"bad-offer"}
    flagged = marketplace_error(status_of(repo, "bad-offer"))
    assert flagged is not None and flagged["reason"] == "MarketplaceCallFailed"
    assert "'exploded'" in flagged["message"] and "result" in flagged["message"]
    for offer in ("good-offer", "ok-offer"):  # unknown fields are tolerated
        assert status_of(repo, offer)["phase"] in {"Validating", "Certifying"}
        assert marketplace_error(status_of(repo, offer)) is None
    head = git(repo, "rev-parse", "HEAD")
    again = run_pass(repo, client, clock)  # the key is looked up first: no second submission
    assert set(again.errors) == {"bad-offer"} and again.commit is None
    assert git(repo, "rev-parse", "HEAD") == head
    per_key = Counter(s.idempotency_key for s in simulated.submissions())
    assert set(per_key.values()) == {1} and len(per_key) == 3


# ---------------------------------------------------------------- 3. the clock jumps back


def _all_times(node: Any) -> Iterator[datetime]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _all_times(value)
    elif isinstance(node, list):
        for value in node:
            yield from _all_times(value)
    elif isinstance(node, datetime):
        yield node
    elif isinstance(node, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)", node):
        yield datetime.fromisoformat(node.replace("Z", "+00:00"))


def test_the_clock_jumping_back_crashes_nothing_and_resubmits_nothing(
    repo: Path, simulated: SimulatedMarketplace, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    from controller.cli import main

    run_pass(repo, simulated, clock)
    clock.advance(hours=2)
    run_pass(repo, simulated, clock)
    before = {o: status_of(repo, o) for o in OFFERS}
    clock.advance(days=-3)  # NTP step, VM restore, a wrong RTC
    for _ in range(3):
        run_pass(repo, simulated, clock)
        clock.advance(hours=1)
    per_generation = Counter((s.offer, s.generation) for s in simulated.submissions())
    assert set(per_generation.values()) == {1} and len(per_generation) == len(OFFERS)
    for offer in OFFERS:
        after = status_of(repo, offer)
        order = ["Validating", "Certifying", "Packaging", "Preview"]
        assert order.index(after["phase"]) >= order.index(before[offer]["phase"])  # no regress
        for stage in after.get("stages", []):
            started, finished = stage.get("startedAt"), stage.get("finishedAt")
            if started and finished:
                assert _parse(finished) >= _parse(started), stage
            if started and stage.get("deadline"):
                assert _parse(stage["deadline"]) > _parse(started), stage
    capsys.readouterr()
    assert main(["status", "--repo", str(repo)]) == 0
    table = capsys.readouterr().out
    assert not re.search(r"(?<![\w-])-\d+\s*[smhdw]\b", table), table  # no negative durations
    clock.advance(days=10)
    run_pass(repo, simulated, clock)
    assert {status_of(repo, o)["phase"] for o in OFFERS} == {"Preview"}


def _parse(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# ---------------------------------------------------------------- 5. two daemons


def test_two_daemons_on_one_checkout_is_covered_by_the_daemon_process_tests() -> None:
    """tests/daemon/test_run_process.py starts a second `offerctl run` on the same checkout
    and asserts it exits 1 naming the first's pid; nothing to add here."""
    source = (ROOT / "tests/daemon/test_run_process.py").read_text()
    assert "def test_a_second_daemon_on_the_same_checkout_exits_1_naming_the_first" in source


# ---------------------------------------------------------------- 6. secrets


SAS_SIG = "Zm9vYmFyU2VjcmV0U2lnbmF0dXJlMTIz"
APP_KEY = "s3cr3t-app-key-value-4711"
TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def test_secrets_never_reach_status_commits_or_logs(
    gitrepos: GitRepos,
    simulated: SimulatedMarketplace,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # fabrikam's manifest names FABRIKAM_LEADS_APP_KEY in applicationKeySecretRef.
    monkeypatch.setenv("FABRIKAM_LEADS_APP_KEY", APP_KEY)
    repo = gitrepos.init("work", {**offer_files("alpha-offer"), **offer_files("sas-offer")})
    outage = Interposed(
        simulated,
        message="upload failed: https://acct.blob.core.windows.net/pkgs/app.zip"
        f"?sv=2024-05-04&se=2026-12-01&sr=b&sp=r&sig={SAS_SIG}",
    )
    outage.down.add("sas-offer")
    log = io.StringIO()
    handler = daemon_logging.configure(stream=log, json_lines=True)
    try:
        with running_server(outage) as server:
            result = run_pass(repo, fast_client(server.url, retries=1), clock)
        assert set(result.errors) == {"sas-offer"}
        git(repo, "remote", "add", "origin", f"https://x-access-token:{TOKEN}@127.0.0.1:9/o.git")
        with pytest.raises(OfferctlError) as failed:
            run_pass(repo, simulated, clock, Watch(branch="main", remote="origin"))
        logging.getLogger("controller").error("pass failed: %s", failed.value)
    finally:
        logging.getLogger("controller").removeHandler(handler)
    assert TOKEN not in str(failed.value)
    flagged = marketplace_error(status_of(repo, "sas-offer"))
    assert flagged is not None and "blob.core.windows.net" in flagged["message"]
    everything = git(repo, "log", "-p", "--all", "--format=%H %an %s%n%b") + log.getvalue()
    assert "sig=" in everything  # the messages are there, only the values are masked
    for secret in (SAS_SIG, APP_KEY, TOKEN):
        assert secret not in everything, secret


# ---------------------------------------------------------------- 4. missed events


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str, log: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}; log:\n" + "\n".join(log[-30:])
    )


def _has_status(repo: Path, rev: str, offer: str) -> bool:
    done = subprocess.run(
        ["git", "cat-file", "-e", f"{rev}:offers/{offer}/status.yaml"],
        cwd=repo,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.mark.slow
def test_a_branch_moved_from_another_worktree_is_seen_without_waiting_for_resync(
    gitrepos: GitRepos, tmp_path: Path
) -> None:
    """The daemon runs in a linked worktree, whose branch refs live in the main repository's
    common .git dir; a commit moved onto the branch from the main worktree must wake it.
    The resync is set far beyond the wait, so only the watcher can be what noticed.
    (Resync itself is tested in tests/daemon/test_triggers.py.)"""
    main_wt = gitrepos.init("work", offer_files("alpha-offer", "draft"))
    linked = tmp_path / "linked"
    git(main_wt, "worktree", "add", "-q", "-b", "watched", str(linked))
    argv = [
        sys.executable, "-m", "controller", "run", "--repo", str(linked),
        "--interval", "0.2", "--resync", "300", "--listen", "127.0.0.1:0",
        "--marketplace", f"sqlite://{tmp_path / 'market.db'}", "--time-scale", "1000000",
        "--log-format", "json",
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OFFERCTL_TIME_SCALE": "1000000"},
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(line.rstrip("\n") for line in proc.stderr or ()), daemon=True
    )
    reader.start()
    try:
        _wait_for(lambda: _has_status(main_wt, "watched", "alpha-offer"), 15, "first pass", lines)
        # Someone moves the branch from the other worktree: only .git/refs/heads/watched changes.
        old = git(main_wt, "rev-parse", "watched").strip()
        git(main_wt, "merge", "-q", "--ff-only", "watched")
        new = gitrepos.commit(main_wt, offer_files("beta-offer", "draft"), "Add beta-offer")
        git(main_wt, "update-ref", "refs/heads/watched", new, old)
        _wait_for(lambda: _has_status(main_wt, "watched", "beta-offer"), 15, "the watcher", lines)
        assert status_of(main_wt, "beta-offer", "watched")["phase"] == "Draft"

    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        reader.join(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()
