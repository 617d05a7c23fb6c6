"""Calls per steady poll of an in-flight submission, phase by phase, against scripted v1 answers."""

from __future__ import annotations

from typing import Any

import pytest

from controller.marketplace.partnercenter import PartnerCenterMarketplace
from controller.marketplace.partnercenter.state import Attempt, ClientState
from controller.model import Stage, StageState

PRODUCT, SID = "p-1", "1152921505690000000"
STEPS = ("Automated validation", "Certification", "Preview Creation", "Publisher Signoff")


class ScriptedApi:
    """The two v1 reads a poll may make, answering a fixed state and counting every call."""

    def __init__(self, state: str, substate: str, steps: dict[str, str]) -> None:
        self.item = {"id": SID, "state": state, "substate": substate}
        self.steps = steps
        self.calls: list[str] = []

    def submission(self, product: str, submission: str) -> dict[str, Any]:
        self.calls.append("submission")
        return dict(self.item)

    def submission_part(self, product: str, submission: str, part: str) -> list[dict[str, Any]]:
        self.calls.append(part)
        if part != "workflowdetails":
            return []
        preview = [{"name": n, "state": self.steps.get(n, "NotStarted")} for n in STEPS]
        live = [{"name": "Publish", "state": self.steps.get("Publish", "NotStarted")}]
        return [{"targetEnvironment": "Preview", "workflowSteps": preview},
                {"targetEnvironment": "Live", "workflowSteps": live}]  # fmt: skip


DONE = "Success"
PHASES = {
    "validation": ("InProgress", "Submitted", {"Automated validation": "InProgress"},
                   Stage.VALIDATION, ["workflowdetails"]),
    "certification": ("InProgress", "Submitted",
                      {"Automated validation": DONE, "Certification": "InProgress"},
                      Stage.CERTIFICATION, ["workflowdetails"]),
    "packaging": ("InProgress", "Submitted",
                  {"Automated validation": DONE, "Certification": DONE,
                   "Preview Creation": "InProgress"}, Stage.PACKAGING, ["workflowdetails"]),
    "awaiting sign-off": ("Published", "ReadyToPublish",
                          {"Automated validation": DONE, "Certification": DONE,
                           "Preview Creation": DONE, "Publisher Signoff": "InProgress"},
                          Stage.SIGNOFF, ["submission"]),
    "publishing": ("Published", "Publishing",
                   {"Automated validation": DONE, "Certification": DONE,
                    "Preview Creation": DONE, "Publisher Signoff": DONE,
                    "Publish": "InProgress"}, Stage.PUBLISHING, ["submission"]),
}  # fmt: skip


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_steady_poll_costs_one_call_in_every_in_flight_phase(phase: str) -> None:
    state, substate, steps, running, per_poll = PHASES[phase]
    api = ScriptedApi(state, substate, steps)
    client_state = ClientState(None)
    client_state.record(Attempt(key="k1", offer="o", generation="sha256:a", target="live",
                                product=PRODUCT, submission=SID, promoted=True))  # fmt: skip
    pc = PartnerCenterMarketplace(api, state=client_state, env={}, poll_interval=0.0)  # type: ignore[arg-type]
    first = pc.get(f"{PRODUCT}/{SID}")  # the first read learns the phase: more than one call
    assert first.stage(running).state is StageState.RUNNING
    api.calls.clear()
    for _ in range(3):
        seen = pc.get(f"{PRODUCT}/{SID}")
    assert api.calls == per_poll * 3
    assert seen.stages == first.stages  # nothing lost: the same stages as the full read
    assert seen.feedback == first.feedback
