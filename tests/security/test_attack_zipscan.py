"""A package of chained hidden zip headers is rejected quickly, not rescanned per header.

Local file headers that the central directory does not list are scanned as
hidden members; a stored one with size 0 runs "to the end of the file", and
when that starts with another header it is scanned again as an archive. The
bytes of those rescans were not charged to the scan's budget, so a 30 MB
package of back-to-back headers was copied and searched 2,000 times (half a
minute of CPU per offer, per validate and per pass).
"""

from __future__ import annotations

import struct
import time

import pytest
from git_helpers import GitRepos
from status_world import offer_files, offerctl

PACKAGE = "offers/victim-offer/package/fabrikam-case-triage.zip"


def _chained_headers(count: int) -> bytes:
    header = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    body = header * count
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0, 0, 0, len(body), 0)
    return body + end  # an empty archive with 30 MB of headers in front


def test_chained_hidden_headers_exhaust_the_budget(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = offer_files("victim-offer", "draft")
    assert PACKAGE in files
    files[PACKAGE] = _chained_headers(1_000_000)
    repo = gitrepos.init("offers-repo", files)
    monkeypatch.chdir(repo)

    started = time.monotonic()
    code, out, err = offerctl("validate")
    elapsed = time.monotonic() - started

    assert code == 1, out + err
    assert "expands beyond 64 MiB" in out, out[-2000:]
    assert elapsed < 15, f"validate took {elapsed:.1f}s"


def _directory_only(count: int) -> bytes:
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    entry = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 0, 20, *(0,) * 15)
    central = entry * count
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(central), len(local), 0)
    return local + central + end


def test_a_huge_central_directory_is_refused_before_it_is_parsed(
    gitrepos: GitRepos, monkeypatch: pytest.MonkeyPatch
) -> None:
    """600,000 46-byte directory entries: zipfile made a ZipInfo of each (~300 MB, ~20 s)."""
    files = offer_files("victim-offer", "draft")
    files[PACKAGE] = _directory_only(600_000)
    repo = gitrepos.init("offers-repo", files)
    monkeypatch.chdir(repo)

    started = time.monotonic()
    code, out, err = offerctl("validate")
    elapsed = time.monotonic() - started

    assert code == 1, out + err
    assert "more than 2000 files" in out, out[-2000:]
    assert elapsed < 8, f"validate took {elapsed:.1f}s"
