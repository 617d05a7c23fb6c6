"""`offerctl signoff OFFER`: a new branch whose one commit signs off the awaited generation.

The generation comes from the offer's status.yaml at the base commit
(default HEAD), and only when its phase is AwaitingSignOff; any other phase
is refused with exit 1. The branch `signoff/<offer>-<short generation>` is
built with plumbing (hash-object, a private index, commit-tree, update-ref
with "must not exist yet"), so the user's working tree, index and current
branch are untouched. The commit is authored by the user's own git identity:
the person asking for sign-off is the change's author, and so can never
approve it. The output says how to push it and who may approve it.

The commit is signed (`git commit-tree -S`, with the user's own signing
key and `gpg.format`) when `--sign` is given, whenever the repository's
git provider counts only signed approvals (unless `--no-sign`), or when
git's `commit.gpgSign` says so (`signoff.trust: signature`): there, who wrote a sign-off
branch is known only from its signatures, so an unsigned one never counts.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from controller.commands import filecommit
from controller.core.errors import EXIT_OK, UsageError, UserError
from controller.core.generation import short
from controller.core.model import API_VERSION, Phase
from controller.files.yamlio import YamlError, dump_yaml, load_mapping
from controller.git import history as githistory
from controller.git.history import GitHistoryError
from controller.git.repo import check_ref_name, check_remote_name
from controller.repo.policy import POLICY_FILE, ApprovalTrust, Policy, Provider, parse_policy
from controller.repo.status import parse as parse_status
from controller.signoff import load_authorization
from controller.signoff.document import parse_signoff

_OFFER_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$")
_GENERATION = re.compile(r"^sha256:[0-9a-f]{64}$")
_MAX_FILE = 1024 * 1024

_PHASE_HINTS: dict[Phase, str] = {
    Phase.PUBLISHING: "it is already signed off and publishing",
    Phase.GOING_LIVE: "it is already signed off and going live",
    Phase.LIVE: "its current generation is already live",
    Phase.PREVIEW: "its target is preview; set spec.target: live to publish it",
    Phase.DRAFT: "its target is draft; set spec.target: live to publish it",
    Phase.INVALID: "its manifest is invalid; fix it first",
    Phase.REJECTED: "certification rejected it; fix the feedback in status.yaml first",
    Phase.SUSPENDED: "it is suspended (spec.suspend: true)",
}


@dataclass(frozen=True, slots=True)
class _Job:
    repo: Path
    offer: str
    base_rev: str  # as the user wrote it
    base: str = ""  # resolved commit id
    remote: str = "origin"
    note: str = ""
    sign: bool | None = None  # None: commit.gpgSign, else what the policy needs

    @property
    def path(self) -> str:
        return f"offers/{self.offer}/signoff.yaml"


def run(args: argparse.Namespace) -> int:
    offer = str(args.offer)
    if not _OFFER_ID.match(offer):
        raise UsageError(f"{offer!r} is not an offer id (lowercase letters, digits, hyphens)")
    check_ref_name(args.base, what="revision")
    check_remote_name(args.remote)
    if len(args.note) > 2000:
        raise UsageError("--note is limited to 2,000 characters")
    job = _Job(
        Path(args.repo), offer, args.base, remote=args.remote, note=args.note, sign=args.sign
    )
    try:
        return _signoff(job)
    except GitHistoryError as exc:
        raise UserError(f"{job.repo}: {exc}") from None


def _signoff(job: _Job) -> int:
    base = githistory.resolve_commit(job.repo, job.base_rev)
    if base is None:
        raise UserError(f"{job.repo}: no commit {job.base_rev!r} (is this an offers repository?)")
    job = _Job(job.repo, job.offer, job.base_rev, base, job.remote, job.note)
    offer_file = f"offers/{job.offer}/offer.yaml"
    if githistory.tree_entry(job.repo, base, offer_file) is None:
        raise UserError(f"no {offer_file} at {job.base_rev} ({base[:12]})")
    generation = _awaited_generation(job)

    existing = githistory.read_file(job.repo, base, job.path, _MAX_FILE)
    if existing is not None:
        parsed = parse_signoff(existing, name=job.path)
        if parsed.document is not None and parsed.document.generation == generation:
            print(
                f"{job.path} at {job.base_rev} already signs off generation "
                f"{short(generation)}; if status does not show it accepted, its signOff "
                "message says why."
            )
            return EXIT_OK

    branch = f"signoff/{job.offer}-{short(generation)}"
    check_ref_name(branch, what="branch name")
    commit = _create_branch(job, branch, generation)
    _print_next_steps(job, branch, commit, generation)
    return EXIT_OK


def _awaited_generation(job: _Job) -> str:
    repo, base, offer, base_rev = job.repo, job.base, job.offer, job.base_rev
    status_path = f"offers/{offer}/status.yaml"
    data = githistory.read_file(repo, base, status_path, _MAX_FILE)
    if data is None:
        raise UserError(
            f"offer {offer} has no status yet at {base_rev}: the controller has not "
            "reconciled it, so nothing awaits sign-off"
        )
    status = parse_status(data, name=status_path)
    if status is None:
        raise UserError(f"{status_path} at {base_rev} cannot be read; run a reconcile first")
    if status.phase is not Phase.AWAITING_SIGNOFF:
        hint = _PHASE_HINTS.get(status.phase, "the pipeline has not reached SignOff yet")
        raise UserError(
            f"offer {offer} is {status.phase}, not {Phase.AWAITING_SIGNOFF}: "
            f"nothing awaits sign-off ({hint})"
        )
    generation = status.observed_generation
    if not _GENERATION.match(generation):
        raise UserError(f"{status_path} has no valid observedGeneration; run a reconcile first")
    return generation


def render_signoff(offer: str, generation: str, note: str = "") -> bytes:
    data: dict[str, str] = {
        "apiVersion": API_VERSION,
        "kind": "SignOff",
        "offer": offer,
        "generation": generation,
    }
    if note:
        data["note"] = note
    header = (
        "# yaml-language-server: $schema=../../schemas/signoff.schema.json\n"
        "# Go Live sign-off, written by `offerctl signoff`. It counts once merged through a\n"
        "# pull request approved by an authorized approver, and only for this generation.\n"
    )
    return (header + dump_yaml(data)).encode("utf-8")


def _create_branch(job: _Job, branch: str, generation: str) -> str:
    repo, base, path, offer = job.repo, job.base, job.path, job.offer
    content = render_signoff(offer, generation, job.note)
    ref = f"refs/heads/{branch}"
    existing = githistory.resolve_commit(repo, ref)
    blob_id = filecommit.store_blob(repo, content)
    if existing is not None:
        entry = githistory.tree_entry(repo, existing, path)
        if entry is not None and entry.oid == blob_id:
            print(f"Branch {branch} already holds this sign-off (commit {existing[:12]}).")
            return existing
        raise UserError(
            f"branch {branch} already exists with other content; push it, or delete "
            f"it (git branch -D {branch}) and run this again"
        )
    message = (
        f"Sign off {offer} generation {short(generation)} for Go Live\n\n"
        f"Approves generation {generation} of offer {offer} for publishing.\n"
        "Merging this through an approved pull request is the publisher's Go Live.\n"
    )
    commit = filecommit.commit_file(
        repo,
        base,
        path,
        blob_id,
        message,
        sign=_should_sign(job),
        signing_hint=(
            " (signing needs your key: git config user.signingKey, and gpg.format ssh for an "
            "ssh key; --no-sign makes an unsigned commit, which counts only under "
            "signoff.trust: push-access)"
        ),
    )
    filecommit.create_branch(repo, branch, commit, "offerctl signoff")
    return commit


def _should_sign(job: _Job) -> bool:
    if job.sign is not None:
        return job.sign
    settings = _policy(job.repo, job.base).signoff
    if settings.provider is Provider.GIT and settings.trust is ApprovalTrust.SIGNATURE:
        return True  # an unsigned sign-off branch could never count
    return filecommit.gpg_sign_configured(job.repo)


def _print_next_steps(job: _Job, branch: str, commit: str, generation: str) -> None:
    repo, base, base_rev, offer, remote = job.repo, job.base, job.base_rev, job.offer, job.remote
    policy = _policy(repo, base)
    settings = policy.signoff
    target = githistory.current_branch(repo) if base_rev == "HEAD" else base_rev
    target = target or "main"
    print(f"Created branch {branch} (commit {commit[:12]}) with offers/{offer}/signoff.yaml")
    print(f"for generation {generation}.")
    print()
    print("Next steps:")
    print(f"  1. git push {remote} {branch}")
    if settings.provider is Provider.GITHUB and settings.github.repository:
        print(
            f"  2. open the pull request: https://github.com/{settings.github.repository}"
            f"/compare/{target}...{branch}?expand=1"
        )
    else:
        print(f"  2. open a pull request from {branch} into {target}")
    print(f"  3. {_who_approves(repo, base, offer, policy)}")
    if settings.provider is Provider.GIT and settings.trust is ApprovalTrust.SIGNATURE:
        print(
            "  4. the approver merges it with a merge commit signed by their own key "
            "(git merge --no-ff -S)\n     whose message carries 'Approved-by: Name <email>' "
            f"naming them, as {settings.allowed_signers_file or 'the allowed signers'} knows them"
        )
    elif settings.provider is Provider.GIT:
        print(
            "  4. merge it with a merge commit (not a fast-forward or rebase) whose message "
            "carries an\n     'Approved-by: Name <email>' trailer per approver (trust: "
            "push-access: unverified, anyone who can push could type it)"
        )
    elif settings.provider is Provider.GITHUB:
        print("  4. merge it after approval; approvals of an earlier push do not count")
    elif settings.provider is Provider.AZURE_DEVOPS:
        print(
            "  4. complete it after approval; votes cast before the last push do not count, "
            "and a rejection blocks"
        )
    else:
        print("  4. merge it (provider none: no review is checked; for local experiments only)")


def _who_approves(repo: Path, base: str, offer: str, policy: Policy) -> str:
    settings = policy.signoff
    if settings.problems:
        return "fix publishing.yaml's signoff settings first: " + "; ".join(settings.problems)
    if settings.provider is Provider.NONE:
        return "no approval is required (provider none)"
    authorization = load_authorization(repo, base, offer, settings)
    if not authorization.configured:
        return f"nobody can approve it yet: {authorization.problem}"
    people = sorted(
        [
            *authorization.emails,
            *(f"@{x}" for x in authorization.logins),
            *(f"@{x}" for x in authorization.teams),
        ]
    )
    count = settings.required_approvals
    return (
        f"get {count} approval{'s' if count > 1 else ''} from: {', '.join(people)} "
        f"(per {authorization.source}); you cannot approve your own sign-off"
    )


def _policy(repo: Path, base: str) -> Policy:
    data = githistory.read_file(repo, base, POLICY_FILE, _MAX_FILE)
    if data is None:
        return parse_policy(None)[0]
    try:
        loaded = load_mapping(data, name=POLICY_FILE)
    except YamlError:
        return parse_policy({"apiVersion": "invalid"})[0]
    return parse_policy(loaded.document)[0]
