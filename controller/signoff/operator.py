"""What the operator decides about sign-off evidence: where the review APIs are, and tokens.

Everything in the offers repository is input from whoever can open a pull
request, so no file there may choose where a credential is sent or which
environment variable is read. The GitHub API base URL comes from the
command line (`--github-api-url`) or `OFFERCTL_GITHUB_API_URL`, default
https://api.github.com; the token always from `OFFERCTL_GITHUB_TOKEN`. The
repository may still name the provider and which GitHub repository's pull
requests are read (on the host the operator chose).

Azure DevOps likewise: the server from `--azure-devops-url` or
`OFFERCTL_AZURE_DEVOPS_URL` (default https://dev.azure.com; an Azure DevOps
Server is `https://HOST/tfs`), the token (a personal access token, or an
Entra ID access token) always from `OFFERCTL_AZURE_DEVOPS_TOKEN`. The
repository names only the organization, project and repository under it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.core.errors import UsageError
from controller.repo.policy import is_acceptable_api_url

ENV_GITHUB_API_URL = "OFFERCTL_GITHUB_API_URL"
ENV_GITHUB_TOKEN = "OFFERCTL_GITHUB_TOKEN"  # noqa: S105 - the variable's name, not a token
DEFAULT_GITHUB_API_URL = "https://api.github.com"
ENV_AZURE_DEVOPS_URL = "OFFERCTL_AZURE_DEVOPS_URL"
ENV_AZURE_DEVOPS_TOKEN = "OFFERCTL_AZURE_DEVOPS_TOKEN"  # noqa: S105 - a variable's name
DEFAULT_AZURE_DEVOPS_URL = "https://dev.azure.com"


@dataclass(frozen=True, slots=True)
class GitHubEndpoint:
    """The GitHub REST API the operator named, and the token to send only there."""

    api_url: str = DEFAULT_GITHUB_API_URL
    token: str | None = field(default=None, repr=False)


def github_endpoint(
    api_url: str | None = None, env: Mapping[str, str] | None = None
) -> GitHubEndpoint:
    """The endpoint from a flag value (else the environment, else github.com).

    Raises UsageError for a URL that is not https (plain http only on loopback).
    """
    env = os.environ if env is None else env
    url = (api_url or env.get(ENV_GITHUB_API_URL) or DEFAULT_GITHUB_API_URL).strip()
    if not is_acceptable_api_url(url):
        raise UsageError(
            f"GitHub API URL {url!r} must be https:// (plain http only to a loopback address)"
        )
    return GitHubEndpoint(api_url=url.rstrip("/"), token=env.get(ENV_GITHUB_TOKEN) or None)


@dataclass(frozen=True, slots=True)
class AzureDevOpsEndpoint:
    """The Azure DevOps server the operator named, and the token to send only there."""

    url: str = DEFAULT_AZURE_DEVOPS_URL
    token: str | None = field(default=None, repr=False)


def azure_devops_endpoint(
    url: str | None = None, env: Mapping[str, str] | None = None
) -> AzureDevOpsEndpoint:
    """The server from a flag value (else the environment, else dev.azure.com).

    Raises UsageError for a URL that is not https (plain http only on loopback).
    """
    env = os.environ if env is None else env
    chosen = (url or env.get(ENV_AZURE_DEVOPS_URL) or DEFAULT_AZURE_DEVOPS_URL).strip()
    if not is_acceptable_api_url(chosen) or "?" in chosen or "#" in chosen or "@" in chosen:
        raise UsageError(
            f"Azure DevOps URL {chosen!r} must be https://HOST[/PATH] without credentials, "
            "query or fragment (plain http only to a loopback address)"
        )
    return AzureDevOpsEndpoint(
        url=chosen.rstrip("/"), token=env.get(ENV_AZURE_DEVOPS_TOKEN) or None
    )
