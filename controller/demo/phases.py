"""What changed between two looks at the offers, and whether the demo is done (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from controller.core.model import OfferStatus, Phase
from controller.demo.common import SETTLED, STUCK
from controller.present.progress import progress

LISTENING = re.compile(r"listening on (\S+):(\d+)$", re.MULTILINE)  # the daemon's log line


def phase_lines(
    before: Mapping[str, OfferStatus], after: Mapping[str, OfferStatus], *, unicode: bool = True
) -> list[tuple[str, str]]:
    """(offer, "Before → After  stages") for every offer whose phase changed, sorted."""
    arrow = "\u2192" if unicode else "->"
    lines = []
    for offer, now in sorted(after.items()):
        was = before.get(offer)
        if was is not None and was.phase is now.phase:
            continue
        change = f"{was.phase.value if was else 'New'} {arrow} {now.phase.value}"
        lines.append((offer, f"{change:<30} {progress(now.stages).plain(unicode=unicode)}"))
    return lines


def settled(statuses: Mapping[str, OfferStatus | None]) -> bool:
    """Every offer has status and rests in a phase that waits for nobody."""
    return bool(statuses) and all(
        s is not None and s.phase in SETTLED | STUCK for s in statuses.values()
    )


def awaiting_signoff(statuses: Mapping[str, OfferStatus | None]) -> list[tuple[str, str]]:
    """(offer, generation) of every offer whose pipeline waits for a sign-off."""
    return sorted(
        (offer, s.observed_generation)
        for offer, s in statuses.items()
        if s is not None and s.phase is Phase.AWAITING_SIGNOFF and s.observed_generation
    )


def page_url(log: str) -> str | None:
    """`http://HOST:PORT/` from the daemon's text log ("listening on HOST:PORT"); None before."""
    found = LISTENING.search(log)
    if found is None:
        return None
    host, port = found.groups()
    host = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL is bracketed
    return f"http://{host}:{port}/"
