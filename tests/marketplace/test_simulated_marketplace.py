"""The simulated marketplace: persistence, idempotency, stage timing and state rules."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from marketplace_helpers import START, StepClock, eicar_package, payload, spec

from controller.core.model import STAGE_MAX, STAGES, Stage, StageState, Target
from controller.marketplace.api import (
    InvalidState,
    MarketplaceError,
    NotFound,
    Submission,
    SubmissionResult,
    idempotency_key,
)
from controller.marketplace.faults import Fault, FaultConfig
from controller.marketplace.simulated import SimulatedMarketplace

OFFER = "contoso-app"
GEN1 = "sha256:" + "1" * 64
GEN2 = "sha256:" + "2" * 64
KEY1 = idempotency_key(OFFER, GEN1)
KEY2 = idempotency_key(OFFER, GEN2)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def market(tmp_path: Path, clock: StepClock) -> SimulatedMarketplace:
    return SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock)


def states(sub: Submission) -> dict[str, str]:
    return {p.name.value: p.state.value for p in sub.stages}


def submit(market: SimulatedMarketplace, gen: str = GEN1, **kw: object) -> Submission:
    return market.submit(OFFER, gen, Target.LIVE, payload(**kw), idempotency_key(OFFER, gen))  # type: ignore[arg-type]


def to_signoff(market: SimulatedMarketplace, clock: StepClock, sub: Submission) -> Submission:
    clock.advance(weeks=1, hours=2)
    current = market.get(sub.id)
    assert current.stage(Stage.SIGNOFF).state == StageState.RUNNING
    return current


def to_live(market: SimulatedMarketplace, clock: StepClock, sub: Submission) -> Submission:
    to_signoff(market, clock, sub)
    market.go_live(sub.id)
    clock.advance(days=4, hours=2)
    done = market.get(sub.id)
    assert done.result == SubmissionResult.SUCCEEDED
    return done


class TestIdempotentSubmit:
    """One idempotency key makes at most one submission, across instances and processes."""

    def test_resubmitting_the_same_key_returns_the_same_submission(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        first = submit(market)
        clock.advance(minutes=5)
        again = submit(market)
        assert again.id == first.id
        assert again.created_at == first.created_at
        assert len(market.submissions()) == 1

    def test_find_returns_the_submission_for_a_key_or_none(
        self, market: SimulatedMarketplace
    ) -> None:
        assert market.find(KEY1) is None
        made = submit(market)
        found = market.find(KEY1)
        assert found is not None
        assert found.id == made.id
        assert found.idempotency_key == KEY1

    def test_a_second_instance_on_the_same_file_sees_and_reuses_the_submission(
        self, tmp_path: Path, clock: StepClock
    ) -> None:
        one = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock)
        two = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock)
        made = submit(one)
        assert two.find(KEY1) == made
        assert submit(two).id == made.id
        assert len(one.submissions()) == 1

    def test_reusing_a_key_for_another_generation_is_refused(
        self, market: SimulatedMarketplace
    ) -> None:
        submit(market)
        with pytest.raises(MarketplaceError) as caught:
            market.submit(OFFER, GEN2, Target.LIVE, payload(), KEY1)
        assert not caught.value.transient

    @pytest.mark.slow
    def test_processes_racing_one_key_make_exactly_one_submission(self, tmp_path: Path) -> None:
        db = tmp_path / "m.sqlite3"
        go = tmp_path / "go"
        script = (
            "import sys, time, pathlib\n"
            "sys.path.insert(0, sys.argv[3])\n"
            "from marketplace_helpers import payload\n"
            "from controller.marketplace.simulated import SimulatedMarketplace\n"
            "from controller.core.model import Target\n"
            "m = SimulatedMarketplace(sys.argv[1], time_scale=1000)\n"
            "go = pathlib.Path(sys.argv[2])\n"
            "pathlib.Path(sys.argv[4]).touch()\n"
            "while not go.exists(): time.sleep(0.001)\n"
            f"print(m.submit({OFFER!r}, {GEN1!r}, Target.LIVE, payload(), {KEY1!r}).id)\n"
        )
        # tests/ too: marketplace_helpers builds packages with tests/appsource_helpers.py.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    script,
                    str(db),
                    str(go),
                    str(Path(__file__).parent),
                    str(tmp_path / f"ready-{i}"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for i in range(4)
        ]
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("ready-*"))) < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        go.touch()  # all four are spinning on this file: they submit at once
        outputs = [p.communicate(timeout=60) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
        ids = {out.strip() for out, _ in outputs}
        assert len(ids) == 1
        assert len(SimulatedMarketplace(db).submissions()) == 1


class TestStageProgression:
    """Stages advance on their own with the clock, within the documented maximums."""

    def test_a_new_submission_is_validating(self, market: SimulatedMarketplace) -> None:
        sub = submit(market)
        assert sub.result == SubmissionResult.PENDING
        assert states(sub) == {
            "Validation": "Running",
            "Certification": "Pending",
            "Packaging": "Pending",
            "SignOff": "Pending",
            "Publishing": "Pending",
            "Live": "Pending",
        }
        assert sub.created_at == START
        assert sub.stage(Stage.VALIDATION).started_at == START
        assert sub.preview_url == ""

    def test_stages_run_back_to_back_and_each_within_its_maximum(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = to_live(market, clock, submit(market))
        stages = sub.stages
        for before, after in itertools.pairwise(stages):
            assert before.finished_at == after.started_at
        for progress in stages:
            maximum = STAGE_MAX[progress.name]
            assert progress.state == StageState.SUCCEEDED
            assert progress.started_at is not None
            assert progress.finished_at is not None
            if maximum is not None:
                assert progress.finished_at - progress.started_at <= maximum

    def test_signoff_waits_for_go_live_however_long_it_takes(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = to_signoff(market, clock, submit(market))
        assert sub.preview_url.startswith("https://")
        clock.advance(days=365)
        later = market.get(sub.id)
        assert states(later)["SignOff"] == "Running"
        assert states(later)["Publishing"] == "Pending"
        assert later.result == SubmissionResult.PENDING

    def test_go_live_runs_publishing_then_live_then_succeeds(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = to_signoff(market, clock, submit(market))
        after = market.go_live(sub.id)
        assert states(after)["SignOff"] == "Succeeded"
        assert states(after)["Publishing"] == "Running"
        assert after.target == Target.LIVE
        clock.advance(hours=1)
        assert states(market.get(sub.id))["Live"] == "Running"
        assert market.listing(OFFER).live_generation == ""
        clock.advance(days=4)
        done = market.get(sub.id)
        assert done.result == SubmissionResult.SUCCEEDED
        assert market.listing(OFFER).live_generation == GEN1

    def test_durations_are_reproducible_for_a_seed(self, tmp_path: Path, clock: StepClock) -> None:
        def run(name: str, seed: int) -> Submission:
            m = SimulatedMarketplace(tmp_path / name, clock=StepClock(), seed=seed)
            sub = submit(m)
            clock_ = StepClock(START + timedelta(days=30))
            return SimulatedMarketplace(tmp_path / name, clock=clock_).get(sub.id)

        assert run("a", seed=7).stages == run("b", seed=7).stages
        assert run("c", seed=7).stages != run("d", seed=8).stages

    def test_durations_vary_between_submissions_and_stay_within_bounds(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        certs = set()
        for i in range(30):
            gen = f"sha256:{i:064x}"
            market.submit(f"offer-{i}", gen, Target.PREVIEW, payload(), f"offer-{i}@{gen}")
        clock.advance(weeks=2)
        for sub in market.submissions():
            cert = sub.stage(Stage.CERTIFICATION)
            assert cert.started_at is not None
            assert cert.finished_at is not None
            took = cert.finished_at - cert.started_at
            assert timedelta(weeks=1) * 0.2 <= took <= timedelta(weeks=1)
            certs.add(took)
        assert len(certs) == 30

    def test_time_scale_of_a_million_passes_a_week_in_under_a_second(
        self, tmp_path: Path, clock: StepClock
    ) -> None:
        market = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock, time_scale=1_000_000)
        sub = submit(market)
        clock.advance(seconds=0.7)
        assert states(market.get(sub.id))["SignOff"] == "Running"
        market.go_live(sub.id)
        clock.advance(seconds=0.4)  # Publishing (1 h) and Live (4 days) scale to < 0.4 s
        assert market.get(sub.id).result == SubmissionResult.SUCCEEDED

    def test_time_scale_with_the_real_clock(self, tmp_path: Path) -> None:
        market = SimulatedMarketplace(tmp_path / "m.sqlite3", time_scale=100_000_000)
        sub = submit(market)
        time.sleep(0.02)  # 2e6 s simulated: past Validation+Certification+Packaging
        assert states(market.get(sub.id))["SignOff"] == "Running"

    def test_each_submission_keeps_the_time_scale_it_was_made_with(
        self, tmp_path: Path, clock: StepClock
    ) -> None:
        fast = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock, time_scale=1_000_000)
        sub = submit(fast)
        slow = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock, time_scale=1)
        clock.advance(seconds=1)
        assert states(slow.get(sub.id))["SignOff"] == "Running"

    def test_bad_time_scale_is_refused(self, tmp_path: Path) -> None:
        for bad in (0, -1, float("inf"), float("nan")):
            with pytest.raises(ValueError, match="time scale"):
                SimulatedMarketplace(tmp_path / "m.sqlite3", time_scale=bad)


class TestCertificationOutcome:
    """Findings stop the pipeline at their stage and show up when that stage ends."""

    def test_eicar_package_fails_certification_with_feedback(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = submit(market, package=eicar_package())
        clock.advance(minutes=16)
        during = market.get(sub.id)
        assert states(during)["Certification"] == "Running"
        assert during.feedback == ()
        assert during.result == SubmissionResult.PENDING
        clock.advance(weeks=1)
        done = market.get(sub.id)
        assert done.result == SubmissionResult.FAILED
        assert states(done) == {
            "Validation": "Succeeded",
            "Certification": "Failed",
            "Packaging": "Skipped",
            "SignOff": "Skipped",
            "Publishing": "Skipped",
            "Live": "Skipped",
        }
        (finding,) = done.feedback
        assert finding.code == "VirusFound"
        assert finding.stage == "Certification"
        assert finding.path == "$.spec.technicalConfiguration.packageFile"
        assert done.preview_url == ""

    def test_a_coming_failure_is_not_visible_before_it_happens(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = submit(market, package=eicar_package())
        fine = market.submit("other-offer", GEN1, Target.LIVE, payload(), "other-offer@1")
        assert states(sub) == states(fine)  # doomed or not, it looks the same
        clock.advance(minutes=16)
        assert states(market.get(sub.id))["Packaging"] == "Pending"

    def test_incomplete_offer_fails_validation_and_is_never_certified(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        bad = spec({"listings.en-us.name": "", "properties.legal.privacyPolicyUrl": None})
        sub = submit(market, spec_=bad)
        clock.advance(minutes=15)
        done = market.get(sub.id)
        assert done.result == SubmissionResult.FAILED
        assert states(done)["Validation"] == "Failed"
        assert states(done)["Certification"] == "Skipped"
        assert {f.code for f in done.feedback} == {"ListingFieldMissing"}

    def test_go_live_of_a_failed_submission_is_invalid(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = submit(market, package=eicar_package())
        clock.advance(weeks=2)
        with pytest.raises(InvalidState):
            market.go_live(sub.id)

    def test_draft_target_is_not_submitted(self, market: SimulatedMarketplace) -> None:
        with pytest.raises(MarketplaceError) as caught:
            market.submit(OFFER, GEN1, Target.DRAFT, payload(), KEY1)
        assert not caught.value.transient
        assert market.submissions() == []


class TestStateRules:
    """go_live, cancel and withdraw: when they are allowed, and that repeating them is safe."""

    def test_go_live_before_signoff_is_invalid(self, market: SimulatedMarketplace) -> None:
        sub = submit(market)
        with pytest.raises(InvalidState, match="not awaiting sign-off"):
            market.go_live(sub.id)

    def test_go_live_twice_returns_the_same_progress(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = to_signoff(market, clock, submit(market))
        first = market.go_live(sub.id)
        clock.advance(minutes=10)
        second = market.go_live(sub.id)
        assert second.stage(Stage.PUBLISHING).started_at == first.stage(Stage.PUBLISHING).started_at

    def test_cancel_skips_the_running_stage_and_the_rest(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = submit(market)
        clock.advance(hours=1)
        cancelled = market.cancel(sub.id)
        assert cancelled.result == SubmissionResult.CANCELLED
        assert states(cancelled) == {
            "Validation": "Succeeded",
            "Certification": "Skipped",
            "Packaging": "Skipped",
            "SignOff": "Skipped",
            "Publishing": "Skipped",
            "Live": "Skipped",
        }
        assert cancelled.stage(Stage.CERTIFICATION).finished_at == clock.now
        clock.advance(weeks=3)
        assert market.get(sub.id) == cancelled  # nothing moves after a cancel
        assert market.cancel(sub.id) == cancelled  # and cancelling again changes nothing

    def test_cancel_while_awaiting_signoff_drops_the_preview(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = to_signoff(market, clock, submit(market))
        cancelled = market.cancel(sub.id)
        assert cancelled.result == SubmissionResult.CANCELLED
        assert states(cancelled)["SignOff"] == "Skipped"
        assert cancelled.preview_url == ""
        with pytest.raises(InvalidState):
            market.go_live(sub.id)

    def test_cancel_after_go_live_is_invalid(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = to_signoff(market, clock, submit(market))
        market.go_live(sub.id)
        with pytest.raises(InvalidState, match="signed off"):
            market.cancel(sub.id)

    def test_cancel_of_a_failed_submission_changes_nothing(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        sub = submit(market, package=eicar_package())
        clock.advance(weeks=2)
        assert market.cancel(sub.id).result == SubmissionResult.FAILED

    def test_unknown_submission_is_not_found(self, market: SimulatedMarketplace) -> None:
        for call in (market.get, market.go_live, market.cancel):
            with pytest.raises(NotFound):
                call("sub-nope")

    def test_a_new_generation_supersedes_one_still_before_signoff(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        old = to_signoff(market, clock, submit(market, GEN1))
        new = submit(market, GEN2)
        assert market.get(old.id).result == SubmissionResult.CANCELLED
        assert new.result == SubmissionResult.PENDING

    def test_previous_live_generation_stays_live_until_the_new_one_is_live(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        to_live(market, clock, submit(market, GEN1))
        new = to_signoff(market, clock, submit(market, GEN2))
        assert market.listing(OFFER).live_generation == GEN1
        market.go_live(new.id)
        clock.advance(hours=1, minutes=1)
        assert market.listing(OFFER).live_generation == GEN1
        clock.advance(days=4)
        assert market.listing(OFFER).live_generation == GEN2

    def test_an_update_signed_off_later_wins_even_if_an_older_one_finishes_later(
        self, tmp_path: Path, clock: StepClock
    ) -> None:
        market = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock)
        first = to_signoff(market, clock, submit(market, GEN1))
        market.go_live(first.id)  # publishing GEN1 (cannot be cancelled any more)
        second = submit(market, GEN2)  # allowed: GEN1 is past sign-off, so not superseded
        assert market.get(first.id).result == SubmissionResult.PENDING
        to_signoff(market, clock, second)
        market.go_live(second.id)
        clock.advance(days=30)
        assert market.get(first.id).result == SubmissionResult.SUCCEEDED
        assert market.listing(OFFER).live_generation == GEN2

    def test_withdraw_needs_something_live(self, market: SimulatedMarketplace) -> None:
        with pytest.raises(InvalidState, match="not live"):
            market.withdraw(OFFER)
        submit(market)
        with pytest.raises(InvalidState):
            market.withdraw(OFFER)

    def test_withdraw_goes_through_withdrawing_to_withdrawn_within_an_hour(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        to_live(market, clock, submit(market))
        asked = market.withdraw(OFFER)
        assert asked.withdrawing
        assert asked.live_generation == GEN1  # still on sale until it completes
        assert market.withdraw(OFFER) == asked  # repeating is harmless
        clock.advance(hours=1)
        done = market.listing(OFFER)
        assert done.withdrawn
        assert not done.withdrawing
        assert done.live_generation == ""
        assert market.withdraw(OFFER) == done

    def test_going_live_again_after_a_withdrawal_relists_the_offer(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        to_live(market, clock, submit(market, GEN1))
        market.withdraw(OFFER)
        clock.advance(hours=1)
        to_live(market, clock, submit(market, GEN2))
        listing = market.listing(OFFER)
        assert listing.live_generation == GEN2
        assert not listing.withdrawn

    def test_listing_of_an_unknown_offer_is_empty(self, market: SimulatedMarketplace) -> None:
        listing = market.listing("never-seen")
        assert (listing.live_generation, listing.withdrawn, listing.withdrawing) == (
            "",
            False,
            False,
        )


class TestFaults:
    """Injected faults in-process: before the call (no effect) or after it (effect, error)."""

    def test_error_rate_one_fails_every_call_transiently_without_effect(
        self, tmp_path: Path
    ) -> None:
        market = SimulatedMarketplace(tmp_path / "m.sqlite3", faults=FaultConfig(error=1.0))
        with pytest.raises(MarketplaceError) as caught:
            submit(market)
        assert caught.value.transient
        assert SimulatedMarketplace(tmp_path / "m.sqlite3").submissions() == []

    def test_throttle_carries_retry_after(self, tmp_path: Path) -> None:
        faults = FaultConfig(throttle=1.0, retry_after=7)
        market = SimulatedMarketplace(tmp_path / "m.sqlite3", faults=faults)
        with pytest.raises(MarketplaceError) as caught:
            market.listing(OFFER)
        assert caught.value.transient
        assert caught.value.retry_after == 7

    def test_reset_after_send_is_resolved_by_looking_the_key_up(self, tmp_path: Path) -> None:
        market = SimulatedMarketplace(tmp_path / "m.sqlite3", faults=FaultConfig(reset=1.0))
        with pytest.raises(MarketplaceError, match="outcome unknown"):
            submit(market)
        clean = SimulatedMarketplace(tmp_path / "m.sqlite3")
        found = clean.find(KEY1)
        assert found is not None  # it took effect
        assert submit(clean).id == found.id  # and resubmitting does not make a second one

    def test_faults_are_counted_per_kind(self, tmp_path: Path) -> None:
        config = FaultConfig(error=0.25, timeout=0.25, throttle=0.25, reset=0.25, seed=3)
        market = SimulatedMarketplace(tmp_path / "m.sqlite3", faults=config)
        for _ in range(40):
            with pytest.raises(MarketplaceError):
                market.listing(OFFER)
        counts = market.fault_counts
        assert sum(counts.values()) == 40
        assert all(counts[kind] > 0 for kind in Fault)


class TestStore:
    """The SQLite file: where it is, what happens when it is broken."""

    def test_state_survives_a_new_instance(self, tmp_path: Path, clock: StepClock) -> None:
        sub = submit(SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock))
        again = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock)
        assert again.get(sub.id) == sub

    def test_missing_parent_directories_are_created(self, tmp_path: Path) -> None:
        SimulatedMarketplace(tmp_path / "a" / "b" / "m.sqlite3")
        assert (tmp_path / "a" / "b" / "m.sqlite3").is_file()

    def test_a_file_that_is_not_a_database_is_a_clear_error(self, tmp_path: Path) -> None:
        db = tmp_path / "m.sqlite3"
        db.write_bytes(b"this is not sqlite" * 100)
        with pytest.raises(MarketplaceError, match=r"m\.sqlite3") as caught:
            SimulatedMarketplace(db)
        assert not caught.value.transient

    def test_the_store_uses_wal_so_readers_do_not_block_a_writer(self, tmp_path: Path) -> None:
        import sqlite3

        SimulatedMarketplace(tmp_path / "m.sqlite3")
        with sqlite3.connect(tmp_path / "m.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_every_stage_is_reported_in_pipeline_order(self, market: SimulatedMarketplace) -> None:
        assert tuple(p.name for p in submit(market).stages) == STAGES

    def test_spec_that_cannot_be_stored_is_refused_cleanly(
        self, market: SimulatedMarketplace
    ) -> None:
        deep: object = "x"
        for _ in range(5000):
            deep = [deep]
        with pytest.raises(MarketplaceError) as caught:
            submit(market, spec_=spec({"extra": deep}))
        assert not caught.value.transient

    def test_a_malformed_stored_row_is_a_clear_permanent_error(
        self, tmp_path: Path, clock: StepClock
    ) -> None:
        import sqlite3

        market = SimulatedMarketplace(tmp_path / "m.sqlite3", clock=clock)
        sub = submit(market)
        with sqlite3.connect(tmp_path / "m.sqlite3") as db:
            db.execute("UPDATE submissions SET durations = '{\"NoSuchStage\": 1}'")
        for read in (lambda: market.get(sub.id), lambda: market.find(KEY1)):
            with pytest.raises(MarketplaceError, match="malformed submission") as caught:
                read()
            assert not caught.value.transient
        market.close()

    def test_long_stored_findings_are_read_back_whole(
        self, market: SimulatedMarketplace, clock: StepClock
    ) -> None:
        # Many findings make a long findings column, longer than the parse memo keeps.
        links = [{"name": f"Link {i}", "url": f"http://contoso.example/{i}"} for i in range(60)]
        sub = submit(market, spec_=spec({"listings.en-us.usefulLinks": links}))
        clock.advance(weeks=2)
        feedback = market.get(sub.id).feedback
        assert len([f for f in feedback if f.code == "InsecureLink"]) == 60
        assert market.get(sub.id).feedback == feedback == market.find(KEY1).feedback  # type: ignore[union-attr]
