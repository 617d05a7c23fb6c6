"""Validating offers: one manifest, a whole repository, or any document against a named schema.

Per offer, in order: read `offers/<id>/offer.yaml` through a `FileSource`
(size-capped, no FIFOs, no symlinks), load it safely, validate it against
`schemas/offer.schema.json`, then run the semantic checks, read the assets and
run precheck on them (`precheck`: the certification rules the simulated
marketplace runs too). Every problem of every stage is collected; none stops the
others except a file that cannot be parsed. Valid files take the fast path:
`is_valid` on the compiled validator, and node positions are computed only
when there is a finding to place.

A repository is validated in a process pool over the available cores when it
holds many offers (each worker compiles the schema once), then checked across
offers for duplicate ids and ids that differ only in letter case.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from typing import Any

from controller.core.model import Finding, Severity
from controller.files.yamlio import MAX_BYTES, LoadedYaml, YamlError, load_mapping, load_yaml
from controller.repo import layout
from controller.validation import schemas
from controller.validation.assets import check_assets
from controller.validation.files import FileReadError, FileSource, WorktreeFiles
from controller.validation.issues import Issue, Path, json_path
from controller.validation.precheck import precheck
from controller.validation.schema_errors import schema_issues
from controller.validation.semantic import asset_refs, check_manifest, secret_paths
from controller.validation.strings import Strings

MANIFEST = layout.MANIFEST_FILE
OFFERS_DIR = layout.OFFERS_DIR
PARALLEL_MIN = 200  # below this many offers a pool costs more than it saves
CHUNK = 64
# Schema findings a semantic finding at the same path explains better (and without echoing).
_SUPERSEDED = frozenset({"SchemaPattern", "SchemaFormat"})
# Precheck findings an invalid schema already reports (as a required field).
_SCHEMA_EXPLAINS = frozenset({"PrivacyPolicyMissing"})


@dataclass(frozen=True)
class OfferValidation:
    """Everything validation found out about one offer folder."""

    offer_id: str  # the folder name
    file: str  # repo-relative path of offer.yaml
    manifest: dict[str, Any] | None  # the parsed document, when it parsed as a mapping
    findings: tuple[Finding, ...] = ()
    referenced_files: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """True when no finding is an error (warnings do not make an offer invalid)."""
        return not any(f.severity == Severity.ERROR for f in self.findings)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == Severity.ERROR)


def validate_offer(
    offer_dir: str, files: FileSource, *, collect_files: bool = True
) -> OfferValidation:
    """Validate `offer_dir/offer.yaml` (repo-relative) and the files it refers to.

    With `collect_files`, `referenced_files` holds the bytes of every asset the
    spec names (for submission); without, packages are only checked to exist.
    """
    offer_dir = offer_dir.rstrip("/")
    offer_id = offer_dir.rsplit("/", 1)[-1]
    file = f"{offer_dir}/{MANIFEST}"
    try:
        data = files.read(file, MAX_BYTES)
        loaded = load_mapping(data, name=file)
    except FileReadError as exc:
        return OfferValidation(
            offer_id, file, None, (_file_finding(file, exc.code, f"offer.yaml {exc.message}"),)
        )
    except YamlError as exc:
        finding = Finding(
            exc.code, exc.message, "$", file=file, line=max(exc.line, 1), column=max(exc.column, 1)
        )
        return OfferValidation(offer_id, file, None, (finding,))
    manifest: dict[str, Any] = loaded.document
    # Walked once, read by every check: the secrets, links and placeholders (`strings`).
    strings = Strings.of(manifest)
    refs = asset_refs(manifest)
    assets = check_assets(refs, offer_dir, files, collect=collect_files)
    spec = manifest.get("spec")
    prechecked = (
        precheck(spec, assets.read, strings=strings, refs=refs) if isinstance(spec, dict) else []
    )
    issues = _manifest_issues(manifest, offer_id, assets.issues + prechecked, strings)
    return OfferValidation(offer_id, file, manifest, _place(issues, loaded, file), assets.files)


def _manifest_issues(
    manifest: dict[str, Any], offer_id: str, content_issues: list[Issue], strings: Strings
) -> list[Issue]:
    semantic = check_manifest(manifest, offer_id, strings) + content_issues
    if schemas.is_valid("offer")(manifest):
        return semantic
    # The schema names a missing required field itself; precheck would repeat it.
    semantic = [i for i in semantic if i.code not in _SCHEMA_EXPLAINS]
    validator = schemas.validator("offer")
    found = schema_issues(validator.iter_errors(manifest), validator.schema, strings.secret_paths())
    semantic_paths = {issue.path for issue in semantic}
    found = [i for i in found if not (i.code in _SUPERSEDED and i.path in semantic_paths)]
    return found + semantic


def check_instance(schema_name: str, instance: Any) -> list[Finding]:
    """Findings (path, code, message; no line) of `instance` against schemas/<name>.schema.json."""
    if schemas.is_valid(schema_name)(instance):
        return []
    validator = schemas.validator(schema_name)
    issues = schema_issues(
        validator.iter_errors(instance), validator.schema, secret_paths(instance)
    )
    return [Finding(i.code, i.message, json_path(i.path), severity=i.severity) for i in issues]


def check_document(schema_name: str, data: bytes, *, file: str) -> tuple[Any, list[Finding]]:
    """Load YAML bytes and check them against a schema: (document or None, findings with lines)."""
    try:
        loaded = load_yaml(data, name=file)
    except YamlError as exc:
        return None, [
            Finding(
                exc.code,
                exc.message,
                "$",
                file=file,
                line=max(exc.line, 1),
                column=max(exc.column, 1),
            )
        ]
    if schemas.is_valid(schema_name)(loaded.document):
        return loaded.document, []
    validator = schemas.validator(schema_name)
    issues = schema_issues(
        validator.iter_errors(loaded.document), validator.schema, secret_paths(loaded.document)
    )
    return loaded.document, list(_place(issues, loaded, file))


def validate_repo(
    files: FileSource,
    offer_dirs: Sequence[str] | None = None,
    *,
    collect_files: bool = True,
    keep_manifests: bool = True,
    workers: int | None = None,
) -> list[OfferValidation]:
    """Validate the given offer folders (default: every `offers/*` holding an offer.yaml).

    Also checks across offers: an id used twice, or folder names and ids that
    differ only in letter case (they collide on case-insensitive filesystems
    and in the marketplace). `workers` > 1 validates in a process pool; the
    default uses every available core for large repositories. Without
    `keep_manifests` (a report needs only findings) each result's manifest is
    cut down to its metadata, which is cheaper to send back from a worker.
    """
    dirs = list(offer_dirs) if offer_dirs is not None else discover_offers(files)
    results = _validate_many(files, dirs, collect_files, keep_manifests, workers)
    siblings = _sibling_names(files, dirs)
    return cross_check(results, siblings)


def discover_offers(files: FileSource) -> list[str]:
    """Repo-relative folders under offers/ that hold an offer.yaml (whatever it contains)."""
    found = []
    for name in files.list_dir(OFFERS_DIR):
        folder = f"{OFFERS_DIR}/{name}"
        if files.kind(folder) == "dir" and files.kind(f"{folder}/{MANIFEST}") != "missing":
            found.append(folder)
    return found


def _validate_many(
    files: FileSource, dirs: list[str], collect_files: bool, keep: bool, workers: int | None
) -> list[OfferValidation]:
    count = workers if workers is not None else _available_cores()
    if (
        count <= 1
        or len(dirs) < (PARALLEL_MIN if workers is None else 2)
        or not isinstance(files, WorktreeFiles)
    ):
        return _validate_chunk(files, dirs, collect_files, keep)
    schemas.is_valid("offer")  # compile before forking: workers inherit it
    chunks = [dirs[i : i + CHUNK] for i in range(0, len(dirs), CHUNK)]
    # fork is fast and inherits the compiled validator, but is unsafe once threads run.
    method = "fork" if threading.active_count() == 1 and "fork" in _start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=count, mp_context=get_context(method)) as pool:
        parts = pool.map(
            _validate_chunk,
            [files] * len(chunks),
            chunks,
            [collect_files] * len(chunks),
            [keep] * len(chunks),
        )
        return [result for part in parts for result in part]


def _validate_chunk(
    files: FileSource, dirs: list[str], collect_files: bool, keep: bool
) -> list[OfferValidation]:
    results = [validate_offer(d, files, collect_files=collect_files) for d in dirs]
    if keep:
        return results
    return [replace(r, manifest=_metadata_only(r.manifest)) for r in results]


def _metadata_only(manifest: dict[str, Any] | None) -> dict[str, Any] | None:
    if manifest is None:
        return None
    metadata = manifest.get("metadata")
    return {"metadata": metadata} if isinstance(metadata, dict) else {}


def _start_methods() -> list[str]:
    import multiprocessing  # noqa: PLC0415 - only needed on the parallel path

    return multiprocessing.get_all_start_methods()


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _sibling_names(files: FileSource, dirs: Iterable[str]) -> dict[str, list[str]]:
    parents = {d.rstrip("/").rpartition("/")[0] for d in dirs}
    return {parent: files.list_dir(parent) for parent in parents}


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", name).casefold()


def cross_check(
    results: list[OfferValidation], siblings: dict[str, list[str]] | None = None
) -> list[OfferValidation]:
    """Add DuplicateOfferId findings for ids used twice or differing only in case."""
    extra: dict[int, list[Finding]] = defaultdict(list)
    by_name: dict[str, list[int]] = defaultdict(list)
    for index, result in enumerate(results):
        name = (result.manifest or {}).get("metadata", {})
        name = name.get("name") if isinstance(name, dict) else None
        if isinstance(name, str):
            by_name[name].append(index)
    for name, indexes in by_name.items():
        for index in indexes[1:] if len(indexes) > 1 else ():
            first = results[indexes[0]]
            extra[index].append(
                _id_finding(results[index], f"offer id '{name}' is also used by {first.file}")
            )
    # Group every known folder name (validated or sibling) by its case- and Unicode-folded form.
    folded: dict[str, set[str]] = defaultdict(set)
    for names in (siblings or {}).values():
        for other in names:
            folded[_fold(other)].add(other)
    for result in results:
        folded[_fold(result.offer_id)].add(result.offer_id)
    for index, result in enumerate(results):
        for other in sorted(folded[_fold(result.offer_id)] - {result.offer_id}):
            message = (
                f"offer folder '{result.offer_id}' and '{other}' differ only in letter case"
                " or Unicode form"
            )
            extra[index].append(_id_finding(result, message))
    if not extra:
        return results
    return [
        replace(r, findings=tuple(sorted(r.findings + tuple(extra[i]), key=_order)))
        if i in extra
        else r
        for i, r in enumerate(results)
    ]


def _id_finding(result: OfferValidation, message: str) -> Finding:
    line, column = 1, 1
    if result.manifest is not None:
        # Re-locating needs the text; the manifest's name key is on a short line near the top.
        line, column = _name_position(result)
    return Finding(
        "DuplicateOfferId", message, "$.metadata.name", file=result.file, line=line, column=column
    )


def _name_position(result: OfferValidation) -> tuple[int, int]:
    for finding in result.findings:
        if finding.path == "$.metadata.name":
            return finding.line, finding.column
    return 1, 1


def _place(issues: Sequence[Issue], loaded: LoadedYaml, file: str) -> tuple[Finding, ...]:
    findings = []
    for issue in issues:
        location = loaded.locate_key(issue.path) if issue.at_key else loaded.locate(issue.path)
        message = issue.message + _yaml_hint(issue, location.plain_scalar)
        findings.append(
            Finding(
                issue.code,
                message,
                json_path(issue.path),
                severity=issue.severity,
                file=file,
                line=location.line,
                column=location.column,
            )
        )
    return tuple(sorted(findings, key=_order))


def _yaml_hint(issue: Issue, plain: str | None) -> str:
    """Why an unquoted scalar is not a string: YAML 1.1 reads no/on as booleans, 010 as octal."""
    if issue.code != "SchemaType" or plain is None or "a string" not in issue.message:
        return ""
    return f' (YAML reads the unquoted {plain} as a non-string; write "{plain}" in quotes)'


def _order(finding: Finding) -> tuple[int, int, str]:
    return finding.line, finding.column, finding.code


def _file_finding(file: str, code: str, message: str) -> Finding:
    return Finding(code, message, "$", file=file, line=1, column=1)


__all__ = [
    "OfferValidation",
    "Path",
    "check_document",
    "check_instance",
    "cross_check",
    "discover_offers",
    "validate_offer",
    "validate_repo",
]
