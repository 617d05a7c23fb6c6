"""Recognising secrets written inline where the manifest expects a reference to one.

A manifest is committed to git, so a SAS token in a URL, a connection string
or a key in a `...SecretRef` field is a leak. This module decides whether a
string looks like a secret; it never returns or logs the value itself.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
# Looks like someone meant a variable name but got the case wrong: not a secret.
_NAME_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

# (pattern, what it is) - formats with a recognisable shape.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature)="),
        "a storage connection string",
    ),
    (
        re.compile(r"(?i)\b(password|pwd|passwd|client_secret|api[_-]?key|secret)="),
        "a password or key",
    ),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "a GitHub token"),
    (re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\."), "a JSON Web Token"),
)
# A case-insensitive union: a looser prefilter; the exact patterns decide.
_ANY_SHAPE = re.compile(
    "|".join(f"(?:{pattern.pattern.removeprefix('(?i)')})" for pattern, _ in _SHAPES), re.IGNORECASE
)
_SAS_PARAMS = frozenset({"sig", "signature", "sv&sig"})
_SECRET_PARAMS = frozenset(
    {
        "sig",
        "signature",
        "code",
        "key",
        "apikey",
        "api_key",
        "token",
        "access_token",
        "password",
        "secret",
    }
)


def may_be_secret(value: str, key: str) -> bool:
    """False when `secret_kind(value, key)` is surely None: the key does not end in
    SecretRef and the value holds none of the text `_shape` looks for before its
    patterns, nor the "://" of a URL. Substring tests, not a regex: a listing's long
    description is scanned many times faster (tests/validation/test_secrets_shortcuts.py)."""
    return (
        "=" in value
        or "_" in value
        or "://" in value
        or "-----BEGIN" in value
        or "AKIA" in value
        or "xox" in value
        or "eyJ" in value
        or key.endswith("SecretRef")
    )


def secret_kind(value: str, key: str = "") -> str | None:
    """What secret `value` (found under `key`) looks like; None when it does not look like one."""
    shape = _shape(value)
    if key.endswith("SecretRef"):
        # A GitHub token or an AWS key id is also a well-formed variable name: its
        # shape decides, or the schema's "is not a valid name" message would echo it.
        if (ENV_NAME.match(value) or _NAME_LIKE.match(value)) and shape is None:
            return None  # a variable name (perhaps mis-cased: the schema says so)
        return "a secret value instead of the name of an environment variable"
    if shape is not None:
        return shape
    if "://" in value:
        return _url_secret(value)
    return None


def _shape(value: str) -> str | None:
    """What secret format `value` contains, if any."""
    # Text each exact pattern needs, as written and in its case: "=" (the two key=
    # patterns), "_" (a GitHub token), "-----BEGIN", "AKIA", "xox", "eyJ". Most strings
    # of a manifest (names, prose, plain URLs) hold none, and then no regex runs.
    if not (
        "=" in value
        or "_" in value
        or "-----BEGIN" in value
        or "AKIA" in value
        or "xox" in value
        or "eyJ" in value
    ):
        return None
    if _ANY_SHAPE.search(value):  # one scan for the common case: nothing secret-shaped
        for pattern, what in _SHAPES:
            if pattern.search(value):
                return what
    return None


def _url_secret(value: str) -> str | None:
    if "@" not in value and "?" not in value:
        return None  # neither a user:password@ nor a query string: nothing to parse
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.password:
        return "a password in the URL"
    params = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if params & _SAS_PARAMS:
        return "a SAS token (sig=) in the URL"
    if params & _SECRET_PARAMS:
        return "a key or token in the URL's query string"
    return None
