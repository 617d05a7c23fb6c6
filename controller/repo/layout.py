"""The offers repository contract: where things are and what an offer id is.

    publishing.yaml                 the repository policy (`POLICY_FILE`)
    CODEOWNERS, .github/CODEOWNERS, docs/CODEOWNERS
                                    who owns what, in GitHub's lookup order (`CODEOWNERS_PATHS`)
    offers/<offer-id>/offer.yaml    an offer's manifest (`MANIFEST_FILE`)
    offers/<offer-id>/status.yaml   the controller's output (`STATUS_FILE`), never read as authority
    offers/<offer-id>/signoff.yaml  the publisher's Go Live sign-off (`SIGNOFF_FILE`)

Every module that names one of these paths, or checks an offer id, takes it from here: the
reconciler, `offerctl signoff`, `status`, `plan`, `validate`, the watcher and the webhook.
Pure: no I/O, importable from the core (docs/DESIGN.md §10).
"""

from __future__ import annotations

import re

OFFERS_DIR = "offers"
MANIFEST_FILE = "offer.yaml"
STATUS_FILE = "status.yaml"
STATUS_MODE = "100644"  # status.yaml as written: a regular file, never a link or executable
SIGNOFF_FILE = "signoff.yaml"
POLICY_FILE = "publishing.yaml"

# GitHub reads the first of these that exists, in this order
# (https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/
#  customizing-your-repository/about-code-owners#codeowners-file-location).
CODEOWNERS_PATHS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")

# Repository-wide files whose change can alter every offer's outcome.
POLICY_PATHS: tuple[str, ...] = (POLICY_FILE, *CODEOWNERS_PATHS)

# 3 to 50 characters: lowercase letters, digits and hyphens, starting and ending alphanumeric.
# The schemas (offer.schema.json, signoff.schema.json) carry the same pattern.
OFFER_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$"
OFFER_ID = re.compile(OFFER_ID_PATTERN)
OFFER_ID_RULE = "3-50 lowercase letters, digits and hyphens, starting and ending alphanumeric"


def is_offer_id(value: object) -> bool:
    """Whether `value` is a well-formed offer id."""
    return isinstance(value, str) and OFFER_ID.fullmatch(value) is not None


def offer_dir(offer: str) -> str:
    return f"{OFFERS_DIR}/{offer}"


def manifest_path(offer: str) -> str:
    return f"{OFFERS_DIR}/{offer}/{MANIFEST_FILE}"


def status_path(offer: str) -> str:
    return f"{OFFERS_DIR}/{offer}/{STATUS_FILE}"


def signoff_path(offer: str) -> str:
    return f"{OFFERS_DIR}/{offer}/{SIGNOFF_FILE}"


def offer_of(path: str) -> str | None:
    """The offer folder a repository path lies in (`offers/<name>/...`), else None.

    The folder name is returned as written, even when it is no valid offer id:
    the caller decides what an ill-named folder means (validation reports it).
    """
    parts = path.split("/")
    if len(parts) >= 3 and parts[0] == OFFERS_DIR and parts[1] not in ("", ".", ".."):
        return parts[1]
    return None


def is_policy_path(path: str) -> bool:
    """Whether `path` is publishing.yaml or a CODEOWNERS file GitHub would read."""
    return path in POLICY_PATHS


def is_status_path(path: str) -> bool:
    """Whether `path` is some offer's status.yaml (the controller's own output)."""
    parts = path.split("/")
    return len(parts) == 3 and parts[0] == OFFERS_DIR and parts[2] == STATUS_FILE
