"""Whether a sign-off counts: the decision, from plain evidence, with no git and no HTTP.

A purely computational module. The evidence gatherers (`evidence_git`,
`evidence_github`) turn a repository and a review platform into the
dataclasses below; `decide` turns those into a `SignOffVerdict` whose
message says exactly why, naming every person whose approval was ignored and
the reason. The order of the checks is the order a reader would ask:
is there a sign-off, is it well-formed, is it for this generation, is the
policy usable, who may approve, how did it arrive, who approved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from controller.core.generation import short
from controller.core.model import SignOffVerdict
from controller.repo.policy import ApprovalTrust, Provider, SignOffPolicy


class SignOffReason(StrEnum):
    """The `reason` of a verdict; users and tests match on these."""

    ACCEPTED = "SignOffAccepted"  # an authorized, reviewed sign-off of the current generation
    UNREVIEWED = "Unreviewed"  # provider none: counts without review (local experiments only)
    MISSING = "SignOffMissing"  # no signoff.yaml for the offer
    INVALID = "SignOffInvalid"  # signoff.yaml is not a well-formed sign-off of this offer
    STALE = "SignOffStale"  # signoff.yaml approves another generation
    POLICY_INVALID = "SignOffPolicyInvalid"  # publishing.yaml's signoff settings are broken
    NO_APPROVERS = "NoApproversConfigured"  # neither publishing.yaml nor CODEOWNERS names anyone
    NOT_REVIEWED = "NotReviewed"  # arrived without review (direct push, no approvals at all)
    SIGNATURE_INVALID = "SignatureInvalid"  # a required signature is missing or does not verify
    NOT_ENOUGH = "NotEnoughApprovals"  # fewer distinct counted approvers than required
    UNAUTHORIZED = "UnauthorizedApprover"  # every approver was outside the authorized set
    SELF_APPROVAL = "SelfApproval"  # every approver was an author of the change
    BOT = "BotApprover"  # every approver was a bot
    DISMISSED = "ApprovalDismissed"  # every approval was dismissed or withdrawn
    STALE_APPROVAL = "StaleApproval"  # every approval was of an older push than the merged head
    REJECTED = "ReviewRejected"  # an authorized or required reviewer rejected the pull request
    LOOKUP_FAILED = "ReviewLookupFailed"  # the evidence could not be read (git or API error)
    REPLAYED = "SignOffReplayed"  # brought back by replacing the branch's history (`replay`)


class SignatureStatus(StrEnum):
    """What verification said about the commit that brought signoff.yaml in."""

    GOOD = "good"  # signed by a trusted key
    BAD = "bad"  # signed, but not by a trusted key (or tampered with)
    UNSIGNED = "unsigned"  # no signature
    NOT_CHECKED = "not-checked"  # no trusted keys configured, so nothing was verified


class Trust(StrEnum):
    """What an accepted verdict rests on."""

    SIGNED = "signed"  # each counted approver signed the commit carrying it with their own key
    PUSH_ACCESS = "push-access"  # typed trailers, unverified: trusts whoever can push
    GITHUB_REVIEW = "github-review"  # approving reviews read from the GitHub API
    AZURE_DEVOPS_REVIEW = "azure-devops-review"  # approving votes read from Azure DevOps
    UNREVIEWED = "unreviewed"  # provider none


class Ignored(StrEnum):
    """Why one approval did not count; each maps to the reason used when all fail alike."""

    PLATFORM = "platform"  # the review platform says it does not count (see the text)
    DISMISSED = "dismissed"
    STALE = "stale"
    BOT = "bot"
    SELF = "self"
    UNAUTHORIZED = "unauthorized"
    UNSIGNED = "unsigned"  # not signed by the approver's own key (trust: signature)


_ALL_IGNORED_REASON: dict[Ignored, SignOffReason] = {
    Ignored.DISMISSED: SignOffReason.DISMISSED,
    Ignored.STALE: SignOffReason.STALE_APPROVAL,
    Ignored.BOT: SignOffReason.BOT,
    Ignored.SELF: SignOffReason.SELF_APPROVAL,
    Ignored.UNAUTHORIZED: SignOffReason.UNAUTHORIZED,
    Ignored.UNSIGNED: SignOffReason.SIGNATURE_INVALID,
}


# ---------------------------------------------------------------- evidence


@dataclass(frozen=True, slots=True)
class SignOffDocument:
    """A well-formed signoff.yaml."""

    offer: str
    generation: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ParsedSignOff:
    """A signoff.yaml that exists: its document, or why it cannot be used."""

    document: SignOffDocument | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    """Someone named by the evidence: by email (git), by login (GitHub), or both."""

    name: str = ""
    email: str = ""
    login: str = ""  # GitHub login, without the @
    bot: bool = False  # the platform says so (GitHub user type "Bot")

    @property
    def is_bot(self) -> bool:
        local = self.email.partition("@")[0]
        return self.bot or any(
            s.lower().endswith("[bot]") for s in (self.login, self.name, local) if s
        )

    @property
    def principal(self) -> str:
        """How status names them: the email, else @login."""
        return self.email.lower() if self.email else f"@{self.login}"

    def label(self) -> str:
        if self.name and self.email:
            return f"{self.name} <{self.email}>"
        if self.login:
            return f"@{self.login}"
        return self.email or self.name or "someone"

    def same_as(self, other: Person) -> bool:
        return bool(
            (self.email and self.email.lower() == other.email.lower())
            or (self.login and self.login.lower() == other.login.lower())
        )


@dataclass(frozen=True, slots=True)
class Approval:
    """One approval the evidence shows; `ignored` set when the platform already discounts it."""

    person: Person
    source: str  # "Approved-by trailer", "review 1234"
    at: datetime | None = None
    ignored: Ignored | None = None
    ignored_why: str = ""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A reviewer's standing "rejected" on the pull request (Azure DevOps vote -10)."""

    person: Person
    source: str  # "vote -10"
    required: bool = False  # the platform marks them a required reviewer of the pull request


@dataclass(frozen=True, slots=True)
class Authorization:
    """Who may approve this offer's sign-off, and where that list comes from."""

    emails: frozenset[str] = frozenset()  # lowercase
    logins: frozenset[str] = frozenset()  # lowercase, without @
    teams: frozenset[str] = frozenset()  # "org/team", lowercase; members resolved into logins
    source: str = ""  # "publishing.yaml signoff.approvers", ".github/CODEOWNERS:4 (/offers/)"
    problem: str = ""  # why nobody is authorized, when nobody is
    notes: tuple[str, ...] = ()  # problems worth showing (unresolved teams, CODEOWNERS errors)

    @property
    def configured(self) -> bool:
        return bool(self.emails or self.logins or self.teams)

    def allows(self, person: Person) -> bool:
        return bool(
            (person.email and person.email.lower() in self.emails)
            or (person.login and person.login.lower() in self.logins)
        )

    def with_team_members(self, logins: Iterable[str], notes: Iterable[str] = ()) -> Authorization:
        return Authorization(
            self.emails,
            self.logins | {x.lower() for x in logins},
            self.teams,
            self.source,
            self.problem,
            (*self.notes, *notes),
        )


@dataclass(frozen=True, slots=True)
class ChangeEvidence:
    """How signoff.yaml's current content reached the watched branch, and who approved it."""

    commit: str  # the first-parent commit that introduced the content
    parents: tuple[str, ...] = ()
    committed_at: datetime | None = None
    authors: tuple[Person, ...] = ()  # who wrote the change (commit authors, co-authors, PR author)
    approvals: tuple[Approval, ...] = ()
    rejections: tuple[Rejection, ...] = ()  # standing rejections on the pull request
    signature: SignatureStatus = SignatureStatus.NOT_CHECKED
    signature_detail: str = ""
    signer: str = ""  # the principal the introducing commit's good signature verified for
    writer: Person | None = None  # the introducing commit's author field (text, for messages)
    unverified: tuple[str, ...] = ()  # commits of the change no allowed signer signed
    pull_request: str = ""  # the merged pull request, where known
    pull_request_merged: bool = False  # github: a merged pull request carried the commit
    review_note: str = ""  # github: why no merged pull request counts
    lookup_error: str = ""  # the evidence could not be read

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1


# ---------------------------------------------------------------- decision


def precheck(
    offer_id: str,
    current_generation: str,
    parsed: ParsedSignOff | None,
    policy: SignOffPolicy,
    *,
    authorization: Authorization | None,
) -> SignOffVerdict | None:
    """The verdict when it does not depend on review evidence; None when evidence is needed."""
    if parsed is None:
        return SignOffVerdict(
            valid=False,
            reason=SignOffReason.MISSING.value,
            message=f"no offers/{offer_id}/signoff.yaml; run `offerctl signoff {offer_id}` "
            "when the offer awaits sign-off",
        )
    doc = parsed.document
    if doc is None:
        return SignOffVerdict(valid=False, reason=SignOffReason.INVALID.value, message=parsed.error)
    if doc.offer != offer_id:
        return SignOffVerdict(
            valid=False,
            generation=doc.generation,
            reason=SignOffReason.INVALID.value,
            message=f"signoff.yaml names offer {doc.offer!r} but lives in offers/{offer_id}/",
        )
    if doc.generation != current_generation:
        return SignOffVerdict(
            valid=False,
            generation=doc.generation,
            reason=SignOffReason.STALE.value,
            message=f"signoff.yaml approves generation {_short(doc.generation)}, but the "
            f"current generation is {_short(current_generation)}; the spec changed after "
            f"sign-off, so it is ignored (run `offerctl signoff {offer_id}` again)",
        )
    if policy.problems:
        return SignOffVerdict(
            valid=False,
            generation=doc.generation,
            reason=SignOffReason.POLICY_INVALID.value,
            message="publishing.yaml signoff settings are invalid, so no sign-off counts: "
            + "; ".join(policy.problems),
        )
    if policy.provider is not Provider.NONE and (
        authorization is None or not authorization.configured
    ):
        why = authorization.problem if authorization else ""
        return SignOffVerdict(
            valid=False,
            generation=doc.generation,
            reason=SignOffReason.NO_APPROVERS.value,
            message="no approvers are configured for this offer, so no sign-off can count"
            + (f": {why}" if why else "")
            + "; list them in publishing.yaml signoff.approvers or in CODEOWNERS",
        )
    return None


def decide(
    offer_id: str,
    current_generation: str,
    parsed: ParsedSignOff | None,
    policy: SignOffPolicy,
    *,
    authorization: Authorization | None,
    evidence: ChangeEvidence | None,
) -> SignOffVerdict:
    """The verdict on an offer's sign-off, given everything the gatherers found."""
    early = precheck(offer_id, current_generation, parsed, policy, authorization=authorization)
    if early is not None:
        return early
    assert parsed is not None and parsed.document is not None  # noqa: S101 - precheck ensures
    generation = parsed.document.generation
    if evidence is None or evidence.lookup_error:
        return SignOffVerdict(
            valid=False,
            generation=generation,
            reason=SignOffReason.LOOKUP_FAILED.value,
            message="could not read the review evidence: "
            + (evidence.lookup_error if evidence else "none was gathered"),
            commit=evidence.commit if evidence else "",
        )
    base = _Base(generation, evidence)

    if policy.require_signed_commits and evidence.signature is not SignatureStatus.GOOD:
        return base.verdict(
            SignOffReason.SIGNATURE_INVALID,
            f"signed commits are required, but commit {_c(evidence.commit)} that brought "
            f"signoff.yaml in {_signature_words(evidence)}",
        )
    if policy.provider is Provider.NONE:
        return base.verdict(
            SignOffReason.UNREVIEWED,
            f"provider none: commit {_c(evidence.commit)} counts without any review "
            "(for local experiments only)",
            valid=True,
            trust=Trust.UNREVIEWED,
        )
    route = _route_problem(policy.provider, evidence)
    if route:
        return base.verdict(SignOffReason.NOT_REVIEWED, route)
    assert authorization is not None  # noqa: S101 - precheck ensures it for providers with review
    blocking = [r for r in evidence.rejections if r.required or authorization.allows(r.person)]
    if blocking:
        who = "; ".join(
            f"{r.person.label()} ({r.source}, "
            + ("a required reviewer" if r.required else "an authorized approver")
            + ")"
            for r in blocking
        )
        return base.verdict(
            SignOffReason.REJECTED,
            f"pull request {evidence.pull_request} was rejected by {who}; a rejection by an "
            "approver blocks the sign-off whatever the other votes",
        )
    if _verified_git(policy) and evidence.unverified:
        listed = ", ".join(_c(c) for c in evidence.unverified[:5])
        more = f" and {len(evidence.unverified) - 5} more" if len(evidence.unverified) > 5 else ""
        return base.verdict(
            SignOffReason.SIGNATURE_INVALID,
            f"commit {listed}{more} of the change that brought signoff.yaml in is not signed by "
            "an allowed signer, so who wrote it, and whether its approval is a self-approval, "
            "cannot be verified (sign every commit of a sign-off branch, or set "
            "signoff.trust: push-access to accept unverified approvals)",
        )
    return _count(policy, authorization, evidence, base)


def _verified_git(policy: SignOffPolicy) -> bool:
    return policy.provider is Provider.GIT and policy.trust is ApprovalTrust.SIGNATURE


def _unsigned_approval(policy: SignOffPolicy, evidence: ChangeEvidence, person: Person) -> str:
    """Why a trailer approval is not bound to its approver's signature ("" when it is)."""
    if not _verified_git(policy):
        return ""
    if not evidence.signer:
        return (
            f"is only typed in commit {_c(evidence.commit)}, which {_signature_words(evidence)}; "
            "an approval counts when the approver signs the merge with their own key"
        )
    if person.email.lower() != evidence.signer.lower():
        return (
            f"did not sign commit {_c(evidence.commit)}: its signature verifies for "
            f"{evidence.signer!r}, not for the approver named in the trailer"
        )
    return ""


def _route_problem(provider: Provider, evidence: ChangeEvidence) -> str:
    """Why the way signoff.yaml arrived is not a review at all ("" when it is one)."""
    signed = evidence.signature is SignatureStatus.GOOD
    if provider is Provider.GIT:
        if not evidence.is_merge and not signed:
            trailers = " (its approval trailers do not count)" if evidence.approvals else ""
            return (
                f"signoff.yaml arrived in commit {_c(evidence.commit)}, a direct commit rather "
                f"than a merge, and it {_signature_words(evidence)}{trailers}; a sign-off counts "
                "only through a reviewed merge, or a squash commit signed by an allowed signer"
            )
        if not evidence.approvals:
            kind = "merge commit" if evidence.is_merge else "signed commit"
            return (
                f"{kind} {_c(evidence.commit)} that brought signoff.yaml in carries no "
                "Approved-by: or Reviewed-by: trailers"
            )
        return ""
    if not evidence.pull_request_merged:
        return evidence.review_note or (
            f"no merged pull request brought commit {_c(evidence.commit)} in (a direct push?)"
        )
    if not evidence.approvals:
        return f"pull request {evidence.pull_request} was merged without any approving review"
    return ""


def _count(
    policy: SignOffPolicy,
    authorization: Authorization | None,
    evidence: ChangeEvidence,
    base: _Base,
) -> SignOffVerdict:
    assert authorization is not None  # noqa: S101 - precheck ensures it for providers with review
    counted: list[Approval] = []
    ignored: list[tuple[Approval, Ignored, str]] = []
    for approval in evidence.approvals:
        person = approval.person
        if any(person.same_as(c.person) for c in counted):
            continue
        if approval.ignored is not None:
            ignored.append((approval, approval.ignored, approval.ignored_why))
        elif person.is_bot:
            ignored.append((approval, Ignored.BOT, "is a bot; bots never sign off"))
        elif why := _unsigned_approval(policy, evidence, person):
            ignored.append((approval, Ignored.UNSIGNED, why))
        elif any(person.same_as(author) for author in evidence.authors):
            ignored.append((approval, Ignored.SELF, "authored the change (self-approval)"))
        elif not authorization.allows(person):
            ignored.append(
                (
                    approval,
                    Ignored.UNAUTHORIZED,
                    f"is not an authorized approver (per {authorization.source})",
                )
            )
        else:
            counted.append(approval)

    required = policy.required_approvals
    ignored_text = "; ".join(
        f"{a.person.label()} ({a.source}) {why}" for a, _, why in _unique(ignored)
    )
    notes = "; ".join(authorization.notes)
    names = [a.person.principal for a in counted]
    if len(counted) >= required:
        trust = _trust(policy, evidence)
        message = (
            f"signed off by {', '.join(a.person.label() for a in counted)} through "
            f"{_through(evidence)}; trust: {trust}{_trust_words(trust, evidence)}"
        )
        if ignored_text:
            message += f"; not counted: {ignored_text}"
        return base.verdict(
            SignOffReason.ACCEPTED,
            message,
            valid=True,
            trust=trust,
            approvers=names,
            approved_at=_approved_at(policy.provider, evidence, counted),
        )
    kinds = {kind for _, kind, _ in ignored}
    reason = SignOffReason.NOT_ENOUGH
    if not counted and len(kinds) == 1:
        reason = _ALL_IGNORED_REASON.get(kinds.pop(), SignOffReason.NOT_ENOUGH)
    message = (
        f"{len(counted)} of {required} required approvals from authorized approvers "
        f"through {_through(evidence)}"
        + (f" ({', '.join(a.person.label() for a in counted)})" if counted else "")
    )
    if ignored_text:
        message += f"; not counted: {ignored_text}"
    if notes:
        message += f"; note: {notes}"
    if _verified_git(policy) and required > 1:
        message += (
            "; note: the git provider verifies one approval per merge (its signer's), so "
            f"requiredApprovals: {required} needs the github provider or trust: push-access"
        )
    return base.verdict(reason, message, approvers=names)


def _unique(
    items: list[tuple[Approval, Ignored, str]],
) -> list[tuple[Approval, Ignored, str]]:
    out: list[tuple[Approval, Ignored, str]] = []
    for item in items:
        if not any(item[0].person.same_as(o[0].person) and item[2] == o[2] for o in out):
            out.append(item)
    return out


def _trust(policy: SignOffPolicy, evidence: ChangeEvidence) -> Trust:
    if policy.provider is Provider.GITHUB:
        return Trust.GITHUB_REVIEW
    if policy.provider is Provider.AZURE_DEVOPS:
        return Trust.AZURE_DEVOPS_REVIEW
    if _verified_git(policy):
        return Trust.SIGNED
    return Trust.PUSH_ACCESS


def _trust_words(trust: Trust, evidence: ChangeEvidence) -> str:
    if trust is Trust.SIGNED:
        return f" (the approver's own key signed commit {_c(evidence.commit)})"
    if trust is not Trust.PUSH_ACCESS:
        return ""
    writer = evidence.writer.label() if evidence.writer else "someone"
    return (
        " (UNVERIFIED: the approval is a typed trailer that no signature binds to the approver, "
        f"accepted because signoff.trust is push-access; commit {_c(evidence.commit)} was "
        f"written by {writer}, as its author field says)"
    )


def _approved_at(
    provider: Provider, evidence: ChangeEvidence, counted: list[Approval]
) -> datetime | None:
    times = [a.at for a in counted if a.at is not None]
    if provider in {Provider.GITHUB, Provider.AZURE_DEVOPS} and times:
        return max(times)
    return evidence.committed_at


def _through(evidence: ChangeEvidence) -> str:
    kind = "merge commit" if evidence.is_merge else "commit"
    text = f"{kind} {_c(evidence.commit)}"
    if evidence.pull_request:
        text += f" (pull request {evidence.pull_request})"
    return text


def _signature_words(evidence: ChangeEvidence) -> str:
    status = evidence.signature
    detail = f": {evidence.signature_detail}" if evidence.signature_detail else ""
    if status is SignatureStatus.UNSIGNED:
        return "is not signed"
    if status is SignatureStatus.NOT_CHECKED:
        return f"has a signature nobody is configured to verify{detail}"
    return f"has a signature that does not verify against the allowed signers{detail}"


@dataclass(frozen=True, slots=True)
class _Base:
    generation: str
    evidence: ChangeEvidence

    def verdict(
        self,
        reason: SignOffReason,
        message: str,
        *,
        valid: bool = False,
        trust: Trust | None = None,
        approvers: list[str] | None = None,
        approved_at: datetime | None = None,
    ) -> SignOffVerdict:
        return SignOffVerdict(
            valid=valid,
            generation=self.generation,
            reason=reason.value,  # plain str: status.yaml's dumper knows no enums
            message=message,
            approvers=tuple(approvers or ()),
            commit=self.evidence.commit,
            pull_request=self.evidence.pull_request,
            approved_at=approved_at if valid else None,
            trust=trust.value if trust else "",
        )


def _short(generation: str) -> str:
    return short(generation) or "(none)"


def _c(commit: str) -> str:
    return commit[:12]
