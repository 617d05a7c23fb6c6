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

    def known(value: OfferStatus) -> str | None:  # asked with an equal copy: found by value
        return memo.known(dataclasses.replace(value), "sha1")

    assert known(first) is not None  # now the most recent
    memo.render(third, "sha1")
    assert known(second) is None
    assert known(first) is not None
    assert known(third) is not None


def test_a_status_object_asked_again_is_known_by_identity_within_the_bound() -> None:
    memo = RenderedOids(limit=2)
    first, second, third = (dataclasses.replace(ALPHA, observed_generation=g) for g in "abc")
    oid = memo.render(first, "sha1")[1]
    assert memo.known(first, "sha1") == oid
    assert memo.known(first, "sha256") is None  # the object format is part of the key
    memo.render(second, "sha1")
    memo.render(third, "sha1")  # `first` is gone, by value and by identity
    assert memo.known(first, "sha1") is None
    assert memo.known(third, "sha1") == blob_oid(status.render(third).encode("utf-8"), "sha1")


def test_a_pass_over_more_statuses_than_it_holds_leaves_the_memo_out() -> None:
    """Least recently used out, a memo asked about more statuses than it holds in the same
    order every pass never hits: it is emptied, and statuses are rendered to compare."""
    memo = RenderedOids(limit=2)
    memo.render(ALPHA, "sha1")
    memo.expect(3)
    assert memo.known(ALPHA, "sha1") is None
    _, oid = memo.render(ALPHA, "sha1")
    assert memo.known(ALPHA, "sha1") is None  # not remembered while the passes are large
    memo.expect(2)
    memo.render(ALPHA, "sha1")
    assert memo.known(dataclasses.replace(ALPHA), "sha1") == oid
