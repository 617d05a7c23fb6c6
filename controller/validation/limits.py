"""The limits validate and reconcile share, each stated once.

`offerctl validate` reads a working tree and reconcile reads a commit; both
go through these numbers and words, so a file one accepts the other accepts.
"""

from __future__ import annotations

# A technical package: the largest file an offer may refer to (also the cap on a
# commit snapshot's blobs, and on what the virus scan decompresses).
MAX_PACKAGE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # a logo, screenshot or video thumbnail

# Why a symlink is refused wherever offerctl reads a file: git stores only the
# link's text, so what it points at was never reviewed or committed.
SYMLINK_RULE = (
    "is a symlink; offer files must be regular files (links are not followed, "
    "as in a git commit); commit the file itself"
)
