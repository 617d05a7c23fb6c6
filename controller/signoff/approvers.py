"""Who may approve an offer's sign-off: publishing.yaml's list, else the CODEOWNERS rule.

Pure: a policy or a parsed CODEOWNERS in, an `Authorization` out. Principals
are emails (matched against `Approved-by:` emails), `@login` (matched against
GitHub reviewers, and against GitHub's noreply commit emails), or
`@org/team` (resolved to logins by the github provider). Group names from
`signoff.groups` expand to their members, groups inside groups included.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.repo import layout
from controller.repo.codeowners import CodeOwners
from controller.repo.policy import SignOffPolicy
from controller.signoff.rules import Authorization


def signoff_path(offer_id: str) -> str:
    return layout.signoff_path(offer_id)


def from_policy(policy: SignOffPolicy) -> Authorization:
    """The authorization publishing.yaml's `signoff.approvers` grants (groups expanded)."""
    notes: list[str] = []
    principals = _expand(policy, policy.approvers, notes, seen=set())
    return _authorization(principals, "publishing.yaml signoff.approvers", notes)


def from_codeowners(owners: CodeOwners | None, offer_id: str) -> Authorization:
    """The owners of the offer's signoff.yaml under CODEOWNERS (last matching rule wins).

    The path matched is `offers/<id>/signoff.yaml`, the file a sign-off pull
    request changes, so the answer is the same one GitHub gives when it asks
    for a code-owner review of that pull request.
    """
    if owners is None:
        return Authorization(
            source="CODEOWNERS",
            problem="publishing.yaml lists no signoff.approvers and there is no CODEOWNERS file "
            "(looked in .github/, the root and docs/)",
        )
    path = signoff_path(offer_id)
    notes = list(owners.problems)
    rule = owners.rule_for(path)
    if rule is None:
        return Authorization(
            source=owners.file,
            problem=f"no rule in {owners.file} matches {path}",
            notes=tuple(notes),
        )
    source = f"{owners.file}:{rule.line} ({rule.pattern})"
    if not rule.owners:
        return Authorization(
            source=source,
            problem=f"{source} matches {path} but names no owners (it unassigns them)",
            notes=tuple(notes),
        )
    return _authorization(rule.owners, source, notes)


def _expand(
    policy: SignOffPolicy, principals: Iterable[str], notes: list[str], seen: set[str]
) -> list[str]:
    out: list[str] = []
    for principal in principals:
        if principal.startswith("@") or "@" in principal:
            out.append(principal)
            continue
        members = policy.group(principal)
        if members is None:
            notes.append(f"approver group {principal!r} is not defined")
            continue
        if principal in seen:
            continue  # a group cycle adds nobody new
        seen.add(principal)
        out.extend(_expand(policy, members, notes, seen))
    return out


def _authorization(principals: Iterable[str], source: str, notes: list[str]) -> Authorization:
    emails: set[str] = set()
    logins: set[str] = set()
    teams: set[str] = set()
    for principal in principals:
        if principal.startswith("@"):
            name = principal[1:].lower()
            (teams if "/" in name else logins).add(name)
        elif "@" in principal:
            emails.add(principal.lower())
    problem = "" if emails or logins or teams else f"{source} names nobody"
    return Authorization(
        emails=frozenset(emails),
        logins=frozenset(logins),
        teams=frozenset(teams),
        source=source,
        problem=problem,
        notes=tuple(notes),
    )
