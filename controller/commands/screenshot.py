"""Screenshots of the daemon's timeline page in headless Chromium (`offerctl demo --screenshot`).

Playwright drives the browser. Its own browser download reaches hosts that a
locked-down machine cannot, so it drives the system's Chromium instead:
Debian's `chromium` package, which `make setup` installs, found through
`OFFERCTL_CHROMIUM` or on PATH. JavaScript stays off, as the page needs none.
One browser serves every screenshot of a `Screenshots` block.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from controller.core.errors import UsageError, UserError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM_ENV = "OFFERCTL_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
WIDTH, HEIGHT = 1280, 900  # the viewport; a full-page screenshot grows with the page
COMMIT_WAIT = 5.0  # seconds to wait for the page to show the commit asked for


def find_chromium() -> str:
    """The Chromium executable: $OFFERCTL_CHROMIUM, else `chromium` on PATH; UsageError if none."""
    named = os.environ.get(CHROMIUM_ENV, "")
    if named:
        if not (Path(named).is_file() and os.access(named, os.X_OK)):
            raise UsageError(f"{CHROMIUM_ENV}={named} is not an executable file")
        return named
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise UsageError(
        "no Chromium found: install Debian's chromium package (`make setup` does) "
        f"or point {CHROMIUM_ENV} at a Chromium executable"
    )


class Screenshots:
    """`with Screenshots() as shots: shots.take(url, path)`: one headless browser for the block."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def __enter__(self) -> Screenshots:
        try:
            from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a dev extra
        except ImportError:
            raise UsageError(
                "screenshots need Playwright: pip install playwright (`make setup` does)"
            ) from None
        executable = find_chromium()
        try:
            self._playwright = sync_playwright().start()
        except Exception as exc:  # Playwright's own error type: its driver did not start
            raise UserError(f"could not start Playwright: {_first_line(exc)}") from None
        try:
            self._browser = self._playwright.chromium.launch(executable_path=executable)
        except Exception as exc:  # the browser did not start
            self._playwright.stop()
            raise UserError(
                f"could not start Chromium ({executable}): {_first_line(exc)}"
            ) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()

    @property
    def browser(self) -> Browser:
        """The running browser, for callers that need their own contexts (the browser tests)."""
        if self._browser is None:
            raise RuntimeError("use Screenshots in a with block")
        return self._browser

    def take(self, url: str, path: Path, *, commit: str = "") -> Path:
        """A full-page PNG of `url` at `path`; with `commit`, once the page shows that commit.

        The daemon serves the commit its last pass left, which can trail the
        branch tip a caller just saw by a moment: the page is reloaded until its
        `data-commit` matches, for up to COMMIT_WAIT seconds, then taken as it is.
        """
        context = self.browser.new_context(
            java_script_enabled=False, viewport={"width": WIDTH, "height": HEIGHT}
        )
        try:
            page = context.new_page()
            deadline = time.monotonic() + COMMIT_WAIT
            page.goto(url)
            while commit and time.monotonic() < deadline:
                if page.locator("body").get_attribute("data-commit") == commit:
                    break
                time.sleep(0.1)
                page.reload()
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True)
        finally:
            context.close()
        return path


def _first_line(exc: Exception) -> str:
    """Playwright's errors run to many lines (call logs); the first says what happened."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
