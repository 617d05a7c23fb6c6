"""Our stage names beside the marketplace's own names for the same publishing step.

Publishers know the steps from the Cloud Partner Portal (its API's step ids)
or from Partner Center today; status.yaml uses the names on the left. The
detail view, the README and docs/reference.md show this one table.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.model import STAGE_MAX, Stage


@dataclass(frozen=True, slots=True)
class StageNames:
    stage: Stage
    cpp_step: str  # Cloud Partner Portal API step id
    partner_center: str  # the step's name in Partner Center
    does: str  # what happens in it


STAGE_NAMES: tuple[StageNames, ...] = (
    StageNames(Stage.VALIDATION, "displaydummycertify", "Automated validation",
               "offer information and settings are checked"),
    StageNames(Stage.CERTIFICATION, "displaycertify", "Certification",
               "virus, malware, security and policy review; problems come back as feedback"),
    StageNames(Stage.PACKAGING, "displaypackage", "Preview creation",
               "technical assets are packaged and lead management is configured"),
    StageNames(Stage.SIGNOFF, "publisher-signoff", "Publisher sign-off (Go live)",
               "a preview is available; waits for the publisher's Go Live"),
    StageNames(Stage.PUBLISHING, "(provisioning)", "Publish",
               "the offer is replicated to the marketplace's production systems"),
    StageNames(Stage.LIVE, "live", "Live",
               "released to all required regions, then publicly available"),
)  # fmt: skip

BY_STAGE: dict[Stage, StageNames] = {names.stage: names for names in STAGE_NAMES}


def max_time(stage: Stage) -> str:
    """The documented maximum, as the pipeline table states it."""
    limit = STAGE_MAX[stage]
    if limit is None:
        return "none (waits for the publisher)"
    hours = limit.total_seconds() / 3600
    if hours >= 24:
        days = int(hours // 24)
        return "1 week" if days == 7 else f"{days} days"
    return f"{int(hours)} hour" if hours >= 1 else f"{int(limit.total_seconds() // 60)} min"
