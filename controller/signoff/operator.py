"""What the operator decides about sign-off evidence: where the GitHub API is, and its token.

Everything in the offers repository is input from whoever can open a pull
request, so no file there may choose where a credential is sent or which
environment variable is read. The GitHub API base URL comes from the
command line (`--github-api-url`) or `OFFERCTL_GITHUB_API_URL`, default
https://api.github.com; the token always from `OFFERCTL_GITHUB_TOKEN`. The
repository may still name the provider and which GitHub repository's pull
requests are read (on the host the operator chose).
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
