"""Which events a status calls for, and what they say: pure derivation, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from notify_helpers import GEN, NOW, awaiting, certifying, live, rejected

from controller.core.model import Condition, ConditionStatus, ConditionType, OfferStatus, Phase
from controller.notify.events import Kind, derive, stalled


def kinds(events: tuple[object, ...]) -> list[str]:
    return [e.kind.value for e in events]  # type: ignore[attr-defined]


def test_a_rejection_lists_each_finding_where_it_points_and_where_to_fix() -> None:
    (event,) = derive(None, rejected(), NOW)
    assert event.kind is Kind.REJECTED
    assert event.id == f"contoso-x/certification-rejected/{GEN}/sub-1"
    assert "offers/contoso-x/offer.yaml ($.spec.listings.en-us.name): ListingNameTooLong" in (
        event.body
    )
    assert "offers/contoso-x/offer.yaml:17 ($.spec.listings.en-us.usefulLinks[0].url)" in (
        event.body
    )
    assert "Fix: edit offers/contoso-x/offer.yaml" in event.body
    assert "Findings (2):" in event.body


def test_the_same_state_derived_again_has_the_same_id_whatever_came_before() -> None:
    first = derive(None, rejected(), NOW)
    again = derive(rejected(), rejected(), NOW + timedelta(hours=3))
    assert [e.id for e in first] == [e.id for e in again]


def test_a_new_submission_rejected_again_is_a_new_event() -> None:
    (one,) = derive(None, rejected(sub="sub-1"), NOW)
    (two,) = derive(rejected(sub="sub-1"), rejected(sub="sub-2"), NOW)
    assert one.id != two.id


def test_preview_ready_carries_the_exact_signoff_command() -> None:
    (event,) = derive(None, awaiting(), NOW)
    assert event.kind is Kind.PREVIEW_READY
    assert "    offerctl signoff contoso-x\n" in event.body
    assert "https://preview.example/contoso-x" in event.body


def test_an_offer_id_a_shell_would_misread_is_quoted_in_the_command() -> None:
    (event,) = derive(None, awaiting("x;rm -rf ~"), NOW)
    assert "offerctl signoff 'x;rm -rf ~'" in event.body


def test_live_is_one_event_per_live_generation() -> None:
    (event,) = derive(awaiting(), live(), NOW)
    assert event.kind is Kind.LIVE and "AwaitingSignOff -> Live" in event.body
    (other,) = derive(None, live(generation="sha256:" + "cd" * 32), NOW)
    assert other.id != event.id


def test_a_stage_past_its_documented_maximum_is_overdue_and_not_before() -> None:
    status = certifying(started=NOW)
    assert derive(None, status, NOW + timedelta(days=8)) == ()
    (event,) = derive(None, status, NOW + timedelta(days=10))
    assert event.kind is Kind.STAGE_OVERDUE
    assert "Certification" in event.title
    assert "documented maximum is 7d 0h" in event.body
    # the id names the stage run, not the moment it was noticed
    (later,) = derive(None, status, NOW + timedelta(days=12))
    assert later.id == event.id


def test_the_stage_maximums_are_a_parameter() -> None:
    status = replace(
        certifying(started=NOW), stages=(replace(certifying().stages[1], deadline=None),)
    )
    from controller.core.model import Stage

    assert derive(None, status, NOW + timedelta(hours=2), {Stage.CERTIFICATION: timedelta(hours=1)})
    assert not derive(None, status, NOW + timedelta(hours=2))


def test_drift_is_one_event_per_time_the_condition_turns_true() -> None:
    def drifted(at_hours: int) -> OfferStatus:
        condition = Condition(
            ConditionType.DRIFT,
            ConditionStatus.TRUE,
            "Drift",
            "the draft was edited in Partner Center",
            NOW + timedelta(hours=at_hours),
        )
        return replace(live(), conditions=(condition,))

    (a,) = [e for e in derive(None, drifted(1), NOW) if e.kind is Kind.DRIFT]
    (b,) = [e for e in derive(None, drifted(5), NOW) if e.kind is Kind.DRIFT]
    assert a.id != b.id
    assert "edited in Partner Center" in a.body


def test_phases_with_nothing_to_tell_derive_nothing() -> None:
    for phase in (Phase.VALIDATING, Phase.DRAFT, Phase.PACKAGING, Phase.WITHDRAWN):
        assert derive(None, OfferStatus("contoso-x", phase), NOW) == ()


def test_untrusted_text_is_escaped_in_titles_and_bodies() -> None:
    evil = rejected(offer="evil\u202eexe.txt", message="see \x1b]0;pwned\x07 now")
    (event,) = derive(None, evil, NOW)
    assert "\u202e" not in event.title and "\\u202e" in event.title
    assert "\x1b" not in event.body and "\\x1b" in event.body


def test_a_stall_is_named_by_when_it_began() -> None:
    one = stalled("shard-0-of-2", NOW, 400, 300)
    same = stalled("shard-0-of-2", NOW, 900, 300)
    assert one.id == same.id and one.kind is Kind.STALLED
    assert "400s" in one.body and "shard shard-0-of-2" in one.title
