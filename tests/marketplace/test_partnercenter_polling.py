"""Calls per steady poll of an in-flight submission, phase by phase, against scripted v1 answers."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.model import Stage, StageState
from controller.marketplace.partnercenter import PartnerCenterMarketplace
from controller.marketplace.partnercenter.state import Attempt, ClientState

PRODUCT, SID = "p-1", "1152921505690000000"
STEPS = ("Automated validation", "Certification", "Preview Creation", "Publisher Signoff")


class ScriptedApi:
    """The two v1 reads a poll may make, answering a fixed state and counting every call."""

    def __init__(self, state: str, substate: str, steps: dict[str, str]) -> None:
        self.item = {"id": SID, "state": state, "substate": substate}
        self.steps = steps
        self.calls: list[str] = []
        self.reports: list[dict[str, Any]] = []

    def submission(self, product: str, submission: str) -> dict[str, Any]:
        self.calls.append("submission")
        return dict(self.item)

    def submission_part(self, product: str, submission: str, part: str) -> list[dict[str, Any]]:
        self.calls.append(part)
        if part == "reports":
            return list(self.reports)
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


def scripted(state: str, substate: str, steps: dict[str, str]) -> tuple[ScriptedApi, Any]:
    api = ScriptedApi(state, substate, steps)
    client_state = ClientState(None)
    client_state.record(Attempt(key="k1", offer="o", generation="sha256:a", target="live",
                                product=PRODUCT, submission=SID, promoted=True))  # fmt: skip
    pc = PartnerCenterMarketplace(api, state=client_state, env={}, poll_interval=0.0)  # type: ignore[arg-type]
    return api, pc


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_steady_poll_costs_one_call_in_every_in_flight_phase(phase: str) -> None:
    state, substate, steps, running, per_poll = PHASES[phase]
    api, pc = scripted(state, substate, steps)
    first = pc.get(f"{PRODUCT}/{SID}")  # the first read learns the phase: more than one call
    assert first.stage(running).state is StageState.RUNNING
    api.calls.clear()
    for _ in range(3):
        seen = pc.get(f"{PRODUCT}/{SID}")
    assert api.calls == per_poll * 3
    assert seen.stages == first.stages  # nothing lost: the same stages as the full read
    assert seen.feedback == first.feedback


def test_certification_notes_are_read_once_when_it_finishes_and_validations_never() -> None:
    api, pc = scripted("InProgress", "Submitted", {"Automated validation": "InProgress"})
    sid = f"{PRODUCT}/{SID}"
    pc.get(sid)
    api.steps = {"Automated validation": DONE, "Certification": DONE,
                 "Preview Creation": "InProgress"}  # fmt: skip
    api.reports = [{"status": "PassedWithNotes", "fileUri": "https://example.test/report.pdf"}]
    api.calls.clear()
    noted = pc.get(sid)
    assert api.calls == ["workflowdetails", "reports"]
    assert [f.code for f in noted.feedback] == ["CertificationPassedWithNotes"]
    api.calls.clear()
    api.item = {"id": SID, "state": "Published", "substate": "ReadyToPublish"}
    api.steps = {**api.steps, "Preview Creation": DONE, "Publisher Signoff": "InProgress"}
    ready = pc.get(sid)
    assert api.calls == ["workflowdetails", "submission"]  # the notes are not read again
    assert ready.preview_url and ready.feedback == noted.feedback
