"""Building a `Notifier` from the operator's flags and environment, for `run` and `reconcile`.

No target (no `--notify`, no `OFFERCTL_NOTIFY`): no notifier, nothing changes.
Otherwise the targets are opened (a URL apprise does not know is a usage
error, exit 2), the first use on this branch (and shard) takes the baseline
from the controller's own records, and whatever a previous run left pending
is queued again.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from controller.core.errors import OfferctlError
from controller.core.model import OfferStatus
from controller.core.redaction import Redactor, secret_values
from controller.git.repo import GitRepo
from controller.reconcile.reconciler import Watch
from controller.reconcile.records import SqliteRecords

if TYPE_CHECKING:
    from controller.notify.sender import Notifier, Outcome

ENV_NOTIFY = "OFFERCTL_NOTIFY"

log = logging.getLogger(__name__)


def open_notifier(
    args: argparse.Namespace,
    repo: GitRepo,
    watch: Watch,
    *,
    part: str = "",
    owns: Callable[[str], bool] = lambda offer: True,
    count: Outcome | None = None,
    environ: Mapping[str, str] | None = None,
    extra_secrets: tuple[str, ...] = (),
) -> Notifier | None:
    """The notifier the operator asked for, ready to observe passes; None when none was."""
    env = os.environ if environ is None else environ
    if not getattr(args, "notify", None) and not env.get(ENV_NOTIFY, "").strip():
        return None  # and apprise (a second to import) is never loaded
    # apprise loads lazily, only for an operator who asked for notifications
    from controller.notify.ledger import Ledger  # noqa: PLC0415
    from controller.notify.locate import FindingLocator  # noqa: PLC0415
    from controller.notify.sender import (  # noqa: PLC0415
        DEFAULT_RATE,
        ENV_NOTIFY_RATE,
        Notifier,
        notify_urls,
        open_targets,
        rate_limits,
        url_secrets,
    )

    urls = notify_urls(getattr(args, "notify", None), env)
    if not urls:
        return None
    rate = getattr(args, "notify_rate", None) or env.get(ENV_NOTIFY_RATE) or DEFAULT_RATE
    rate_limits(rate)  # a bad limit is a usage error before anything runs
    targets = open_targets(urls)
    branch = watch.branch or repo.head_branch() or ""
    notifier = Notifier(
        targets,
        Ledger(repo.private_dir, branch, watch.remote),
        redactor=Redactor((*secret_values(env), *url_secrets(urls), *extra_secrets)),
        part=part,
        owns=owns,
        rate=rate,
        count=count,
        locate=FindingLocator(repo),
    )
    records = SqliteRecords(repo.private_dir, branch, watch.remote)
    try:
        notifier.baseline(recorded_statuses(records))
        resumed = notifier.resume()
    except OSError as exc:  # an unwritable ledger costs notifications, never the passes
        log.warning("notification ledger unusable (%s); events may be repeated or missed", exc)
        resumed = 0
    finally:
        records.close()
    log.info(
        "notifications to %s%s",
        ", ".join(t.name for t in targets),
        f" ({resumed} left pending by an earlier run queued again)" if resumed else "",
    )
    return notifier


def recorded_statuses(records: SqliteRecords) -> Iterator[OfferStatus]:
    """Every offer status the controller has recorded for the branch (its own records).

    Records that cannot be read make no baseline (logged): the notifier then tells what
    the next pass finds, as on a first run."""
    try:
        yield from records.statuses()
    except OfferctlError as exc:
        log.warning("records unusable for the notification baseline: %s", exc)
