"""The limits validate and reconcile share, each stated once.

`offerctl validate` reads a working tree and reconcile reads a commit; both
go through these numbers and words, so a file one accepts the other accepts.
"""

from __future__ import annotations

from controller.files import source

# A technical package: the largest file an offer may refer to (also the cap on a
# commit snapshot's blobs, and on what the virus scan decompresses).
MAX_PACKAGE_BYTES = source.MAX_PACKAGE_BYTES
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # a logo, screenshot or video thumbnail

# Why a symlink is refused wherever offerctl reads a file (see `controller.files.source`).
SYMLINK_RULE = source.SYMLINK_RULE
