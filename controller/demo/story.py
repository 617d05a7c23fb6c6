"""The demo run: the main job, end to end, on a scratch copy of the shipped example offers.

Sets up a scratch directory with a bare `origin.git`, a publisher's clone
seeded with the shipped `offers/`, a `publishing.yaml` naming an approver and
an allowed-signers file mapping the publisher and the approver to ssh keys
generated for the demo with `ssh-keygen`, and a separate checkout for the
daemon. Starts `offerctl run` on it as a real process (the simulated
marketplace, time compressed so the whole pipeline takes about a minute),
prints one line per phase change as status commits reach origin, signs off
every offer that comes to await sign-off the way a publisher would
(`offerctl signoff`, its commit signed with the publisher's key, then the
approver's `--no-ff` merge with an `Approved-by:` trailer, signed with the
approver's own key, pushed), waits until every offer settles, stops the
daemon with SIGTERM and prints the status table. The approval is verified,
not typed: the controller counts it because the approver's key signed it.

Every git process runs with a pinned identity and a private global config in
the scratch directory, so the user's git settings are neither read nor
changed. Exit 0 when every offer settled as Live, Preview, Draft or Rejected;
1 when the offers did not settle in time, settled as Invalid or Failed, or the
daemon did not stop cleanly (the scratch directory is then kept for a look).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from rich.console import Group

from controller.core.errors import EXIT_FAIL, EXIT_OK, UsageError
from controller.core.generation import short
from controller.core.model import OfferStatus
from controller.demo.common import (
    APPROVER,
    BRANCH,
    POLL_SECONDS,
    PUBLISHER,
    PUSH_TRIES,
    SETTLED,
    SHIPPED_OFFERS,
    SIGNERS_FILE,
    STUCK,
    DemoError,
    say,
)
from controller.demo.daemon import DaemonProcess
from controller.demo.phases import awaiting_signoff, phase_lines, settled
from controller.demo.scratch import Scratch, first_parent_commits
from controller.git.repo import GitRepo
from controller.present.console import make_console, show, unicode_ok
from controller.present.offers import offers_table, table_footer
from controller.repo.statusread import read_statuses, resolve


class Shooter(Protocol):
    """What takes the timeline page's screenshots (`controller.commands.screenshot`)."""

    def take(self, url: str, path: Path, *, commit: str = "") -> object: ...


def run_demo(
    *,
    workdir: Path | None,
    time_scale: float,
    timeout: float,
    keep: bool = False,
    screenshot: Path | None = None,
    shots: Shooter | None = None,
) -> int:
    """The whole demo; `workdir` None: a fresh temporary directory, removed on success
    unless `keep`. With `screenshot` and `shots`, the daemon's timeline page is saved
    there. Exit 0 when every offer settled as it should (see the module docstring)."""
    if timeout <= 0:
        raise UsageError("--timeout must be greater than 0")
    source = SHIPPED_OFFERS
    if not source.is_dir():
        raise UsageError(f"no example offers at {source}: run the demo from a source checkout")
    root = _scratch_root(workdir)
    demo = Demo(Scratch(root), time_scale, timeout)
    demo.shots, demo.screenshot = shots, screenshot
    ok = False
    try:
        ok = demo.run(source)
    finally:
        if ok and not keep and workdir is None:
            shutil.rmtree(root, ignore_errors=True)
            say(f"Removed {root} (run with --keep to look around afterwards).")
        else:
            offer = min(demo.signed)[0] if demo.signed else "OFFER"
            say()
            say(f"The scratch directory stays: {root}. Look closer with")
            say(f"  offerctl status --repo {demo.scratch.publisher} {offer}")
            say(f"  offerctl history --repo {demo.scratch.publisher} {offer}")
    return EXIT_OK if ok else EXIT_FAIL


def _scratch_root(workdir: Path | None) -> Path:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="offerctl-demo-"))
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise UsageError(f"--workdir {workdir}: choose a directory that is new or empty")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir.resolve()


class Demo:
    """The demo's steps, in order; `run` answers whether everything settled as it should."""

    def __init__(self, scratch: Scratch, time_scale: float, timeout: float) -> None:
        self.scratch = scratch
        self.time_scale = time_scale
        self.timeout = timeout
        self.unicode = (sys.stdout.encoding or "").lower().replace("-", "").startswith("utf")
        self.started = time.monotonic()
        self.signed: set[tuple[str, str]] = set()
        self.seen: dict[str, OfferStatus] = {}
        self.shots: Shooter | None = None  # with `screenshot`: the browser that takes them
        self.screenshot: Path | None = None

    def run(self, offers: Path) -> bool:
        scratch = self.scratch
        say(f"offerctl demo in {scratch.root}")
        scratch.seed(offers)
        count = len(list(scratch.publisher.glob("offers/*/offer.yaml")))
        say(
            f"  origin.git   the remote: {count} example offers and publishing.yaml "
            f"(approver {APPROVER[1]}) and {SIGNERS_FILE} (their ssh signing keys, made with "
            f"ssh-keygen), pushed by {PUBLISHER[0]}"
        )
        say("  publisher/   the publisher's clone (where sign-offs are made and merged)")
        say("  controller/  the daemon's own checkout, which it fetches into and pushes from")
        week = 7 * 86400 / self.time_scale
        say(
            f"Starting `offerctl run` (simulated marketplace at {self.time_scale:g}x: a week of "
            f"certification takes {week:.0f} s); its log: {scratch.daemon_log.name}"
        )
        say()
        daemon = DaemonProcess(scratch, self.time_scale)
        self.started = time.monotonic()
        try:
            outcome = self._follow(daemon)
        except DemoError as exc:
            say(f"offerctl demo: {exc}", sys.stderr)
            outcome = False
        finally:
            code = daemon.stop()
        elapsed = time.monotonic() - self.started
        say()
        if code != 0:
            say(f"offerctl demo: the daemon exited {code} on SIGTERM; its log ends:", sys.stderr)
            say(daemon.tail(), sys.stderr)
            outcome = False
        else:
            say(f"Stopped the daemon with SIGTERM (exit 0) after {elapsed:.1f} s.")
        self._final_table()
        return outcome

    def _follow(self, daemon: DaemonProcess) -> bool:
        """Print phase changes as status commits reach origin, sign off, until settled."""
        deadline = self.started + self.timeout
        with GitRepo(self.scratch.origin) as origin:
            tip = origin.resolve(f"refs/heads/{BRANCH}") or ""
            statuses: dict[str, OfferStatus | None] = {}
            while True:
                new_tip = origin.resolve(f"refs/heads/{BRANCH}") or tip
                if new_tip != tip:
                    for commit in first_parent_commits(self.scratch, tip, new_tip):
                        statuses = self._show(origin, commit)
                    tip = new_tip
                    for offer, generation in awaiting_signoff(statuses):
                        if (offer, generation) not in self.signed:
                            if not self.signed:
                                self._shoot(daemon, tip, "-signoff")
                            self._sign_off(offer, generation)
                            self.signed.add((offer, generation))
                if settled(statuses):
                    self._shoot(daemon, tip, "")
                    return self._verdict(statuses)
                if daemon.exited() is not None:
                    raise DemoError(
                        f"the daemon exited {daemon.exited()} on its own; its log ends:\n"
                        + daemon.tail()
                    )
                if time.monotonic() > deadline:
                    waiting = ", ".join(
                        f"{o} ({s.phase.value if s else 'no status'})"
                        for o, s in sorted(statuses.items())
                        if s is None or s.phase not in SETTLED | STUCK
                    )
                    raise DemoError(
                        f"the offers did not settle within {self.timeout:g} s; still waiting: "
                        f"{waiting or 'no status yet'}. The daemon's log ends:\n{daemon.tail()}"
                    )
                time.sleep(POLL_SECONDS)

    def _show(self, origin: GitRepo, commit: str) -> dict[str, OfferStatus | None]:
        entries = read_statuses(origin, commit)
        current = {e.offer: e.status for e in entries}
        known = {o: s for o, s in current.items() if s is not None}
        for offer, line in phase_lines(self.seen, known, unicode=self.unicode):
            say(f"{self._clock()}  {offer:<24} {line}")
        self.seen = known
        return current

    def _shoot(self, daemon: DaemonProcess, commit: str, suffix: str) -> None:
        """With --screenshot: the daemon's timeline page at `commit`, saved and announced."""
        if self.shots is None or self.screenshot is None:
            return
        url = daemon.page_url()
        if url is None:
            raise DemoError("the daemon's log names no listen address for the timeline page")
        path = self.screenshot.with_name(f"{self.screenshot.stem}{suffix}{self.screenshot.suffix}")
        try:
            self.shots.take(url, path, commit=commit)
        except Exception as exc:  # Playwright's errors: the browser crashed or timed out
            raise DemoError(f"could not take the screenshot {path}: {exc}") from exc
        pad = " " * len(self._clock())
        say(f"{pad}  Screenshot of the timeline page ({url}): {path}")

    def _clock(self) -> str:
        elapsed = time.monotonic() - self.started
        days = elapsed * self.time_scale / 86400
        return f"[{elapsed:5.1f} s | day {days:4.1f}]"

    def _sign_off(self, offer: str, generation: str) -> None:
        """As a publisher would: `offerctl signoff`, push the branch, a reviewer merges it."""
        scratch = self.scratch
        pad = " " * len(self._clock())
        scratch.catch_up()
        branch = f"signoff/{offer}-{short(generation)}"
        proc = subprocess.run(
            [sys.executable, "-m", "controller", "signoff", offer, "--repo", str(scratch.publisher),
             "--note", "Checked the preview: listing, plans and the package install."],
            cwd=scratch.root, env=scratch.publisher_env(), capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise DemoError(f"offerctl signoff {offer} failed: {proc.stderr.strip()}")
        scratch.git(scratch.publisher, "push", "-q", "origin", branch)
        say(
            f"{pad}  {PUBLISHER[0]} runs `offerctl signoff {offer}` (commit signed with her key) "
            f"and pushes {branch}"
        )
        trailer = f"Approved-by: {APPROVER[0]} <{APPROVER[1]}>"
        for _ in range(PUSH_TRIES):
            # The daemon keeps pushing status: merge onto the newest tip, never force.
            scratch.catch_up()
            scratch.git(
                scratch.publisher, *scratch.signing(APPROVER), "merge", "-q", "--no-ff",
                "--no-edit", "-S", "-m", f"Merge {branch}: Go Live for {offer}", "-m", trailer,
                f"origin/{branch}", who=APPROVER,
            )  # fmt: skip
            pushed = scratch.git(
                scratch.publisher, "push", "-q", "origin", f"HEAD:{BRANCH}", check=False
            )
            if pushed.status == 0:
                say(
                    f"{pad}  {APPROVER[0]} approves: merges it into {BRANCH} ({trailer}), "
                    "signed with her own key"
                )
                return
        raise DemoError(f"could not push the sign-off merge in {PUSH_TRIES} tries")

    def _verdict(self, statuses: Mapping[str, OfferStatus | None]) -> bool:
        elapsed = time.monotonic() - self.started
        stuck = sorted(o for o, s in statuses.items() if s is not None and s.phase in STUCK)
        say()
        if stuck:
            say(
                f"offerctl demo: {', '.join(stuck)} ended {statuses[stuck[0]].phase.value}"  # type: ignore[union-attr]
                "; `offerctl status OFFER` in the publisher's clone says why",
                sys.stderr,
            )
            return False
        days = elapsed * self.time_scale / 86400
        say(
            f"Every offer settled in {elapsed:.1f} s ({days:.1f} days of marketplace time), "
            f"{len(self.signed)} sign-off{'s' if len(self.signed) != 1 else ''} included."
        )
        return True

    def _final_table(self) -> None:
        self.scratch.catch_up()
        say()
        console = make_console("auto")
        with GitRepo(self.scratch.publisher) as repo:  # as `offerctl status` in the clone
            commit = resolve(repo, "HEAD")
            entries = read_statuses(repo, commit)
            table = offers_table(entries, datetime.now(UTC), unicode=unicode_ok(console))
            show(console, Group(table, "", table_footer(entries, commit)))
