"""publishing.yaml, the repository policy: plain data with defaults, and the parser that reads it.

`parse_policy` never raises. It validates the document against the
`publishing` schema (through `controller.validation.engine.check_instance`),
adds the checks a schema cannot express (an approver group that is not
defined, signed commits required without naming the trusted keys, the
github provider without a repository, a holiday calendar nobody knows), and
returns the best policy it can build together with every finding.

What a broken policy means differs by section, on purpose:
- controller identity, prune, holidays, marketplace: a value that does not
  check out falls back to its default, and a finding says so;
- endpoints and credentials (`marketplace.url`, `signoff.github.apiUrl`,
  `signoff.github.tokenEnv`) are the operator's, never the repository's:
  anyone who can open a pull request can write this file, so those keys are
  ignored with a warning saying where they moved (see `MOVED_TO_OPERATOR`);
- signoff: any finding there is recorded in `SignOffPolicy.problems`, and
  while there are problems no sign-off counts. Falling back to defaults there
  could silently lower the bar someone meant to set (a misspelt
  `requiredApprovals: two` must not become 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from controller.core.model import API_VERSION, Finding, Severity
from controller.repo.layout import POLICY_FILE

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\Z")
_LOGIN = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9-]*(?:/[A-Za-z0-9._-]+)?\Z")
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}\Z")
# One URL path segment: no slash, dot-dot, colon, at-sign, percent or query characters.
_ADO_SEGMENT = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9 ._-]{0,126}[A-Za-z0-9_-])?\Z")
_ADO_KEYS = ("organization", "project", "repository")
_SAFE_SEGMENT = re.compile(r"^(?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-])[A-Za-z0-9._-]*\Z")
_LOOPBACK_HTTP = re.compile(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?(/\S*)?\Z")


class Provider(StrEnum):
    """Where review evidence for a sign-off comes from."""

    GIT = "git"  # Approved-by/Reviewed-by trailers on the merge (or signed squash) commit
    GITHUB = "github"  # the merged pull request's approving reviews, from the REST API
    AZURE_DEVOPS = "azuredevops"  # the completed pull request's reviewer votes (Azure Repos)
    NONE = "none"  # any commit counts; local experiments only, marked unreviewed


class ApprovalTrust(StrEnum):
    """What the git provider accepts as an approval (`signoff.trust`)."""

    # Default: an approval counts only when signed by the approver's own key.
    SIGNATURE = "signature"
    # A typed trailer counts; status says it is unverified and who wrote the merge.
    PUSH_ACCESS = "push-access"


@dataclass(frozen=True, slots=True)
class ControllerIdentity:
    """Who the controller commits status.yaml as."""

    name: str = "offerctl"
    email: str = "offerctl@localhost"


# Keys publishing.yaml no longer decides, and where the operator sets them instead.
MOVED_TO_OPERATOR: dict[str, str] = {
    "$.marketplace.url": "the marketplace is the operator's choice: pass --marketplace URL "
    "(or set OFFERCTL_MARKETPLACE)",
    "$.signoff.github.apiUrl": "the GitHub API the token is sent to is the operator's choice: "
    "pass --github-api-url URL (or set OFFERCTL_GITHUB_API_URL)",
    "$.signoff.github.tokenEnv": "the GitHub token is always read from OFFERCTL_GITHUB_TOKEN, "
    "set by the operator",
    "$.signoff.azureDevOps.url": "the Azure DevOps server the token is sent to is the "
    "operator's choice: pass --azure-devops-url URL (or set OFFERCTL_AZURE_DEVOPS_URL)",
    "$.signoff.azureDevOps.tokenEnv": "the Azure DevOps token is always read from "
    "OFFERCTL_AZURE_DEVOPS_TOKEN, set by the operator",
}


@dataclass(frozen=True, slots=True)
class MarketplaceSettings:
    """Simulated-marketplace settings the repository may choose (the URL is the operator's)."""

    time_scale: float | None = None  # simulated marketplace only


@dataclass(frozen=True, slots=True)
class GitHubSettings:
    """What the repository may say about the github provider: which repository it is.

    Where the API lives and which token is sent there come from the operator
    (`controller.signoff.operator`), never from this file.
    """

    repository: str = ""  # owner/name


@dataclass(frozen=True, slots=True)
class AzureDevOpsSettings:
    """What the repository may say about the azuredevops provider: whose pull requests.

    Organization (a collection on Azure DevOps Server), project and repository
    are path segments under the server the operator named; the server's URL
    and the token come from the operator (`controller.signoff.operator`).
    """

    organization: str = ""
    project: str = ""
    repository: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.organization and self.project and self.repository)


@dataclass(frozen=True, slots=True)
class SignOffPolicy:
    """Who may approve a Go Live, how many must, and where the evidence comes from.

    `approvers` are principals as written: emails, `@login`, `@org/team`, or
    names of `groups`. Empty: CODEOWNERS decides. `problems` non-empty: the
    sign-off settings are broken and no sign-off counts until they are fixed.
    """

    provider: Provider = Provider.GIT
    approvers: tuple[str, ...] = ()
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, members), in file order
    required_approvals: int = 1
    trust: ApprovalTrust = ApprovalTrust.SIGNATURE
    require_signed_commits: bool = False
    allowed_signers_file: str = ""  # repository-relative
    gpg_home: str = ""
    github: GitHubSettings = field(default_factory=GitHubSettings)
    azure_devops: AzureDevOpsSettings = field(default_factory=AzureDevOpsSettings)
    problems: tuple[str, ...] = ()

    def group(self, name: str) -> tuple[str, ...] | None:
        for group_name, members in self.groups:
            if group_name == name:
                return members
        return None


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything publishing.yaml says, with defaults for what it leaves out."""

    controller: ControllerIdentity = field(default_factory=ControllerIdentity)
    prune: bool = False
    # Business days for the go-live estimate are the marketplace operator's; the
    # US calendar is the closest default for Microsoft's certification team.
    holidays_country: str = "US"
    marketplace: MarketplaceSettings = field(default_factory=MarketplaceSettings)
    signoff: SignOffPolicy = field(default_factory=SignOffPolicy)


DEFAULT_POLICY = Policy()


# ---------------------------------------------------------------- parsing


class _Reader:
    """Reads typed values out of untrusted data, collecting a finding for each bad one."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str, str]] = []  # (json path, code, message)

    def bad(self, path: str, message: str, code: str = "PolicyInvalid") -> None:
        self.problems.append((path, code, message))

    def section(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.bad(f"{path}.{key}", f"{key} must be a mapping")
            return {}
        return value

    def text(
        self, data: Mapping[str, Any], key: str, path: str, pattern: re.Pattern[str] | None = None
    ) -> str | None:
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, str) or not value or (pattern and not pattern.match(value)):
            self.bad(f"{path}.{key}", f"{key}: {value!r} is not an accepted value")
            return None
        return value

    def flag(self, data: Mapping[str, Any], key: str, path: str) -> bool | None:
        if key not in data:
            return None
        value = data[key]
        if not isinstance(value, bool):
            self.bad(f"{path}.{key}", f"{key} must be true or false, not {value!r}")
            return None
        return value

    def principals(self, value: object, path: str) -> tuple[str, ...]:
        if not isinstance(value, Sequence) or isinstance(value, str):
            self.bad(path, "must be a list of email addresses, @logins or group names")
            return ()
        out: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str) and (
                _EMAIL.match(item) or _LOGIN.match(item) or _GROUP.match(item)
            ):
                if item not in out:
                    out.append(item)
            else:
                self.bad(f"{path}[{index}]", f"{item!r} is not an email, @login or group name")
        return tuple(out)


def parse_policy(data: Mapping[str, Any] | None) -> tuple[Policy, list[Finding]]:
    """The policy a publishing.yaml document describes, and every problem with it.

    `data` is the loaded document (None when the file is absent or empty: the
    defaults, no findings). Never raises.
    """
    if data is None:
        return DEFAULT_POLICY, []
    reader = _Reader()
    if not isinstance(data, Mapping):
        reader.bad("$", "publishing.yaml must be a mapping")
        return DEFAULT_POLICY, _findings(data, reader)
    if data.get("apiVersion") != API_VERSION:
        reader.bad("$.apiVersion", f"apiVersion must be {API_VERSION}")
    if data.get("kind") != "Publishing":
        reader.bad("$.kind", "kind must be Publishing")

    policy = Policy(
        controller=_controller(reader, data),
        prune=_or(reader.flag(data, "prune", "$"), DEFAULT_POLICY.prune),
        holidays_country=_holidays(reader, data),
        marketplace=_marketplace(reader, data),
        signoff=_signoff(reader, data),
    )
    findings = _findings(data, reader)
    signoff_problems = tuple(
        f"{f.path}: {f.message}"
        for f in findings
        if f.path.startswith("$.signoff") and f.severity is Severity.ERROR
    )
    if signoff_problems:
        policy = Policy(
            controller=policy.controller,
            prune=policy.prune,
            holidays_country=policy.holidays_country,
            marketplace=policy.marketplace,
            signoff=_with_problems(policy.signoff, signoff_problems),
        )
    return policy, findings


T = TypeVar("T")


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def _controller(reader: _Reader, data: Mapping[str, Any]) -> ControllerIdentity:
    section = reader.section(data, "controller", "$")
    default = ControllerIdentity()
    name = reader.text(section, "name", "$.controller", re.compile(r"^[^<>\r\n]{1,100}$"))
    email = reader.text(section, "email", "$.controller", _EMAIL)
    return ControllerIdentity(_or(name, default.name), _or(email, default.email))


def _holidays(reader: _Reader, data: Mapping[str, Any]) -> str:
    section = reader.section(data, "holidays", "$")
    country = reader.text(section, "country", "$.holidays", re.compile(r"^[A-Z]{2}$"))
    if country is None:
        return DEFAULT_POLICY.holidays_country
    from controller.core.eta import supported_country  # noqa: PLC0415 - see _schema_findings

    if not supported_country(country):
        reader.bad(
            "$.holidays.country",
            f"no public-holiday calendar is known for {country!r}; "
            f"using {DEFAULT_POLICY.holidays_country}",
            "UnknownHolidayCountry",
        )
        return DEFAULT_POLICY.holidays_country
    return country


def _marketplace(reader: _Reader, data: Mapping[str, Any]) -> MarketplaceSettings:
    section = reader.section(data, "marketplace", "$")
    _moved(reader, section, "url", "$.marketplace")
    scale = section.get("timeScale")
    time_scale: float | None = None
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
            reader.bad("$.marketplace.timeScale", f"timeScale must be a number > 0, not {scale!r}")
        else:
            time_scale = float(scale)
    return MarketplaceSettings(time_scale=time_scale)


def _moved(reader: _Reader, section: Mapping[str, Any], key: str, path: str) -> None:
    if key in section:
        where = MOVED_TO_OPERATOR[f"{path}.{key}"]
        reader.bad(
            f"{path}.{key}",
            f"{key} is no longer read from publishing.yaml and is ignored: {where}",
            "MovedToOperator",
        )


def _signoff(reader: _Reader, data: Mapping[str, Any]) -> SignOffPolicy:
    section = reader.section(data, "signoff", "$")
    path = "$.signoff"
    default = SignOffPolicy()
    provider_text = reader.text(section, "provider", path)
    provider = default.provider
    if provider_text is not None:
        try:
            provider = Provider(provider_text)
        except ValueError:
            reader.bad(
                f"{path}.provider",
                f"provider must be git, github, azuredevops or none, not {provider_text!r}",
            )

    approvers = (
        reader.principals(section["approvers"], f"{path}.approvers")
        if "approvers" in section
        else ()
    )
    groups = _groups(reader, section, path)

    required = section.get("requiredApprovals", default.required_approvals)
    if isinstance(required, bool) or not isinstance(required, int) or not 1 <= required <= 100:
        reader.bad(
            f"{path}.requiredApprovals",
            f"requiredApprovals must be a whole number from 1 to 100, not {required!r}",
        )
        required = default.required_approvals

    trust = default.trust
    trust_text = reader.text(section, "trust", path)
    if trust_text is not None:
        try:
            trust = ApprovalTrust(trust_text)
        except ValueError:
            reader.bad(
                f"{path}.trust", f"trust must be signature or push-access, not {trust_text!r}"
            )
    signed = _or(reader.flag(section, "requireSignedCommits", path), False)
    signers = reader.text(section, "allowedSignersFile", path)
    if signers is not None and not is_safe_repo_path(signers):
        reader.bad(
            f"{path}.allowedSignersFile",
            f"allowedSignersFile {signers!r} must be a relative path inside the repository",
        )
        signers = None
    gpg_home = reader.text(section, "gpgHome", path)
    if signed and not (signers or gpg_home):
        reader.bad(
            f"{path}.requireSignedCommits",
            "requireSignedCommits needs allowedSignersFile or gpgHome to name the trusted keys",
            "SignersMissing",
        )

    github = _github(reader, section, path)
    if provider is Provider.GITHUB and not github.repository:
        reader.bad(
            f"{path}.github.repository",
            "the github provider needs signoff.github.repository (owner/name)",
            "GitHubRepositoryMissing",
        )

    azure_devops = _azure_devops(reader, section, path)
    if provider is Provider.AZURE_DEVOPS and not azure_devops.configured:
        reader.bad(
            f"{path}.azureDevOps",
            "the azuredevops provider needs signoff.azureDevOps organization, project and "
            "repository",
            "AzureDevOpsRepositoryMissing",
        )

    group_names = {name for name, _ in groups}
    for index, principal in enumerate(approvers):
        if _is_group_name(principal) and principal not in group_names:
            reader.bad(
                f"{path}.approvers[{index}]",
                f"approver group {principal!r} is not defined under signoff.groups",
                "UnknownApproverGroup",
            )

    return SignOffPolicy(
        provider=provider,
        approvers=approvers,
        groups=groups,
        required_approvals=required,
        trust=trust,
        require_signed_commits=signed,
        allowed_signers_file=_or(signers, ""),
        gpg_home=_or(gpg_home, ""),
        github=github,
        azure_devops=azure_devops,
    )


def _groups(
    reader: _Reader, section: Mapping[str, Any], path: str
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    raw = reader.section(section, "groups", path)
    out: list[tuple[str, tuple[str, ...]]] = []
    for name, members in raw.items():
        if not isinstance(name, str) or not _GROUP.match(name):
            reader.bad(f"{path}.groups", f"group name {name!r} is not accepted")
            continue
        out.append((name, reader.principals(members, f"{path}.groups.{name}")))
    return tuple(out)


def _github(reader: _Reader, section: Mapping[str, Any], path: str) -> GitHubSettings:
    raw = reader.section(section, "github", path)
    sub = f"{path}.github"
    repository = reader.text(raw, "repository", sub, _REPOSITORY)
    for key in ("apiUrl", "tokenEnv"):
        _moved(reader, raw, key, sub)
    return GitHubSettings(repository=_or(repository, ""))


def _azure_devops(reader: _Reader, section: Mapping[str, Any], path: str) -> AzureDevOpsSettings:
    raw = reader.section(section, "azureDevOps", path)
    sub = f"{path}.azureDevOps"
    values = {key: reader.text(raw, key, sub, _ADO_SEGMENT) for key in _ADO_KEYS}
    for key in ("url", "tokenEnv"):
        _moved(reader, raw, key, sub)
    return AzureDevOpsSettings(**{key: _or(value, "") for key, value in values.items()})


def _is_group_name(principal: str) -> bool:
    return not principal.startswith("@") and "@" not in principal


def is_safe_repo_path(path: str) -> bool:
    """A relative, normalized path of plain segments: no `..`, no leading `/`, no `.git`."""
    segments = path.split("/")
    return all(_SAFE_SEGMENT.match(s) for s in segments) and ".git" not in segments


def is_acceptable_api_url(url: str) -> bool:
    """https anywhere; plain http only to a loopback address (the tests' local server)."""
    return bool(re.match(r"^https://[^\s/]+(/\S*)?$", url) or _LOOPBACK_HTTP.match(url))


def _with_problems(signoff: SignOffPolicy, problems: tuple[str, ...]) -> SignOffPolicy:
    return SignOffPolicy(
        provider=signoff.provider,
        approvers=signoff.approvers,
        groups=signoff.groups,
        required_approvals=signoff.required_approvals,
        trust=signoff.trust,
        require_signed_commits=signoff.require_signed_commits,
        allowed_signers_file=signoff.allowed_signers_file,
        gpg_home=signoff.gpg_home,
        github=signoff.github,
        azure_devops=signoff.azure_devops,
        problems=problems,
    )


def _findings(data: object, reader: _Reader) -> list[Finding]:
    """Schema findings (when the validation engine is available) plus our own, one per path."""
    findings = _schema_findings(data)
    seen = {f.path for f in findings}
    for path, code, message in reader.problems:
        # The schema already explains type and pattern errors at the same path.
        if path in seen and code == "PolicyInvalid":
            continue
        seen.add(path)
        warning = code in {"UnknownHolidayCountry", "MovedToOperator"}
        severity = Severity.WARNING if warning else Severity.ERROR
        findings.append(
            Finding(code=code, message=message, path=path, severity=severity, file=POLICY_FILE)
        )
    return findings


def _schema_findings(data: object) -> list[Finding]:
    # Imported here, not at the top: the plain dataclasses above are read by the
    # pure sign-off decision, which must not drag in jsonschema or the holiday tables.
    from controller.validation.engine import check_instance  # noqa: PLC0415

    return [
        Finding(
            code=f.code,
            message=f.message,
            path=f.path,
            severity=f.severity,
            file=f.file or POLICY_FILE,
            line=f.line,
            column=f.column,
        )
        for f in check_instance("publishing", data)
    ]
