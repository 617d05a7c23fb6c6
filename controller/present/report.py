"""Rendering validation results for people and machines: text, JSON and GitHub annotations.

Pure functions from results to text; the command prints what they return.
Text lines read `FILE:LINE:COL: error: MESSAGE (at JSON-PATH)` so editors
and CI problem matchers can jump to the node. Messages are already escaped
by validation (no raw control or bidi characters reach a terminal).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from controller.core.model import Finding, Severity


class Result(Protocol):
    """What a reporter needs of one validated offer (engine.OfferValidation has it)."""

    @property
    def offer_id(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...
    @property
    def ok(self) -> bool: ...


ShowFile = Callable[[str], str]


def _same(path: str) -> str:
    return path


def text_report(results: Sequence[Result], show_file: ShowFile = _same) -> str:
    """One line per finding, then a summary line."""
    lines = [
        f"{show_file(f.file)}:{f.line}:{f.column}: {f.severity}: {f.message}"
        + (f" (at {f.path})" if f.path else "")
        for result in results
        for f in result.findings
    ]
    lines.append(summary(results))
    return "\n".join(lines) + "\n"


def summary(results: Sequence[Result]) -> str:
    """`2 offers valid`; with repository files (publishing.yaml, CODEOWNERS) a part for them."""
    errors = sum(1 for r in results for f in r.findings if f.severity == Severity.ERROR)
    warnings = sum(1 for r in results for f in r.findings if f.severity == Severity.WARNING)
    offers = [r for r in results if r.offer_id]
    others = [r for r in results if not r.offer_id]  # repository files
    parts = [_count(offers, "offer")] + ([_count(others, "repository file")] if others else [])
    if all(r.ok for r in results):
        tail = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
        return ", ".join(parts) + tail
    return (
        ", ".join(parts)
        + f": {errors} error{'s' if errors != 1 else ''}"
        + f", {warnings} warning{'s' if warnings != 1 else ''}"
    )


def _count(results: Sequence[Result], noun: str) -> str:
    """`3 offers valid` or `1 of 3 offers invalid`."""
    total = f"{len(results)} {noun}{'s' if len(results) != 1 else ''}"
    invalid = sum(1 for r in results if not r.ok)
    return f"{invalid} of {total} invalid" if invalid else f"{total} valid"


def json_report(results: Sequence[Result], show_file: ShowFile = _same) -> str:
    """`{"valid": bool, "offers": [{"offer", "file", "valid", "findings": [...]}]}`."""
    document: dict[str, Any] = {
        "valid": all(r.ok for r in results),
        "offers": [
            {
                "offer": r.offer_id,
                "file": show_file(r.file),
                "valid": r.ok,
                "findings": [finding_dict(f, show_file) for f in r.findings],
            }
            for r in results
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def finding_dict(finding: Finding, show_file: ShowFile = _same) -> dict[str, Any]:
    return {
        "file": show_file(finding.file),
        "line": finding.line,
        "column": finding.column,
        "severity": str(finding.severity),
        "code": finding.code,
        "message": finding.message,
        "path": finding.path,
    }


def github_report(results: Sequence[Result]) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=CODE::MESSAGE`."""
    lines = []
    for result in results:
        for f in result.findings:
            level = {"error": "error", "warning": "warning"}.get(str(f.severity), "notice")
            props = f"file={_prop(f.file)},line={f.line},col={f.column},title={_prop(f.code)}"
            message = f.message + (f" (at {f.path})" if f.path else "")
            lines.append(f"::{level} {props}::{_data(message)}")
    lines.append(summary(results))
    return "\n".join(lines) + "\n"


def _data(text: str) -> str:
    # Escaping GitHub's runner applies to command data: %, CR, LF.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
