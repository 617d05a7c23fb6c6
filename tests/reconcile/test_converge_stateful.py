"""The reconcile pass's converge step against the real simulated marketplace (hypothesis).

Each pass runs the reconciler's own `converge` step (observe through
`pipeline.lookups`, `decide`, act, observe again; at most MAX_ROUNDS rounds)
for one offer, through a marketplace wrapper that checks every action before
the simulator sees it, and a trace of every decision. Rules change the spec,
the target, suspend, local validation, the sign-off; delete and restore the
manifest; advance the marketplace clock; switch marketplace faults on and
off; restart the controller (its record re-read from the rendered text, or
lost altogether).

Invariants:
- a generation gets a new submission only when none of its submissions is in
  flight, rejected, or live; at most one submission per generation is ever in flight;
- Go Live is only asked for with a valid sign-off of that very generation,
  and every signed-off submission in the marketplace was asked for that way;
- Ready is True exactly when the target is reached, judged independently
  from the marketplace after a pass that reached its fixpoint;
- a submission is only made for the current generation, and it starts at Validation;
- Withdraw is only asked for when the target is withdrawn (or prune removes a
  deleted manifest): an update never takes a live version down;
- the marketplace never answers InvalidState to an action the pipeline asked for;
- a pass without faults reaches a fixpoint within three rounds, and no round
  repeats an action the round before carried out;
- a pass ends with an error only when the marketplace had a transient fault;
- the status each pass ends with validates against the schema and reads back unchanged.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import pytest
from appsource_helpers import appsource_package
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from controller.core import pipeline
from controller.core.generation import generation
from controller.core.model import (
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Severity,
    SignOffVerdict,
    Stage,
    StageState,
    Target,
)
from controller.core.pipeline import (
    Action,
    Decision,
    Desired,
    Observation,
    PipelineInput,
    Submit,
)
from controller.marketplace import certify
from controller.marketplace.api import (
    InvalidState,
    MarketplaceError,
    OfferListing,
    OfferPayload,
    Submission,
    SubmissionResult,
)
from controller.marketplace.faults import FaultConfig
from controller.marketplace.simulated import SimulatedMarketplace
from controller.reconcile.converge import MAX_ROUNDS, converge
from controller.reconcile.decisions import Decisions
from controller.reconcile.types import OfferInputs
from controller.repo import status as status_io

# the hypothesis state machine over the real converge step
pytestmark = pytest.mark.slow(budget=90)

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "status.schema.json").read_text())
STATUS_SCHEMA = jsonschema.Draft202012Validator(SCHEMA)
OFFER = "contoso-field-insights"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# Memory-backed tmp when there is one: the simulator's SQLite syncs on every write.
FAST_TMP = "/dev/shm" if Path("/dev/shm").is_dir() else None
# Weighted toward progress, so that most histories reach Live (and some are rejected).
GOALS = st.sampled_from(
    [Target.LIVE, Target.LIVE, Target.LIVE, Target.PREVIEW, Target.DRAFT, Target.WITHDRAWN]
)
REJECTED = st.sampled_from([False, False, False, True])
T = TypeVar("T")
LOCAL_ERROR = Finding("NameTooLong", "name is longer than 50", path="$.spec.listings.en-us.name")


PACKAGE = appsource_package()  # one the simulated certification accepts


def payload_for(version: int, *, rejected: bool) -> OfferPayload:
    """A spec the simulated certification passes, or one it rejects (an http link)."""
    listing: dict[str, Any] = {
        "name": "Contoso Field Insights",
        "searchResultsSummary": "Insights for field service teams",
        "description": f"<p>Release {version}</p>",
    }
    if rejected:
        listing["helpLink"] = "http://contoso.example/help"
    spec = {
        "type": "dynamics-365-customer-engagement",
        "listings": {"en-us": listing},
        "properties": {"legal": {"privacyPolicyUrl": "https://contoso.example/privacy"}},
        "technicalConfiguration": {"packageFile": "package/p.zip"},
    }
    return OfferPayload(spec=spec, files={"package/p.zip": PACKAGE})


class Checked:
    """The marketplace as the converge step sees it: each call checked against the invariants.

    Reads and actions go to the machine's current marketplace (faulty or not).
    An action is checked before it is made; the marketplace must never answer
    InvalidState to anything the pipeline asked for, and an action may fail only
    with a transient fault (which the step turns into a MarketplaceError condition).
    """

    def __init__(self, machine: PipelineMachine) -> None:
        self.machine = machine
        self.faulted = False  # a transient fault reached the step during this pass

    def _call(self, what: str, call: Callable[[], T], *, action: bool = False) -> T:
        try:
            return call()
        except InvalidState as exc:
            raise AssertionError(f"the marketplace refused {what}: {exc}") from exc
        except MarketplaceError as exc:
            if action:
                assert exc.transient, exc
            if exc.transient:
                self.faulted = True
            raise

    def find(self, key: str) -> Submission | None:
        return self._call(f"find {key}", lambda: self.machine.market.find(key))

    def get(self, submission_id: str) -> Submission:
        return self._call(f"get {submission_id}", lambda: self.machine.market.get(submission_id))

    def listing(self, offer: str) -> OfferListing:
        return self._call(f"listing {offer}", lambda: self.machine.market.listing(offer))

    def submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> Submission:
        self.machine.check_submit(offer, generation, target, payload, key)
        made = self._call(
            f"submit {key}",
            lambda: self.machine.market.submit(offer, generation, target, payload, key),
            action=True,
        )
        assert made.stage(Stage.VALIDATION).state is not StageState.PENDING
        return made

    def go_live(self, submission_id: str) -> Submission:
        self.machine.check_go_live(submission_id)
        return self._call(
            f"go-live {submission_id}",
            lambda: self.machine.market.go_live(submission_id),
            action=True,
        )

    def cancel(self, submission_id: str) -> Submission:
        return self._call(
            f"cancel {submission_id}",
            lambda: self.machine.market.cancel(submission_id),
            action=True,
        )

    def withdraw(self, offer: str) -> OfferListing:
        desired, prune = self.machine.desired, self.machine.prune
        assert (desired is None and prune) or (
            desired is not None and desired.target is Target.WITHDRAWN
        ), "Withdraw asked for without target withdrawn or prune"
        return self._call(
            f"withdraw {offer}", lambda: self.machine.market.withdraw(offer), action=True
        )


class PipelineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="offerctl-pipeline-", dir=FAST_TMP))
        self.now = START
        db = self.tmp / "marketplace.db"
        self.truth = SimulatedMarketplace(db, clock=lambda: self.now, seed=1)
        self.faulty = SimulatedMarketplace(
            db,
            clock=lambda: self.now,
            seed=1,
            faults=FaultConfig(error=0.08, reset=0.08, throttle=0.04, seed=3),
        )
        self.faults_on = False
        self.payloads: dict[str, OfferPayload] = {}
        self.desired: Desired | None = None
        self.verdict: SignOffVerdict | None = None
        self.prune = False
        self.last: OfferStatus | None = None
        self.approved_ids: set[str] = set()  # submissions Go Live was asked for, validly
        # The reconciler's decider: its kept halves must never answer other than decide.
        self.decisions = Decisions()

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ what the user does

    def _set_spec(self, version: int, rejected: bool) -> str:
        payload = payload_for(version, rejected=rejected)
        gen = generation(payload.spec, offer=OFFER)
        self.payloads[gen] = payload
        return gen

    @initialize(goal=GOALS, version=st.integers(0, 3), rejected=REJECTED)
    def start(self, goal: Target, version: int, rejected: bool) -> None:
        self.desired = Desired(goal, self._set_spec(version, rejected))
        self.reconcile()

    @rule(version=st.integers(0, 3), rejected=REJECTED)
    def edit_spec(self, version: int, rejected: bool) -> None:
        gen = self._set_spec(version, rejected)
        base = self.desired or Desired(Target.LIVE, gen)
        self.desired = Desired(base.target, gen, base.suspend, findings=base.findings)
        self.reconcile()

    @rule(goal=GOALS)
    def set_target(self, goal: Target) -> None:
        if self.desired is not None:
            self.desired = Desired(
                goal,
                self.desired.generation,
                self.desired.suspend,
                findings=self.desired.findings,
            )
        self.reconcile()

    @rule()
    def toggle_suspend(self) -> None:
        if self.desired is not None:
            d = self.desired
            self.desired = Desired(d.target, d.generation, not d.suspend, findings=d.findings)
        self.reconcile()

    @rule()
    def toggle_local_validation_error(self) -> None:
        if self.desired is not None:
            d = self.desired
            findings = () if d.findings else (LOCAL_ERROR,)
            self.desired = Desired(d.target, d.generation, d.suspend, findings=findings)
        self.reconcile()

    @rule(prune=st.booleans())
    def delete_manifest(self, prune: bool) -> None:
        self.desired = None
        self.prune = prune
        self.reconcile()

    @rule(version=st.integers(0, 3), goal=GOALS)
    def restore_manifest(self, version: int, goal: Target) -> None:
        if self.desired is None:
            self.desired = Desired(goal, self._set_spec(version, rejected=False))
        self.reconcile()

    @rule()
    def sign_off_current(self) -> None:
        if self.desired is not None:
            self.verdict = SignOffVerdict(
                valid=True,
                generation=self.desired.generation,
                reason="SignOffAccepted",
                message="approved by ann@example.com",
                approvers=("ann@example.com",),
            )
        self.reconcile()

    @rule(valid=st.booleans())
    def sign_off_another_generation(self, valid: bool) -> None:
        other = next(
            (g for g in self.payloads if self.desired and g != self.desired.generation), ""
        )
        if other:
            reason = "SignOffAccepted" if valid else "NotApproved"
            self.verdict = SignOffVerdict(valid=valid, generation=other, reason=reason, message="")
        self.reconcile()

    @rule()
    def withdraw_approval(self) -> None:
        if self.verdict is not None:
            self.verdict = SignOffVerdict(
                valid=False,
                generation=self.verdict.generation,
                reason="NotApproved",
                message="the approving review was dismissed",
            )
        self.reconcile()

    # ------------------------------------------------------------ time, faults, restarts

    @rule(
        step=st.sampled_from(
            [
                timedelta(minutes=5),
                timedelta(hours=1),
                timedelta(hours=8),
                timedelta(days=1),
                timedelta(days=3),
            ]
        )
    )
    def advance_clock(self, step: timedelta) -> None:
        self.now += step
        self.reconcile()

    @rule(days=st.integers(1, 6), publisher_signs=st.booleans())
    def let_it_run(self, days: int, publisher_signs: bool) -> None:
        """Days pass, with a pass twice a day; a willing publisher signs off when asked."""
        for _ in range(days * 2):
            self.now += timedelta(hours=12)
            awaiting = self.last is not None and self.last.phase.value == "AwaitingSignOff"
            if publisher_signs and awaiting and self.desired is not None:
                self.verdict = SignOffVerdict(
                    valid=True,
                    generation=self.desired.generation,
                    reason="SignOffAccepted",
                    message="approved",
                    approvers=("ann@example.com",),
                )
            self.reconcile()

    @rule(days=st.integers(3, 6))
    def publisher_waits_and_signs(self, days: int) -> None:
        """The same, more often: most histories should see offers go all the way."""
        self.let_it_run(days, publisher_signs=True)

    @rule()
    def toggle_faults(self) -> None:
        self.faults_on = not self.faults_on

    @rule(lose_status=st.booleans())
    def restart_controller(self, lose_status: bool) -> None:
        self.decisions = Decisions()  # a new process keeps nothing
        if self.last is not None:
            self.last = (
                None if lose_status else status_io.parse(status_io.render(self.last).encode())
            )
        self.reconcile()

    # ------------------------------------------------------------ the reconcile loop

    @property
    def market(self) -> SimulatedMarketplace:
        return self.faulty if self.faults_on else self.truth

    def reconcile(self) -> None:
        """One pass for the offer: the reconciler's converge step, every decision traced."""
        checked = Checked(self)
        decisions: list[Decision] = []

        def traced(asked: PipelineInput, decision: Decision) -> None:
            assert decision == pipeline.decide(asked, self.now), "a kept half answered stale"
            self.check_status(decision.status)
            previous: tuple[Action, ...] = decisions[-1].effectful if decisions else ()
            assert not set(decision.effectful) & set(previous), "an action was asked for twice"
            if not decision.effectful:
                self.check_ready(decision, asked.observed)
            decisions.append(decision)

        gen = self.desired.generation if self.desired else None
        inputs = OfferInputs(
            OFFER,
            last=self.last,
            desired=self.desired,
            payload=self.payloads[gen] if gen is not None else None,
            verdict=self.verdict,
            prune=self.prune,
        )
        outcome = converge(
            inputs, checked, lambda: self.now, on_decision=traced, decide=self.decisions.decide
        )
        assert len(decisions) <= MAX_ROUNDS
        assert outcome.after is not None
        self.last = outcome.after
        if outcome.error:
            assert checked.faulted, f"a pass failed without a marketplace fault: {outcome.error}"
            return
        decision = decisions[-1]
        if decision.effectful and not self.walking_attempts(decision):
            raise AssertionError(f"no fixpoint in {MAX_ROUNDS} rounds: {decision.effectful}")

    def walking_attempts(self, decision: Decision) -> bool:
        """The benign way to run out of rounds: re-finding attempts that already exist.

        After a lost status, or a revert to a spec whose earlier attempts were
        cancelled, `lookups` starts again near the first attempt and each round
        steps one attempt on; each Submit is deduped, nothing new is made, and
        the next pass goes on from where this one stopped.
        """
        return all(
            isinstance(a, Submit) and self.truth.find(a.idempotency_key) is not None
            for a in decision.effectful
        )

    # ------------------------------------------------------------ checks around actions

    def all_submissions(self) -> list[Submission]:
        return self.truth.submissions(OFFER)

    def check_submit(
        self, offer: str, generation: str, target: Target, payload: OfferPayload, key: str
    ) -> None:
        assert offer == OFFER
        assert self.desired is not None
        assert not self.desired.suspend
        assert generation == self.desired.generation, "submitted a stale generation"
        assert payload == self.payloads[generation], "submitted another generation's payload"
        assert target in (Target.PREVIEW, Target.LIVE)
        if self.truth.find(key) is not None:
            return  # a repeat the marketplace dedups: nothing new is made
        listing = self.truth.listing(OFFER)
        for s in self.all_submissions():
            if s.generation != generation:
                continue
            assert s.result is not SubmissionResult.PENDING, "second submission in flight"
            assert s.result is not SubmissionResult.FAILED, "a rejected generation resubmitted"
            if s.result is SubmissionResult.SUCCEEDED:
                still_live = listing.live_generation == s.generation and not (
                    listing.withdrawn or listing.withdrawing
                )
                assert not still_live, "a live generation resubmitted"

    def check_go_live(self, submission_id: str) -> None:
        assert self.desired is not None and not self.desired.suspend
        assert self.desired.target is Target.LIVE
        submission = self.truth.get(submission_id)
        verdict = self.verdict
        assert verdict is not None and verdict.valid, "Go Live without a valid sign-off"
        assert verdict.generation == submission.generation == self.desired.generation
        self.approved_ids.add(submission_id)

    # ------------------------------------------------------------ invariants

    @invariant()
    def status_file_is_valid_and_reads_back(self) -> None:
        """The status a pass ends with (what would be committed)."""
        if self.last is not None:
            STATUS_SCHEMA.validate(status_io.to_dict(self.last))
            assert status_io.parse(status_io.render(self.last).encode()) == self.last

    def check_status(self, status: OfferStatus) -> None:
        ready = status.condition(ConditionType.READY)
        assert ready is not None
        ref = status.submission
        if ref is not None and ref.generation != status.observed_generation:
            assert (
                ready.status is ConditionStatus.FALSE
                or self.desired is None
                or (self.desired.target in (Target.DRAFT, Target.WITHDRAWN))
            ), "Ready claimed on the strength of another generation's submission"

    @invariant()
    def at_most_one_submission_in_flight_per_generation(self) -> None:
        pending: dict[str, int] = {}
        for s in self.all_submissions():
            if s.result is SubmissionResult.PENDING:
                pending[s.generation] = pending.get(s.generation, 0) + 1
        assert all(n <= 1 for n in pending.values()), pending

    @invariant()
    def nothing_signed_off_without_a_valid_signoff(self) -> None:
        for s in self.all_submissions():
            if s.stage(Stage.SIGNOFF).state is StageState.SUCCEEDED:
                assert s.id in self.approved_ids, f"{s.id} went live without our Go Live"

    def check_ready(self, decision: Decision, observed: Observation) -> None:
        """Ready against an independent reading of the same observation."""
        ready = decision.status.condition(ConditionType.READY)
        assert ready is not None
        if self.desired is None:
            return
        expected = self.target_reached(self.desired, observed)
        assert (ready.status is ConditionStatus.TRUE) is expected, (
            f"Ready={ready.status} but reached={expected}: {decision.status.phase} "
            f"{ready.reason} {ready.message}"
        )

    @staticmethod
    def target_reached(desired: Desired, observed: Observation) -> bool:
        listing: OfferListing = observed.listing
        subs = {s.id: s for s in observed.submissions}.values()
        gen = desired.generation
        if any(f.severity is Severity.ERROR for f in desired.findings):
            return False
        in_flight = any(s.result is SubmissionResult.PENDING for s in subs)
        withdrawing = listing.withdrawing and not listing.withdrawn
        live = listing.live_generation if not listing.withdrawn else ""
        if desired.target is Target.DRAFT:
            return not in_flight
        if desired.target is Target.WITHDRAWN:
            return not in_flight and not live and not withdrawing
        gen_live = live == gen and not withdrawing
        if desired.target is Target.LIVE:
            return gen_live
        mine = [s for s in subs if s.generation == gen]
        newest = max(mine, key=lambda s: pipeline.attempt_of(s.idempotency_key), default=None)
        preview = (
            newest is not None
            and newest.result is SubmissionResult.PENDING
            and newest.stage(Stage.PACKAGING).state is StageState.SUCCEEDED
            and not withdrawing
        )
        return gen_live or preview


PipelineMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPipelineAgainstSimulatedMarketplace = PipelineMachine.TestCase


def test_the_histories_payloads_pass_or_fail_certification_as_meant() -> None:
    """The machine reaches Live only if its accepted payload passes certification: a package
    the simulated certification rejects would keep every history short of it."""
    accepted = certify.certify(payload_for(1, rejected=False))
    assert certify.failing_stage(accepted) is None, accepted
    assert certify.failing_stage(certify.certify(payload_for(1, rejected=True))) is not None
