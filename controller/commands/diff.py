"""`offerctl diff OFFER`: the manifest against Partner Center's draft, preview or live, by field.

Reads offers/OFFER/offer.yaml from the working tree, maps it onto the v1
documents offerctl manages (as a submission would, the package SAS aside)
and compares them with what the marketplace holds. Exit 0 when nothing
differs, 1 when something does (or the offer is missing there), 2 on usage
errors. Needs `--marketplace partnercenter[+URL]`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from controller.commands.options import marketplace_from_args
from controller.core.errors import EXIT_FAIL, EXIT_OK, UsageError, UserError
from controller.marketplace.api import MarketplaceError
from controller.marketplace.partnercenter import PartnerCenterMarketplace, mapping
from controller.repo import layout
from controller.repo.statusread import check_offer_id
from controller.validation import engine
from controller.validation.files import WorktreeFiles

VIEWS = ("draft", "preview", "live")


def run(args: argparse.Namespace) -> int:
    repo = Path(args.repo)
    offer = check_offer_id(args.offer)
    market = open_partnercenter_from(args, repo)
    result = engine.validate_offer(
        layout.offer_dir(offer), WorktreeFiles(repo), collect_files=False
    )
    spec = result.manifest.get("spec") if result.manifest is not None else None
    if not isinstance(spec, dict):
        raise UserError(f"{layout.manifest_path(offer)} has no spec; run `offerctl validate`")
    desired = mapping.desired_documents(spec)
    report: dict[str, Any] = {}
    for view in VIEWS if args.against == "all" else (args.against,):
        try:
            remote = market.remote_offer(offer, view)
        except MarketplaceError as exc:
            raise UserError(f"{offer}: {exc}") from None
        if remote is None:
            report[view] = None
            continue
        report[view] = [
            {"field": f, "manifest": want, "marketplace": have}
            for f, want, have in mapping.differences(desired, remote.documents)
        ]
    market.close()
    show(offer, report, args.output)
    same = all(v == [] for v in report.values())
    return EXIT_OK if same else EXIT_FAIL


def open_partnercenter_from(args: argparse.Namespace, repo: Path) -> PartnerCenterMarketplace:
    market = marketplace_from_args(args, repo)
    if not isinstance(market, PartnerCenterMarketplace):
        raise UsageError("this command reads Partner Center: pass --marketplace partnercenter "
                         "(or partnercenter+https://HOST/PATH)")  # fmt: skip
    return market


def show(offer: str, report: dict[str, Any], output: str) -> None:
    if output == "json":
        json.dump({"offer": offer, "differences": report}, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return
    for view, rows in report.items():
        if rows is None:
            print(f"{offer}: no {view} in the marketplace")
            continue
        if not rows:
            print(f"{offer}: manifest and {view} agree")
            continue
        print(f"{offer}: {len(rows)} field(s) differ from the {view}:")
        for row in rows:
            print(f"  {row['field']}")
            print(f"    manifest:    {_short(row['manifest'])}")
            print(f"    marketplace: {_short(row['marketplace'])}")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:197] + "..."
