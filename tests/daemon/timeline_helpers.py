"""Offers for the timeline page's tests: statuses at chosen phases, committed to real git.

`sample_statuses(now)` gives one offer per interesting case (certifying on
day 2 of its week, awaiting sign-off with an ETA, rejected with findings,
live with an accepted sign-off); `commit_offers` writes them as status.yaml
files (through status.render, as the controller writes them) beside an
offer.yaml each and commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

from git_helpers import GitRepos

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
    Target,
)
from controller.repo import status

GEN = "sha256:" + "ab" * 32
MANIFEST = "apiVersion: offers.marketplace/v1\nkind: Offer\n"

S, R, P, K = StageState.SUCCEEDED, StageState.RUNNING, StageState.PENDING, StageState.SKIPPED


def stages(
    now: datetime, plan: Mapping[Stage, tuple[StageState, timedelta, timedelta]]
) -> tuple[StageStatus, ...]:
    """StageStatus per stage from (state, started this long ago, took); unnamed stages pending."""
    out = []
    for name in Stage:
        state, ago, took = plan.get(name, (P, timedelta(0), timedelta(0)))
        if state in (P, K):
            out.append(StageStatus(name, state))
            continue
        started = now - ago
        finished = started + took if state is not R else None
        deadline = (
            started + timedelta(days=7) if state is R and name is Stage.CERTIFICATION else None
        )
        out.append(StageStatus(name, state, started, finished, deadline))
    return tuple(out)


def ready(value: bool, reason: str, message: str, at: datetime) -> Condition:
    flag = ConditionStatus.TRUE if value else ConditionStatus.FALSE
    return Condition(ConditionType.READY, flag, reason, message, at)


def sample_statuses(now: datetime) -> dict[str, OfferStatus]:
    """Four offers, each showing one part of the page."""
    day, hour, minute = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
    certifying = OfferStatus(
        offer="alpha-certifying",
        phase=Phase.CERTIFYING,
        target=Target.LIVE,
        observed_generation=GEN,
        conditions=(ready(False, "Certifying", "certification is running", now - 2 * day),),
        stages=stages(
            now,
            {
                Stage.VALIDATION: (S, 2 * day + 20 * minute, 12 * minute),
                Stage.CERTIFICATION: (R, 2 * day, timedelta(0)),
            },
        ),
        estimated_live="2026-12-14",
    )
    awaiting = OfferStatus(
        offer="bravo-awaiting",
        phase=Phase.AWAITING_SIGNOFF,
        target=Target.LIVE,
        observed_generation=GEN,
        conditions=(ready(False, "AwaitingSignOff", "a preview is available", now - 5 * hour),),
        stages=stages(
            now,
            {
                Stage.VALIDATION: (S, 4 * day, 9 * minute),
                Stage.CERTIFICATION: (S, 4 * day - 10 * minute, 3 * day + 6 * hour),
                Stage.PACKAGING: (S, 6 * hour, 40 * minute),
                Stage.SIGNOFF: (R, 5 * hour, timedelta(0)),
            },
        ),
        estimated_live="2026-12-09",
        preview_url="https://preview.marketplace.example/offers/bravo-awaiting",
        signoff=SignOffVerdict(False, GEN, "SignOffMissing", "no signoff.yaml for this offer"),
    )
    rejected = OfferStatus(
        offer="charlie-rejected",
        phase=Phase.REJECTED,
        target=Target.LIVE,
        observed_generation=GEN,
        conditions=(ready(False, "CertificationRejected", "fix the spec", now - day),),
        stages=stages(
            now,
            {
                Stage.VALIDATION: (S, 3 * day, 20 * minute),  # past its 15 minutes
                Stage.CERTIFICATION: (StageState.FAILED, 3 * day - 30 * minute, 2 * day),
                Stage.PACKAGING: (K, timedelta(0), timedelta(0)),
                Stage.SIGNOFF: (K, timedelta(0), timedelta(0)),
                Stage.PUBLISHING: (K, timedelta(0), timedelta(0)),
                Stage.LIVE: (K, timedelta(0), timedelta(0)),
            },
        ),
        feedback=(
            Finding(
                code="InsecureLink",
                message="usefulLinks[0] is not HTTPS",
                path="$.spec.listings.en-us.usefulLinks[0].url",
                stage="Certification",
            ),
            Finding(
                code="LongSummary",
                message="summary is 120 characters; 100 read best",
                file="offers/charlie-rejected/offer.yaml",
                line=12,
                column=5,
                severity=Severity.WARNING,
            ),
        ),
    )
    live = OfferStatus(
        offer="delta-live",
        phase=Phase.LIVE,
        target=Target.LIVE,
        observed_generation=GEN,
        live_generation=GEN,
        conditions=(ready(True, "Live", "generation abababababab is live", now - day),),
        stages=stages(
            now,
            {
                Stage.VALIDATION: (S, 9 * day, 10 * minute),
                Stage.CERTIFICATION: (S, 9 * day - 10 * minute, 4 * day),
                Stage.PACKAGING: (S, 5 * day, 50 * minute),
                Stage.SIGNOFF: (S, 5 * day - hour, 20 * hour),
                Stage.PUBLISHING: (S, 4 * day, 30 * minute),
                Stage.LIVE: (S, 3 * day, 2 * day),
            },
        ),
        signoff=SignOffVerdict(
            True,
            GEN,
            "SignOffAccepted",
            "signed off by Rita Reviewer",
            approvers=("rita@contoso.example",),
            commit="cd" * 20,
            approved_at=now - 4 * day,
            trust="signed",
        ),
    )
    return {s.offer: s for s in (certifying, awaiting, rejected, live)}


def commit_offers(
    gitrepos: GitRepos, repo: Path, statuses: Mapping[str, OfferStatus | str | None]
) -> str:
    """Commit an offer.yaml and the status.yaml (a status, raw text, or none) of each offer."""
    files: dict[str, str | bytes | None] = {}
    for offer, value in statuses.items():
        files[f"offers/{offer}/offer.yaml"] = MANIFEST
        if isinstance(value, OfferStatus):
            files[f"offers/{offer}/status.yaml"] = status.render(value)
        elif value is not None:
            files[f"offers/{offer}/status.yaml"] = value
    return gitrepos.commit(repo, files, "Offers and their status")


def fetch(
    url: str, method: str = "GET", *, then: str | None = None
) -> list[tuple[int, dict[str, str], bytes]]:
    """`method` on `url` (then `then` on the same keep-alive connection): status, headers, body."""
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None, url
    connection = HTTPConnection(parts.hostname, parts.port, timeout=5)
    answers = []
    try:
        for verb in filter(None, (method, then)):
            connection.request(verb, parts.path or "/")
            response = connection.getresponse()
            body = response.read()
            answers.append(
                (response.status, {k.lower(): v for k, v in response.getheaders()}, body)
            )
    finally:
        connection.close()
    return answers
