"""One offer's sign-off answer never applies to another, nor one tip's to the next.

`controller.signoff.history_index` walks the first-parent history once per
(repository, tip) and keeps the walk in a process-wide LRU memo; every
offer's "which commit introduced signoff.yaml" is answered from it. A
collision in that memo would hand one offer (or one tip) another's introducing
commit, so an unreviewed signoff.yaml would borrow a reviewed one's approvals.
Each test judges sign-offs as the controller does (`evaluate_signoff` with the
policy read at the tip, `reconcile.policy_at`) on a real history, first where
the memo is filled with a valid sign-off, then where it must not be reused.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from pathlib import Path

import pytest
import yaml
from git_helpers import GitRepos

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "signoff"))

from signoff_helpers import CARL, OFFER, OffersRepo, make_offers_repo, offer_yaml, signoff_yaml

from controller.core.generation import generation
from controller.core.model import SignOffVerdict
from controller.git.repo import GitRepo
from controller.reconcile.reconciler import policy_at
from controller.signoff import evaluate_signoff

SIGNOFF = f"offers/{OFFER}/signoff.yaml"
OTHER = "other-offer"
ANA_OK = "Approved-by: Ana Approver <ana@contoso.com>"


def judged(repo: OffersRepo, offer: str = OFFER) -> SignOffVerdict:
    tip = repo.head()
    text = repo.git("show", f"{tip}:offers/{offer}/offer.yaml")
    current = generation(yaml.safe_load(text)["spec"], offer=offer)
    with GitRepo(repo.path) as handle:
        policy = policy_at(handle, tip)
    return evaluate_signoff(repo.path, tip, offer, current, policy)


@pytest.fixture
def repo(gitrepos: GitRepos) -> OffersRepo:
    made = make_offers_repo(gitrepos)
    made.branch_signoff(made.generation())
    made.merge(trailers=(ANA_OK,))
    assert judged(made).valid, "a reviewed, approved sign-off: the memo now holds this tip"
    return made


def test_an_unreviewed_edit_on_the_next_tip_is_not_judged_from_the_last_tips_walk(
    repo: OffersRepo,
) -> None:
    # Same generation, new bytes, pushed straight to the branch: nobody reviewed this file.
    repo.commit({SIGNOFF: signoff_yaml(repo.generation(), note="edited")}, "Edit", CARL)
    result = judged(repo)
    assert not result.valid
    assert result.reason == "NotReviewed", result


def test_another_offers_unreviewed_signoff_does_not_borrow_a_reviewed_one(
    repo: OffersRepo,
) -> None:
    manifest = offer_yaml().replace(f"name: {OFFER}", f"name: {OTHER}")
    repo.commit({f"offers/{OTHER}/offer.yaml": manifest}, "Add another offer", CARL)
    assert judged(repo).valid  # the walk of this tip is in the memo, with both paths
    text = repo.git("show", f"HEAD:offers/{OTHER}/offer.yaml")
    other_generation = generation(yaml.safe_load(text)["spec"], offer=OTHER)
    repo.commit(
        {f"offers/{OTHER}/signoff.yaml": signoff_yaml(other_generation, offer=OTHER)},
        "Sign off the other offer myself",
        CARL,
    )
    assert judged(repo).valid, "the reviewed sign-off still stands at the new tip"
    result = judged(repo, OTHER)
    assert not result.valid
    assert result.reason == "NotReviewed", result


def test_folders_of_padded_signoff_files_do_not_fill_the_memo(repo: OffersRepo) -> None:
    # 300 folders with a 60 KB signoff.yaml and no offer.yaml: a few KB each once git
    # compresses them, 18 MB held by the index of every tip that contains them; at
    # 20,000 folders (offer folders are the pull request's choice) over a GiB per tip kept.
    padding = "x" * 60_000
    junk = {f"offers/junk-{n}/signoff.yaml": f"# {n}\n{padding}\n" for n in range(300)}
    repo.commit(junk, "Add folders", CARL)
    gc.collect()
    tracemalloc.start()
    try:
        assert judged(repo).valid
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert retained < 4 * 1024 * 1024, f"judging one offer kept {retained / 2**20:.0f} MiB"
