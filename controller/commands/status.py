"""`offerctl status [OFFER]`: where every offer stands, read from the repository alone.

Reads offers/*/status.yaml as committed at HEAD (or `--rev`): what the
controller wrote, not the working tree, and nothing from the marketplace, so
it works offline and in CI. Without OFFER: a table (offer, target, phase,
stage progress, time in phase, estimated live date, Ready). With OFFER: that
offer's conditions, stages, feedback, sign-off and recent history.
`-o json|yaml` prints the status data instead; `--watch` redraws as the
branch moves. Exit 0 when the statuses were read, 1 when OFFER has no
status or the repository cannot be read, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from controller.commands.options import STATUS_INTERVAL
from controller.core.errors import EXIT_OK, UsageError, UserError
from controller.core.model import API_VERSION, OfferStatus
from controller.git.repo import GitRepo
from controller.present import data
from controller.present.console import make_console, plain, show, unicode_ok
from controller.present.offers import offer_detail, offers_table, table_footer
from controller.repo import status as status_file
from controller.repo.statusread import (
    check_offer_id,
    phase_changes,
    read_statuses,
    resolve,
    status_versions,
)
from controller.repo.statustypes import OfferEntry

DEFAULT_INTERVAL = STATUS_INTERVAL


def run(args: argparse.Namespace) -> int:
    offer = check_offer_id(args.offer) if args.offer else None
    if args.interval <= 0:
        raise UsageError("--interval must be greater than 0")
    console = make_console(args.color)
    with GitRepo(Path(args.repo)) as repo:
        view = _View(repo, args.rev, offer, args.output, unicode_ok(console), stream=args.watch)
        if args.watch:
            watch(view.render, console, interval=args.interval, data_output=args.output != "table")
        else:
            show(console, view.render())
    return EXIT_OK


class _View:
    """Reads the repository afresh at each call and returns what to show."""

    def __init__(
        self,
        repo: GitRepo,
        rev: str,
        offer: str | None,
        output: str,
        unicode: bool,
        *,
        stream: bool = False,
    ) -> None:
        self.repo, self.rev, self.offer, self.output, self.unicode = (
            repo,
            rev,
            offer,
            output,
            unicode,
        )
        self.stream = stream  # --watch: one JSON line, or one YAML document, per refresh

    def _dump(self, value: Any) -> str:
        text = data.dumps(value, self.output, compact=self.stream)
        return f"---\n{text}" if self.stream and self.output == "yaml" else text

    def render(self) -> RenderableType | str:
        commit = resolve(self.repo, self.rev)
        now = datetime.now(UTC)
        if self.offer is None:
            entries = read_statuses(self.repo, commit)
            if self.output != "table":
                return self._dump(list_data(entries, commit))
            if not entries:
                return Text(f"no offers under offers/ at {commit[:12]}")
            table = offers_table(entries, now, unicode=self.unicode)
            return Group(table, "", table_footer(entries, commit))
        current = _one(read_statuses(self.repo, commit, [self.offer]), self.offer, commit)
        if self.output != "table":
            return self._dump(status_file.to_dict(current))
        versions = status_versions(self.repo, commit, self.offer)
        return offer_detail(
            current,
            now,
            commit=commit,
            history=phase_changes(versions),
            unicode=self.unicode,
        )


def _one(entries: list[OfferEntry], offer: str, commit: str) -> OfferStatus:
    entry = next((e for e in entries if e.offer == offer), None)
    if entry is None:
        raise UserError(f"no offer {offer} at {commit[:12]} (no offers/{offer}/ folder)")
    if entry.status is None:
        if entry.problem:
            raise UserError(f"offer {offer}: {entry.problem}; the next reconcile rewrites it")
        raise UserError(
            f"offer {offer} has no status.yaml at {commit[:12]}: it has not been reconciled "
            "yet (run `offerctl reconcile`)"
        )
    return entry.status


def list_data(entries: list[OfferEntry], commit: str) -> dict[str, Any]:
    """Every status as status.yaml holds it, plus the offers that have none (yet)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "OfferStatusList",
        "commit": commit,
        "items": [status_file.to_dict(e.status) for e in entries if e.status is not None],
        "withoutStatus": [
            {"offer": e.offer, "problem": e.problem or "not reconciled yet"}
            for e in entries
            if e.status is None
        ],
    }


def watch(
    render: Callable[[], RenderableType | str],
    console: Console,
    *,
    interval: float,
    data_output: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    refreshes: int | None = None,
) -> None:
    """Redraw every `interval` seconds until Ctrl-C (or `refreshes` draws, for tests).

    On a terminal the view is redrawn in place. Piped, a new view is printed
    only when it changed (JSON as one line per change, YAML as `---` documents),
    so a log of `offerctl status --watch` reads as a history.
    """
    count = 0
    try:
        if console.is_terminal and not data_output:
            with Live(render(), console=console, auto_refresh=False, screen=False) as live:
                count = 1
                while refreshes is None or count < refreshes:
                    sleep(interval)
                    live.update(render(), refresh=True)
                    count += 1
            return
        last: str | None = None
        while refreshes is None or count < refreshes:
            if count:
                sleep(interval)
            shown = render()
            text = shown if isinstance(shown, str) else plain(console, shown)
            if text != last:
                console.file.write(text)
                console.file.flush()
                last = text
            count += 1
    except KeyboardInterrupt:
        return
