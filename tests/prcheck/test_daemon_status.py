"""The daemon's commit status: what it says about a reconciled commit, and that posting it
never holds up a pass.

The pure part (state, description, the phase book) is checked directly; the
posting part runs real reconcile passes over a real git repository and the
simulated marketplace, with the status going over HTTP to a local server
speaking GitHub's Statuses JSON.
"""

from __future__ import annotations

import argparse
import re
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from checks_fake import REPO, serve
from git_helpers import git

from controller.commands.run import STATUS_POST_POLICY, ReconcilerPass, open_status_publisher
from controller.core.errors import UsageError
from controller.core.model import OfferStatus, Phase
from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.prcheck.daemon_poster import StatusPublisher
from controller.prcheck.daemon_status import (
    CONTEXT,
    PhaseBook,
    commit_status,
    context_for,
    description,
    state_of,
)
from controller.prcheck.github import ChecksPoster
from controller.reconcile.reconciler import Reconciler, default_validate
from controller.signoff.operator import GitHubEndpoint

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
TEMPLATE = "fabrikam-case-triage"
TOKEN = "ghs_daemonstatustoken0123456789"


def _status(phase: Phase) -> OfferStatus:
    return OfferStatus(offer="x", phase=phase)


# ---------------------------------------------------------------- pure


def test_any_rejected_invalid_or_failed_offer_fails_the_commit() -> None:
    for bad in (Phase.REJECTED, Phase.INVALID, Phase.FAILED):
        assert state_of({"a": Phase.LIVE, "b": bad}, {}) == "failure"


def test_an_offer_that_could_not_be_brought_forward_fails_the_commit() -> None:
    assert state_of({"a": Phase.LIVE}, {"a": "marketplace down"}) == "failure"


def test_offers_in_the_pipeline_or_awaiting_signoff_keep_it_pending() -> None:
    for moving in (Phase.CERTIFYING, Phase.AWAITING_SIGNOFF, Phase.GOING_LIVE, Phase.WITHDRAWING):
        assert state_of({"a": Phase.LIVE, "b": moving}, {}) == "pending"


def test_settled_offers_are_success() -> None:
    settled = {"a": Phase.LIVE, "b": Phase.PREVIEW, "c": Phase.DRAFT, "d": Phase.SUSPENDED}
    assert state_of(settled, {}) == "success"


def test_the_description_counts_phases_most_common_first_and_fits_github() -> None:
    phases = {"a": Phase.LIVE, "b": Phase.LIVE, "c": Phase.AWAITING_SIGNOFF}
    assert description(phases, {"c": "boom"}) == "2 Live, 1 AwaitingSignOff; 1 not brought forward"
    many = {f"o{i}": phase for i, phase in enumerate(Phase)}
    assert len(description(many, {})) <= 140


def test_each_shard_posts_under_its_own_context() -> None:
    assert context_for(0, 1) == CONTEXT
    assert context_for(1, 3) == "offerctl/daemon (shard 1/3)"
    body = commit_status({"a": Phase.LIVE}, {}, context=context_for(2, 3))
    assert body["context"] == "offerctl/daemon (shard 2/3)"


def test_only_an_https_link_is_attached() -> None:
    assert "target_url" not in commit_status({}, {}, target_url="http://evil.example/")
    assert commit_status({}, {}, target_url="https://ops.example/")["target_url"] == (
        "https://ops.example/"
    )


def test_the_book_keeps_offers_an_incremental_pass_did_not_touch() -> None:
    book = PhaseBook()
    book.update({"a": _status(Phase.LIVE), "b": _status(Phase.CERTIFYING)}, full=True, evaluated=())
    book.update({"b": _status(Phase.AWAITING_SIGNOFF)}, full=False, evaluated=("b", "c"))
    assert book.phases == {"a": Phase.LIVE, "b": Phase.AWAITING_SIGNOFF}
    book.update({"b": _status(Phase.LIVE)}, full=True, evaluated=("b",))
    assert book.phases == {"b": Phase.LIVE}  # a full pass without "a": its folder is gone


# ---------------------------------------------------------------- wired


def _offer_repo(make_repo: Any) -> Path:
    folder = EXAMPLES / TEMPLATE
    files: dict[str, bytes] = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
            files[f"offers/{TEMPLATE}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    text = files[f"offers/{TEMPLATE}/offer.yaml"].decode()
    text = re.sub(r"^  target: \w+$", "  target: preview", text, count=1, flags=re.M)
    files[f"offers/{TEMPLATE}/offer.yaml"] = text.encode()
    path: Path = make_repo(files)
    return path


def _pass(repo: GitRepo, market: SimulatedMarketplace, publisher: StatusPublisher) -> Any:
    reconciler = Reconciler(
        repo, market, validate=default_validate, clock=lambda: datetime.now(UTC)
    )
    return ReconcilerPass(reconciler, repo, in_flight_poll=1.0, publisher=publisher)


def test_each_pass_posts_the_reconciled_commits_state_once_and_settles_to_success(
    make_repo: Any, tmp_path: Path
) -> None:
    path = _offer_repo(make_repo)
    market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1_000_000)
    merged = git(path, "rev-parse", "HEAD").strip()  # the commit a person merged
    with serve() as fake, GitRepo(path) as repo:
        poster = ChecksPoster(GitHubEndpoint(api_url=fake.base_url, token=TOKEN), REPO)
        publisher = StatusPublisher(poster)
        adapter = _pass(repo, market, publisher)
        try:
            adapter(None)
            assert publisher.drain(10)
            # A week of marketplace time is about 0.6 s of wall time: pass until it has gone
            # by (a count of passes is not, now that a pass takes a few milliseconds).
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                time.sleep(0.05)
                adapter(None)
                assert publisher.drain(10)
                if fake.statuses and fake.statuses[-1][1]["state"] == "success":
                    break
        finally:
            publisher.close()
    shas = [sha for sha, _ in fake.statuses]
    states = [body["state"] for _, body in fake.statuses]
    assert shas[0] == merged
    assert states[0] == "pending" and states[-1] == "success"
    assert fake.statuses[-1][1]["description"] == "1 Preview"
    assert fake.statuses[-1][1]["context"] == CONTEXT
    # the same word on the same commit is said once: no post per idle pass
    assert len(set(map(_key, fake.statuses))) == len(fake.statuses)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake.requests)


def _key(item: tuple[str, dict[str, Any]]) -> tuple[str, str, str]:
    sha, body = item
    return sha, str(body["state"]), str(body["description"])


def test_github_down_never_fails_or_holds_up_a_pass(
    make_repo: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = _offer_repo(make_repo)
    market = SimulatedMarketplace(tmp_path / "market.db", time_scale=1_000_000)
    outcomes: list[str] = []
    with GitRepo(path) as repo:
        poster = ChecksPoster(
            GitHubEndpoint(api_url=f"http://127.0.0.1:{port}", token=TOKEN),
            REPO,
            policy=replace(STATUS_POST_POLICY, sleep=lambda seconds: None),
        )
        publisher = StatusPublisher(poster, on_result=outcomes.append)
        try:
            report = _pass(repo, market, publisher)(None)
            assert report.ok
            assert publisher.drain(60)
        finally:
            publisher.close()
    assert outcomes == ["failed"]  # after STATUS_POST_POLICY's tries, none of them a sleep
    assert "posting the commit status" in caplog.text
    assert TOKEN not in caplog.text


def _args(**values: Any) -> argparse.Namespace:
    base = {"github_status_repo": None, "status_url": None, "github_api_url": None}
    return argparse.Namespace(**(base | values))


def test_no_repository_named_means_no_publisher() -> None:
    assert open_status_publisher(_args(), env={}) is None


def test_the_publisher_needs_the_operators_token_and_a_real_repository_name() -> None:
    with pytest.raises(UsageError, match="OFFERCTL_GITHUB_TOKEN"):
        open_status_publisher(_args(github_status_repo=REPO), env={})
    with pytest.raises(UsageError, match="OWNER/NAME"):
        open_status_publisher(
            _args(github_status_repo="../x"), env={"OFFERCTL_GITHUB_TOKEN": TOKEN}
        )
    with pytest.raises(UsageError, match="https"):
        open_status_publisher(
            _args(github_status_repo=REPO, status_url="http://x/"),
            env={"OFFERCTL_GITHUB_TOKEN": TOKEN},
        )
    publisher = open_status_publisher(
        _args(), env={"OFFERCTL_GITHUB_STATUS_REPO": REPO, "OFFERCTL_GITHUB_TOKEN": TOKEN}
    )
    assert publisher is not None
    publisher.close()
