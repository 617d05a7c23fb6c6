"""Masking secrets in text: values of secret-looking environment variables, and
secret-shaped substrings (SAS `sig=`, bearer tokens, passwords in URLs, webhook
signatures).

Used wherever text leaves the process: the daemon's logs, and the messages the
reconciler writes into status.yaml and commit messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
# PAT only as a whole word (GH_PAT, PAT_GITHUB), so PATH is not taken for a secret.
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL|(?:^|_)PAT(?:_|$)", re.IGNORECASE
)
_MIN_SECRET_LEN = 4  # masking "1" or "on" would shred ordinary text and hide nothing
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Azure SAS and similar signed URLs: ...&sig=<base64url>&...
    (
        re.compile(r"(?i)\b(sig|signature|x-amz-signature|token|access_token)=[^&\s\"'<>]+"),
        r"\1=" + MASK,
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    (re.compile(r"(?i)\b(authorization:\s*[a-z]+\s+)\S+"), r"\1" + MASK),
    # https://user:password@host -> https://***@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]+(:[^/\s@]*)?@"), r"\1" + MASK + "@"),
    (re.compile(r"\bsha256=[0-9a-f]{64}\b"), "sha256=" + MASK),  # webhook signatures
)


def secret_values(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values of environment variables whose names look secret, longest first."""
    values = {
        value
        for name, value in environ.items()
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LEN
    }
    return tuple(sorted(values, key=len, reverse=True))


class Redactor:
    """Masks known secret values and secret-shaped substrings in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(s for s in secrets if len(s) >= _MIN_SECRET_LEN)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text
