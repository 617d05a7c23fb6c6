"""publishing.yaml values checked by `^...$` patterns: `$` also matches before a final newline.

A double-quoted YAML string can end in `\\n`. With `re.match` and `$`, a
GitHub repository of "owner/name\\n" passed the check and reached the API
path, where httpx raised InvalidURL, an exception no sign-off lookup catches;
an Azure DevOps segment or the controller's e-mail took the newline along
into URLs, commit identities and messages.
"""

from __future__ import annotations

import pytest

from controller.repo.policy import Policy
from controller.repo.readback import policy_from

HEAD = b"apiVersion: offers.marketplace/v1\nkind: Publishing\n"


def _policy(body: bytes) -> Policy:
    return policy_from(HEAD + body)


def test_github_repository_with_a_trailing_newline_is_refused() -> None:
    policy = _policy(b'signoff:\n  provider: github\n  github:\n    repository: "o/n\\n"\n')
    assert policy.signoff.github.repository == ""
    assert policy.signoff.provider.value == "github"


@pytest.mark.parametrize("key", ["organization", "project", "repository"])
def test_azure_devops_segment_with_a_trailing_newline_is_refused(key: str) -> None:
    values = {"organization": b"contoso", "project": b"offers", "repository": b"offers"}
    values[key] += b"\\n"
    body = b"signoff:\n  provider: azuredevops\n  azureDevOps:\n" + b"".join(
        b'    %s: "%s"\n' % (k.encode(), v) for k, v in values.items()
    )
    policy = _policy(body)
    assert not policy.signoff.azure_devops.configured
    assert policy.signoff.problems  # the provider is broken: no sign-off counts


def test_controller_email_with_a_trailing_newline_is_refused() -> None:
    policy = _policy(b'controller:\n  email: "bot@example.com\\n"\n')
    assert "\n" not in policy.controller.email
