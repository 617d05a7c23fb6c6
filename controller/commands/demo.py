"""`offerctl demo`: the main job, end to end, on a scratch copy of the shipped example offers.

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

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import controller
from controller.commands import status as status_command
from controller.commands.screenshot import Screenshots
from controller.core.errors import EXIT_FAIL, EXIT_OK, UsageError, UserError
from controller.core.generation import short
from controller.core.model import OfferStatus, Phase
from controller.git.repo import GitRepo
from controller.git.runner import GitResult, GitRunner
from controller.present.progress import progress
from controller.repo.statusread import read_statuses

SHIPPED_OFFERS = Path(controller.__file__).parent.parent / "offers"
POLL_SECONDS = 0.1  # how often the demo looks at origin's branch tip (a local rev-parse)
DAEMON_POLL_SECONDS = "0.3"  # the daemon's ls-remote interval: it sees the sign-off merge fast
STOP_TIMEOUT = 30.0  # as docs/deploy recommends for TimeoutStopSec
LISTENING = re.compile(r"listening on (\S+):(\d+)$", re.MULTILINE)  # the daemon's log line
PUSH_TRIES = 10
BRANCH = "main"

# Phases in which nothing more happens without a person: the demo's end states.
SETTLED = frozenset({Phase.LIVE, Phase.PREVIEW, Phase.DRAFT, Phase.REJECTED})
STUCK = frozenset({Phase.INVALID, Phase.FAILED})  # settled too, but the demo failed

PUBLISHER = ("Dana Publisher", "dana@contoso.example")
APPROVER = ("Rita Reviewer", "rita@contoso.example")
SIGNERS_FILE = ".github/allowed_signers"
PUBLISHING_YAML = f"""\
# yaml-language-server: $schema=schemas/publishing.schema.json
apiVersion: offers.marketplace/v1
kind: Publishing
signoff:
  provider: git
  approvers: [{APPROVER[1]}]
  requiredApprovals: 1
  # An approval counts only when the approver's own key (listed here) signs it.
  allowedSignersFile: {SIGNERS_FILE}
"""
# git verbs that reach a remote (the scratch origin): run with the protocol allow-list.
_REMOTE_VERBS = frozenset({"clone", "fetch", "push", "pull", "ls-remote"})
# Variables that would point git or offerctl somewhere other than the scratch directory.
_DROPPED_ENV = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES",
    "OFFERCTL_MARKETPLACE", "OFFERCTL_TIME_SCALE", "OFFERCTL_FAULTS", "OFFERCTL_SIM_SEED",
    "OFFERCTL_WEBHOOK_SECRET",
})  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise UsageError("--timeout must be greater than 0")
    source = SHIPPED_OFFERS
    if not source.is_dir():
        raise UsageError(f"no example offers at {source}: run the demo from a source checkout")
    root = _scratch_root(args.workdir)
    demo = Demo(Scratch(root), args.time_scale, args.timeout)
    ok = False
    try:
        with contextlib.ExitStack() as stack:
            if args.screenshot is not None:
                # Started first: a missing browser stops the demo before it does anything.
                demo.shots = stack.enter_context(Screenshots())
                demo.screenshot = args.screenshot
            ok = demo.run(source)
    finally:
        if ok and not args.keep and args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
            _say(f"Removed {root} (run with --keep to look around afterwards).")
        else:
            offer = min(demo.signed)[0] if demo.signed else "OFFER"
            _say()
            _say(f"The scratch directory stays: {root}. Look closer with")
            _say(f"  offerctl status --repo {demo.scratch.publisher} {offer}")
            _say(f"  offerctl history --repo {demo.scratch.publisher} {offer}")
    return EXIT_OK if ok else EXIT_FAIL


def _scratch_root(workdir: Path | None) -> Path:
    if workdir is None:
        return Path(tempfile.mkdtemp(prefix="offerctl-demo-"))
    if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
        raise UsageError(f"--workdir {workdir}: choose a directory that is new or empty")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir.resolve()


def _say(line: str = "", stream: IO[str] | None = None) -> None:
    print(line, file=stream or sys.stdout, flush=True)  # flushed: CI logs show progress live


# ---------------------------------------------------------------- the scratch repositories


@dataclass(frozen=True, slots=True)
class Scratch:
    """The scratch directory's layout and the pinned environment every child process gets."""

    root: Path
    env: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        config = home / ".gitconfig"
        config.write_text(
            "[init]\n\tdefaultBranch = main\n"
            "[commit]\n\tgpgSign = false\n"
            "[gc]\n\tauto = 0\n"
            "[advice]\n\tdetachedHead = false\n",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        package_root = str(Path(controller.__file__).parent.parent)
        env.update({
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_GLOBAL": str(config),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            # The daemon and `offerctl signoff` run from the same package as this demo.
            "PYTHONPATH": os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")])),
        })  # fmt: skip
        env.update(_identity(PUBLISHER))
        object.__setattr__(self, "env", env)

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def publisher(self) -> Path:
        return self.root / "publisher"

    @property
    def checkout(self) -> Path:
        return self.root / "controller"

    @property
    def daemon_log(self) -> Path:
        return self.root / "daemon.log"

    def git(
        self, cwd: Path, *args: str, who: tuple[str, str] = PUBLISHER, check: bool = True
    ) -> GitResult:
        """`git <args>` in `cwd` through the one runner, with the scratch environment."""
        runner = GitRunner(cwd, base_env={**self.env, **_identity(who)})
        verb = next((a for a in args if not a.startswith("-") and "=" not in a), args[0])
        proc = runner.run(args, check=False, remote=verb in _REMOTE_VERBS)
        if check and proc.status != 0:
            detail = proc.stderr.decode("utf-8", "replace").strip()
            raise DemoError(f"git {args[0]} in {cwd.name} failed: {detail}")
        return proc

    def seed(self, offers: Path) -> None:
        """origin.git with one commit (the example offers and publishing.yaml) and two clones."""
        self.git(self.root, "init", "-q", "--bare", "-b", BRANCH, str(self.origin))
        self.git(self.root, "clone", "-q", str(self.origin), str(self.publisher))
        for folder in sorted(offers.iterdir()):
            if (folder / "offer.yaml").is_file():
                shutil.copytree(
                    folder,
                    self.publisher / "offers" / folder.name,
                    ignore=shutil.ignore_patterns("status.yaml", "signoff.yaml"),
                )
        (self.publisher / "publishing.yaml").write_text(PUBLISHING_YAML, encoding="utf-8")
        signers = self.publisher / SIGNERS_FILE
        signers.parent.mkdir(parents=True, exist_ok=True)
        signers.write_text(self.make_keys(), encoding="utf-8")
        self.git(self.publisher, "add", "-A")
        self.git(self.publisher, "commit", "-q", "-m", "Add the example offers")
        self.git(self.publisher, "push", "-q", "origin", f"HEAD:{BRANCH}")
        self.git(self.root, "clone", "-q", str(self.origin), str(self.checkout))

    def key(self, who: tuple[str, str]) -> Path:
        """The private ssh key the demo generated for `who`."""
        return self.root / "keys" / who[1].partition("@")[0]

    def signing(self, who: tuple[str, str]) -> tuple[str, ...]:
        """git options that make the next commit signed with `who`'s ssh key."""
        return ("-c", "gpg.format=ssh", "-c", f"user.signingKey={self.key(who)}")

    def make_keys(self) -> str:
        """An ssh signing key each for the publisher and the approver; the allowed signers."""
        if shutil.which("ssh-keygen") is None:
            raise DemoError("ssh-keygen is needed to make the demo's signing keys; install openssh")
        (self.root / "keys").mkdir(mode=0o700, exist_ok=True)
        lines = []
        for who in (PUBLISHER, APPROVER):
            key = self.key(who)
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who[1], "-f", str(key)],
                check=True, capture_output=True, env=dict(self.env),
            )  # fmt: skip
            kind, blob = key.with_suffix(".pub").read_text(encoding="utf-8").split()[:2]
            lines.append(f"{who[1]} {kind} {blob}\n")
        return "".join(lines)

    def publisher_env(self) -> dict[str, str]:
        """The environment for the publisher's `offerctl signoff`: commits signed by her key."""
        config = self.root / "home" / "publisher.gitconfig"
        config.write_text(
            (self.root / "home" / ".gitconfig").read_text(encoding="utf-8")
            + f"[commit]\n\tgpgSign = true\n[gpg]\n\tformat = ssh\n"
            f"[user]\n\tsigningKey = {self.key(PUBLISHER)}\n",
            encoding="utf-8",
        )
        return {**self.env, "GIT_CONFIG_GLOBAL": str(config)}

    def catch_up(self) -> None:
        """The publisher's clone at origin's tip (it never has work of its own left over)."""
        self.git(self.publisher, "fetch", "-q", "origin")
        self.git(self.publisher, "reset", "-q", "--hard", f"origin/{BRANCH}")


def _identity(who: tuple[str, str]) -> dict[str, str]:
    name, email = who
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


class DemoError(UserError):
    """Something in the demo's own set-up or sign-off failed; the message says what."""


# ---------------------------------------------------------------- what changed (pure)


def phase_lines(
    before: Mapping[str, OfferStatus], after: Mapping[str, OfferStatus], *, unicode: bool = True
) -> list[tuple[str, str]]:
    """(offer, "Before → After  stages") for every offer whose phase changed, sorted."""
    arrow = "\u2192" if unicode else "->"
    lines = []
    for offer, now in sorted(after.items()):
        was = before.get(offer)
        if was is not None and was.phase is now.phase:
            continue
        change = f"{was.phase.value if was else 'New'} {arrow} {now.phase.value}"
        lines.append((offer, f"{change:<30} {progress(now.stages).plain(unicode=unicode)}"))
    return lines


def settled(statuses: Mapping[str, OfferStatus | None]) -> bool:
    """Every offer has status and rests in a phase that waits for nobody."""
    return bool(statuses) and all(
        s is not None and s.phase in SETTLED | STUCK for s in statuses.values()
    )


def awaiting_signoff(statuses: Mapping[str, OfferStatus | None]) -> list[tuple[str, str]]:
    """(offer, generation) of every offer whose pipeline waits for a sign-off."""
    return sorted(
        (offer, s.observed_generation)
        for offer, s in statuses.items()
        if s is not None and s.phase is Phase.AWAITING_SIGNOFF and s.observed_generation
    )


def page_url(log: str) -> str | None:
    """`http://HOST:PORT/` from the daemon's text log ("listening on HOST:PORT"); None before."""
    found = LISTENING.search(log)
    if found is None:
        return None
    host, port = found.groups()
    host = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL is bracketed
    return f"http://{host}:{port}/"


# ---------------------------------------------------------------- the daemon process


class DaemonProcess:
    """`offerctl run` on the scratch checkout, logging to daemon.log."""

    def __init__(self, scratch: Scratch, time_scale: float) -> None:
        argv = [
            sys.executable, "-m", "controller", "run",
            "--repo", str(scratch.checkout), "--remote", "origin", "--branch", BRANCH,
            "--interval", DAEMON_POLL_SECONDS, "--listen", "127.0.0.1:0",
            "--marketplace", "sim", "--time-scale", repr(time_scale), "--log-format", "text",
        ]  # fmt: skip
        self.log = scratch.daemon_log
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=scratch.root,
                env=dict(scratch.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def exited(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> int:
        """SIGTERM, then wait; SIGKILL only if it outlives STOP_TIMEOUT. Its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -int(signal.SIGKILL)

    def page_url(self) -> str | None:
        """The timeline page's URL, once the daemon has logged the address it listens on."""
        try:
            return page_url(self.log.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return None

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------- the run


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
        self.shots: Screenshots | None = None  # with `screenshot`: the browser that takes them
        self.screenshot: Path | None = None

    def run(self, offers: Path) -> bool:
        scratch = self.scratch
        _say(f"offerctl demo in {scratch.root}")
        scratch.seed(offers)
        count = len(list(scratch.publisher.glob("offers/*/offer.yaml")))
        _say(
            f"  origin.git   the remote: {count} example offers and publishing.yaml "
            f"(approver {APPROVER[1]}) and {SIGNERS_FILE} (their ssh signing keys, made with "
            f"ssh-keygen), pushed by {PUBLISHER[0]}"
        )
        _say("  publisher/   the publisher's clone (where sign-offs are made and merged)")
        _say("  controller/  the daemon's own checkout, which it fetches into and pushes from")
        week = 7 * 86400 / self.time_scale
        _say(
            f"Starting `offerctl run` (simulated marketplace at {self.time_scale:g}x: a week of "
            f"certification takes {week:.0f} s); its log: {scratch.daemon_log.name}"
        )
        _say()
        daemon = DaemonProcess(scratch, self.time_scale)
        self.started = time.monotonic()
        try:
            outcome = self._follow(daemon)
        except DemoError as exc:
            _say(f"offerctl demo: {exc}", sys.stderr)
            outcome = False
        finally:
            code = daemon.stop()
        elapsed = time.monotonic() - self.started
        _say()
        if code != 0:
            _say(f"offerctl demo: the daemon exited {code} on SIGTERM; its log ends:", sys.stderr)
            _say(daemon.tail(), sys.stderr)
            outcome = False
        else:
            _say(f"Stopped the daemon with SIGTERM (exit 0) after {elapsed:.1f} s.")
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
                    for commit in _first_parent_commits(self.scratch, tip, new_tip):
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
            _say(f"{self._clock()}  {offer:<24} {line}")
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
        _say(f"{pad}  Screenshot of the timeline page ({url}): {path}")

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
        _say(
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
                _say(
                    f"{pad}  {APPROVER[0]} approves: merges it into {BRANCH} ({trailer}), "
                    "signed with her own key"
                )
                return
        raise DemoError(f"could not push the sign-off merge in {PUSH_TRIES} tries")

    def _verdict(self, statuses: Mapping[str, OfferStatus | None]) -> bool:
        elapsed = time.monotonic() - self.started
        stuck = sorted(o for o, s in statuses.items() if s is not None and s.phase in STUCK)
        _say()
        if stuck:
            _say(
                f"offerctl demo: {', '.join(stuck)} ended {statuses[stuck[0]].phase.value}"  # type: ignore[union-attr]
                "; `offerctl status OFFER` in the publisher's clone says why",
                sys.stderr,
            )
            return False
        days = elapsed * self.time_scale / 86400
        _say(
            f"Every offer settled in {elapsed:.1f} s ({days:.1f} days of marketplace time), "
            f"{len(self.signed)} sign-off{'s' if len(self.signed) != 1 else ''} included."
        )
        return True

    def _final_table(self) -> None:
        self.scratch.catch_up()
        _say()
        status_command.run(
            argparse.Namespace(
                offer=None,
                repo=str(self.scratch.publisher),
                rev="HEAD",
                output="table",
                watch=False,
                interval=status_command.DEFAULT_INTERVAL,
                color="auto",
            )
        )


def _first_parent_commits(scratch: Scratch, old: str, new: str) -> Sequence[str]:
    """The commits from `old` (exclusive) to `new`, oldest first, along the branch's line."""
    span = f"{old}..{new}" if old else new
    out = scratch.git(
        scratch.origin, "rev-list", "--first-parent", "--reverse", "--end-of-options", span
    ).text
    return out.split()
