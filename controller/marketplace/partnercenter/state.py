"""The client's own record of what it asked Partner Center to do, outside the working tree.

One JSON file (by default `<git-dir>/offerctl/partnercenter.json`, never
committed), written temp → fsync → rename. It holds, per idempotency key,
the attempt made (written BEFORE the POST, so a crash between the call and
the answer is recognisable), and per product the managed fields last written
to each draft module (the baseline for drift). Partner Center itself is the
truth for everything else; this file only says which submissions are ours.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from controller.files.fsio import atomic_write

VERSION = 1


@dataclass(slots=True)
class Attempt:
    """One submit call for one idempotency key."""

    key: str
    offer: str
    generation: str
    target: str
    product: str
    resources: dict[str, str] = field(default_factory=dict)  # module → draft instance id
    submission: str = ""  # "" until Partner Center answered
    created_at: str = ""  # ISO-8601 UTC
    promoted: bool = False
    final: dict[str, Any] = field(default_factory=dict)  # the settled Submission (wire JSON)


class ClientState:
    """Attempts by key and draft baselines by product; thread-safe, durable on every change."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._attempts: dict[str, Attempt] = {}
        self._baselines: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # unreadable: start afresh; Partner Center still knows the submissions
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return
        for raw in data.get("attempts", []):
            try:
                attempt = Attempt(**raw)
            except TypeError:
                continue
            self._attempts[attempt.key] = attempt
        baselines = data.get("baselines", {})
        if isinstance(baselines, dict):
            self._baselines = {str(k): v for k, v in baselines.items() if isinstance(v, dict)}

    def attempt(self, key: str) -> Attempt | None:
        with self._lock:
            return self._attempts.get(key)

    def by_submission(self, product: str, submission: str) -> Attempt | None:
        with self._lock:
            for attempt in self._attempts.values():
                if attempt.product == product and attempt.submission == submission:
                    return attempt
            return None

    def ours(self, product: str) -> list[Attempt]:
        with self._lock:
            return [a for a in self._attempts.values() if a.product == product]

    def record(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts[attempt.key] = attempt
            self._save()

    def baseline(self, product: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._baselines.get(product, {}))

    def set_baseline(self, product: str, module: str, document: Any) -> None:
        self.set_baselines(product, {module: document})

    def set_baselines(self, product: str, documents: dict[str, Any]) -> None:
        """Several entries of one product's baseline, written in one save."""
        with self._lock:
            self._baselines.setdefault(product, {}).update(documents)
            self._save()

    def products(self) -> dict[str, str]:
        """offer → product id, from the attempts made."""
        with self._lock:
            return {a.offer: a.product for a in self._attempts.values() if a.offer}

    def _save(self) -> None:
        if self._path is None:
            return
        data = {
            "version": VERSION,
            "attempts": [asdict(a) for a in self._attempts.values()],
            "baselines": self._baselines,
        }
        # dumps, not dump: the C encoder (dump streams through the pure-Python one, which
        # made saving the record of 1,000 offers the slowest part of a pass).
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        atomic_write(self._path, text.encode("utf-8"))
