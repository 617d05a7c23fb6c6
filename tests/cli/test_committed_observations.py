"""Committed statuses as a read-only marketplace for `offerctl plan`, and plan's file notes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cli_helpers import make_status

from controller.core.model import Phase, Stage, StageState, Target
from controller.core.planning import uncommitted_notes
from controller.marketplace.api import MarketplaceError, NotFound, SubmissionResult
from controller.marketplace.committed import CommittedObservations

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phase", "result"),
    [
        (Phase.CERTIFYING, SubmissionResult.PENDING),
        (Phase.PREVIEW, SubmissionResult.PENDING),
        (Phase.AWAITING_SIGNOFF, SubmissionResult.PENDING),
        (Phase.LIVE, SubmissionResult.SUCCEEDED),
        (Phase.REJECTED, SubmissionResult.FAILED),
    ],
)
def test_a_status_reads_back_as_the_submission_it_describes(
    phase: Phase, result: SubmissionResult
) -> None:
    value = make_status("alpha-offer", phase, now=NOW)
    market = CommittedObservations({"alpha-offer": value})
    assert value.submission is not None
    found = market.find(value.submission.idempotency_key)
    assert found is not None
    assert found == market.get(value.submission.id)
    assert (found.offer, found.result) == ("alpha-offer", result)


def test_a_preview_waits_at_signoff_as_the_marketplace_said() -> None:
    value = make_status("alpha-offer", Phase.PREVIEW, now=NOW, target=Target.PREVIEW)
    assert value.submission is not None
    found = CommittedObservations({"alpha-offer": value}).get(value.submission.id)
    assert found.stage(Stage.SIGNOFF).state is StageState.RUNNING
    assert found.stage(Stage.LIVE).state is StageState.PENDING


def test_a_status_in_another_offers_folder_describes_nothing() -> None:
    value = make_status("alpha-offer", Phase.AWAITING_SIGNOFF, now=NOW)
    assert value.submission is not None
    market = CommittedObservations({"mallory-offer": value})
    assert market.find(value.submission.idempotency_key) is None
    with pytest.raises(NotFound):
        market.get(value.submission.id)


def test_every_call_that_would_change_something_is_refused() -> None:
    market = CommittedObservations({})
    with pytest.raises(MarketplaceError, match="only the statuses"):
        market.go_live("sub-0001")
    with pytest.raises(MarketplaceError, match="only the statuses"):
        market.cancel("sub-0001")
    with pytest.raises(MarketplaceError, match="only the statuses"):
        market.withdraw("alpha-offer")


def test_notes_name_uncommitted_offer_folders_once_and_list_changed_files() -> None:
    notes = uncommitted_notes(
        [
            ("offers/new-offer/offer.yaml", "untracked"),
            ("offers/new-offer/media/logo.png", "untracked"),
            ("offers/old-offer/offer.yaml", "modified"),
            ("offers/old-offer/status.yaml", "modified"),
        ],
        ["old-offer"],
    )
    assert notes == [
        "not committed yet, so not in this plan (a plan reads only commits): "
        "offers/new-offer/; commit them to plan them",
        "uncommitted changes this plan does not include: offers/old-offer/offer.yaml (modified)",
    ]
    assert uncommitted_notes([("offers/a/status.yaml", "modified")], ["a"]) == []
