"""An offer folder's name cannot break the controller's records.

The folder name is the pull request's choice. Percent-encoded for the record
file under <git-dir>/offerctl/records/, a long (or non-ASCII) name grew past
the file system's 255 bytes per name: saving the record raised, the offer
got no status and every pass exited 1 with a traceback. Records are rows of one
database now (keyed by the name itself); the pass must still record both.
"""

from __future__ import annotations

import sqlite3

import pytest
import yaml
from git_helpers import GitRepos, git
from status_world import offer_files, offerctl


@pytest.mark.parametrize("folder", ["\u00e9" * 120, "a" * 250])
def test_a_long_folder_name_gets_a_status_and_a_record(gitrepos: GitRepos, folder: str) -> None:
    files = offer_files("victim-offer", "draft")
    files[f"offers/{folder}/offer.yaml"] = files["offers/victim-offer/offer.yaml"]
    repo = gitrepos.init("offers-repo", files)

    for _ in range(2):  # the second pass reads the record the first one kept
        code, out, err = offerctl("reconcile", "--repo", str(repo))
        assert code == 0, out + err
        assert "Traceback" not in out + err

    odd = yaml.safe_load(git(repo, "show", f"HEAD:offers/{folder}/status.yaml"))
    assert odd["phase"] == "Invalid"  # metadata.name is not the folder's name
    victim = yaml.safe_load(git(repo, "show", "HEAD:offers/victim-offer/status.yaml"))
    assert victim["phase"] == "Draft"
    records = repo / ".git" / "offerctl" / "records" / "local" / "main.sqlite3"
    with sqlite3.connect(records) as db:  # a row per offer, keyed by the offer's own id
        offers = sorted(row[0] for row in db.execute("SELECT offer FROM records"))
    assert offers == sorted([folder, "victim-offer"])
