"""A real offers repository driven only through the public CLI, for the status-trust attacks.

Every pass is `offerctl reconcile` (in-process `controller.cli.main`) against
the simulated marketplace in the repository's own git directory; the time
scale is chosen per pass, so a week of certification can pass in a second or
a submission can stay in Validation for the whole test. The marketplace is
read back only to check what happened to a submission.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from git_helpers import GitRepos, git

from controller.cli import main
from controller.marketplace.api import Submission
from controller.marketplace.simulated import SimulatedMarketplace

EXAMPLES = Path(__file__).resolve().parents[2] / "offers"
TEMPLATE = "fabrikam-case-triage"  # passes certification in the simulated marketplace
FAST = "1000000"  # a week in 0.6 s
REAL = "1"  # Validation alone takes 15 minutes: a submission stays in flight
NONE_POLICY = "apiVersion: offers.marketplace/v1\nkind: Publishing\nsignoff:\n  provider: none\n"


def offer_files(offer: str, target: str, *, version: str = "1.2") -> dict[str, bytes]:
    """The example offer copied to offers/<offer>/ under the name `offer`, with `target`.

    `version` is the spec's appVersion: another value makes another spec.
    """
    folder = EXAMPLES / TEMPLATE
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
            files[f"offers/{offer}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    text = files[f"offers/{offer}/offer.yaml"].decode()
    text = text.replace(f"name: {TEMPLATE}", f"name: {offer}", 1)
    text = re.sub(r"^  target: \w+$", f"  target: {target}", text, count=1, flags=re.M)
    text = text.replace('appVersion: "1.2"', f'appVersion: "{version}"', 1)
    files[f"offers/{offer}/offer.yaml"] = text.encode()
    return files


def signoff_yaml(offer: str, generation: str) -> str:
    return (
        "apiVersion: offers.marketplace/v1\nkind: SignOff\n"
        f"offer: {offer}\ngeneration: {generation}\n"
    )


@contextlib.contextmanager
def _clean_env() -> Iterator[None]:
    saved = {k: os.environ.pop(k, None) for k in ("OFFERCTL_MARKETPLACE", "OFFERCTL_TIME_SCALE")}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is not None:
                os.environ[key] = value


def offerctl(*argv: str) -> tuple[int, str, str]:
    """Run the real CLI in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with _clean_env(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


class OffersWorld:
    """One offers repository on branch main, reconciled in place (local mode)."""

    def __init__(self, gitrepos: GitRepos, files: Mapping[str, str | bytes]) -> None:
        self.gitrepos = gitrepos
        self.repo = gitrepos.init("offers-repo", files)

    def reconcile(self, scale: str) -> None:
        code, out, err = offerctl("reconcile", "--repo", str(self.repo), "--time-scale", scale)
        assert code == 0, out + err

    def commit(self, files: Mapping[str, str | bytes | None], message: str) -> str:
        return self.gitrepos.commit(self.repo, files, message)

    def head(self) -> str:
        return self.gitrepos.head(self.repo)

    def status(self, offer: str) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(
            git(self.repo, "show", f"HEAD:offers/{offer}/status.yaml")
        )
        return data

    def status_text(self, offer: str) -> str:
        return git(self.repo, "show", f"HEAD:offers/{offer}/status.yaml")

    def reconcile_until(self, offer: str, phase: str, scale: str, timeout: float = 30) -> None:
        """Reconcile until `offer`'s committed status reaches `phase`."""
        deadline = time.monotonic() + timeout
        while True:
            self.reconcile(scale)
            seen = self.status(offer)["phase"]
            if seen == phase:
                return
            assert time.monotonic() < deadline, f"{offer} stuck in {seen}, waiting for {phase}"
            time.sleep(0.2)

    def submission(self, submission_id: str) -> Submission:
        """The marketplace's word on one submission (read only)."""
        store = self.repo / ".git" / "offerctl" / "marketplace.sqlite3"
        return SimulatedMarketplace(store, time_scale=1.0).get(submission_id)

    def live_generation(self, offer: str) -> str:
        store = self.repo / ".git" / "offerctl" / "marketplace.sqlite3"
        return SimulatedMarketplace(store, time_scale=1.0).listing(offer).live_generation


def condition(data: Mapping[str, Any], kind: str) -> dict[str, Any]:
    for found in data.get("conditions") or ():
        if found["type"] == kind:
            return dict(found)
    raise AssertionError(f"no {kind} condition in {data}")
