"""The notifier's baseline comes from the controller's records database, and a records
database that cannot be read costs the baseline, never the command."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from controller.core.model import OfferStatus, Phase, Target
from controller.notify.wiring import recorded_statuses
from controller.reconcile.records import SqliteRecords

LIVE = OfferStatus("alpha-offer", Phase.LIVE, Target.LIVE, observed_generation="g1")


def test_the_baseline_is_every_recorded_status(tmp_path: Path) -> None:
    records = SqliteRecords(tmp_path, "main")
    beta = dataclasses.replace(LIVE, offer="beta-offer")
    records.save("beta-offer", beta)
    records.save("alpha-offer", LIVE)
    assert list(recorded_statuses(SqliteRecords(tmp_path, "main"))) == [LIVE, beta]
    assert list(recorded_statuses(SqliteRecords(tmp_path, "release"))) == []


def test_an_unusable_records_database_makes_no_baseline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = SqliteRecords(tmp_path, "main")
    records.path.parent.mkdir(parents=True)
    records.path.write_bytes(b"not a database" * 300)
    with caplog.at_level(logging.WARNING, logger="controller.notify.wiring"):
        assert list(recorded_statuses(records)) == []
    assert "records unusable for the notification baseline" in caplog.text
