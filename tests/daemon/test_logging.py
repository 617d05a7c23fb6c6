"""Daemon logs: JSON lines with the offer context, a human format on a TTY, and no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from controller.daemon.logging import Redactor, configure, secret_values

ENV = {
    "OFFERCTL_WEBHOOK_SECRET": "hunter2-webhook",
    "GITHUB_TOKEN": "ghp_abcdefghijklmnop1234",
    "AZURE_CLIENT_PASSWORD": "p@ss w0rd!",
    "API_KEY": "k3y",  # too short to mask without shredding ordinary text
    "HOME": "/home/pat",
}


class TtyBuffer(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = configure(stream=stream, environ=ENV, level=logging.DEBUG)
    logger = logging.getLogger("controller.test")
    try:
        yield logger, stream
    finally:
        logging.getLogger("controller").removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_records_are_json_lines_with_the_offer_context(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    logger.info(
        "phase changed to %s",
        "Certifying",
        extra={"offer": "contoso", "generation": "sha256:abc", "phase": "Certifying"},
    )
    [entry] = lines(stream)
    assert entry["msg"] == "phase changed to Certifying"
    assert (entry["offer"], entry["generation"], entry["phase"]) == (
        "contoso",
        "sha256:abc",
        "Certifying",
    )
    assert entry["level"] == "info"
    assert str(entry["time"]).endswith("+00:00")


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("push failed: token ghp_abcdefghijklmnop1234 rejected", "ghp_abcdefghijklmnop1234"),
        ("webhook secret is hunter2-webhook", "hunter2-webhook"),
        ("login with p@ss w0rd! failed", "p@ss w0rd!"),
        (
            "GET https://acct.blob.core.windows.net/c/p.zip?sv=2022&sig=AbC%2Bdef%3D&se=1",
            "AbC%2Bdef%3D",
        ),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("fetch https://pat:glpat-XYZ123@gitlab.example/r.git failed", "glpat-XYZ123"),
        ("header was sha256=" + "ab" * 32, "ab" * 32),
    ],
)
def test_secrets_never_reach_the_log(
    logged: tuple[logging.Logger, io.StringIO], message: str, secret: str
) -> None:
    logger, stream = logged
    logger.warning(message)
    logger.warning("%s", message)  # through the arguments, too
    logger.warning("context", extra={"offer": "a", "detail": message})
    assert secret not in stream.getvalue()
    assert "***" in stream.getvalue()


def test_secrets_in_tracebacks_are_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    try:
        raise RuntimeError("remote said: bad credentials ghp_abcdefghijklmnop1234")
    except RuntimeError:
        logger.exception("push failed")
    [entry] = lines(stream)
    assert "RuntimeError" in str(entry["error"])
    assert "ghp_abcdefghijklmnop1234" not in stream.getvalue()


def test_ordinary_text_is_left_alone() -> None:
    redact = Redactor(secret_values(ENV))
    text = "basic validation of /home/pat/offers/k3y passed; generation sha256:0123abcd"
    assert redact(text) == text


def test_only_secret_looking_variables_are_collected() -> None:
    assert set(secret_values(ENV)) == {"hunter2-webhook", "ghp_abcdefghijklmnop1234", "p@ss w0rd!"}


def test_a_terminal_gets_the_human_format() -> None:
    stream = TtyBuffer()
    handler = configure(stream=stream, environ=ENV)
    try:
        logging.getLogger("controller.test").info(
            "submitted",
            extra={"offer": "contoso", "phase": "Validating", "generation": "sha256:" + "f" * 64},
        )
    finally:
        logging.getLogger("controller").removeHandler(handler)
    line = stream.getvalue().strip()
    assert "info" in line
    assert "contoso (Validating) submitted" in line
    assert "generation=sha256:ffffffffffff" in line
    assert not line.startswith("{")


def test_a_personal_access_token_variable_is_secret_but_path_is_not() -> None:
    env = {"GH_PAT": "ghp_personal_access_1234", "PATH": "/usr/local/bin:/usr/bin"}
    assert secret_values(env) == ("ghp_personal_access_1234",)
