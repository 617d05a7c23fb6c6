"""Generate N valid offers into a repository folder, for benchmarks.

Each generated offer is one of the shipped examples under offers/ with a new
id (folder name and metadata.name) and its own alias, so every file differs
and all of them validate. Asset files are hard-linked from the example when
the filesystem allows it (they are still regular files to a validator) so
10,000 offers stay small on disk.

    python bench/gen_offers.py N DEST     # writes DEST/offers/<id>/...
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "offers"


def _templates() -> list[Path]:
    found = sorted(p.parent for p in EXAMPLES.glob("*/offer.yaml"))
    if not found:
        raise SystemExit(f"no example offers under {EXAMPLES}")
    return found


def generate(count: int, dest: Path) -> list[Path]:
    """Write `count` offers under dest/offers/ and return their manifest paths."""
    templates = _templates()
    texts = {t: (t / "offer.yaml").read_text(encoding="utf-8") for t in templates}
    manifests = []
    for index in range(count):
        template = templates[index % len(templates)]
        offer_id = f"{template.name[:40]}-{index:06d}"
        folder = dest / "offers" / offer_id
        _copy_assets(template, folder)
        text = re.sub(
            rf"^(  name:) {re.escape(template.name)}$",
            rf"\1 {offer_id}",
            texts[template],
            count=1,
            flags=re.MULTILINE,
        )
        text = re.sub(r"^(    alias: .*)$", rf"\1 {index}", text, count=1, flags=re.MULTILINE)
        (folder / "offer.yaml").write_text(text, encoding="utf-8")
        manifests.append(folder / "offer.yaml")
    return manifests


def _copy_assets(template: Path, folder: Path) -> None:
    for source in template.rglob("*"):
        if source.name in ("offer.yaml", "status.yaml", "signoff.yaml") or not source.is_file():
            continue
        target = folder / source.relative_to(template)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    generate(args.count, args.dest)
    print(f"wrote {args.count} offers under {args.dest / 'offers'}")


if __name__ == "__main__":
    main()
