"""The secret recogniser's shortcuts skip only strings its patterns could never match."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.validation import secrets

# Pieces of every shape (and near misses in another case), so random strings hit them often.
PIECES = [
    "AccountKey=", "accountkey=", "SharedAccessSignature=", "password=", "PWD=", "api-key=",
    "secret=", "-----BEGIN RSA PRIVATE KEY-----", "-----begin private key-----", "AKIA",
    "akia", "ABCDEFGHIJKLMNOP", "ghp_", "GHP_", "gho_", "a" * 36, "xoxb-", "XOXB-",
    "0123456789", "eyJ", "EYJ", "abcdefgh.", ".", "-", "_", "=", " ", "https://", "@", "?",
    "sig=", "&token=", "user:pw@", "#", "%", "[", "host.example",
]  # fmt: skip
TEXT = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=12).map("".join)


def _shape_by_every_pattern(value: str) -> str | None:
    """The reference: each exact pattern in turn, no prefilter."""
    for pattern, what in secrets._SHAPES:
        if pattern.search(value):
            return what
    return None


def _url_secret_by_parsing(value: str) -> str | None:
    """The reference: always parse the URL."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.password:
        return "a password in the URL"
    params = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if params & secrets._SAS_PARAMS:
        return "a SAS token (sig=) in the URL"
    if params & secrets._SECRET_PARAMS:
        return "a key or token in the URL's query string"
    return None


@settings(max_examples=1500, deadline=None)
@given(TEXT)
def test_the_prefilters_never_hide_a_shape_a_pattern_finds(value: str) -> None:
    assert secrets._shape(value) == _shape_by_every_pattern(value)


@settings(max_examples=1500, deadline=None)
@given(TEXT)
def test_a_url_without_userinfo_or_query_is_never_parsed_for_nothing(value: str) -> None:
    assert secrets._url_secret(value) == _url_secret_by_parsing(value)


@settings(max_examples=1500, deadline=None)
@given(
    TEXT, st.sampled_from(["", "url", "name", "packageLocationUrl", "clientSecret", "xSecretRef"])
)
def test_a_string_without_the_hint_is_never_a_secret(value: str, key: str) -> None:
    """`Strings` skips `secret_kind` for such strings (under keys not ending in SecretRef)."""
    if not secrets.may_be_secret(value, key):
        assert secrets.secret_kind(value, key) is None


def test_each_shape_is_still_found() -> None:
    found = {
        secrets._shape(text)
        for text in (
            "Endpoint=x;AccountKey=abc",
            "pwd=hunter2",
            "-----BEGIN EC PRIVATE KEY-----",
            "id AKIAABCDEFGHIJKLMNOP here",
            "ghp_" + "a" * 36,
            "xoxb-0123456789",
            "eyJabcdefghi.eyJabcdefghi.sig",
        )
    }
    assert found == {what for _, what in secrets._SHAPES}
