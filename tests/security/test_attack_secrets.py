"""A token pasted into a `...SecretRef` field is never echoed into output or status.

A GitHub token (`ghp_...`) or an AWS key id (`AKIA...`) is also a well-formed
environment variable name, so the secret check took it for a mis-cased
variable name and the schema's message quoted it: in validate's output (a CI
log) and in the status.yaml the controller commits.
"""

from __future__ import annotations

import pytest
from git_helpers import GitRepos, git
from status_world import offer_files, offerctl

FIELD = "applicationKeySecretRef: FABRIKAM_LEADS_APP_KEY"


@pytest.mark.parametrize(
    "secret", ["ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9", "AKIA" + "IOSFODNN7EXAMPLE"]
)
def test_a_token_in_a_secret_ref_is_not_shown(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    files = offer_files("victim-offer", "draft")
    manifest = "offers/victim-offer/offer.yaml"
    text = files[manifest].decode()
    assert FIELD in text
    files[manifest] = text.replace(FIELD, f"applicationKeySecretRef: {secret}", 1).encode()
    repo = gitrepos.init("offers-repo", files)
    monkeypatch.chdir(repo)

    code, out, err = offerctl("validate")
    assert code == 1, out + err
    assert "value not shown" in out
    assert secret not in out + err

    code, out, err = offerctl("reconcile", "--repo", str(repo))
    assert code == 0, out + err
    assert secret not in out + err
    assert secret not in git(repo, "show", "HEAD:offers/victim-offer/status.yaml")
    assert secret not in git(repo, "log", "-1", "--format=%B")
