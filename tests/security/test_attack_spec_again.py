"""A spec read back for a verdict kept in memory is the spec that verdict validated.

The memo keeps no spec: a pass that submits reads it back from the verdict store
when the stored verdict has the same generation. But a generation leaves out the
control fields (`spec.target`, `spec.suspend`), and the store is shared: `plan` of a
pull request, in another process over the same git dir, writes its own verdict for
the offer. A pull request that changes only `target` (same generation) must not
have its spec submitted for the unchanged folder on the watched branch.
"""

from __future__ import annotations

from pathlib import Path

from controller.core.generation import generation
from controller.core.model import Target
from controller.git.tree import GitTreeFiles, TreeEntry, TreeSnapshot
from controller.reconcile.reuse import VerdictStore, reusing
from controller.reconcile.types import OfferCheck
from controller.validation.files import FileSource

BLOBS = {"a" * 40: b"preview", "b" * 40: b"live"}


def _validate(files: FileSource, offer: str) -> OfferCheck:
    target = files.read(f"offers/{offer}/offer.yaml", 1 << 20).decode()
    spec = {"name": offer, "target": target}
    return OfferCheck(generation(spec, offer=offer), Target(target), False, (), spec, {})


def _files(oid: str) -> GitTreeFiles:
    path = "offers/x/offer.yaml"
    entries = {path: TreeEntry(path, "100644", oid, len(BLOBS[oid]))}
    return GitTreeFiles(TreeSnapshot(commit=oid[0] * 40, entries=entries, read_blob=BLOBS.get))


def test_a_spec_another_commit_stored_under_the_same_generation_is_not_submitted(
    tmp_path: Path,
) -> None:
    daemon = reusing(_validate, VerdictStore(tmp_path))
    first = daemon(_files("a" * 40), "x")
    plan = reusing(_validate, VerdictStore(tmp_path))  # `plan` of a pull request
    forged = plan(_files("b" * 40), "x")
    assert forged.generation == first.generation  # target is no part of a generation
    again = daemon(_files("a" * 40), "x")  # the watched branch, unchanged: a memo hit
    assert again.target is Target.PREVIEW
    assert dict(again.spec) == {"name": "x", "target": "preview"}
