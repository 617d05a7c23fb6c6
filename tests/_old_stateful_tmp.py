"""The pipeline against the real simulated marketplace, through random histories (hypothesis).

A small reconcile loop lives in the test (observe through `pipeline.lookups`,
`decide`, execute the actions in order, observe again; at most three rounds,
as the reconciler does). Rules change the spec, the target, suspend, local
validation, the sign-off; delete and restore the manifest; advance the
marketplace clock; switch marketplace faults on and off; restart the
controller (status re-read from its rendered text, or lost altogether).

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
- the status each pass ends with validates against the schema and reads back unchanged.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
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
    Cancel,
    Decision,
    Desired,
    GoLive,
    Observation,
    PipelineInput,
    Submit,
    Withdraw,
)
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
from controller.repo import status as status_io

SCHEMA = json.loads((Path(__file__).parent.parent / "schemas" / "status.schema.json").read_text())
STATUS_SCHEMA = jsonschema.Draft202012Validator(SCHEMA)
OFFER = "contoso-field-insights"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MAX_ROUNDS = 3
# Memory-backed tmp when there is one: the simulator's SQLite syncs on every write.
FAST_TMP = "/dev/shm" if Path("/dev/shm").is_dir() else None
# Weighted toward progress, so that most histories reach Live (and some are rejected).
GOALS = st.sampled_from(
    [Target.LIVE, Target.LIVE, Target.LIVE, Target.PREVIEW, Target.DRAFT, Target.WITHDRAWN]
)
REJECTED = st.sampled_from([False, False, False, True])
LOCAL_ERROR = Finding("NameTooLong", "name is longer than 50", path="$.spec.listings.en-us.name")


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("solution.xml", "<solution/>")
    return buffer.getvalue()


PACKAGE = _package()


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


class PassFailed(Exception):
    """A marketplace call failed with a transient fault: the pass ends, as a reconcile pass does."""


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
        if self.last is not None:
            self.last = (
                None if lose_status else status_io.parse(status_io.render(self.last).encode())
            )
        self.reconcile()

    # ------------------------------------------------------------ the reconcile loop

    @property
    def market(self) -> SimulatedMarketplace:
        return self.faulty if self.faults_on else self.truth

    def observe(self) -> Observation:
        gen = self.desired.generation if self.desired else None
        looks = pipeline.lookups(OFFER, gen, self.last)
        try:
            found = [self.market.find(key) for key in looks.keys]
            found += [self.market.get(sid) for sid in looks.submission_ids]
            listing = self.market.listing(OFFER)
        except MarketplaceError as exc:
            assert not isinstance(exc, InvalidState)
            raise PassFailed from exc
        return Observation(listing, tuple(s for s in found if s is not None), self.verdict)

    def reconcile(self) -> None:
        previous: tuple[object, ...] = ()
        for _round in range(MAX_ROUNDS):
            try:
                observed = self.observe()
            except PassFailed:
                return
            inp = PipelineInput(OFFER, self.desired, self.last, observed, prune=self.prune)
            decision = pipeline.decide(inp, self.now)
            self.check_status(decision.status)
            assert not set(decision.effectful) & set(previous), "an action was asked for twice"
            self.last = decision.status
            if not decision.effectful:
                self.check_ready(decision, observed)
                return
            try:
                for action in decision.effectful:
                    self.execute(action)
            except PassFailed:
                return
            previous = decision.effectful
        if self.walking_attempts(decision):
            return
        raise AssertionError(f"no fixpoint in {MAX_ROUNDS} rounds: {decision.effectful}")

    def execute(self, action: object) -> None:
        try:
            if isinstance(action, Submit):
                self.check_submit(action)
                payload = self.payloads[action.generation]
                made = self.market.submit(
                    action.offer, action.generation, action.target, payload, action.idempotency_key
                )
                assert made.stage(Stage.VALIDATION).state is not StageState.PENDING
            elif isinstance(action, GoLive):
                self.check_go_live(action)
                self.market.go_live(action.submission_id)
            elif isinstance(action, Cancel):
                self.market.cancel(action.submission_id)
            elif isinstance(action, Withdraw):
                assert (self.desired is None and self.prune) or (
                    self.desired is not None and self.desired.target is Target.WITHDRAWN
                ), "Withdraw asked for without target withdrawn or prune"
                self.market.withdraw(action.offer)
            else:
                raise AssertionError(f"unknown action {action!r}")
        except InvalidState as exc:
            raise AssertionError(f"the marketplace refused {action!r}: {exc}") from exc
        except MarketplaceError as exc:
            assert exc.transient, exc
            raise PassFailed from exc

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

    def check_submit(self, action: Submit) -> None:
        assert self.desired is not None
        assert not self.desired.suspend
        assert action.generation == self.desired.generation, "submitted a stale generation"
        assert action.target in (Target.PREVIEW, Target.LIVE)
        if self.truth.find(action.idempotency_key) is not None:
            return  # a repeat the marketplace dedups: nothing new is made
        listing = self.truth.listing(OFFER)
        for s in self.all_submissions():
            if s.generation != action.generation:
                continue
            assert s.result is not SubmissionResult.PENDING, "second submission in flight"
            assert s.result is not SubmissionResult.FAILED, "a rejected generation resubmitted"
            if s.result is SubmissionResult.SUCCEEDED:
                still_live = listing.live_generation == s.generation and not (
                    listing.withdrawn or listing.withdrawing
                )
                assert not still_live, "a live generation resubmitted"

    def check_go_live(self, action: GoLive) -> None:
        assert self.desired is not None and not self.desired.suspend
        assert self.desired.target is Target.LIVE
        submission = self.truth.get(action.submission_id)
        verdict = self.verdict
        assert verdict is not None and verdict.valid, "Go Live without a valid sign-off"
        assert verdict.generation == submission.generation == self.desired.generation
        self.approved_ids.add(action.submission_id)

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
