"""`offerctl history OFFER`: an offer's phase transitions, from the git log of its status.yaml.

Each row is a commit that changed the offer's phase: when it was committed,
the phase before and after, the commit, and the Ready reason it recorded.
It follows the first-parent history of HEAD (or `--rev`), which is the
branch as the controller moved it; no marketplace is asked. `--all` lists
every commit that changed status.yaml, also those that kept the phase.
Exit 0 when the history was read (even if empty), 1 when the offer has no
status history at all, 2 on usage errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.text import Text

from controller.core.errors import EXIT_OK, UsageError, UserError
from controller.core.model import API_VERSION
from controller.git.repo import GitRepo
from controller.present import data
from controller.present.console import make_console, show, unicode_ok
from controller.present.offers import history_table
from controller.repo.statusread import (
    check_offer_id,
    phase_changes,
    resolve,
    status_path,
    status_versions,
)
from controller.repo.statustypes import PhaseChange


def run(args: argparse.Namespace) -> int:
    offer = check_offer_id(args.offer)
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    console = make_console(args.color)
    with GitRepo(Path(args.repo)) as repo:
        commit = resolve(repo, args.rev)
        versions = status_versions(repo, commit, offer)
    if not versions:
        raise UserError(
            f"{status_path(offer)} has no history at {commit[:12]}: the offer has not been "
            "reconciled on this branch"
        )
    changes = phase_changes(versions, every=args.all)
    if args.limit is not None:
        changes = changes[-args.limit :]
    if args.output != "table":
        show(console, data.dumps(history_data(offer, commit, changes), args.output))
        return EXIT_OK
    footer = Text(
        f"{len(changes)} {'entries' if args.all else 'transitions'} of {offer} "
        f"({len(versions)} status commits) up to {commit[:12]}",
        style="dim",
    )
    show(console, Group(history_table(changes, unicode=unicode_ok(console)), "", footer))
    return EXIT_OK


def history_data(offer: str, commit: str, changes: list[PhaseChange]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "OfferHistory",
        "offer": offer,
        "commit": commit,
        "transitions": [c.as_dict() for c in changes],
    }
