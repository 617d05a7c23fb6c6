"""How the controller writes a moment: RFC 3339 in UTC with a `Z` (status.yaml, plans, logs)."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`; sub-second digits only when there are some. Naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
