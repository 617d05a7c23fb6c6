"""A manifest key cannot put a terminal escape into validate's output.

The JSON path of a finding spelled a quoted key raw, and the CLI's escaping
stream lets SGR sequences (`ESC [ ... m`, its own colours) through: an
unknown property named `ESC[8m` concealed the rest of the line on a terminal
and in a CI log (GitHub renders ANSI), and a bidi override reordered it.
"""

from __future__ import annotations

import pytest
from git_helpers import GitRepos
from status_world import offer_files, offerctl


@pytest.mark.parametrize("output", ["text", "github"])
def test_unknown_key_with_escapes_is_shown_escaped(
    gitrepos: GitRepos, output: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = offer_files("victim-offer", "draft")
    manifest = "offers/victim-offer/offer.yaml"
    text = files[manifest].decode()
    files[manifest] = text.replace("spec:\n", 'spec:\n  "\\e[8mhidden\\u202e": x\n', 1).encode()
    repo = gitrepos.init("offers-repo", files)
    monkeypatch.chdir(repo)

    code, out, err = offerctl("validate", "--format", output)

    assert code == 1, out + err
    assert "hidden" in out
    assert "\x1b" not in out + err and "\u202e" not in out + err, repr(out)
