"""Offer folders for tests: the shipped example offer, renamed, with a chosen target."""

from __future__ import annotations

import re
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "offers"
TEMPLATE = "fabrikam-case-triage"


def offer_files(offer: str, target: str = "preview", *, suspend: bool = False) -> dict[str, bytes]:
    """The example offer's folder as offers/<offer>/..., renamed, with the given target."""
    folder = EXAMPLES / TEMPLATE
    files: dict[str, bytes] = {}
    for path in folder.rglob("*"):
        if path.is_file() and path.name not in ("status.yaml", "signoff.yaml"):
            files[f"offers/{offer}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    text = files[f"offers/{offer}/offer.yaml"].decode()
    text = text.replace(f"name: {TEMPLATE}", f"name: {offer}", 1)
    text = re.sub(r"^  target: \w+$", f"  target: {target}", text, count=1, flags=re.M)
    if suspend:
        text = text.replace(f"  target: {target}\n", f"  target: {target}\n  suspend: true\n", 1)
    files[f"offers/{offer}/offer.yaml"] = text.encode()
    return files
