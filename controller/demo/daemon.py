"""`offerctl run` on the scratch checkout, as a real process logging to daemon.log."""

from __future__ import annotations

import signal
import subprocess
import sys

from controller.demo.common import BRANCH, DAEMON_POLL_SECONDS, STOP_TIMEOUT
from controller.demo.phases import page_url
from controller.demo.scratch import Scratch


class DaemonProcess:
    """`offerctl run` on the scratch checkout, logging to daemon.log."""

    def __init__(self, scratch: Scratch, time_scale: float) -> None:
        argv = [
            sys.executable, "-m", "controller", "run",
            "--repo", str(scratch.checkout), "--remote", "origin", "--branch", BRANCH,
            "--interval", DAEMON_POLL_SECONDS, "--listen", "127.0.0.1:0",
            "--marketplace", "sim", "--time-scale", repr(time_scale), "--log-format", "text",
        ]  # fmt: skip
        self.log = scratch.daemon_log
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=scratch.root,
                env=dict(scratch.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def exited(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> int:
        """SIGTERM, then wait; SIGKILL only if it outlives STOP_TIMEOUT. Its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -int(signal.SIGKILL)

    def page_url(self) -> str | None:
        """The timeline page's URL, once the daemon has logged the address it listens on."""
        try:
            return page_url(self.log.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return None

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
