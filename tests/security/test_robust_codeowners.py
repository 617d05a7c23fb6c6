"""A hostile CODEOWNERS line cannot stall a reconcile pass, and matching keeps GitHub's meaning.

The old matcher translated patterns into backtracking regular expressions:
`/offers/*a*a*a*a*a*a*a*a*z/` against a long offer id took minutes on every
pass. The matcher now walks the path once per pattern segment.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml
from git_helpers import GitRepos, git
from hypothesis import given, settings
from hypothesis import strategies as st
from robust_helpers import FAST, offerctl, offers_repo

from controller.repo import codeowners

OFFER = "a" * 50  # the longest id allowed, every character a backtracking point
HOSTILE = "/offers/" + "*a" * 12 + "*z/"
NO_APPROVERS = "apiVersion: offers.marketplace/v1\nkind: Publishing\n"


@pytest.mark.slow
def test_reconcile_with_a_backtracking_codeowners_pattern_finishes_quickly(
    gitrepos: GitRepos,
) -> None:
    signoff = (
        "apiVersion: offers.marketplace/v1\nkind: SignOff\n"
        f"offer: {OFFER}\ngeneration: sha256:{'0' * 64}\n"
    )
    repo = offers_repo(
        gitrepos,
        [OFFER],
        {
            "publishing.yaml": NO_APPROVERS,
            "CODEOWNERS": f"/offers/ @offers-team\n{HOSTILE} @attacker\n",
            f"offers/{OFFER}/signoff.yaml": signoff,
        },
        target="live",
    )

    started = time.monotonic()
    ran = offerctl("reconcile", "--repo", str(repo), *FAST, timeout=60)
    elapsed = time.monotonic() - started

    assert ran.code == 0, ran.err
    assert elapsed < 30, f"the pass took {elapsed:.1f}s"
    status = yaml.safe_load(git(repo, "show", f"HEAD:offers/{OFFER}/status.yaml"))
    assert status["offer"] == OFFER


def test_matching_a_pathological_pattern_is_fast() -> None:
    glob, error = codeowners.compile_pattern("/offers/" + "*a" * 40 + "*z/")
    assert glob is not None, error
    path = "offers/" + "a" * 4000 + "/signoff.yaml"

    started = time.monotonic()
    assert not glob.matches(path)
    assert glob.matches("offers/" + "a" * 40 + "z/signoff.yaml")
    assert time.monotonic() - started < 2.0


def test_many_double_star_segments_are_fast() -> None:
    glob, error = codeowners.compile_pattern("/" + "**/a/" * 30 + "z")
    assert glob is not None, error
    path = "/".join(["a"] * 400)

    started = time.monotonic()
    assert not glob.matches(path)
    assert glob.matches(path + "/z")
    assert time.monotonic() - started < 2.0


def _reference(pattern: str) -> re.Pattern[str]:
    """GitHub's CODEOWNERS meaning written as a regex, for small inputs only (it backtracks)."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    segments = [s for s in pattern.strip("/").split("/") if s]
    if not anchored and segments[0] != "**":
        segments.insert(0, "**")
    if pattern.endswith("/"):
        segments.append("**")
    collapsed: list[str] = []
    for segment in segments:
        if not (segment == "**" and collapsed and collapsed[-1] == "**"):
            collapsed.append(segment)
    last = len(collapsed) - 1
    out, slash = ["^"], False
    for index, segment in enumerate(collapsed):
        if segment == "**":
            if index == 0:
                out.append(".+" if index == last else "(?:[^/]+/)*")
                slash = False
            else:
                out.append("/.+" if index == last else "(?:/[^/]+)*")
                slash = True
            continue
        out.append("/" if slash else "")
        if segment == "*":
            out.append("[^/]+")
        else:
            out.append("".join({"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c)) for c in segment))
        slash = True
    if collapsed[-1] == "*":
        out.append("$")
    elif collapsed[-1] != "**":
        out.append("(?:/.*)?$")
    else:
        out.append("$")
    return re.compile("".join(out))


_SEGMENT = st.text(alphabet="ab*?", min_size=1, max_size=4)
_PATTERN = st.builds(
    lambda lead, segs, trail: lead + "/".join(segs) + trail,
    st.sampled_from(["", "/"]),
    st.lists(st.one_of(_SEGMENT, st.just("**")), min_size=1, max_size=4),
    st.sampled_from(["", "/"]),
)
_PATH = st.lists(st.text(alphabet="ab", min_size=1, max_size=4), min_size=1, max_size=5).map(
    "/".join
)


@settings(max_examples=200, deadline=None)
@given(pattern=_PATTERN, path=_PATH)
def test_linear_matcher_agrees_with_the_regex_meaning(pattern: str, path: str) -> None:
    glob, _ = codeowners.compile_pattern(pattern)
    if glob is None:
        return
    assert glob.matches(path) is (_reference(pattern).match(path) is not None)
