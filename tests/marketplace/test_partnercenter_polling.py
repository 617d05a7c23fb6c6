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
    """Each poll is one call: the poll that sees certification finish owes the reports, which
    the next poll reads; until then the last whole observation is told again."""
    api, pc = scripted("InProgress", "Submitted", {"Automated validation": "InProgress"})
    sid = f"{PRODUCT}/{SID}"
    before = pc.get(sid)
    api.steps = {"Automated validation": DONE, "Certification": DONE,
                 "Preview Creation": "InProgress"}  # fmt: skip
    api.reports = [{"status": "PassedWithNotes", "fileUri": "https://example.test/report.pdf"}]
    api.calls.clear()
    held = pc.get(sid)
    assert api.calls == ["workflowdetails"]
    assert held == before  # half a transition is not told
    api.calls.clear()
    noted = pc.get(sid)
    assert api.calls == ["reports"]
    assert [f.code for f in noted.feedback] == ["CertificationPassedWithNotes"]
    assert noted.stage(Stage.CERTIFICATION).state is StageState.SUCCEEDED
    assert noted.stage(Stage.PACKAGING).state is StageState.RUNNING
    api.calls.clear()
    api.item = {"id": SID, "state": "Published", "substate": "ReadyToPublish"}
    api.steps = {**api.steps, "Preview Creation": DONE, "Publisher Signoff": "InProgress"}
    assert pc.get(sid) == noted  # sign-off awaited by the steps: the state is read next
    ready = pc.get(sid)
    assert api.calls == ["workflowdetails", "submission"]  # the notes are not read again
    assert ready.preview_url and ready.feedback == noted.feedback


def test_a_failure_is_told_whole_after_one_call_per_poll() -> None:
    api, pc = scripted("InProgress", "Submitted", {"Automated validation": "InProgress"})
    sid = f"{PRODUCT}/{SID}"
    running = pc.get(sid)
    api.steps = {"Automated validation": DONE, "Certification": "Failed"}
    api.item = {"id": SID, "state": "InProgress", "substate": "FailedInCertification"}
    api.reports = [{"status": "Failed", "fileUri": "https://example.test/failed.pdf"}]
    api.calls.clear()
    told = [pc.get(sid) for _ in range(3)]
    assert api.calls == ["workflowdetails", "validations", "reports"]
    assert told[0] == told[1] == running
    failed = told[2]
    assert failed.result.value == "failed"
    assert failed.stage(Stage.CERTIFICATION).state is StageState.FAILED
    assert any("failed.pdf" in f.message for f in failed.feedback)
    api.calls.clear()
    assert pc.get(sid) == failed and api.calls == []  # settled: never read again


LIFECYCLE = [  # (state, substate, steps) as Partner Center moves, one entry per poll or more
    ("InProgress", "Submitted", {"Automated validation": "InProgress"}),
    ("InProgress", "Submitted", {"Automated validation": DONE}),
    ("InProgress", "Submitted", {"Automated validation": DONE, "Certification": "InProgress"}),
    ("InProgress", "Submitted", {"Automated validation": DONE, "Certification": DONE,
                                 "Preview Creation": "InProgress"}),
    ("Published", "ReadyToPublish", {"Automated validation": DONE, "Certification": DONE,
                                     "Preview Creation": DONE, "Publisher Signoff": "InProgress"}),
    ("Published", "Publishing", {"Automated validation": DONE, "Certification": DONE,
                                 "Preview Creation": DONE, "Publisher Signoff": DONE,
                                 "Publish": "InProgress"}),
    ("Published", "InStore", {"Automated validation": DONE, "Certification": DONE,
                              "Preview Creation": DONE, "Publisher Signoff": DONE,
                              "Publish": DONE}),
]  # fmt: skip


@pytest.mark.parametrize("polls_per_phase", [1, 2, 3])
def test_every_poll_of_a_whole_lifecycle_is_one_call_and_ends_as_a_whole_read(
    polls_per_phase: int,
) -> None:
    """Over the whole pipeline: calls == polls, and what is told last equals a fresh read."""
    api, pc = scripted(*LIFECYCLE[0])
    api.reports = [{"status": "Passed", "fileUri": "https://example.test/ok.pdf"}]
    sid = f"{PRODUCT}/{SID}"
    pc.get(sid)
    api.calls.clear()
    polls = 0
    last = None
    for state, substate, steps in LIFECYCLE[1:]:
        api.item, api.steps = {"id": SID, "state": state, "substate": substate}, steps
        for _ in range(polls_per_phase):
            last = pc.get(sid)
            polls += 1
    while last is not None and last.result.value == "pending" and polls < 40:
        last = pc.get(sid)  # the last transition's owed reads
        polls += 1
    assert len(api.calls) <= polls  # one call per poll at most (0 once settled)
    assert api.calls.count("reports") == 1 and "validations" not in api.calls
    fresh_api, fresh = scripted(*LIFECYCLE[-1])
    fresh_api.reports = api.reports
    whole = fresh.get(sid)
    assert last is not None
    assert last.result == whole.result and last.stages == whole.stages
    assert last.feedback == whole.feedback
