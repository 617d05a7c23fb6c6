"""A spec the generation cannot hash makes its offer Invalid; the pass carries on.

YAML lets a mapping mix text keys with `1:`, `true:` or `null:`; sorted-key
JSON (the generation's canonical form) cannot order them. One such offer.yaml
in a pull request must not crash plan or reconcile with a traceback.
"""

from __future__ import annotations

import pytest
import yaml
from git_helpers import GitRepos, git
from status_world import offer_files, offerctl


@pytest.mark.parametrize("key", ["1", "true", "null"])
def test_non_text_key_in_spec_is_a_finding_not_a_crash(gitrepos: GitRepos, key: str) -> None:
    files = {**offer_files("victim-offer", "draft"), **offer_files("other-offer", "draft")}
    manifest = "offers/victim-offer/offer.yaml"
    files[manifest] = (
        files[manifest].decode().replace("spec:\n", f"spec:\n  {key}: x\n", 1).encode()
    )
    repo = gitrepos.init("offers-repo", files)

    code, out, err = offerctl("plan", "--repo", str(repo))
    assert code == 0, out + err
    assert "Traceback" not in err and "TypeError" not in out + err

    code, out, err = offerctl("reconcile", "--repo", str(repo))
    assert code == 0, out + err
    assert "TypeError" not in out + err
    victim = yaml.safe_load(git(repo, "show", "HEAD:offers/victim-offer/status.yaml"))
    assert victim["phase"] == "Invalid"
    # The loader refuses a key that is not text, with its line (ManifestNotJson, the
    # generation's own guard, stays for what reaches it otherwise).
    assert any(f["code"] == "KeyNotText" for f in victim["feedback"]), victim["feedback"]
    other = yaml.safe_load(git(repo, "show", "HEAD:offers/other-offer/status.yaml"))
    assert other["phase"] == "Draft"
