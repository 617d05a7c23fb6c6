"""Identical bytes are scanned once, and the answer is the one a fresh scan gives (`scanmemo`)."""

from __future__ import annotations

import io
import zipfile

import yaml
from example_offers import offer_files

from controller.marketplace import certify
from controller.marketplace.api import OfferPayload
from controller.validation import scanmemo
from controller.validation.precheck import precheck
from controller.validation.zipscan import DEFAULT_LIMITS, EICAR, ScanLimits

PACKAGE = "package/fabrikam-case-triage.zip"


def _payload(package: bytes) -> OfferPayload:
    files = offer_files("alpha-offer")

    spec = yaml.safe_load(files["offers/alpha-offer/offer.yaml"])["spec"]
    assets = {k.split("/", 2)[2]: v for k, v in files.items() if not k.endswith("offer.yaml")}
    assets[PACKAGE] = package
    return OfferPayload(spec=spec, files=assets)


def _infected(package: bytes) -> bytes:
    """The package with the EICAR test file added as one more member."""
    out = io.BytesIO(package)
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr("extra/readme.txt", EICAR)
    return out.getvalue()


def test_a_repeated_question_is_answered_once_and_other_bytes_are_asked_afresh() -> None:
    scanmemo.clear()
    calls: list[bytes] = []

    def scan(data: bytes) -> list[str]:
        calls.append(data)
        return [data.decode()]

    assert scanmemo.memo_list("t", b"a", ("n",), lambda: scan(b"a")) == ["a"]
    again = scanmemo.memo_list("t", b"a", ("n",), lambda: scan(b"a"))
    assert again == ["a"] and len(calls) == 1
    again.append("mutated by a caller")  # each caller has its own list
    assert scanmemo.memo_list("t", b"a", ("n",), lambda: scan(b"a")) == ["a"]
    scanmemo.memo_list("t", b"b", ("n",), lambda: scan(b"b"))
    scanmemo.memo_list("t", b"a", ("other name",), lambda: scan(b"a"))
    assert calls == [b"a", b"b", b"a"]


def test_certification_gives_the_fresh_answer_for_each_package() -> None:
    package = offer_files("alpha-offer")[f"offers/alpha-offer/{PACKAGE}"]
    clean, infected = _payload(package), _payload(_infected(package))
    scanmemo.clear()
    cold = {name: certify.certify(p) for name, p in (("clean", clean), ("infected", infected))}
    for _ in range(2):  # warm: answered from the memo, in either order
        assert certify.certify(infected) == cold["infected"]
        assert certify.certify(clean) == cold["clean"]
    assert "VirusFound" in {f.code for f in cold["infected"]}
    assert "VirusFound" not in {f.code for f in cold["clean"]}


def test_limits_are_part_of_the_question() -> None:
    package = offer_files("alpha-offer")[f"offers/alpha-offer/{PACKAGE}"]
    spec = _payload(package).spec
    scanmemo.clear()
    default = precheck(spec, {PACKAGE: package}, DEFAULT_LIMITS)
    tight = precheck(spec, {PACKAGE: package}, ScanLimits(max_members=1))
    assert default != tight  # the package has more members than one
    assert precheck(spec, {PACKAGE: package}, DEFAULT_LIMITS) == default
