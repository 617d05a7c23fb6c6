"""The timeline page's renderer (controller/present/page.py): pure data in, HTML out.

Status files are untrusted (anyone who can merge can edit them), so most of
these tests put markup where the page shows text and look for it escaped.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from timeline_helpers import GEN, sample_statuses

from controller.core.model import (
    Condition,
    ConditionStatus,
    ConditionType,
    Finding,
    OfferStatus,
    Phase,
    SignOffVerdict,
    Stage,
    StageState,
    StageStatus,
    Target,
)
from controller.present.page import (
    CSP,
    STYLE_HASH,
    render_page,
    stage_bar,
    waiting_page,
)
from controller.repo.statusread import OfferEntry

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
COMMIT = "3f2c9e1a2b3c" + "0" * 28
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    return tags


def page(*statuses: OfferStatus | tuple[str, str]) -> str:
    entries = [
        OfferEntry(s.offer, s) if isinstance(s, OfferStatus) else OfferEntry(s[0], None, s[1])
        for s in statuses
    ]
    return render_page(entries, commit=COMMIT, now=NOW)


@pytest.fixture
def samples() -> dict[str, OfferStatus]:
    return sample_statuses(NOW)


class TestEscaping:
    """Markup from status.yaml reaches the page as text, never as elements or attributes."""

    def test_an_offer_named_with_a_script_tag_is_shown_as_text(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        html = page(replace(samples["delta-live"], offer=EVIL))
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        tags = {tag for tag, _ in parse(html).tags}
        assert "script" not in tags
        assert "img" not in tags
        # Its section's anchor is its position, not its name: no markup in an id or href.
        assert 'id="offer-0"' in html
        assert 'href="#offer-0"' in html

    def test_a_finding_with_html_in_every_field_is_shown_as_text(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        finding = Finding(
            code=f"Code{EVIL}", message=f"message {EVIL}", path=f"$.x{EVIL}",
            stage=f"Certification{EVIL}", file=f'offer.yaml"{EVIL}', line=3, column=4,
        )  # fmt: skip
        html = page(replace(samples["charlie-rejected"], feedback=(finding,)))
        tags = parse(html).tags
        assert not [t for t, _ in tags if t in ("script", "img")]
        assert html.count("&lt;script&gt;") == 5  # code, message, path, stage and file
        assert "offer.yaml&quot;&lt;script&gt;" in html

    def test_sign_off_and_condition_text_are_escaped(self, samples: dict[str, OfferStatus]) -> None:
        live = samples["delta-live"]
        assert live.signoff is not None
        verdict = replace(live.signoff, message=EVIL, approvers=(EVIL,), pull_request=EVIL)
        ready = replace(live.conditions[0], message=EVIL, reason=EVIL)
        html = page(replace(live, signoff=verdict, conditions=(ready,)))
        assert not [t for t, _ in parse(html).tags if t in ("script", "img")]
        assert html.count("&lt;script&gt;") == 5

    def test_a_problem_text_is_escaped(self) -> None:
        html = page(("bad-offer", EVIL))
        assert "(unreadable status)" in html
        assert not [t for t, _ in parse(html).tags if t in ("script", "img")]

    @pytest.mark.parametrize(
        "url",
        [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            'https://x.example/" onmouseover="alert(1)',
            "http://plain.example/preview",
        ],
    )
    def test_a_preview_url_that_is_not_plain_https_is_no_link(
        self, samples: dict[str, OfferStatus], url: str
    ) -> None:
        html = page(replace(samples["bravo-awaiting"], preview_url=url))
        links = [a.get("href") for t, a in parse(html).tags if t == "a"]
        assert all(str(href).startswith("#") for href in links), links
        assert not [a for t, a in parse(html).tags if any(k.startswith("on") for k in a)]

    def test_a_plain_https_preview_url_is_a_link_without_referrer(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        html = page(samples["bravo-awaiting"])
        links = [a for t, a in parse(html).tags if t == "a" and not str(a["href"]).startswith("#")]
        assert links == [
            {
                "href": "https://preview.marketplace.example/offers/bravo-awaiting",
                "rel": "noreferrer noopener",
            }
        ]


class TestContentSecurityPolicy:
    """The page lives within its own policy: no script, one stylesheet, matched by hash."""

    def test_the_policy_allows_no_script_and_only_the_hashed_stylesheet(self) -> None:
        directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["style-src"] == f"'{STYLE_HASH}'"
        assert directives["form-action"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert "script-src" not in directives  # falls back to default-src 'none'
        assert "unsafe-inline" not in CSP

    def test_the_one_style_element_matches_the_policy_hash(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        tags = parse(page(*samples.values()))
        assert len(tags.styles) == 1
        digest = hashlib.sha256(tags.styles[0].encode()).digest()
        assert f"sha256-{base64.b64encode(digest).decode()}" == STYLE_HASH

    def test_nothing_on_the_page_needs_what_the_policy_forbids(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        tags = parse(page(*samples.values())).tags
        names = {t for t, _ in tags}
        assert not names & {"script", "img", "iframe", "form", "input", "button", "link", "object"}
        attributes = {k for _, a in tags for k in a}
        assert "style" not in attributes  # an inline style attribute would be blocked
        assert not [k for k in attributes if k.startswith("on")]


class TestStageBars:
    """Each stage against its documented maximum: how full the bar is, and its words."""

    def test_a_running_stage_fills_its_allowance_up_to_its_recorded_deadline(self) -> None:
        started = NOW - timedelta(days=2)
        stage = StageStatus(
            Stage.CERTIFICATION, StageState.RUNNING, started, deadline=started + timedelta(days=8)
        )
        bar = stage_bar(stage, NOW)
        assert bar.fraction == pytest.approx(2 / 8)
        assert not bar.overdue
        assert bar.label == "running 2d · max 1 week · due 2026-12-07 10:00 UTC"

    def test_a_running_stage_past_its_deadline_is_overdue_and_full(self) -> None:
        started = NOW - timedelta(minutes=40)
        deadline = started + timedelta(minutes=15)
        stage = StageStatus(Stage.VALIDATION, StageState.RUNNING, started, deadline=deadline)
        bar = stage_bar(stage, NOW)
        assert (bar.fraction, bar.overdue) == (1.0, True)
        assert bar.label.endswith("past its documented maximum")

    def test_a_finished_stage_is_measured_against_its_documented_maximum(self) -> None:
        started = NOW - timedelta(hours=3)
        half = StageStatus(
            Stage.PACKAGING, StageState.SUCCEEDED, started, started + timedelta(minutes=30)
        )
        assert stage_bar(half, NOW).fraction == pytest.approx(0.5)
        assert stage_bar(half, NOW).label == "took 30m · max 1 hour"
        late = replace(half, name=Stage.VALIDATION)
        assert stage_bar(late, NOW).overdue
        assert stage_bar(late, NOW).fraction == 1.0

    def test_a_week_long_stage_counts_business_days(self) -> None:
        friday = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        took = StageStatus(
            Stage.CERTIFICATION, StageState.SUCCEEDED, friday, friday + timedelta(days=8)
        )
        # Five business days from Friday 09:00 end on Friday 09:00 (7 days), so 8 is overdue...
        assert stage_bar(took, NOW).overdue
        # ...while 6 calendar days over a weekend is within the allowance.
        assert not stage_bar(replace(took, finished_at=friday + timedelta(days=6)), NOW).overdue

    def test_sign_off_has_no_maximum_only_its_wait(self) -> None:
        stage = StageStatus(Stage.SIGNOFF, StageState.RUNNING, NOW - timedelta(hours=26))
        bar = stage_bar(stage, NOW)
        assert (bar.fraction, bar.overdue) == (0.0, False)
        assert bar.label == "waiting 1d 2h · no maximum: waits for the publisher"

    @pytest.mark.parametrize(
        ("state", "label"),
        [(StageState.PENDING, "pending · max 4 days"), (StageState.SKIPPED, "skipped")],
    )
    def test_a_stage_that_has_not_run_uses_nothing(self, state: StageState, label: str) -> None:
        bar = stage_bar(StageStatus(Stage.LIVE, state), NOW)
        assert (bar.fraction, bar.overdue, bar.label) == (0.0, False, label)

    def test_the_bar_width_is_the_fraction_of_the_track(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        html = page(samples["alpha-certifying"])
        fills = [a for t, a in parse(html).tags if t == "rect" and a.get("class") == "f-Running"]
        assert len(fills) == 1
        assert float(str(fills[0]["width"])) == pytest.approx(240 * 2 / 7, abs=0.1)


def rows(html: str) -> list[list[str]]:
    """The offers table's body rows as text cells."""
    table = re.search(r'<table class="offers">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert table is not None
    cells = []
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S):
        cells.append([re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)])
    return cells


class TestTheTable:
    """One row per offer: phase, stages, time in phase, ETA, ready, sign-off, findings."""

    def test_each_offer_has_a_row_with_its_phase_and_eta(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        table = rows(page(*samples.values()))
        assert [r[0] for r in table] == list(samples)
        by_offer = {r[0]: r for r in table}
        assert by_offer["alpha-certifying"][1:6] == [
            "live", "Certifying", "●◐○○○○ 1/6", "2d", "2026-12-14",
        ]  # fmt: skip
        assert by_offer["bravo-awaiting"][2] == "AwaitingSignOff"
        assert by_offer["bravo-awaiting"][5] == "2026-12-09"
        assert by_offer["charlie-rejected"][8] == "2"  # findings
        assert by_offer["delta-live"][6:8] == ["True", "SignOffAccepted"]

    def test_an_offer_without_status_says_so(self) -> None:
        table = rows(page(("echo-new", ""), ("foxtrot-broken", "status.yaml is 2,000,000 bytes")))
        assert table == [
            ["echo-new", "(not reconciled yet)"],
            ["foxtrot-broken", "(unreadable status)"],
        ]

    def test_the_header_counts_what_needs_a_hand(self, samples: dict[str, OfferStatus]) -> None:
        rejected = samples["charlie-rejected"]
        stall = Condition(ConditionType.STALLED, ConditionStatus.TRUE, "Rejected", "fix it", NOW)
        stalled = replace(rejected, conditions=(*rejected.conditions, stall))
        html = page(samples["bravo-awaiting"], stalled, samples["delta-live"], ("golf-new", ""))
        assert "4 offers at commit <code>3f2c9e1a2b3c</code>" in html
        assert "1 ready, 1 needs a fix, 1 awaiting sign-off, 1 without status" in html

    def test_a_preview_target_needs_no_sign_off(self, samples: dict[str, OfferStatus]) -> None:
        verdict = SignOffVerdict(False, GEN)
        preview = replace(
            samples["delta-live"], target=Target.PREVIEW, phase=Phase.PREVIEW, signoff=verdict
        )
        html = page(preview)
        assert rows(html)[0][7] == "-"
        assert "not needed for target preview" in html

    def test_no_offers_makes_a_page_that_says_so(self) -> None:
        html = render_page([], commit=COMMIT, now=NOW)
        assert "No offers in this commit." in html
        assert f'data-commit="{COMMIT}"' in html


class TestSections:
    """Below the table, one section per offer: timeline, ETA, findings, sign-off."""

    def test_findings_show_severity_place_and_message(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        html = page(samples["charlie-rejected"])
        assert "Findings (2)" in html
        assert (
            '<td class="bad">error</td><td><code>InsecureLink</code></td><td>Certification</td>'
            in html
        )
        assert "<code>offers/charlie-rejected/offer.yaml:12:5</code>" in html
        assert '<td class="msg">summary is 120 characters; 100 read best</td>' in html

    def test_the_eta_is_shown_with_its_basis(self, samples: dict[str, OfferStatus]) -> None:
        html = page(samples["bravo-awaiting"])
        assert "Estimated live: <strong>2026-12-09</strong>" in html
        assert "Estimated live: - (nothing in flight towards live)" in page(samples["delta-live"])

    def test_an_accepted_sign_off_shows_who_and_how(self, samples: dict[str, OfferStatus]) -> None:
        html = page(samples["delta-live"])
        for text in (
            '<dt>Counts</dt><dd><span class="ok">yes</span></dd>',
            "<dt>Approvers</dt><dd>rita@contoso.example</dd>",
            "<dt>Commit</dt><dd><code>cdcdcdcdcdcd</code></dd>",
            "<dt>Trust</dt><dd>signed</dd>",
        ):
            assert text in html

    def test_every_stage_has_a_row_with_its_partner_center_name(
        self, samples: dict[str, OfferStatus]
    ) -> None:
        html = page(samples["delta-live"])
        for name in ("Automated validation", "Preview creation", "Publisher sign-off (Go live)"):
            assert f"<td>{name}</td>" in html
        assert html.count('<span class="muted">took ') == 5  # SignOff "waited"
        assert "waited 20h · no maximum: waits for the publisher" in html


def test_the_waiting_page_says_why_and_refreshes() -> None:
    html = waiting_page(NOW, "No successful pass yet")
    assert "No successful pass yet (as of 2026-12-01 10:00 UTC)" in html
    assert '<meta http-equiv="refresh" content="30">' in html
