"""Publisher sign-off ("Go Live"): whether an offer's signoff.yaml counts, and why.

The pure decision is `rules` (with `document`, `approvers`, `trailers`, and
`controller.repo.codeowners`); gathering evidence from git, GitHub and Azure DevOps and asking
the rules is `evaluate` (`evaluate_signoff`, `load_authorization`), through
`evidence_git` / `evidence_github` / `evidence_azuredevops`. Whether a replaced
first-parent history brought an old sign-off back is `replay` (pure) and
`continuity` (git).

This file only re-exports, and lazily: `import controller.signoff.rules` must
not load git, HTTP or YAML code just because Python runs the package's
`__init__` first (docs/DESIGN.md §10).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controller.signoff.evaluate import evaluate_signoff, load_authorization
    from controller.signoff.evidence_azuredevops import AzureDevOpsClient
    from controller.signoff.evidence_github import GitHubClient, GitHubError, GitHubRateLimited
    from controller.signoff.operator import AzureDevOpsEndpoint, GitHubEndpoint
    from controller.signoff.rules import SignOffReason, Trust

# name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "AzureDevOpsClient": "controller.signoff.evidence_azuredevops",
    "AzureDevOpsEndpoint": "controller.signoff.operator",
    "GitHubClient": "controller.signoff.evidence_github",
    "GitHubEndpoint": "controller.signoff.operator",
    "GitHubError": "controller.signoff.evidence_github",
    "GitHubRateLimited": "controller.signoff.evidence_github",
    "SignOffReason": "controller.signoff.rules",
    "Trust": "controller.signoff.rules",
    "evaluate_signoff": "controller.signoff.evaluate",
    "load_authorization": "controller.signoff.evaluate",
}

__all__ = [
    "AzureDevOpsClient",
    "AzureDevOpsEndpoint",
    "GitHubClient",
    "GitHubEndpoint",
    "GitHubError",
    "GitHubRateLimited",
    "SignOffReason",
    "Trust",
    "evaluate_signoff",
    "load_authorization",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
