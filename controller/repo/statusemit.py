"""status.yaml's YAML written straight from an `OfferStatus`: `dump_yaml(to_dict(status))`'s bytes.

Rendering is most of what an offer whose status changed costs `land`: the
dict of `status.to_dict`, PyYAML's nodes and libyaml's emitter cost about ten
times what writing the same lines does. The document's shape is fixed
(`status.to_dict`: keys in a fixed order, optional ones left out when empty,
lists of mappings, the sign-off's list of approvers), so only its strings
need YAML's judgement, and `files/yamlscalar.py` gives each exactly as
libyaml would. The layout follows libyaml's block style at `dump_yaml`'s
settings: two spaces per mapping level, a list inside a mapping not indented
(`- ` at the key's column), an empty list as `[]`.

`emit` writes only what it is sure of: a string `yamlscalar` leaves to libyaml
(one that needs double quotes) or a field whose value is not of its declared
type raises `NotCovered`, and `status.render` uses `dump_yaml` for that
document. tests/repo/test_statusemit.py checks `emit` against `dump_yaml` over
generated statuses, hostile strings included (docs/DESIGN.md §6).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from controller.core.model import Condition, Finding, OfferStatus, SignOffVerdict, StageStatus
from controller.core.timestamps import format_time
from controller.files.yamlscalar import NotCovered, literal_keeps, value

__all__ = ["NotCovered", "emit"]


class _Lines:
    """The document's text in pieces, and whether its last block scalar kept its breaks."""

    __slots__ = ("keeps", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.keeps = False

    def text(self, prefix: str, text: object, indent: int) -> None:
        """`prefix` (a line's start through `key:` or `-`) and the string `text`."""
        if type(text) is not str:
            raise NotCovered(f"{prefix} holds a {type(text).__name__}")
        written = value(text, len(prefix), indent)
        if written[1] == "|":
            self.keeps = literal_keeps(written)
        self.parts += (prefix, written)

    def optional(self, prefix: str, text: object, indent: int) -> None:
        """`text` under `prefix` unless it is empty (`status._put`)."""
        if text:
            self.text(prefix, text, indent)

    def time(self, prefix: str, moment: datetime) -> None:
        # RFC 3339 with a `Z` always reads as a YAML timestamp: single-quoted, and
        # without a space or a quote it is neither folded nor escaped.
        self.parts += (prefix, f" '{format_time(moment)}'\n")

    def scalar(self, prefix: str, item: object) -> None:
        """A bool or an int, as plain YAML."""
        kind = type(item)
        if kind is bool:
            self.parts += (prefix, " true\n" if item else " false\n")
        elif kind is int:
            self.parts += (prefix, f" {item}\n")
        else:
            raise NotCovered(f"{prefix} holds a {kind.__name__}")


def emit(status: OfferStatus) -> str:
    """The YAML of status.yaml for `status` (the header comment is `status.render`'s);
    NotCovered when a value needs what only `dump_yaml` writes."""
    out = _Lines()
    text, optional = out.text, out.optional
    text("offer:", status.offer, 2)
    optional("observedGeneration:", status.observed_generation, 2)
    optional("observedCommit:", status.observed_commit, 2)
    optional("target:", str(status.target) if status.target else "", 2)
    text("phase:", str(status.phase), 2)
    _conditions(out, status.conditions)
    _stages(out, status.stages)
    if status.submission is not None:
        ref = status.submission
        out.parts.append("submission:\n")
        text("  id:", ref.id, 4)
        text("  generation:", ref.generation, 4)
        text("  idempotencyKey:", ref.idempotency_key, 4)
        text("  target:", str(ref.target), 4)
    _feedback(out, status.feedback)
    optional("estimatedLive:", status.estimated_live, 2)
    optional("liveGeneration:", status.live_generation, 2)
    optional("previewUrl:", status.preview_url, 2)
    if status.signoff is not None:
        _signoff(out, status.signoff)
    if out.keeps:
        out.parts.append("...\n")  # libyaml closes a document that ends open (`|+`)
    return "".join(out.parts)


def _conditions(out: _Lines, conditions: Sequence[Condition]) -> None:
    if not conditions:
        out.parts.append("conditions: []\n")
        return
    out.parts.append("conditions:\n")
    text = out.text
    for c in conditions:
        text("- type:", str(c.type), 4)
        text("  status:", str(c.status), 4)
        text("  reason:", c.reason, 4)
        text("  message:", c.message, 4)
        out.time("  lastTransitionTime:", c.last_transition_time)


def _stages(out: _Lines, stages: Sequence[StageStatus]) -> None:
    if not stages:
        out.parts.append("stages: []\n")
        return
    out.parts.append("stages:\n")
    for s in stages:
        out.text("- name:", str(s.name), 4)
        out.text("  state:", str(s.state), 4)
        if s.started_at is not None:
            out.time("  startedAt:", s.started_at)
        if s.finished_at is not None:
            out.time("  finishedAt:", s.finished_at)
        if s.deadline is not None:
            out.time("  deadline:", s.deadline)


def _feedback(out: _Lines, feedback: Sequence[Finding]) -> None:
    if not feedback:
        out.parts.append("feedback: []\n")
        return
    out.parts.append("feedback:\n")
    text, optional = out.text, out.optional
    for f in feedback:
        text("- code:", f.code, 4)
        text("  message:", f.message, 4)
        optional("  path:", f.path, 4)
        optional("  stage:", f.stage, 4)
        text("  severity:", str(f.severity), 4)
        optional("  file:", f.file, 4)
        if f.line > 0:
            out.scalar("  line:", f.line)
        if f.column > 0:
            out.scalar("  column:", f.column)


def _signoff(out: _Lines, v: SignOffVerdict) -> None:
    out.parts.append("signOff:\n")
    out.scalar("  valid:", v.valid)
    out.text("  generation:", v.generation, 4)
    out.text("  reason:", v.reason, 4)
    out.text("  message:", v.message, 4)
    if v.approvers:
        out.parts.append("  approvers:\n")
        for approver in v.approvers:
            out.text("  -", approver, 4)
    else:
        out.parts.append("  approvers: []\n")
    out.optional("  commit:", v.commit, 4)
    out.optional("  pullRequest:", v.pull_request, 4)
    if v.approved_at is not None:
        out.time("  approvedAt:", v.approved_at)
    out.optional("  trust:", v.trust, 4)
