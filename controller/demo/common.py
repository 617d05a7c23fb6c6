"""The demo's fixed cast and settings, and how it talks to the terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import controller
from controller.core.errors import UserError
from controller.core.model import Phase
from controller.repo import layout

SHIPPED_OFFERS = Path(controller.__file__).parent.parent / layout.OFFERS_DIR
POLL_SECONDS = 0.1  # how often the demo looks at origin's branch tip (a local rev-parse)
DAEMON_POLL_SECONDS = "0.3"  # the daemon's ls-remote interval: it sees the sign-off merge fast
STOP_TIMEOUT = 30.0  # as docs/deploy recommends for TimeoutStopSec
PUSH_TRIES = 10
BRANCH = "main"

# Phases in which nothing more happens without a person: the demo's end states.
SETTLED = frozenset({Phase.LIVE, Phase.PREVIEW, Phase.DRAFT, Phase.REJECTED})
STUCK = frozenset({Phase.INVALID, Phase.FAILED})  # settled too, but the demo failed

PUBLISHER = ("Dana Publisher", "dana@contoso.example")
APPROVER = ("Rita Reviewer", "rita@contoso.example")
SIGNERS_FILE = ".github/allowed_signers"
PUBLISHING_YAML = f"""\
# yaml-language-server: $schema=schemas/publishing.schema.json
apiVersion: offers.marketplace/v1
kind: Publishing
signoff:
  provider: git
  approvers: [{APPROVER[1]}]
  requiredApprovals: 1
  # An approval counts only when the approver's own key (listed here) signs it.
  allowedSignersFile: {SIGNERS_FILE}
"""
# Variables that would point git or offerctl somewhere other than the scratch directory.
DROPPED_ENV = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES",
    "OFFERCTL_MARKETPLACE", "OFFERCTL_TIME_SCALE", "OFFERCTL_FAULTS", "OFFERCTL_SIM_SEED",
    "OFFERCTL_WEBHOOK_SECRET",
})  # fmt: skip


def say(line: str = "", stream: IO[str] | None = None) -> None:
    print(line, file=stream or sys.stdout, flush=True)  # flushed: CI logs show progress live


class DemoError(UserError):
    """Something in the demo's own set-up or sign-off failed; the message says what."""
