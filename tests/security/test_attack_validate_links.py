"""`offerctl validate PATH` does not follow a folder symlink the repository holds.

A pull request can commit `offers/x -> /anywhere`; CI and pre-commit pass
changed paths to validate. validate resolved the link and validated (and
echoed, in its messages) the files it points at, outside the repository.
"""

from __future__ import annotations

import pytest
from git_helpers import GitRepos
from status_world import offer_files, offerctl


@pytest.mark.parametrize("arg", ["offers/lure", "offers/lure/offer.yaml"])
def test_a_linked_offer_folder_is_refused(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch, arg: str
) -> None:
    outside = gitrepos.init("runner-home", offer_files("private-offer", "draft"))
    manifest = outside / "offers/private-offer/offer.yaml"
    manifest.write_text(manifest.read_text().replace("spec:\n", "spec:\n  PRIVATE-VALUE: 1\n", 1))
    repo = gitrepos.init("offers-repo", offer_files("victim-offer", "draft"))
    (repo / "offers/lure").symlink_to(outside / "offers/private-offer")
    gitrepos.run(repo, "add", "-A")
    gitrepos.run(repo, "commit", "-q", "-m", "Add an offer")
    monkeypatch.chdir(repo)

    code, out, err = offerctl("validate", arg)

    assert code != 0
    assert "PRIVATE-VALUE" not in out + err
    assert "symlink" in err
