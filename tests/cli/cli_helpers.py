"""Real status files for CLI tests, built through controller/repo/status.py's own serializer.

`make_status` returns an `OfferStatus` at a chosen phase with stage times
relative to `now`, so ages such as "2d 3h" are stable whatever the clock says.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller import cli
from controller.core.model import (
    Condition,
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    Severity,
    SignOffVerdict,
    Stage,
    StageState,
    StageStatus,
    SubmissionRef,
    Target,
)
from controller.repo import status

GEN_A = "sha256:" + "a1" * 32
GEN_B = "sha256:" + "b2" * 32
COMMIT = "c3" * 20
# Minutes past the displayed unit, so an age read a few seconds later shows the same text.
SLACK = timedelta(minutes=10)


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def offerctl(*argv: str) -> Ran:
    """Run the real CLI in-process; stdout is a pipe-like StringIO, so output is plain."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return Ran(code, out.getvalue(), err.getvalue())


@contextmanager
def env(**values: str | None) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_PHASE_RUNNING: dict[Phase, int] = {
    Phase.VALIDATING: 0, Phase.CERTIFYING: 1, Phase.PACKAGING: 2,
    Phase.AWAITING_SIGNOFF: 3, Phase.PUBLISHING: 4, Phase.GOING_LIVE: 5,
}  # fmt: skip


def make_status(
    offer: str,
    phase: Phase,
    *,
    now: datetime,
    in_phase: timedelta = timedelta(days=2, hours=3),
    target: Target = Target.LIVE,
    feedback: Sequence[Finding] = (),
    estimated_live: str = "",
    signoff: SignOffVerdict | None = None,
    generation: str = GEN_A,
) -> OfferStatus:
    """A status as the pipeline would write it, its current phase entered `in_phase` ago."""
    entered = now - in_phase - SLACK
    running = _PHASE_RUNNING.get(phase)
    stages = []
    for index, name in enumerate(Stage):
        start = entered - timedelta(hours=6 - index)
        if running is None:
            done = phase in (Phase.LIVE,) or (phase is Phase.PREVIEW and index < 3)
            rejected = phase is Phase.REJECTED and index == 1
            if rejected:
                stages.append(StageStatus(name, StageState.FAILED, start, entered))
            elif done or (phase is Phase.REJECTED and index == 0):
                stages.append(StageStatus(name, StageState.SUCCEEDED, start, start + SLACK))
            elif phase is Phase.PREVIEW or phase is Phase.DRAFT:
                stages.append(StageStatus(name, StageState.SKIPPED))
            else:
                stages.append(StageStatus(name, StageState.PENDING))
            continue
        if index < running:
            stages.append(StageStatus(name, StageState.SUCCEEDED, start, start + SLACK))
        elif index == running:
            stages.append(
                StageStatus(name, StageState.RUNNING, entered, deadline=entered + timedelta(days=7))
            )
        else:
            stages.append(StageStatus(name, StageState.PENDING))
    if phase is Phase.LIVE:
        last = stages[-1]
        stages[-1] = replace(last, finished_at=entered)
    ready = phase in (Phase.LIVE, Phase.PREVIEW, Phase.DRAFT, Phase.WITHDRAWN)
    reason = {
        Phase.REJECTED: "CertificationRejected",
        Phase.LIVE: "Live",
        Phase.PREVIEW: "PreviewReady",
        Phase.DRAFT: "Draft",
    }.get(phase, phase.value)
    conditions = [
        Condition(
            ConditionType.READY,
            ConditionStatus.TRUE if ready else ConditionStatus.FALSE,
            reason,
            f"{phase.value.lower()} message",
            entered,
        )
    ]
    if phase is Phase.REJECTED:
        conditions.append(
            Condition(ConditionType.STALLED, ConditionStatus.TRUE, reason, "fix the spec", entered)
        )
    return OfferStatus(
        offer=offer,
        phase=phase,
        target=target,
        observed_generation=generation,
        observed_commit=COMMIT,
        conditions=tuple(conditions),
        stages=tuple(stages),
        submission=SubmissionRef("sub-0001", generation, f"{offer}@{generation}", target),
        feedback=tuple(feedback),
        estimated_live=estimated_live,
        signoff=signoff,
    )


def status_bytes(value: OfferStatus) -> str:
    return status.render(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


CERT_FINDING = Finding(
    code="InsecureLink",
    message="usefulLinks[0] is not HTTPS",
    path="$.spec.listings.en-us.usefulLinks[0].url",
    stage="Certification",
    severity=Severity.ERROR,
)


def ssh_key(where: Path, name: str) -> tuple[Path, str]:
    """A fresh ed25519 key pair: the private key file and its allowed_signers line."""
    key = where / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True)  # fmt: skip
    kind, blob = key.with_suffix(".pub").read_text().split()[:2]
    return key, f"offerctl@localhost {kind} {blob}\n"
