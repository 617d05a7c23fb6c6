"""The timeline page in a real browser: headless Chromium (Debian's), driven by Playwright.

One daemon serves one repository of sample offers (plus a hostile one) for
the whole module, and one browser, launched by the demo's own
`Screenshots`, serves every test; each test opens its own context with
JavaScript disabled, as the page must work without it. `make setup`
installs the browser: a missing one fails these tests, it does not skip them.
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from daemon_helpers import RecordingReconcile, running, wait_until
from git_helpers import GitRepos
from playwright.sync_api import ConsoleMessage, Page, Route, ViewportSize
from timeline_helpers import commit_offers, fetch, sample_statuses

from controller.commands.screenshot import Screenshots
from controller.core.model import Finding
from controller.daemon.loop import Daemon, DaemonConfig, PassReport
from controller.daemon.timeline import TimelinePage
from controller.present.page import CSP, STYLE_HASH

pytestmark = pytest.mark.slow(budget=45)

NOW = datetime.now(UTC)
HOSTILE = "india-hostile"
EVIL = "<script>document.title='owned'</script><img src=x onerror=\"document.title='owned'\">"


@dataclass(frozen=True)
class Site:
    url: str
    commit: str


@pytest.fixture(scope="module")
def shots() -> Iterator[Screenshots]:
    with Screenshots() as running_browser:
        yield running_browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    gitrepos = GitRepos(tmp_path_factory.mktemp("timeline-browser"))
    repo = gitrepos.init("offers")
    statuses = sample_statuses(NOW)
    rejected = statuses["charlie-rejected"]
    hostile = replace(
        rejected,
        offer=HOSTILE,
        feedback=(Finding(code="Evil", message=EVIL, file="offer.yaml", line=1),),
        preview_url="javascript:document.title='owned'",
    )
    commit = commit_offers(gitrepos, repo, {**statuses, HOSTILE: hostile})
    reconcile = RecordingReconcile(lambda _offers, _n: PassReport(head=commit))
    # The page reads the same clock the statuses were made with: a module collected
    # minutes before it runs (xdist) must still show "5h", not "5h 13m".
    with TimelinePage(repo, clock=lambda: NOW) as page:
        daemon = Daemon(
            reconcile,
            config=DaemonConfig(heartbeat=0.2),
            listen=("127.0.0.1", 0),
            page=page.render,
        )
        with running(daemon):
            reconcile.wait_for(1)
            address = daemon.http_address
            assert address is not None
            url = f"http://127.0.0.1:{address[1]}/"
            # The tip is recorded just after the pass returns: wait until the page has it.
            wait_until(lambda: commit.encode() in fetch(url)[0][2], what="the page")
            yield Site(url, commit)


@dataclass
class Opened:
    page: Page
    console: list[ConsoleMessage]
    headers: dict[str, str]


@pytest.fixture(scope="module")
def tab(shots: Screenshots) -> Iterator[tuple[Page, list[ConsoleMessage]]]:
    """One page without JavaScript for the module (a context costs a second on a busy machine)."""
    viewport: ViewportSize = {"width": 1280, "height": 900}
    context = shots.browser.new_context(java_script_enabled=False, viewport=viewport)
    try:
        page = context.new_page()
        console: list[ConsoleMessage] = []
        page.on("console", lambda message: console.append(message))  # noqa: PLW0108 - see below
        # (Playwright keeps an attribute on the handler, which a bound builtin cannot take.)
        yield page, console
    finally:
        context.close()


@pytest.fixture
def opened(tab: tuple[Page, list[ConsoleMessage]], site: Site) -> Opened:
    """The page at `site`, freshly loaded, with the console messages of this load only."""
    page, console = tab
    console.clear()
    response = page.goto(site.url)
    assert response is not None and response.status == 200
    return Opened(page, console, response.headers)


def _with_policy(route: Route, policy: str) -> None:
    answer = route.fetch()
    route.fulfill(response=answer, headers={**answer.headers, "content-security-policy": policy})


def test_the_table_shows_each_offer_its_phase_and_eta_without_javascript(
    opened: Opened,
) -> None:
    page = opened.page
    rows = page.locator("table.offers tbody tr")
    assert rows.count() == 5
    cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
    by_offer = {row[0]: row for row in cells}
    assert by_offer["alpha-certifying"][2] == "Certifying"
    assert by_offer["alpha-certifying"][5] == "2026-12-14"  # the ETA
    assert by_offer["bravo-awaiting"][2:6] == ["AwaitingSignOff", "●●●◐○○ 3/6", "5h", "2026-12-09"]
    assert by_offer["charlie-rejected"][2] == "Rejected"
    assert by_offer["delta-live"][2] == "Live"
    for phase in ("Certifying", "AwaitingSignOff", "Rejected", "Live"):
        assert page.locator("table.offers").get_by_text(phase, exact=True).first.is_visible()
    assert page.get_by_text("Estimated live: 2026-12-14").is_visible()


def test_the_policy_is_served_and_holds_with_no_console_error(opened: Opened) -> None:
    assert opened.headers["content-security-policy"] == CSP
    assert opened.headers["x-content-type-options"] == "nosniff"
    page = opened.page
    # The hashed stylesheet applied: the heading is the page's 20px, not the browser's 32px.
    assert page.locator("h1").evaluate("e => getComputedStyle(e).fontSize") == "20px"
    rejected = page.locator("table.offers .phase.bad").first
    assert rejected.evaluate("e => getComputedStyle(e).color") == "rgb(207, 34, 46)"
    assert [m.text for m in opened.console if m.type in ("error", "warning")] == []


def test_a_policy_with_another_hash_blocks_the_stylesheet(
    tab: tuple[Page, list[ConsoleMessage]], site: Site
) -> None:
    """The control for the test above: the browser enforces the policy it is sent."""
    page, console = tab
    wrong = CSP.replace(STYLE_HASH, "sha256-" + "A" * 43 + "=")
    page.route(site.url, lambda route: _with_policy(route, wrong))
    try:
        console.clear()
        page.goto(site.url)
        assert page.locator("h1").evaluate("e => getComputedStyle(e).fontSize") == "32px"
        errors = [m.text for m in console if m.type == "error"]
        assert any("Content Security Policy" in text for text in errors), errors
    finally:
        page.unroute(site.url)


def test_markup_from_a_status_file_is_text_on_the_page(opened: Opened) -> None:
    page = opened.page
    assert page.locator("script").count() == 0
    assert page.locator("img").count() == 0
    assert page.title() == "offerctl: offers timeline"
    section = page.locator(f"#offer-{HOSTILE}")
    assert section.get_by_text(EVIL, exact=True).is_visible()
    assert section.locator("a").count() == 0  # the javascript: preview URL is no link
    assert section.get_by_text("javascript:document.title='owned'").is_visible()


def test_an_offer_link_jumps_to_its_section(opened: Opened) -> None:
    page = opened.page
    page.locator("table.offers").get_by_role("link", name="charlie-rejected").click()
    assert page.url.endswith("#offer-charlie-rejected")
    section = page.locator("#offer-charlie-rejected")
    assert section.get_by_text("usefulLinks[0] is not HTTPS").is_visible()
    assert section.locator("svg rect.over").count() == 1  # validation ran past its 15 minutes
    box = section.bounding_box()
    assert box is not None and box["y"] < 50  # scrolled to the top of the viewport


def test_a_screenshot_of_the_page_is_saved(shots: Screenshots, site: Site, tmp_path: Path) -> None:
    path = shots.take(site.url, tmp_path / "out" / "timeline.png", commit=site.commit)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280
    assert height > 2000  # the full page: five offers' sections, not just the viewport


def test_find_chromium_refuses_a_named_file_that_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from controller.commands.screenshot import find_chromium
    from controller.core.errors import UsageError

    not_a_browser = tmp_path / "chromium"
    not_a_browser.write_text("")
    monkeypatch.setenv("OFFERCTL_CHROMIUM", str(not_a_browser))
    with pytest.raises(UsageError, match=re.escape(f"OFFERCTL_CHROMIUM={not_a_browser}")):
        find_chromium()
    monkeypatch.delenv("OFFERCTL_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="no Chromium found"):
        find_chromium()


def test_a_chromium_that_does_not_start_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from controller.core.errors import UserError

    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\necho 'no display, no luck' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("OFFERCTL_CHROMIUM", str(broken))
    errors: list[Exception] = []

    def start() -> None:
        try:
            with Screenshots():
                pass
        except Exception as exc:  # reported below
            errors.append(exc)

    # Its own thread: Playwright's sync API runs one instance per thread, and this
    # module's browser may be running in this one.
    attempt = threading.Thread(target=start)
    attempt.start()
    attempt.join(timeout=60)
    assert len(errors) == 1
    assert isinstance(errors[0], UserError)
    assert str(errors[0]).startswith(f"could not start Chromium ({broken}): ")
    assert "\n" not in str(errors[0])
