"""A real offers repository whose history the tests shape: sign-off branches, merges, pushes.

`OffersRepo` writes commits as named people (author and committer pinned per
commit), merges with `git merge --no-ff` and trailers in the message, squash
merges with `git commit --trailer`, and can sign merges with an ssh key made
by `ssh-keygen` (`make_key` skips the test when ssh-keygen is missing).
The offer's generation is computed from offer.yaml's spec as the controller
does, so "a spec change after sign-off" is a real edit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from git_helpers import GitRepos, git

from controller.core.generation import generation

OFFER = "demo-offer"
ANA = ("Ana Approver", "ana@contoso.com")
BO = ("Bo Reviewer", "bo@contoso.com")
CARL = ("Carl Author", "carl@contoso.com")
EVE = ("Eve Outsider", "eve@elsewhere.example")
MERGER = ("Merge Bot Platform", "merges@contoso.com")

POLICY_ANA_BO = """\
apiVersion: offers.marketplace/v1
kind: Publishing
signoff:
  approvers: [ana@contoso.com, bo@contoso.com]
  trust: push-access  # typed trailers count; the signed default is tested on its own
"""


def offer_yaml(title: str = "Demo Offer") -> str:
    return (
        "apiVersion: offers.marketplace/v1\nkind: Offer\n"
        f"metadata: {{name: {OFFER}}}\n"
        f"spec:\n  type: dynamics-365-customer-engagement\n  target: live\n"
        f"  offerSetup: {{alias: {json.dumps(title)}}}\n"
    )


def signoff_yaml(gen: str, offer: str = OFFER, note: str = "") -> str:
    text = f"apiVersion: offers.marketplace/v1\nkind: SignOff\noffer: {offer}\ngeneration: {gen}\n"
    return text + (f"note: {json.dumps(note)}\n" if note else "")


def who(person: tuple[str, str]) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": person[0],
        "GIT_AUTHOR_EMAIL": person[1],
        "GIT_COMMITTER_NAME": person[0],
        "GIT_COMMITTER_EMAIL": person[1],
    }


@dataclass
class OffersRepo:
    path: Path
    repos: GitRepos

    def git(
        self, *args: str, person: tuple[str, str] = CARL, env: Mapping[str, str] | None = None
    ) -> str:
        return git(self.path, *args, env={**who(person), **(env or {})})

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref).strip()

    def generation(self, ref: str = "HEAD") -> str:
        text = self.git("show", f"{ref}:offers/{OFFER}/offer.yaml")
        return generation(yaml.safe_load(text)["spec"], offer=OFFER)

    def commit(
        self,
        files: Mapping[str, str | None],
        message: str = "Change",
        person: tuple[str, str] = CARL,
        extra: tuple[str, ...] = (),
        sign_with: Path | None = None,
    ) -> str:
        self.repos.write(self.path, files)
        self.git("add", "-A", "--", *files, person=person)
        args = ["commit", "-q", "--allow-empty", "-m", message, *extra]
        if sign_with is not None:
            args = [*_signing(sign_with), *args, "-S"]
        self.git(*args, person=person)
        return self.head()

    def branch_signoff(
        self,
        gen: str,
        branch: str = "signoff/x",
        person: tuple[str, str] = CARL,
        note: str = "",
        sign_with: Path | None = None,
    ) -> None:
        """A branch off main whose one commit (by `person`) writes signoff.yaml."""
        self.git("checkout", "-q", "-b", branch, "main")
        self.commit(
            {f"offers/{OFFER}/signoff.yaml": signoff_yaml(gen, note=note)},
            "Sign off",
            person,
            sign_with=sign_with,
        )
        self.git("checkout", "-q", "main")

    def merge(
        self,
        branch: str = "signoff/x",
        trailers: tuple[str, ...] = (),
        person: tuple[str, str] = MERGER,
        sign_with: Path | None = None,
    ) -> str:
        """`git merge --no-ff` into main with `trailers` in the message (as a review platform)."""
        message = f"Merge pull request #7 from {branch}\n\nSign off the offer"
        if trailers:
            message += "\n\n" + "\n".join(trailers)
        args = ["merge", "-q", "--no-ff", "-m", message]
        if sign_with is not None:
            args = [*_signing(sign_with), *args, "-S"]
        self.git(*args, branch, person=person)
        return self.head()

    def squash(
        self,
        branch: str = "signoff/x",
        trailers: tuple[str, ...] = (),
        person: tuple[str, str] = CARL,
        committer: tuple[str, str] = MERGER,
        sign_with: Path | None = None,
    ) -> str:
        """A squash merge: one single-parent commit by `person`, committed by the platform."""
        self.git("merge", "-q", "--squash", branch, person=committer)
        env = {**who(committer), "GIT_AUTHOR_NAME": person[0], "GIT_AUTHOR_EMAIL": person[1]}
        args = ["commit", "-q", "-m", "Sign off the offer (#7)"]
        for trailer in trailers:
            args += ["--trailer", trailer]
        if sign_with is not None:
            args = [*_signing(sign_with), *args, "-S"]
        git(self.path, *args, env=env)
        return self.head()


def _signing(key: Path) -> list[str]:
    """git options that sign with an ssh key, as `git commit -S` with gpg.format=ssh does."""
    return ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key}"]


def make_offers_repo(gitrepos: GitRepos) -> OffersRepo:
    """main with offer.yaml and a publishing.yaml naming Ana and Bo as approvers."""
    path = gitrepos.init("offers")
    repo = OffersRepo(path, gitrepos)
    repo.commit(
        {f"offers/{OFFER}/offer.yaml": offer_yaml(), "publishing.yaml": POLICY_ANA_BO},
        "Add the demo offer",
        CARL,
    )
    return repo


@dataclass(frozen=True)
class SshKey:
    private: Path
    public_line: str  # "ssh-ed25519 AAAA..."

    def allowed_signers(self, principal: str) -> str:
        return f"{principal} {self.public_line}\n"


def make_key(directory: Path, name: str) -> SshKey:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed; ssh-signed commits cannot be made")
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
        check=True,
        capture_output=True,
    )
    public = (directory / f"{name}.pub").read_text().split()
    return SshKey(key, f"{public[0]} {public[1]}")
