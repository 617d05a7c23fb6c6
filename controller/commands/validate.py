"""`offerctl validate [PATH...]`: schema and semantic checks, every error of every file.

PATH may be an offer.yaml, an offer folder, or a folder of offers (default:
`offers/` under --repo). Precheck (certification's rules) runs on every
offer; `--strict` makes its warnings errors. Exit 0 when everything is
valid, 1 when something is invalid, 2 on usage errors (including a PATH that
does not exist).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from controller.core.errors import EXIT_FAIL, EXIT_OK, UsageError
from controller.core.model import Severity
from controller.present import report
from controller.validation.engine import (
    MANIFEST,
    OFFERS_DIR,
    OfferValidation,
    cross_check,
    discover_offers,
    validate_repo,
)
from controller.validation.files import WorktreeFiles
from controller.validation.limits import SYMLINK_RULE
from controller.validation.repository import (
    check_offer_files,
    check_repository,
    misnamed_manifests,
)


def run(args: argparse.Namespace) -> int:
    groups, results = collect(Path(args.repo), args.paths, jobs=args.jobs, strict=args.strict)
    cwd = Path.cwd()
    if args.output == "json":
        sys.stdout.write(report.json_report(results, _shower(groups, cwd)))
    elif args.format == "github":
        sys.stdout.write(report.github_report(results))
    else:
        sys.stdout.write(report.text_report(results, _shower(groups, cwd)))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAIL


def collect(
    repo: Path,
    paths: list[str],
    *,
    jobs: int | None = None,
    strict: bool = False,
    keep_manifests: bool = False,
) -> tuple[dict[Path, list[str]], list[OfferValidation]]:
    """Validate PATHs (none: the whole repository): the folders by root, and every result.

    Also what `offerctl pr-check` reports; `keep_manifests` keeps each parsed
    offer.yaml on its result (pr-check shows the offers' names).
    """
    if not repo.is_dir():
        raise UsageError(f"--repo {repo}: not a directory")
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs must be at least 1")
    groups = _targets(repo, paths)
    results: list[OfferValidation] = []
    for root, dirs in groups.items():
        files = WorktreeFiles(root)
        found = validate_repo(
            files, dirs, collect_files=False, keep_manifests=keep_manifests, workers=jobs
        )
        results += check_offer_files(files, found)
        if not paths:  # the whole repository: its other files too
            results = check_repository(files) + results + misnamed_manifests(files, dirs)
    if len(groups) > 1:
        results = cross_check(results)
    if strict:
        results = [_strict(r) for r in results]
    return groups, results


def _strict(result: OfferValidation) -> OfferValidation:
    """Warnings become errors: `--strict` fails on anything certification might flag."""
    if all(f.severity != Severity.WARNING for f in result.findings):
        return result
    findings = tuple(
        replace(f, severity=Severity.ERROR) if f.severity == Severity.WARNING else f
        for f in result.findings
    )
    return replace(result, findings=findings)


def _shower(groups: dict[Path, list[str]], cwd: Path) -> report.ShowFile:
    """Repo-relative file -> path relative to the current directory (for editors)."""
    roots = list(groups)

    def show(file: str) -> str:
        root = (
            roots[0]
            if len(roots) == 1
            else next((r for r in roots if (r / file).exists()), roots[0])
        )
        relative = os.path.relpath(root / file, cwd)
        return relative if not relative.startswith("..") else str(root / file)

    return show


def _targets(repo: Path, paths: list[str]) -> dict[Path, list[str]]:
    """Group the offer folders to validate by repository root: {root: [repo-relative dirs]}."""
    repo_root = Path(os.path.realpath(repo))
    if not paths:
        offers = repo_root / OFFERS_DIR
        if not offers.is_dir():
            raise UsageError(f"no {OFFERS_DIR}/ folder in {repo}; pass PATHs to validate")
        return {repo_root: discover_offers(WorktreeFiles(repo_root))}
    groups: dict[Path, list[str]] = {}
    for text in paths:
        path = Path(text)
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"{text}: no such file or directory")
        for offer_dir in _offer_dirs(path, text):
            _refuse_links_in(repo_root, offer_dir, text)
            real = Path(os.path.realpath(offer_dir))
            root = (
                repo_root
                if real.is_relative_to(repo_root) and real != repo_root
                else real.parent.parent
            )
            relative = real.relative_to(root).as_posix()
            bucket = groups.setdefault(root, [])
            if relative not in bucket:
                bucket.append(relative)
    return groups


def _refuse_links_in(repo_root: Path, offer_dir: Path, text: str) -> None:
    """UsageError when a folder on the way to `offer_dir` is a symlink the repository holds.

    Such a link is the pull request's, and it may point anywhere (a runner's home,
    another checkout); following it would validate, and echo, files outside.
    """
    absolute = Path.cwd() / offer_dir  # lexical: resolving would follow the links
    for candidate in (absolute, *absolute.parents):
        if not candidate.is_symlink():
            continue
        if Path(os.path.realpath(candidate.parent)).is_relative_to(repo_root):
            raise UsageError(f"{text}: {candidate.name} {SYMLINK_RULE}")


def _offer_dirs(path: Path, text: str) -> list[Path]:
    if path.is_file() or (path.exists() and not path.is_dir()):
        if path.name.casefold() in ("offer.yml", "offer.yaml") and path.name != MANIFEST:
            raise UsageError(f"{text}: offerctl reads only {MANIFEST}; rename the file")
        if path.name != MANIFEST:
            raise UsageError(f"{text}: expected an {MANIFEST} file or a folder")
        return [path.parent]
    if (path / MANIFEST).exists() or (path / MANIFEST).is_symlink():
        return [path]
    found = sorted(
        child
        for child in path.iterdir()
        if (child / MANIFEST).exists() or (child / MANIFEST).is_symlink()
    )
    if not found:
        raise UsageError(f"{text}: no {MANIFEST} here or in its subfolders")
    return found
