"""`offerctl wait`: real repositories whose status commits arrive while it waits.

A background thread runs real reconcile passes against the simulated
marketplace (its clock moved on by days per pass), as the daemon would, while
the command polls the committed status every few milliseconds. `--unverified`:
these tests are about the waiting itself; what makes a status the controller's
is tests/security/test_attack_wait_forged_status.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_helpers import offerctl
from example_offers import offer_files
from git_helpers import GitRepos
from market_helpers import Clock, Interposed

from controller.git.repo import GitRepo
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.reconciler import Reconciler, Watch, default_validate

OFFER = "alpha-offer"
FAST = ("--interval", "0.1s")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def market(tmp_path: Path, clock: Clock) -> Interposed:
    return Interposed(SimulatedMarketplace(tmp_path / "market.db", time_scale=1.0, clock=clock))


def one_pass(repo: Path, market: Interposed, clock: Clock, watch: Watch | None = None) -> None:
    with GitRepo(repo) as git_repo:
        Reconciler(
            git_repo, market, validate=default_validate, watch=watch or Watch(), clock=clock,
            sleep=lambda _: None,
        ).run_pass()  # fmt: skip


@contextmanager
def in_background(step: Callable[[], None], times: int, pause: float = 0.1) -> Iterator[None]:
    """Run `step` up to `times` times in a thread, `pause` s apart, until the block ends."""
    failures: list[BaseException] = []
    stop = threading.Event()

    def loop() -> None:
        try:
            for _ in range(times):
                if stop.wait(pause):
                    return
                step()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not failures, failures


def test_returns_once_passes_committed_in_the_background_reach_the_phase(
    gitrepos: GitRepos, market: Interposed, clock: Clock
) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "preview"))

    def later_pass() -> None:
        clock.advance(days=10)
        one_pass(repo, market, clock)

    started = time.monotonic()
    with in_background(later_pass, times=4):
        ran = offerctl("wait", OFFER, "--unverified", "--repo", str(repo), "--for", "phase=Preview",
                       "--timeout", "60s", *FAST)  # fmt: skip
    assert ran.code == 0, ran.err
    assert ran.out.startswith(f"{OFFER}: phase=Preview (status at ")
    assert "no status yet" in ran.err  # it saw the offer before the first pass
    assert time.monotonic() - started < 30


def test_a_status_from_before_the_last_manifest_change_does_not_count(
    gitrepos: GitRepos, market: Interposed, clock: Clock
) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "preview"))
    one_pass(repo, market, clock)
    clock.advance(days=10)
    one_pass(repo, market, clock)  # Preview, generation 1
    manifest = repo / f"offers/{OFFER}/offer.yaml"
    changed = manifest.read_text().replace("Fabrikam Case Triage", "Fabrikam Case Triage 2")
    gitrepos.commit(repo, {f"offers/{OFFER}/offer.yaml": changed}, "Rename the offer")

    stale = offerctl("wait", OFFER, "--unverified", "--repo", str(repo), "--for", "phase=Preview",
                     "--timeout", "0.3s", *FAST)  # fmt: skip
    assert stale.code == 1
    assert "written before the manifest's last change" in stale.err
    assert "timed out after 0.3s waiting for phase=Preview" in stale.err

    def later_pass() -> None:
        clock.advance(days=10)
        one_pass(repo, market, clock)

    with in_background(later_pass, times=3):
        ran = offerctl("wait", OFFER, "--unverified", "--repo", str(repo),
                       "--for", "condition=ready", "--timeout", "60s", *FAST)  # fmt: skip
    assert ran.code == 0, ran.err
    assert ran.out.startswith(f"{OFFER}: condition=Ready=True")


def test_gives_up_at_once_when_the_target_can_never_reach_the_phase(
    gitrepos: GitRepos, market: Interposed, clock: Clock
) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "preview"))
    one_pass(repo, market, clock)
    started = time.monotonic()
    ran = offerctl(
        "wait",
        OFFER,
        "--unverified",
        "--repo",
        str(repo),
        "--for",
        "phase=Live",
        "--timeout",
        "10d",
    )
    assert ran.code == 1
    assert "phase=Live cannot be met: its spec.target is preview" in ran.err
    assert time.monotonic() - started < 5


def test_gives_up_at_once_on_a_stalled_offer(
    gitrepos: GitRepos, market: Interposed, clock: Clock
) -> None:
    files = offer_files(OFFER, "live")
    manifest = f"offers/{OFFER}/offer.yaml"
    files[manifest] = files[manifest].replace(b"  target: live\n", b"  target: live\n  bogus: 1\n")
    repo = gitrepos.init("work", files)
    one_pass(repo, market, clock)
    ran = offerctl(
        "wait",
        OFFER,
        "--unverified",
        "--repo",
        str(repo),
        "--for",
        "stage=Live",
        "--timeout",
        "10d",
    )
    assert ran.code == 1
    assert "cannot be met: the offer is Invalid and stalled (ValidationFailed:" in ran.err
    met = offerctl(
        "wait",
        OFFER,
        "--unverified",
        "--repo",
        str(repo),
        "--for",
        "phase=invalid",
        "--timeout",
        "1s",
    )
    assert met.code == 0 and met.out.startswith(f"{OFFER}: phase=Invalid")


def test_reads_a_remote_branch_fetched_at_every_poll(
    gitrepos: GitRepos, market: Interposed, clock: Clock
) -> None:
    bare = gitrepos.bare("origin.git", offer_files(OFFER, "preview"))
    controller_clone = gitrepos.clone(bare, "controller")
    watcher = gitrepos.clone(bare, "watcher")
    remote = Watch(branch="main", remote="origin")

    def later_pass() -> None:
        clock.advance(days=10)
        one_pass(controller_clone, market, clock, remote)

    with in_background(later_pass, times=4):
        ran = offerctl("wait", OFFER, "--unverified", "--repo", str(watcher), "--remote", "origin",
                       "--branch", "main", "--for", "stage=Certification", "--timeout", "60s",
                       *FAST)  # fmt: skip
    assert ran.code == 0, ran.err
    assert ran.out.startswith(f"{OFFER}: stage=Certification=Succeeded (status at ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--for", "colour=blue"], "say phase=PHASE"),
        (["--for", "phase=Lively"], "no phase 'Lively'; one of: Invalid"),
        (["--for", "stage=Certification=Done"], "no stage state 'Done'"),
        (["--for", "phase=Live", "--timeout", "10 days"], "is not a duration"),
        (["--for", "phase=Live", "--timeout", "0s"], "above 0"),
        (["--for", "phase=Live", "--remote", "origin"], "--remote needs --branch"),
    ],
)
def test_usage_errors_exit_2(gitrepos: GitRepos, argv: list[str], message: str) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "preview"))
    ran = offerctl("wait", OFFER, "--repo", str(repo), *argv)
    assert ran.code == 2 and message in ran.err, ran.err


def test_an_unknown_offer_is_an_error_not_a_wait(gitrepos: GitRepos) -> None:
    repo = gitrepos.init("work", offer_files(OFFER, "preview"))
    ran = offerctl("wait", "beta-offer", "--unverified", "--repo", str(repo), "--for", "phase=Live")
    assert ran.code == 1 and "no offers/beta-offer/offer.yaml at" in ran.err
