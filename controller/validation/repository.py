"""The repository's other files, checked like manifests: publishing, sign-offs, CODEOWNERS.

`offerctl validate` covers the whole repository, not only offer.yaml:
- `publishing.yaml` against schemas/publishing.schema.json and each offer's
  `signoff.yaml` against schemas/signoff.schema.json, with the same
  FILE:LINE:COL messages and closest-name suggestions as manifests;
- CODEOWNERS (the file GitHub would use) parsed by the same code sign-off uses,
  so every line that code would skip is an error here;
- a misnamed file (`offer.yml`, `Offer.yaml`, `signoff.yml`, `publishing.yml`)
  is an error instead of being silently ignored.

Reads go through a `FileSource`, so the same rules hold for a working tree and
a commit. Findings for a repository-wide file come back as an
`OfferValidation` whose `offer_id` is empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from controller.core.model import Finding
from controller.files.yamlio import MAX_BYTES, show_text
from controller.repo import codeowners
from controller.repo.layout import CODEOWNERS_PATHS, MANIFEST_FILE, POLICY_FILE, SIGNOFF_FILE
from controller.validation.engine import MANIFEST, OFFERS_DIR, OfferValidation, check_document
from controller.validation.files import FileReadError, FileSource

PUBLISHING = POLICY_FILE
SIGNOFF = SIGNOFF_FILE
# Names a person means as one of ours but spelled so that offerctl would ignore the file.
_MEANT = {
    MANIFEST_FILE: MANIFEST,
    "offer.yml": MANIFEST,
    "signoff.yaml": SIGNOFF,
    "signoff.yml": SIGNOFF,
    "sign-off.yaml": SIGNOFF,
    POLICY_FILE: PUBLISHING,
    "publishing.yml": PUBLISHING,
}
_PROBLEM = re.compile(r"^(?P<file>.*?):(?P<line>\d+): (?P<message>.*)$")


def check_repository(files: FileSource) -> list[OfferValidation]:
    """Findings for the repository-wide files: publishing.yaml, CODEOWNERS, misnamed files."""
    results = []
    root = files.list_dir("")
    published = _check_yaml(files, PUBLISHING, "publishing") if PUBLISHING in root else []
    misnamed = [_misnamed("", name) for name in root if _is_misnamed(name, PUBLISHING)]
    if published or misnamed or PUBLISHING in root:
        results.append(OfferValidation("", PUBLISHING, None, tuple(published + misnamed)))
    owners = next((p for p in CODEOWNERS_PATHS if files.kind(p) != "missing"), None)
    if owners is not None:
        results.append(OfferValidation("", owners, None, tuple(_check_codeowners(files, owners))))
    return results


def misnamed_manifests(files: FileSource, known: Iterable[str]) -> list[OfferValidation]:
    """Offer folders whose manifest is misnamed (no offer.yaml, but an offer.yml or Offer.yaml)."""
    known_dirs = set(known)
    results = []
    for name in files.list_dir(OFFERS_DIR):
        folder = f"{OFFERS_DIR}/{name}"
        if folder in known_dirs or files.kind(folder) != "dir":
            continue
        wrong = [n for n in files.list_dir(folder) if _is_misnamed(n, MANIFEST)]
        if wrong:
            findings = tuple(_misnamed(folder, n) for n in wrong)
            results.append(OfferValidation(name, f"{folder}/{wrong[0]}", None, findings))
    return results


def check_offer_files(files: FileSource, results: list[OfferValidation]) -> list[OfferValidation]:
    """Add each offer folder's signoff.yaml and misnamed-file findings to its result."""
    out = []
    for result in results:
        folder = result.file.rpartition("/")[0]
        if not result.offer_id or not folder.startswith(f"{OFFERS_DIR}/"):
            out.append(result)
            continue
        names = files.list_dir(folder)
        extra = [
            _misnamed(folder, n)
            for n in names
            if _is_misnamed(n, MANIFEST) or _is_misnamed(n, SIGNOFF)
        ]
        if SIGNOFF in names:
            extra += _check_signoff(files, f"{folder}/{SIGNOFF}", result.offer_id)
        out.append(replace(result, findings=result.findings + tuple(extra)) if extra else result)
    return out


def _check_yaml(files: FileSource, path: str, schema: str) -> list[Finding]:
    try:
        data = files.read(path, MAX_BYTES)
    except FileReadError as exc:
        return [Finding(exc.code, f"{path} {exc.message}", "$", file=path, line=1, column=1)]
    _, findings = check_document(schema, data, file=path)
    return findings


def _check_signoff(files: FileSource, path: str, offer_id: str) -> list[Finding]:
    try:
        data = files.read(path, MAX_BYTES)
    except FileReadError as exc:
        return [Finding(exc.code, f"{path} {exc.message}", "$", file=path, line=1, column=1)]
    document, findings = check_document("signoff", data, file=path)
    offer = document.get("offer") if isinstance(document, dict) else None
    if isinstance(offer, str) and offer != offer_id and not findings:
        findings.append(
            Finding(
                "SignOffOfferMismatch",
                f"offer {show_text(offer)} must equal the folder name {show_text(offer_id)}",
                "$.offer",
                file=path,
                line=_line_of(data, "offer:"),
                column=1,
            )
        )
    return findings


def _check_codeowners(files: FileSource, path: str) -> list[Finding]:
    try:
        data = files.read(path, codeowners.MAX_BYTES)
    except FileReadError as exc:
        return [Finding(exc.code, f"{path} {exc.message}", "", file=path, line=1, column=1)]
    text = data.decode("utf-8", errors="replace")
    findings = []
    for problem in codeowners.parse(text, path).problems:
        match = _PROBLEM.match(problem)
        line = int(match["line"]) if match else 1
        message = match["message"] if match else problem
        findings.append(Finding("CodeOwnersSyntax", message, "", file=path, line=line, column=1))
    return findings


def _is_misnamed(name: str, meant: str) -> bool:
    return name != meant and _MEANT.get(name.casefold()) == meant


def _misnamed(folder: str, name: str) -> Finding:
    meant = _MEANT[name.casefold()]
    path = f"{folder}/{name}" if folder else name
    return Finding(
        "MisnamedFile",
        f"{show_text(name)} is not read by offerctl; rename it to {meant}",
        "",
        file=path,
        line=1,
        column=1,
    )


def _line_of(data: bytes, prefix: str) -> int:
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if line.startswith(prefix):
            return number
    return 1
