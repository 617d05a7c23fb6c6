"""Blob ids of rendered statuses, remembered so that an unchanged status is not rendered again."""

from __future__ import annotations

import dataclasses

from controller.core.model import OfferStatus, Phase, Target
from controller.git.names import blob_oid
from controller.reconcile.rendered import RenderedOids
from controller.repo import status

ALPHA = OfferStatus("alpha-offer", Phase.CERTIFYING, Target.LIVE, observed_generation="sha256:aa")


def test_an_equal_status_is_known_by_the_blob_id_of_its_rendering() -> None:
    memo = RenderedOids()
    assert memo.known(ALPHA, "sha1") is None
    data, oid = memo.render(ALPHA, "sha1")
    assert data == status.render(ALPHA).encode("utf-8")
    assert oid == blob_oid(data, "sha1")
    assert memo.known(dataclasses.replace(ALPHA), "sha1") == oid  # equal, another object
    assert memo.known(dataclasses.replace(ALPHA, phase=Phase.PACKAGING), "sha1") is None
    assert memo.known(ALPHA, "sha256") is None  # another object format, another id


def test_the_memo_keeps_only_the_most_recently_used() -> None:
    memo = RenderedOids(limit=2)
    first, second, third = (dataclasses.replace(ALPHA, observed_generation=g) for g in "abc")
    memo.render(first, "sha1")
    memo.render(second, "sha1")
    assert memo.known(first, "sha1") is not None  # now the most recent
    memo.render(third, "sha1")
    assert memo.known(second, "sha1") is None
    assert memo.known(first, "sha1") is not None
    assert memo.known(third, "sha1") is not None
