"""What the status read-back returns: plain data, importable without git or YAML.

`controller.repo.statusread` fills these from commits; `present` and the
commands show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.core.model import ConditionType, OfferStatus, Phase
from controller.core.timestamps import format_time


@dataclass(frozen=True, slots=True)
class OfferEntry:
    """One offer folder at a commit and what its status.yaml says."""

    offer: str
    status: OfferStatus | None  # None: no status.yaml yet, or not readable
    problem: str = ""  # why `status` is None: "" (no status yet) or what is wrong with it
    has_manifest: bool = True


@dataclass(frozen=True, slots=True)
class StatusVersion:
    """status.yaml as one commit left it."""

    commit: str
    committed_at: datetime
    author: str
    subject: str
    status: OfferStatus | None  # None: deleted in this commit, or unreadable


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """One transition: the phase before and after a commit (None: no status)."""

    commit: str
    committed_at: datetime
    author: str
    subject: str
    before: Phase | None
    after: Phase | None
    status: OfferStatus | None  # the status after the commit

    def as_dict(self) -> dict[str, object]:
        ready = self.status.condition(ConditionType.READY) if self.status is not None else None
        return {
            "commit": self.commit,
            "time": format_time(self.committed_at),
            "author": self.author,
            "from": self.before.value if self.before else None,
            "to": self.after.value if self.after else None,
            "generation": self.status.observed_generation if self.status else None,
            "reason": ready.reason if ready else None,
            "message": ready.message if ready else None,
            "subject": self.subject,
        }
