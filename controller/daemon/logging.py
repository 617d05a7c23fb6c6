"""How the daemon logs: JSON lines for machines, plain lines on a terminal, no secrets in either.

Records may carry `offer`, `generation` and `phase` (pass them with
`extra=`); both formats show them. Every record passes through
`RedactionFilter` first, which masks the values of environment variables
whose names look secret (TOKEN, SECRET, PASSWORD, KEY), SAS signatures
(`sig=...`), bearer tokens and passwords in URLs, wherever they appear: in
the message, its arguments, extras, or a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from controller.core.redaction import MASK, Redactor, secret_values

__all__ = ["MASK", "Redactor", "configure", "secret_values"]

CONTEXT_FIELDS = ("offer", "generation", "phase")
# Fields a message already says in words (a transition's "moved FROM -> TO: WHY"): JSON
# lines carry them as fields, text lines do not repeat them as key=value.
IN_MESSAGE_FIELDS = frozenset({"from", "to", "why"})
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class RedactionFilter(logging.Filter):
    """Renders each record's message and traceback now, redacted, so no formatter sees the raw."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, name, self._redact(value))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, msg, the offer context, other extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """`HH:MM:SS level  offer (phase) message key=value` for someone watching a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in _extras(record).items() if k not in IN_MESSAGE_FIELDS}
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        head = f"{stamp} {record.levelname.lower():<7}"
        offer = extras.pop("offer", None)
        phase = extras.pop("phase", None)
        generation = extras.pop("generation", None)
        if offer:
            head += f" {offer}" + (f" ({phase})" if phase else "")
        line = f"{head} {record.getMessage()}"
        if generation:
            extras["generation"] = str(generation)[:19]  # sha256: + 12 hex is enough to tell apart
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


def configure(
    *,
    stream: TextIO | None = None,
    level: int = logging.INFO,
    json_lines: bool | None = None,
    environ: Mapping[str, str] | None = None,
    extra_secrets: Iterable[str] = (),
) -> logging.Handler:
    """Send the `controller` loggers to `stream`: JSON unless it is a terminal; redacted always.

    Returns the handler so a caller (or a test) can remove it again.
    """
    out = sys.stderr if stream is None else stream
    if json_lines is None:
        json_lines = not (hasattr(out, "isatty") and out.isatty())
    env = os.environ if environ is None else environ
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactionFilter(Redactor((*secret_values(env), *extra_secrets))))
    handler.setFormatter(JsonFormatter() if json_lines else HumanFormatter())
    logger = logging.getLogger("controller")
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
