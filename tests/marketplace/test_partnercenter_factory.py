"""Choosing Partner Center: URL forms, the environment, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.core.errors import UsageError
from controller.marketplace.api import MarketplaceError
from controller.marketplace.factory import open_marketplace
from controller.marketplace.partnercenter import PRODUCTION_URL, PartnerCenterMarketplace

ENV = {"OFFERCTL_PARTNERCENTER_TOKEN": "t0ken-value-x"}


def open_pc(url: str, tmp_path: Path, **env: str) -> PartnerCenterMarketplace:
    market = open_marketplace(url, repo_git_dir=tmp_path, time_scale=None, env={**ENV, **env})
    assert isinstance(market, PartnerCenterMarketplace)
    return market


def test_partnercenter_means_the_production_ingestion_api(tmp_path: Path) -> None:
    market = open_pc("partnercenter", tmp_path)
    assert market.api.http.base_url == PRODUCTION_URL
    assert market.poll_interval == 60
    market.close()


def test_another_endpoint_and_the_poll_interval_come_from_the_operator(tmp_path: Path) -> None:
    market = open_pc("partnercenter+https://pc.example/v1.0/ingestion", tmp_path,
                     OFFERCTL_POLL_INTERVAL="120")  # fmt: skip
    assert market.api.http.base_url == "https://pc.example/v1.0/ingestion"
    assert market.poll_interval == 120
    market.close()


def test_plain_http_is_only_for_loopback_emulators(tmp_path: Path) -> None:
    open_pc("partnercenter+http://127.0.0.1:8080/v1.0/ingestion", tmp_path).close()
    with pytest.raises(UsageError, match="loopback"):
        open_pc("partnercenter+http://pc.example/v1.0/ingestion", tmp_path)


@pytest.mark.parametrize(
    "url",
    [
        "partnercenter+https://user:pw@pc.example/x",
        "partnercenter+https://pc.example/x?a=1",
        "partnercenter+ftp://x",
    ],
)
def test_malformed_endpoints_are_usage_errors(url: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        open_pc(url, tmp_path)


def test_a_bad_seller_id_or_poll_interval_is_a_usage_error_without_the_token(
    tmp_path: Path,
) -> None:
    with pytest.raises(UsageError, match="positive number") as caught:
        open_pc("partnercenter", tmp_path, OFFERCTL_PARTNERCENTER_SELLER_ID="abc")
    assert "t0ken" not in str(caught.value)
    with pytest.raises(UsageError, match="seconds"):
        open_pc("partnercenter", tmp_path, OFFERCTL_POLL_INTERVAL="soon")


def test_time_scale_is_refused_for_partner_center(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="simulated"):
        open_marketplace("partnercenter", repo_git_dir=tmp_path, time_scale=10.0, env=ENV)


def test_withdrawal_says_plainly_that_it_is_done_in_partner_center(tmp_path: Path) -> None:
    market = open_pc("partnercenter+http://127.0.0.1:9/v1.0/ingestion", tmp_path)
    with pytest.raises(MarketplaceError, match="Stop distribution") as caught:
        market.withdraw("contoso-app")
    assert not caught.value.transient  # a stalled, explained state, never a silent no-op
    assert market.api.calls == 0
    assert getattr(caught.value, "reason", "") == "StopDistributionInPartnerCenter"
    assert "documents no stop-distribution flow" in str(caught.value)
    market.close()


def test_the_drift_interval_comes_from_the_environment_and_defaults_to_an_hour(
    tmp_path: Path,
) -> None:
    market = open_pc("partnercenter", tmp_path)
    assert market.drift_interval == 3600
    market.close()
    market = open_pc("partnercenter", tmp_path, OFFERCTL_DRIFT_INTERVAL="0")
    assert market.drift_interval == 0
    market.close()
    for bad in ("hourly", "-5", "nan"):
        with pytest.raises(UsageError, match=r"OFFERCTL_DRIFT_INTERVAL|drift interval"):
            open_pc("partnercenter", tmp_path, OFFERCTL_DRIFT_INTERVAL=bad)
