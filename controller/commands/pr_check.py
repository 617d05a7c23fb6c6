"""`offerctl pr-check`: validate and plan a pull request, and tell GitHub what it will do.

For CI. Validates the checkout as `offerctl validate` does (the whole
repository), plans its HEAD as `offerctl plan` does, with the committed
statuses of `--base` (default: origin's GITHUB_BASE_REF in GitHub Actions)
standing in for what the controller last observed, and reads which
`offers/<id>/signoff.yaml` the pull request adds (base to HEAD). Then:

- prints the Markdown summary (or, with `-o json`, the requests it posts);
- appends it to `$GITHUB_STEP_SUMMARY` when that is set (GitHub Actions);
- posts a check run named "offerctl" on `--sha` of `--github-repo`, with
  the findings as annotations, or a commit status if the token may not
  create check runs (403). The API and its token are the operator's:
  `--github-api-url` / `OFFERCTL_GITHUB_API_URL` and `OFFERCTL_GITHUB_TOKEN`
  only. In Actions, map the job's token explicitly
  (`OFFERCTL_GITHUB_TOKEN: ${{ github.token }}`); GITHUB_TOKEN itself is
  never read.

Exit status follows validation: 1 when an offer or repository file is
invalid, else 0 (also when the plan could not be made, or GitHub could not
be told: both are reported on stderr and in the summary); 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.commands import validate
from controller.commands.plan import Made, make_plan
from controller.core.errors import EXIT_FAIL, EXIT_OK, OfferctlError, UsageError
from controller.git.repo import BlobTooLarge, GitRepo
from controller.prcheck import report
from controller.prcheck.github import ChecksPoster, PostError, check_repository, check_sha
from controller.reconcile.reconciler import policy_at
from controller.repo.statusread import read_statuses, resolve
from controller.signoff.document import MAX_BYTES as SIGNOFF_MAX_BYTES
from controller.signoff.document import parse_signoff
from controller.signoff.operator import ENV_GITHUB_TOKEN, GitHubEndpoint, github_endpoint
from controller.validation.engine import OfferValidation

SIGNOFF_FILE = "signoff.yaml"


def run(args: argparse.Namespace) -> int:
    env: Mapping[str, str] = os.environ
    repository = _repository(args, env)
    endpoint = github_endpoint(args.github_api_url, env)  # a bad URL is a usage error early
    _, results = validate.collect(
        Path(args.repo), [], jobs=args.jobs, strict=args.strict, keep_manifests=True
    )
    now = datetime.now(UTC)
    with GitRepo(Path(args.repo)) as repo:
        head = resolve(repo, "HEAD")
        base = _base(args, repo, env)
        sha = _head_sha(args, env, head)
        made, plan_error = _plan(args, repo, base)
        country = policy_at(repo, made.commit if made else head).holidays_country
        signoffs = _signoffs(repo, base, head) if base else []
    facts = report.CheckFacts(
        results=results,
        offers=_offers(made, results),
        now=now,
        commit=made.commit if made else head,
        base=base,
        from_committed=made.from_committed if made else True,
        plan_error=plan_error,
        notes=made.notes if made else (),
        signoffs=signoffs,
        country=country,
    )
    markdown = report.summary_markdown(facts)
    run_requests = report.check_run(facts, sha, _details_url(env))
    status = report.commit_status(facts, _details_url(env))
    if args.output == "json":
        document = {
            "conclusion": report.conclusion(facts),
            "headSha": sha,
            "checkRun": run_requests.create,
            "checkRunUpdates": list(run_requests.updates),
            "commitStatus": status,
            "summary": markdown,
        }
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=True) + "\n")
    else:
        sys.stdout.write(markdown)
    _write_step_summary(env, markdown)
    if plan_error:
        print(f"offerctl: warning: no plan: {plan_error}", file=sys.stderr)
    if not args.no_post:
        _post(endpoint, repository, sha, run_requests, status)
    return EXIT_OK if facts.valid else EXIT_FAIL


# ---------------------------------------------------------------- what is checked


def _plan(args: argparse.Namespace, repo: GitRepo, base: str) -> tuple[Made | None, str]:
    plan_args = argparse.Namespace(
        remote=None,
        branch=None,
        rev=None,
        marketplace=args.marketplace,
        time_scale=args.time_scale,
        poll_interval=args.poll_interval,
        github_api_url=args.github_api_url,
    )
    try:
        return make_plan(plan_args, repo, statuses_at=base or None), ""
    except UsageError:
        raise
    except OfferctlError as exc:  # the repository or the marketplace could not be read
        return None, str(exc)


def _offers(made: Made | None, results: Sequence[OfferValidation]) -> list[report.OfferFacts]:
    if made is None:
        return []
    titles = {r.offer_id: _title(r.manifest) for r in results if r.offer_id}
    after = {p.offer: p.after for p in made.planned}
    offers: list[report.OfferFacts] = []
    for plan in made.plans:
        status = after.get(plan.offer)
        offers.append(
            report.OfferFacts(
                offer=plan.offer,
                plan=plan,
                title=titles.get(plan.offer, ""),
                estimated_live=status.estimated_live if status else "",
                stages=status.stages if status else (),
            )
        )
    return offers


def _title(manifest: Mapping[str, Any] | None) -> str:
    """spec.offerSetup.alias, the offer's name in Partner Center, when it is a string."""
    spec = manifest.get("spec") if isinstance(manifest, Mapping) else None
    setup = spec.get("offerSetup") if isinstance(spec, Mapping) else None
    alias = setup.get("alias") if isinstance(setup, Mapping) else None
    return alias if isinstance(alias, str) else ""


def _signoffs(repo: GitRepo, base: str, head: str) -> list[report.SignOffFacts]:
    """The signoff.yaml files HEAD has and `base` has not, with the base's committed status."""
    added: list[str] = []
    for path in repo.changed_paths(base, head):
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "offers" and parts[2] == SIGNOFF_FILE:
            added.append(parts[1])
    if not added:
        return []
    at_head = repo.snapshot(head, added)
    at_base = repo.snapshot(base, added)
    statuses = {e.offer: e.status for e in read_statuses(repo, base, added)}
    found: list[report.SignOffFacts] = []
    for offer in sorted(added):
        path = f"offers/{offer}/{SIGNOFF_FILE}"
        entry = at_head.entry(path)
        if entry is None or at_base.entry(path) is not None:
            continue  # deleted or changed by the pull request, not added
        status = statuses.get(offer)
        committed = {
            "committed_generation": status.observed_generation if status else "",
            "committed_phase": status.phase.value if status else "",
            "preview_url": status.preview_url if status else "",
        }
        try:
            parsed = parse_signoff(repo.read_blob(entry.oid, SIGNOFF_MAX_BYTES), name=path)
        except BlobTooLarge:
            found.append(report.SignOffFacts(offer, problem="larger than a sign-off can be"))
            continue
        if parsed.document is None:
            found.append(report.SignOffFacts(offer, problem=parsed.error, **committed))
            continue
        problem = (
            f"it names offer {parsed.document.offer!r}" if parsed.document.offer != offer else ""
        )
        found.append(
            report.SignOffFacts(
                offer, generation=parsed.document.generation, problem=problem, **committed
            )
        )
    return found


# ---------------------------------------------------------------- where to, and which commit


def _repository(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    name = args.github_repo or env.get("GITHUB_REPOSITORY") or ""
    if not name:
        return ""
    try:
        return check_repository(name)
    except ValueError as exc:
        raise UsageError(f"--github-repo: {exc}") from None


def _base(args: argparse.Namespace, repo: GitRepo, env: Mapping[str, str]) -> str:
    """--base, else origin/$GITHUB_BASE_REF when the checkout has it, else "" (no base)."""
    if args.base:
        found = repo.resolve(args.base)
        if found is None:
            raise UsageError(f"--base {args.base}: no such commit or branch in {args.repo}")
        return found
    name = env.get("GITHUB_BASE_REF") or ""
    if not name:
        return ""
    found = repo.resolve(f"refs/remotes/origin/{name}") if _safe_ref(name) else None
    if found is None:
        print(
            f"offerctl: warning: origin/{name} (GITHUB_BASE_REF) is not in the checkout; "
            "fetch it (actions/checkout with fetch-depth: 0) or pass --base",
            file=sys.stderr,
        )
        return ""
    return found


def _safe_ref(name: str) -> bool:
    return not name.startswith("-") and ".." not in name and all(c > " " for c in name)


def _head_sha(args: argparse.Namespace, env: Mapping[str, str], head: str) -> str:
    """--sha; else the pull request's head (GitHub's event file); else GITHUB_SHA; else HEAD."""
    sha = args.sha or _event_head(env) or env.get("GITHUB_SHA") or head
    try:
        return check_sha(sha.lower())
    except ValueError as exc:
        raise UsageError(f"--sha: {exc}") from None


def _event_head(env: Mapping[str, str]) -> str:
    """pull_request.head.sha from $GITHUB_EVENT_PATH: in a pull request GITHUB_SHA is the merge."""
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return ""
    try:
        with Path(path).open("rb") as handle:
            event = json.loads(handle.read(16 * 1024 * 1024))
    except (OSError, ValueError):
        return ""
    pull = event.get("pull_request") if isinstance(event, dict) else None
    head = pull.get("head") if isinstance(pull, dict) else None
    sha = head.get("sha") if isinstance(head, dict) else None
    return sha if isinstance(sha, str) else ""


def _details_url(env: Mapping[str, str]) -> str:
    """The workflow run (its job summary) in GitHub Actions; "" elsewhere."""
    server, repository, run_id = (
        env.get("GITHUB_SERVER_URL"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    if not (server and repository and run_id and run_id.isdigit()):
        return ""
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"


# ---------------------------------------------------------------- output


def _write_step_summary(env: Mapping[str, str], markdown: str) -> None:
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    except OSError as exc:
        print(f"offerctl: warning: cannot write GITHUB_STEP_SUMMARY: {exc}", file=sys.stderr)


def _post(
    endpoint: GitHubEndpoint,
    repository: str,
    sha: str,
    run: report.CheckRunRequests,
    status: Mapping[str, object],
) -> None:
    """Tell GitHub, or say on stderr why not; never the exit status (see the docstring)."""
    if not repository:
        print(
            "offerctl: not posting to GitHub: name the repository with --github-repo "
            "(or GITHUB_REPOSITORY)",
            file=sys.stderr,
        )
        return
    if not endpoint.token:
        print(f"offerctl: not posting to GitHub: {ENV_GITHUB_TOKEN} is not set", file=sys.stderr)
        return
    try:
        with ChecksPoster(endpoint, repository) as poster:
            posted = poster.publish(sha, run, status)
    except PostError as exc:
        print(f"offerctl: warning: GitHub was not told: {exc}", file=sys.stderr)
        return
    if posted.kind == "status":
        print(
            f"offerctl: posted a commit status on {sha[:12]} of {repository} (the token may "
            f"not create check runs: {posted.fallback_reason})",
            file=sys.stderr,
        )
    else:
        print(
            f"offerctl: posted check run {posted.check_run_id} on {sha[:12]} of {repository}",
            file=sys.stderr,
        )
