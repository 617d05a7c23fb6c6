"""`offerctl import OFFER-ID`: bring an offer made in Partner Center into the repository.

Reads the offer's draft through the v1 API and writes offers/<id>/offer.yaml
(with `target: draft`, so nothing is submitted until someone raises it), its
listing images and video thumbnails under media/, and its package under
package/ when the package SAS is still readable. Fields v1 does not carry
(azureAdApplicationId, packageVersion) get placeholders, named in a comment
at the top of the file and on stderr. Refuses to overwrite an existing
offer.yaml unless --force. Exit 0 written, 1 not found, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.commands.diff import open_partnercenter_from
from controller.core.errors import EXIT_OK, UserError
from controller.core.model import API_VERSION
from controller.files.yamlio import dump_yaml
from controller.marketplace.api import MarketplaceError
from controller.marketplace.partnercenter import mapping
from controller.repo import layout
from controller.repo.statusread import check_offer_id

HEADER = """\
# yaml-language-server: $schema=../../schemas/offer.schema.json
#
# Imported from Partner Center by `offerctl import`. Review before raising target:
# technicalConfiguration.azureAdApplicationId and packageVersion are placeholders
# (the ingestion API does not carry them), and lead secrets are read from the
# variables named by *SecretRef.
"""


def run(args: argparse.Namespace) -> int:
    repo = Path(args.repo)
    offer = check_offer_id(args.offer)
    folder = repo / layout.offer_dir(offer)
    manifest = repo / layout.manifest_path(offer)
    if manifest.exists() and not args.force:
        raise UserError(f"{manifest} exists; pass --force to overwrite it")
    market = open_partnercenter_from(args, repo)
    try:
        remote = market.remote_offer(offer, "draft")
        if remote is None:
            raise UserError(f"Partner Center has no offer with the offer id {offer!r}")
        files: dict[str, bytes] = {}
        for _, media in remote.listings.values():
            for item in media:
                video = item.get("resourceType") == "ListingVideo"
                holder = item.get("thumbnail") if video else item
                url = str((holder or {}).get("fileSasUri") or item.get("fileSasUri") or "")
                if url:
                    files[mapping.media_file(item)] = market.download(url)
        package_file = f"package/{offer}.zip"
        location = str(remote.documents["Package"].get("packageLocationUri") or "")
        if location:
            files[package_file] = market.download(location)
        else:
            print(f"offerctl: {offer}: no package location in Partner Center; add "
                  f"{package_file} yourself", file=sys.stderr)  # fmt: skip
    except MarketplaceError as exc:
        raise UserError(f"{offer}: {exc}") from None
    finally:
        market.close()
    spec = mapping.spec_from_documents(
        product=remote.product_doc, setup=remote.setup, prop=remote.documents["Property"],
        listings=remote.listings, availability=remote.documents["Availability"],
        package=remote.documents["Package"], leads=remote.leads, package_file=package_file,
        secret_prefix=offer.upper().replace("-", "_"),
    )  # fmt: skip
    document = {"apiVersion": API_VERSION, "kind": "Offer", "metadata": {"name": offer},
                "spec": spec}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    for relative, data in sorted(files.items()):
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    manifest.write_text(HEADER + dump_yaml(document), encoding="utf-8")
    print(
        f"wrote {manifest} and {len(files)} file(s); review the placeholders at its top, "
        f"then run `offerctl validate` and `offerctl diff {offer}`"
    )
    return EXIT_OK
